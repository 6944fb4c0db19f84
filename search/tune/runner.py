"""Run a search with Ray Tune: the Tuner, the Optuna searcher (TPE), ASHA, and the results as plain data."""

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

from search.core.bounded_tpe import BoundedTPESampler
from search.core.data import FitData
from search.core.ending import why_search_ended
from search.core.fidelity import asha_rungs, budget_key, max_epochs, sample_sizes
from search.core.kinds import BudgetUnit
from search.core.reporter import SILENT, Reporter
from search.core.settings import Settings
from search.core.spaces import SearchSpace
from search.core.trial_report import VALIDATION_ACCURACY, TrialReport
from search.core.trials import (
    NoTrialScored,
    SearchResult,
    TrialOutcome,
    best_outcome,
    training_core_share,
    trials_table,
)
from search.families.base import Family
from search.machine.cluster import ClusterResources
from search.machine.environment import prepare_driver
from search.records.shares import allocation_place
from search.records.storage import Storage
from search.records.study import (
    CUT_OFF,
    INTERRUPTED,
    TUNE_TRIAL_ID,
    StudyPlace,
    close_running,
    finished_by_themselves,
    mark_study,
    outcome_from_trial,
    search_seconds_used,
    trials_of_run,
)
from search.tune.compact import CompactFinishedTrials
from search.tune.concurrency import TuneHolds, limit_concurrency, trial_resources
from search.tune.copying import KeepRunCopyCurrent
from search.tune.deadline import closed_to_new_trials
from search.tune.interrupt import GRACE_S, TOGETHER_GRACE_S, SearchInterrupted, stop_gracefully_on_signals
from search.tune.progress import ProgressPrinter, resumed_progress
from search.tune.resume import ResumePlan
from search.tune.schedulers import search_scheduler
from search.tune.searcher import StudySearcher, attached_study
from search.tune.stopper import EndRuleStopper, TrialEnds, called_off, ended_by_rule
from search.tune.trial import (
    TRIAL_ERROR,
    TRIAL_TRACEBACK,
    named_trial,
    one_line,
    trial_dirname,
    trial_id_of,
    where_and_when,
)

ERROR_FILE = "error.txt"
"""Where Ray Tune appends each failure of a trial, in the trial's folder."""
RETRIES = 3
"""Times a trial is tried again after its node or worker died (its own errors are never retried)."""


def trial_cpus(cpus_per_trial: float) -> int:
    """Threads a trial may use: the CPUs it holds, at least one."""
    return max(1, int(cpus_per_trial))


