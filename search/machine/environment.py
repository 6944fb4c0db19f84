"""Every process-wide environment variable the search sets, each with its reason, in one place.

Ray's and Tune's are set only where the user has not set them already; the thread caps always are.
One more is set only while a search runs, and restored after it: ``TUNE_DISABLE_SIGINT_HANDLER``
(``search/tune/interrupt.py``, where Ctrl-C is handled).
"""

from __future__ import annotations

import os
from pathlib import Path

from search.machine.gpu import SHARE_VARIABLE

AUTH_TOKEN_FILE = Path.home() / ".ray" / "auth_token"

DRIVER = {
    "RAY_AIR_NEW_OUTPUT": (
        "0",
        "Ray Tune's newer console output prints a 'Configuration for experiment' box even at verbose=0; its "
        "classic output prints nothing there, and the search's own progress lines are the display",
    ),
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": (
        "0",
        "checkpoints go to the run folder on local disk, where a snapshot after each one is a cheap copy, "
        "so Ray Tune's warning about frequent snapshots is noise",
    ),
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": (
        "1",
        "a trial whose config raises ends with one last result that names the error and holds no score "
        "(search/tune/trial.py); every other result is a TrialReport, which cannot lack the metric",
    ),
}
"""Set in the driver before a search starts."""

RAY_IMPORT = {
    "RAY_DEDUP_LOGS": (
        "0",
        "Ray's driver holds back lines it may fold with later ones and prints them as Ray shuts down, from "
        "the main thread: a dead node's message to every driver then reached the terminal past "
        "search/machine/notices.py, which sets aside what Ray's message thread prints",
    ),
}
"""Set in the driver before Ray is imported (Ray reads them then)."""

TRIAL_WORKER = {
    "TUNE_FUNCTION_THREAD_TIMEOUT_S": (
        "30",
        "a trial that ASHA stops unwinds from its last report before its worker takes the next trial; "
        "TensorFlow can take more than Ray's default 2 s on a busy core, and then Ray 2.60 fails the next "
        "trial instead of starting it and never frees its concurrency slot",
    ),
}
"""Set inside each trial's Ray worker (a worker on another node does not inherit the driver's)."""


def thread_caps(threads: int) -> dict[str, tuple[str, str]]:
    """The variables that cap a trial's (or the retrain's) native threads to the CPUs it holds."""
    return {
        "OMP_NUM_THREADS": (str(threads), "OpenMP pools started from now on use only the CPUs the work holds"),
        "TF_NUM_INTRAOP_THREADS": (
            str(threads),
            "TensorFlow reads it once, when its runtime starts in a worker; every trial of a search holds the "
            "same CPUs, so a reused worker keeps the right cap",
        ),
        "TF_NUM_INTEROP_THREADS": (str(min(2, threads)), "as above, for the threads that run operations side by side"),
    }


def cap_threads_of_new_pools(threads: int) -> None:
    """Set ``thread_caps(threads)``, replacing any value (BLAS pools already running: ``search.machine.threads``)."""
    for name, (value, _reason) in thread_caps(threads).items():
        os.environ[name] = value


def prepare_ray_import(address: str | None) -> None:
    """``RAY_IMPORT``, and Ray's token authentication when joining a cluster by address; call it before Ray
    is imported.

    Ray 2.59+ starts local clusters (``ray start`` too) with token authentication, but a driver that
    joins one by address sends no token unless ``RAY_AUTH_MODE=token``, which Ray reads when it is
    imported. So when a token is at hand and the variable is unset, it is set here.
    """
    _set_defaults(RAY_IMPORT)
    if address and "RAY_AUTH_MODE" not in os.environ and _auth_token_available():
        os.environ["RAY_AUTH_MODE"] = "token"


def prepare_driver() -> None:
    """The variables the driver needs while a search runs."""
    _set_defaults(DRIVER)


def prepare_trial_worker(gpu_share: float = 0) -> None:
    """The variables a trial's worker process needs, and the share of a GPU the trial holds (``search.machine.gpu``)."""
    _set_defaults(TRIAL_WORKER)
    os.environ[SHARE_VARIABLE] = str(gpu_share)


def _set_defaults(variables: dict[str, tuple[str, str]]) -> None:
    for name, (value, _reason) in variables.items():
        os.environ.setdefault(name, value)


def _auth_token_available() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")) or AUTH_TOKEN_FILE.is_file()
