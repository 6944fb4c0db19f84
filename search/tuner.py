"""The search: Ray Tune runs an Optuna-guided (TPE) search over a family's space.

This is the only module that talks to Ray Tune. Each trial runs ``family.train`` in a Ray worker
on the data that was put into the object store once, with its BLAS/OpenMP threads capped to the
CPUs it holds, and passes Ray's ``tune.report`` in as the family's ``report``.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import optuna.logging
import pandas as pd
import ray
from ray import tune

from search.data import FitData
from search.families import get_family
from search.fidelity import (
    DEFAULT_RUNGS,
    EPOCHS_DONE,
    SAMPLES,
    TRAIN_SAMPLES,
    TRAINING_SECONDS,
    Rungs,
    make_scheduler,
    reached_full_budget,
    sample_sizes,
    timed,
    train_on_growing_subsets,
)
from search.progress import ProgressPrinter
from search.searcher import MultiFidelityOptunaSearch
from search.spaces import SearchSpace
from search.threads import cap_threads

METRIC = "validation_accuracy"
TUNE_DIR_NAME = "tune"


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the search before it finished; Ray Tune saved its state, so it can resume."""


@dataclass(frozen=True)
class SearchResult:
    """What the search found: the best full config and every trial's outcome."""

    best_config: dict[str, Any]
    validation_accuracy: float
    trials: pd.DataFrame
    """One row per trial: ``trial_id``, ``status``, the searched parameters, the last reported
    ``validation_accuracy`` and ``progress``, the budget reached (``epochs_done`` or
    ``train_samples``), ``reports``, ``seconds``, ``training_seconds``, ``error``."""
    seconds: float
    training_core_share: float | None = None
    """Share of the search's core-seconds (wall time x the cluster's CPUs) spent training models."""


def trial_cpus(cpus_per_trial: float) -> int:
    """Threads a trial may use: the CPUs it holds, at least one."""
    return max(1, math.floor(cpus_per_trial))