def run_search(
    settings: Settings,
    family: Family,
    space: SearchSpace,
    data: FitData,
    *,
    resources: ClusterResources,
    storage: Storage,
    study: StudyPlace,
    resume: ResumePlan | None = None,
    reporter: Reporter = SILENT,
) -> SearchResult:
    """Search ``space`` for ``family`` on ``data`` as ``settings`` say; Ray must already be initialised.

    The article's settings are the first trial. ASHA (``settings.rungs``) stops weak trials at each
    rung of their budget; the best config is chosen among the trials that reached their full budget.
    The search ends when it converges (``settings.patience`` full-budget trials in a row without a
    gain beyond the validation split's noise: ``search.core.plateau``), or at ``settings.num_samples``
    trials, or after ``settings.time_budget_s``; no trial starts a rung it could not finish by then.
    Trials hold what ``resources.placement`` gives them; without ``--max-concurrent``, more run at once
    as nodes join. Trial results and checkpoints go to ``settings.experiment_name`` in ``storage``; a
    trial whose node or worker dies is retried there from its last checkpoint. Optuna's study
    (``study``) records every trial as it runs, each marked with ``settings.run``. With ``resume``, an
    interrupted search goes on: from Ray Tune's saved state (finished trials kept, unfinished ones run
    again from their checkpoints), or, when that state cannot be restored, from the study's trials.
    Progress lines go to ``reporter``.
    """
    prepare_driver()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_id, rungs = settings.run, settings.rungs
    num_samples, time_budget_s = settings.num_samples, settings.time_budget_s
    placement = resources.placement(
        settings.cpus_per_trial, settings.gpus_per_trial, settings.max_concurrent, family.USES_GPU
    )
    defaults = family.article_config(data.X_train.shape[1])
    sizes = sample_sizes(len(data.y_train), len(set(data.y_train.tolist())), rungs)
    shared_in = allocation_place(settings.output_dir) if settings.together else None
    trainable = tune.with_parameters(
        named_trial(family.NAME),
        family=family,
        data=data,
        defaults=defaults,
        seed=settings.seed,
        threads=trial_cpus(placement.cpus),
        gpu_share=placement.gpus,
        sample_sizes=sizes,
        priority_from=str(shared_in) if shared_in is not None else None,
    )
    trainable = tune.with_resources(trainable, trial_resources(placement, shared_in))
    experiment_path = storage.experiment_path(settings.experiment_name)
    quiet_expected_noise()
    if resume is not None and resume.restore:
        with attached_study(run_id, study), resumed_progress(run_id, reporter, *ended_and_best(resume.kept)):
            tuner = tune.Tuner.restore(
                experiment_path, trainable, resume_unfinished=True, storage_filesystem=storage.filesystem
            )
    else:
        if resume is not None:  # rebuilt from the study: what finished is kept, what ran runs again
            num_samples -= len(resume.kept)
            time_budget_s -= search_seconds_used(resume.kept + resume.running)
            interrupted = close_running(study, run_id, INTERRUPTED, "running when its driver stopped")
            optuna_study = study.load()
            for trial in interrupted:
                optuna_study.enqueue_trial(trial.params)
        plan = asha_rungs(family.FIDELITY, rungs, max_epochs=max_epochs(space, defaults), sizes=sizes)
        searcher = StudySearcher(
            study,
            space.distributions,
            sampler=BoundedTPESampler(seed=settings.seed),
            run_id=run_id,
            metric=VALIDATION_ACCURACY,
        )
        mark_study(searcher.study, family.NAME, space.distributions)
        if space.contains(defaults):  # the article's settings first, unless the study has tried them
            searcher.study.enqueue_trial(space.restrict(defaults), skip_if_exists=True)
        holds = TuneHolds()
        limited = limit_concurrency(searcher, placement, reporter, shared_in, holds)
        stopper = EndRuleStopper(
            run_id,
            VALIDATION_ACCURACY,
            budget_key(family.FIDELITY),
            len(data.y_val),
            end_chance=settings.end_chance,
            patience=settings.patience,
            rungs=plan.milestones if plan is not None else (),
            step_budgets=sizes if family.FIDELITY == BudgetUnit.SAMPLES else (),
            requests_from=shared_in,
        )
        printer = ProgressPrinter(
            VALIDATION_ACCURACY, list(space.distributions), settings.num_samples, reporter, run_id=run_id
        )
        if resume is not None:  # the trials that ended before go on being counted
            printer.ended, printer.best = ended_and_best(resume.kept)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=limited,
                scheduler=search_scheduler(plan, time_budget_s, run_id, family.FIDELITY == BudgetUnit.EPOCHS),
                metric=VALIDATION_ACCURACY,
                mode="max",
                num_samples=max(num_samples, 0),
                time_budget_s=max(time_budget_s, 1),
                reuse_actors=family.REUSES_ACTORS,
                trial_dirname_creator=trial_dirname,
            ),
            run_config=tune.RunConfig(
                name=settings.experiment_name,
                storage_path=storage.path,
                storage_filesystem=storage.filesystem,
                failure_config=tune.FailureConfig(max_failures=RETRIES),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
                verbose=0,
                stop=stopper,
                callbacks=[
                    holds,
                    TrialEnds(stopper),
                    printer,
                    KeepRunCopyCurrent(run_id),
                    CompactFinishedTrials(),
                ],
            ),
        )
    started = time.monotonic()
    grid = []
    if num_samples > 0 and time_budget_s > 0:
        hint = f"continue it with --resume {settings.output_dir}"
        grace_s = TOGETHER_GRACE_S if settings.together else GRACE_S
        with stop_gracefully_on_signals(hint, grace_s) as stop, attached_study(run_id, study):
            grid = tuner.fit()
        if stop.requested:
            name = signal.Signals(stop.signum).name
            raise SearchInterrupted(f"search stopped by {name}; Ray Tune saved its state", stop.signum)
    seconds = time.monotonic() - started
    outcomes = [outcome_of(result) for result in grid]
    why = "the search ended (its time budget or trial cap) while it ran"
    close_running(study, run_id, CUT_OFF, why, {o.trial_id: o for o in outcomes})
    optuna_study = study.load()
    if optuna_study is not None:  # None: a run recorded before the study was kept on disk
        outcomes += earlier_outcomes(optuna_study, run_id, {o.trial_id for o in outcomes})
    trials = trials_table(outcomes, list(space.distributions))
    try:
        best = best_outcome(outcomes)
    except NoTrialScored as error:
        error.trials, error.outcomes = trials, outcomes
        raise
    share = training_core_share(trials, seconds, resources.cpus, placement.cpus)
    ended = why_search_ended(
        outcomes,
        converged=ended_by_rule(run_id),
        behind=called_off(run_id),
        no_time_left=closed_to_new_trials(run_id),
        num_samples=num_samples + (len(resume.kept) if resume is not None and not resume.restore else 0),
        time_budget_s=time_budget_s,
    )
    return SearchResult(
        {**defaults, **best.config}, best.last.validation_accuracy, trials, seconds, share, outcomes, ended
    )


