"""Run a search with Ray Tune: the Tuner, OptunaSearch (TPE), ASHA, and the results as plain data."""

from __future__ import annotations

import time
from pathlib import Path

import optuna
import optuna.logging
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from search.cluster import ClusterResources
from search.data import FitData
from search.environment import prepare_driver
from search.families.base import Family
from search.fidelity import asha_rungs, max_epochs, sample_sizes
from search.settings import DEFAULT_RUNGS, Rungs
from search.spaces import SearchSpace
from search.trial_report import VALIDATION_ACCURACY, TrialReport
from search.trials import SearchResult, TrialOutcome, best_outcome, training_core_share, trials_table
from search.tune.interrupt import SearchInterrupted, stop_gracefully_on_ctrl_c
from search.tune.progress import ProgressPrinter
from search.tune.searcher import MultiFidelityOptunaSearch
from search.tune.trial import run_trial

TUNE_DIR_NAME = "tune"


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
    storage_dir: Path,
    rungs: Rungs = DEFAULT_RUNGS,
    verbose: int = 1,
    resume: bool = False,
) -> SearchResult:
    """Search ``space`` for ``family`` on ``data``; Ray must already be initialised.

    The article's settings are the first trial. ASHA (``rungs``) stops weak trials at each rung of
    their budget; the best config is chosen among the trials that reached their full budget. With
    ``resume``, an interrupted search saved under ``storage_dir`` continues where it stopped:
    finished trials are kept, unfinished ones run again, and the searcher keeps what it had learnt.
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
        sample_sizes=sizes,
    )
    trainable = tune.with_resources(trainable, {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    experiment_dir = storage_dir.resolve() / TUNE_DIR_NAME
    if resume and tune.Tuner.can_restore(experiment_dir):
        tuner = tune.Tuner.restore(str(experiment_dir), trainable, resume_unfinished=True)
    else:
        plan = asha_rungs(family.FIDELITY, rungs, max_epochs=max_epochs(space, defaults), sizes=sizes)
        searcher = MultiFidelityOptunaSearch(
            space=space.distributions,
            metric=VALIDATION_ACCURACY,
            mode="max",
            points_to_evaluate=[space.restrict(defaults)] if space.contains(defaults) else None,
            sampler=optuna.samplers.TPESampler(seed=seed),
        )
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=None if plan is None else ASHAScheduler(**vars(plan)),
                metric=VALIDATION_ACCURACY,
                mode="max",
                num_samples=num_samples,
                max_concurrent_trials=max_concurrent,
                time_budget_s=time_budget_s,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=TUNE_DIR_NAME,
                storage_path=str(storage_dir.resolve()),
                failure_config=tune.FailureConfig(max_failures=0),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                verbose=0,
                callbacks=[ProgressPrinter(VALIDATION_ACCURACY, list(space.distributions), num_samples)]
                if verbose
                else [],
            ),
        )
    started = time.monotonic()
    with stop_gracefully_on_ctrl_c() as ctrl_c:
        grid = tuner.fit()
    seconds = time.monotonic() - started
    if ctrl_c.pressed:
        raise SearchInterrupted("search interrupted; Ray Tune saved its state")

    outcomes = [outcome_of(result) for result in grid]
    best = best_outcome(outcomes)
    trials = trials_table(outcomes, list(space.distributions))
    share = training_core_share(trials, seconds, resources.cpus, cpus_per_trial)
    return SearchResult({**defaults, **best.config}, best.last.validation_accuracy, trials, seconds, share)


def outcome_of(result: tune.Result) -> TrialOutcome:
    """A Ray Tune result as plain data."""
    metrics = result.metrics or {}
    history = result.metrics_dataframe
    return TrialOutcome(
        trial_id=metrics.get("trial_id") or Path(result.path).name,
        config=dict(result.config or {}),
        last=TrialReport.from_metrics(metrics) if metrics.get(VALIDATION_ACCURACY) is not None else None,
        reports=0 if history is None else len(history),
        seconds=metrics.get("time_total_s"),
        error=None if result.error is None else _one_line(result.error),
    )


def _one_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"
