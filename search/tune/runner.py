"""Run a search with Ray Tune: the Tuner, OptunaSearch (TPE), ASHA, and the results as plain data."""

from __future__ import annotations

import logging
import math
import signal
import time
from pathlib import Path

import optuna
import optuna.logging
import pandas as pd
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from search.cluster import ClusterResources
from search.data import FitData
from search.environment import prepare_driver
from search.families.base import Family
from search.fidelity import asha_rungs, max_epochs, sample_sizes
from search.settings import DEFAULT_RUNGS, Rungs
from search.spaces import SearchSpace
from search.storage import LOCAL_EXPERIMENT_NAME, Storage
from search.trial_report import VALIDATION_ACCURACY, TrialReport
from search.trials import SearchResult, TrialOutcome, best_outcome, training_core_share, trials_table
from search.tune.concurrency import limit_concurrency
from search.tune.interrupt import SearchInterrupted, stop_gracefully_on_signals
from search.tune.progress import ProgressPrinter
from search.tune.searcher import MultiFidelityOptunaSearch
from search.tune.trial import NODE_ID, REPORTED_AT, STARTED_AT, TRIAL_ERROR, one_line, run_trial

ERROR_FILE = "error.txt"
"""Where Ray Tune appends each failure of a trial, in the trial's folder."""
RETRIES = 3
"""Times a trial is tried again after its node or worker died (its own errors are never retried)."""


def trial_cpus(cpus_per_trial: float) -> int:
    """Threads a trial may use: the CPUs it holds, at least one."""
    return max(1, int(cpus_per_trial))


def run_search(
    family: Family,
    space: SearchSpace,
    data: FitData,
    *,
    resources: ClusterResources,
    num_samples: int,
    time_budget_s: float,
    seed: int,
    cpus_per_trial: float,
    max_concurrent: int,
    gpus_per_trial: float = 0,
    fixed_concurrency: bool = True,
    storage: Storage,
    experiment_name: str = LOCAL_EXPERIMENT_NAME,
    rungs: Rungs = DEFAULT_RUNGS,
    verbose: int = 1,
    resume: bool = False,
) -> SearchResult:
    """Search ``space`` for ``family`` on ``data``; Ray must already be initialised.

    The article's settings are the first trial. ASHA (``rungs``) stops weak trials at each rung of
    their budget; the best config is chosen among the trials that reached their full budget.
    ``max_concurrent`` trials run at once; unless ``fixed_concurrency``, more as nodes join. Trial
    results and checkpoints go to ``experiment_name`` in ``storage``; a trial whose node or worker
    dies is retried there from its last checkpoint. With ``resume``, an interrupted search saved
    there continues where it stopped: finished trials are kept, unfinished ones run again, and the
    searcher keeps what it had learnt.
    """
    prepare_driver()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    defaults = family.article_config(data.X_train.shape[1])
    sizes = sample_sizes(len(data.y_train), len(set(data.y_train.tolist())), rungs)
    trainable = tune.with_parameters(
        run_trial,
        family=family,
        data=data,
        defaults=defaults,
        seed=seed,
        threads=trial_cpus(cpus_per_trial),
        gpu_share=gpus_per_trial,
        sample_sizes=sizes,
    )
    trainable = tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    experiment_path = storage.experiment_path(experiment_name)
    if resume and tune.Tuner.can_restore(experiment_path, storage_filesystem=storage.filesystem):
        tuner = tune.Tuner.restore(
            experiment_path, trainable, resume_unfinished=True, storage_filesystem=storage.filesystem
        )
    else:
        plan = asha_rungs(family.FIDELITY, rungs, max_epochs=max_epochs(space, defaults), sizes=sizes)
        searcher = MultiFidelityOptunaSearch(
            space=space.distributions,
            metric=VALIDATION_ACCURACY,
            mode="max",
            points_to_evaluate=[space.restrict(defaults)] if space.contains(defaults) else None,
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        limited = limit_concurrency(
            searcher,
            max_concurrent,
            fixed=fixed_concurrency,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=limited,
                scheduler=None if plan is None else ASHAScheduler(**vars(plan)),
                metric=VALIDATION_ACCURACY,
                mode="max",
                num_samples=num_samples,
                time_budget_s=time_budget_s,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=experiment_name,
                storage_path=storage.path,
                storage_filesystem=storage.filesystem,
                failure_config=tune.FailureConfig(max_failures=RETRIES),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                verbose=0,
                callbacks=[ProgressPrinter(VALIDATION_ACCURACY, list(space.distributions), num_samples)]
                if verbose
                else [],
            ),
        )
    # A trial that the time budget cut off before it reported has no results to read; trials.csv says
    # so (no score, no node), and Ray's warning about it, a path per trial, would only alarm.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    started = time.monotonic()
    with stop_gracefully_on_signals() as stop:
        grid = tuner.fit()
    seconds = time.monotonic() - started
    if stop.requested:
        name = signal.Signals(stop.signum).name
        raise SearchInterrupted(f"search stopped by {name}; Ray Tune saved its state", stop.signum)

    outcomes = [outcome_of(result) for result in grid]
    best = best_outcome(outcomes)
    trials = trials_table(outcomes, list(space.distributions))
    share = training_core_share(trials, seconds, resources.cpus, cpus_per_trial)
    return SearchResult({**defaults, **best.config}, best.last.validation_accuracy, trials, seconds, share)


def outcome_of(result: tune.Result) -> TrialOutcome:
    """A Ray Tune result as plain data."""
    metrics = result.metrics or {}
    history = result.metrics_dataframe
    if history is None or history.empty:
        history = pd.DataFrame([metrics])
    scored = history[history[VALIDATION_ACCURACY].notna()] if VALIDATION_ACCURACY in history else history.iloc[:0]
    error = metrics.get(TRIAL_ERROR) or (None if result.error is None else one_line(result.error))
    return TrialOutcome(
        trial_id=metrics.get("trial_id") or Path(result.path).name,
        config=dict(result.config or {}),
        last=TrialReport.from_metrics(metrics) if metrics.get(VALIDATION_ACCURACY) is not None else _last_of(scored),
        reports=len(scored),
        seconds=metrics.get("time_total_s"),
        error=error if isinstance(error, str) else None,
        node=metrics.get(NODE_ID),
        started_at=metrics.get(STARTED_AT),
        ended_at=metrics.get(REPORTED_AT),
        attempts=1 + failures_survived(result),
    )


def failures_survived(result: tune.Result) -> int:
    """Times Ray Tune retried the trial after its worker or node died: the failures its ``error.txt`` lists."""
    try:
        with result.filesystem.open_input_stream(f"{result.path}/{ERROR_FILE}") as stream:
            text = stream.read().decode(errors="replace")
    except (OSError, ValueError):  # no such file: it never failed
        return 0
    failures = text.count("Failure # ")
    return failures if result.error is None else max(0, failures - 1)


def _last_of(scored: pd.DataFrame) -> TrialReport | None:
    """The last scored report of a trial whose last result holds no score (its error)."""
    if scored.empty:
        return None
    row = scored.iloc[-1].to_dict()
    return TrialReport.from_metrics({k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))})
