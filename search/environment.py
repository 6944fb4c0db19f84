"""Every process-wide environment variable the search sets, each with its reason, in one place.

Each is set only where the user has not set it already.
"""

from __future__ import annotations

import os
from pathlib import Path

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
}
"""Set in the driver before a search starts."""

TRIAL_WORKER = {
    "TUNE_FUNCTION_THREAD_TIMEOUT_S": (
        "30",
        "a trial that ASHA stops unwinds from its last report before its worker takes the next trial; "
        "TensorFlow can take more than Ray's default 2 s on a busy core, and then Ray 2.60 fails the next "
        "trial instead of starting it and never frees its concurrency slot",
    ),
}
"""Set inside each trial's Ray worker (a worker on another node does not inherit the driver's)."""


def prepare_ray_auth(address: str | None) -> None:
    """Ray's token authentication when joining a cluster by address; call it before Ray is imported.

    Ray 2.59+ starts local clusters (``ray start`` too) with token authentication, but a driver that
    joins one by address sends no token unless ``RAY_AUTH_MODE=token``, which Ray reads when it is
    imported. So when a token is at hand and the variable is unset, it is set here.
    """
    if address and "RAY_AUTH_MODE" not in os.environ and _auth_token_available():
        os.environ["RAY_AUTH_MODE"] = "token"


def prepare_driver() -> None:
    """The variables the driver needs while a search runs."""
    _set_defaults(DRIVER)


def prepare_trial_worker() -> None:
    """The variables a trial's worker process needs."""
    _set_defaults(TRIAL_WORKER)


def _set_defaults(variables: dict[str, tuple[str, str]]) -> None:
    for name, (value, _reason) in variables.items():
        os.environ.setdefault(name, value)


def _auth_token_available() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")) or AUTH_TOKEN_FILE.is_file()