def max_concurrent_trials(cpus_per_trial: float, gpus_per_trial: float = 0, requested: int | None = None) -> int:
    """Trials at once: as many as the cluster's CPUs (and GPUs) hold, unless ``requested`` says otherwise."""
    if requested is not None:
        return requested
    resources = ray.cluster_resources()
    fits = resources.get("CPU", 1) // cpus_per_trial
    if gpus_per_trial > 0:
        fits = min(fits, resources.get("GPU", 0) // gpus_per_trial)
    return max(1, int(fits))


def run_trial(
    config: dict[str, Any],
    *,
    family_name: str,
    data: FitData,
    defaults: Mapping[str, Any],
    seed: int,
    threads: int,
    sample_sizes: list[int],
) -> None:
    """One trial, inside a Ray worker: the family trains and reports through ``tune.report``.

    A family whose budget is samples fits on growing subsets of ``sample_sizes`` rows. A trial
    that Ray Tune restarts (``--resume``, a retried failure) carries on from its last checkpoint
    when its family writes them.
    """
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per saved checkpoint
    # A trial that ASHA stops unwinds from its last report before this worker takes the next one.
    # TensorFlow can take more than Ray's default 2 s to do so on a busy core; then Ray fails the
    # next trial instead of starting it, and (Ray 2.60) never frees its concurrency slot.
    os.environ.setdefault("TUNE_FUNCTION_THREAD_TIMEOUT_S", "30")
    family = get_family(family_name)
    config = {**defaults, **config}
    report = timed(report_to_tune)
    checkpoint = tune.get_checkpoint()
    with cap_threads(threads):
        if family.FIDELITY == SAMPLES:
            train_on_growing_subsets(family, config, data, report, seed, sample_sizes)
        elif checkpoint is None:
            family.train(config, data, report, seed)
        else:
            with checkpoint.as_directory() as folder:
                family.train(config, data, report, seed, restore_from=Path(folder))


def report_to_tune(metrics: dict[str, float], checkpoint: Path | None = None) -> None:
    """The families' ``report``: metrics, and the checkpoint folder if any, to Ray Tune."""
    tune.report(metrics, checkpoint=None if checkpoint is None else tune.Checkpoint.from_directory(checkpoint))


def run_search(
    family_name: str,
    space: SearchSpace,
    data: FitData,
    *,
    num_samples: int,
    time_budget_s: float,
    seed: int,
    cpus_per_trial: float,
    max_concurrent: int | None,
    gpus_per_trial: float = 0,
    storage_dir: Path,
    rungs: Rungs = DEFAULT_RUNGS,
    verbose: int = 1,
    resume: bool = False,
) -> SearchResult:
    """Search ``space`` for ``family_name`` on ``data``; Ray must already be initialised.

    The article's settings are the first trial. ASHA (``rungs``) stops weak trials at each rung of
    their budget; the best config is chosen among the trials that reached their full budget. With
    ``resume``, an interrupted search saved under ``storage_dir`` continues where it stopped:
    finished trials are kept, unfinished ones run again, and the searcher keeps what it had learnt.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    family = get_family(family_name)
    defaults = family.article_config(data.X_train.shape[1])
    first_points = [space.restrict(defaults)] if space.contains(defaults) else None
    sizes = sample_sizes(len(data.y_train), len(set(data.y_train.tolist())), rungs)
    scheduler = make_scheduler(family.FIDELITY, rungs, max_epochs=max_epochs(space, defaults), sizes=sizes)
    searcher = MultiFidelityOptunaSearch(
        space=space.distributions,
        metric=METRIC,
        mode="max",
        points_to_evaluate=first_points,
        sampler=optuna.samplers.TPESampler(seed=seed),
    )
    trainable = tune.with_parameters(
        run_trial,
        family_name=family_name,
        data=data,
        defaults=defaults,
        seed=seed,
        threads=trial_cpus(cpus_per_trial),
        sample_sizes=sizes,
    )
    # Checkpoints go to the run folder on local disk: a snapshot after each one is a cheap copy, so
    # Ray Tune's warning about frequent snapshots is noise here.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Progress is ProgressPrinter's job. Ray's newer console output prints its own "Configuration for
    # experiment" box even at verbose=0; its classic output prints nothing at verbose=0.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    trainable = tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    experiment_dir = storage_dir.resolve() / TUNE_DIR_NAME
    if resume and tune.Tuner.can_restore(experiment_dir):
        tuner = tune.Tuner.restore(str(experiment_dir), trainable, resume_unfinished=True)
    else:
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=scheduler,
                metric=METRIC,
                mode="max",
                num_samples=num_samples,
                max_concurrent_trials=max_concurrent_trials(cpus_per_trial, gpus_per_trial, max_concurrent),
                time_budget_s=time_budget_s,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=TUNE_DIR_NAME,
                storage_path=str(storage_dir.resolve()),
                failure_config=tune.FailureConfig(max_failures=0),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                verbose=0,
                callbacks=[ProgressPrinter(METRIC, list(space.distributions), num_samples)] if verbose else [],
            ),
        )
    started = time.monotonic()
    with stop_gracefully_on_ctrl_c() as ctrl_c:
        grid = tuner.fit()
    seconds = time.monotonic() - started
    if ctrl_c.pressed:
        raise SearchInterrupted("search interrupted; Ray Tune saved its state")

    trials = trials_table(grid, list(space.distributions))
    finished = trials.dropna(subset=[METRIC])
    if finished.empty:
        errors = trials["error"].dropna()
        why = f"; first error: {errors.iloc[0]}" if not errors.empty else "; raise --time-budget"
        raise RuntimeError(f"no trial reported a validation accuracy{why}")
    best = best_result(grid)
    best_config = {**defaults, **best.config}
    share = training_core_share(trials, seconds, cpus_per_trial)
    return SearchResult(best_config, float(best.metrics[METRIC]), trials, seconds, share)


def max_epochs(space: SearchSpace, defaults: Mapping[str, Any]) -> int:
    """The most epochs a trial can train: the top of the space's ``epochs``, else the article's."""
    epochs = space.distributions.get("epochs")
    if epochs is not None and hasattr(epochs, "high"):
        return int(epochs.high)
    if epochs is not None:
        return int(max(epochs.choices))
    return int(defaults.get("epochs", 1))


def best_result(grid: tune.ResultGrid) -> tune.Result:
    """The best last score among trials that reached their full budget, else among all that scored.

    A trial that ASHA stopped at a small budget is not a candidate while a finished one exists:
    its score was measured on less training than the retrain will give it.
    """
    scored = [r for r in grid if r.error is None and r.metrics and r.metrics.get(METRIC) is not None]
    if not scored:
        scored = [r for r in grid if r.metrics and r.metrics.get(METRIC) is not None]
    finished = [r for r in scored if reached_full_budget(r.metrics)]
    return max(finished or scored, key=lambda r: r.metrics[METRIC])


def training_core_share(trials: pd.DataFrame, seconds: float, cpus_per_trial: float) -> float | None:
    """Core-seconds spent inside model training, as a share of wall time x the cluster's CPUs."""
    cluster_cpus = ray.cluster_resources().get("CPU", 0)
    training = trials[TRAINING_SECONDS].fillna(0).sum() * cpus_per_trial
    if seconds <= 0 or cluster_cpus <= 0:
        return None
    return float(min(1.0, training / (seconds * cluster_cpus)))


class _CtrlC:
    pressed = False


@contextmanager
def stop_gracefully_on_ctrl_c() -> Iterator[_CtrlC]:
    """Ctrl-C asks Ray Tune to stop and save its state, and is remembered; a second one stops at once.

    Ray Tune's own Ctrl-C handler stops the search just as gracefully but then returns as if the
    search had ended, so a driver cannot tell. Its SIGUSR1 handler does the same stop: ours records
    the Ctrl-C, then raises SIGUSR1.
    """
    ctrl_c = _CtrlC()
    if threading.current_thread() is not threading.main_thread():
        yield ctrl_c
        return

    def on_ctrl_c(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise KeyboardInterrupt  # Tune's handler is not there (yet): stop at once
        ctrl_c.pressed = True
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield ctrl_c
    finally:
        signal.signal(signal.SIGINT, previous)


def trials_table(grid: tune.ResultGrid, parameters: list[str]) -> pd.DataFrame:
    """One row per trial, with its status: completed, stopped_early or failed."""
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        history = result.metrics_dataframe
        progress = metrics.get("progress")
        if result.error is not None:
            status = "failed"
        elif progress is not None and reached_full_budget(metrics):
            status = "completed"
        else:
            status = "stopped_early"
        rows.append(
            {
                "trial_id": metrics.get("trial_id") or Path(result.path).name,
                "status": status,
                **{name: result.config.get(name) for name in parameters},
                METRIC: metrics.get(METRIC),
                "progress": progress,
                EPOCHS_DONE: metrics.get(EPOCHS_DONE),
                TRAIN_SAMPLES: metrics.get(TRAIN_SAMPLES),
                "reports": 0 if history is None else len(history),
                "seconds": metrics.get("time_total_s"),
                TRAINING_SECONDS: metrics.get(TRAINING_SECONDS),
                "error": None if result.error is None else _one_line(result.error),
            }
        )
    return pd.DataFrame(rows)


def _one_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"