def ended_and_best(kept: list) -> tuple[int, float | None]:
    """How many of a resumed run's trials had ended, and the best score among those that completed."""
    scores = [t.value for t in kept if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    return len(kept), max(scores, default=None)


def quiet_expected_noise() -> None:
    """Silence a warning about what is expected here, which would only alarm.

    A trial that the time budget (or a stop) cut off before it reported has no results to read;
    trials.csv says so (no score, no node), and Ray's warning about it names a path per trial. A trial
    whose worker or node died is told in one line (it runs again) and its error kept in its folder and
    trials.csv: Ray Tune's traceback of it would only alarm.
    """
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    logging.getLogger("ray.tune.execution.tune_controller").addFilter(not_a_trial_task_failure)


def not_a_trial_task_failure(record: logging.LogRecord) -> bool:
    """False for Ray Tune's "Trial task failed" record, which carries the dead actor's traceback."""
    return not record.getMessage().startswith("Trial task failed")


def earlier_outcomes(optuna_study: optuna.Study, run_id: str, known: set[str]) -> list[TrialOutcome]:
    """The run's finished trials that only the study still holds (those of a Ray Tune state that was lost)."""
    return [
        outcome_from_trial(trial)
        for trial in finished_by_themselves(trials_of_run(optuna_study, run_id))
        if trial.user_attrs.get(TUNE_TRIAL_ID) not in known
    ]


def outcome_of(result: tune.Result) -> TrialOutcome:
    """A Ray Tune result as plain data.

    A trial the search's end cut off before it started on a reused worker can carry that worker's previous
    trial's last metrics (measured once in a loaded test run): metrics of another trial id are not its own.
    """
    trial_id = trial_id_of(Path(result.path).name) if result.path else None
    metrics = result.metrics or {}
    history = result.metrics_dataframe
    if trial_id and metrics.get("trial_id", trial_id) != trial_id:
        metrics, history = {}, None
    if history is None or history.empty:
        history = pd.DataFrame([metrics])
    scored = history[history[VALIDATION_ACCURACY].notna()] if VALIDATION_ACCURACY in history else history.iloc[:0]
    error = metrics.get(TRIAL_ERROR) or (None if result.error is None else one_line(result.error))
    traceback = metrics.get(TRIAL_TRACEBACK) or (None if result.error is None else str(result.error))
    return TrialOutcome(
        trial_id=trial_id or metrics.get("trial_id"),
        config=dict(result.config or {}),
        last=TrialReport.from_metrics(metrics) if metrics.get(VALIDATION_ACCURACY) is not None else _last_of(scored),
        reports=len(scored),
        error=error if isinstance(error, str) else None,
        attempts=1 + failures_survived(result),
        **where_and_when(metrics),
        traceback=traceback if error else None,
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
