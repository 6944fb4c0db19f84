"""One family's run, top to bottom: search, retrain, save, report."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from search.core.data import Dataset, Splits
from search.core.formatting import format_config, format_duration
from search.core.outlook import HORIZON
from search.core.predictions import PREDICTIONS_FILE, keep_predictions, load_predictions, save_predictions
from search.core.ranking import RANKING_FILE, rank_families
from search.core.reporter import SILENT, Reporter
from search.core.settings import Rungs, Settings
from search.core.spaces import SearchSpace
from search.core.trials import NoTrialScored, failure_log
from search.families import get_family
from search.families.base import SAMPLES
from search.machine.cluster import ClusterResources
from search.pipeline.retrain import retrain_and_test
from search.pipeline.summary import build_report, summary_table, write_json, write_run_files
from search.records.run_copy import RunCopy, copy_place, copying_run, resume_uri
from search.records.shares import allocation_place, mark_search_ended, read_share
from search.records.storage import Storage
from search.records.study import StudyPlace
from search.report import write_report_or_warn
from search.tune.resume import ResumePlan
from search.tune.runner import run_search

FAILURE_LOG = "trial_errors.log"
"""Failed trials' tracebacks, in the run folder."""


def run_family(
    settings: Settings,
    space: SearchSpace,
    splits: Splits,
    dataset: Dataset,
    resources: ClusterResources,
    storage: Storage,
    study: StudyPlace,
    reporter: Reporter = SILENT,
    resume: ResumePlan | None = None,
) -> dict[str, Any]:
    """Search ``settings.family``, retrain the best config, score it on test, write the run folder.

    Ray Tune keeps the trials in ``storage``, Optuna's study in ``study`` (both opened and checked
    before Ray started). With a ``resume`` plan, the folder exists already and its interrupted search
    continues: from Ray Tune's state, or rebuilt from the study in a new experiment folder. Lines for
    the user go to ``reporter``.
    """
    say = reporter.say
    family = get_family(settings.family)
    run_dir = settings.output_dir
    if resume is not None and resume.restore:
        say(f"== {settings.family}: going on from Ray Tune's saved state ({len(resume.kept)} finished trials)")
    if resume is not None and not resume.restore:
        settings = record_new_experiment(settings)
        say(
            f"== {settings.family}: Ray Tune's state is {resume.problem}; going on from the study: "
            f"{len(resume.kept)} finished trials kept, {len(resume.running)} that were running run again"
        )
    if resume is None:
        run_dir.mkdir(parents=True, exist_ok=True)  # the command line checked that it is new or empty
        write_json(
            run_dir / "settings.json",
            {
                **settings.to_dict(),
                "data_source": dataset.source,
                "splits": splits.describe(),
                "space": space.describe(),
                "article_config": family.article_config(splits.search.X_train.shape[1]),
            },
        )
    copy = run_copy(settings, storage)
    with copying_run(settings.run, copy):
        sizes = splits.describe()
        placement = resources.placement(
            settings.cpus_per_trial, settings.gpus_per_trial, settings.max_concurrent, family.USES_GPU
        )
        say(
            f"\n== {settings.family}: searching {len(space.distributions)} parameters from {space.path} "
            f"on {sizes['search_train']} images, validating on {sizes['validation']}; "
            f"at most {settings.num_samples} trials or {format_duration(settings.time_budget_s)}, "
            f"{describe_end_rule(settings)}; "
            f"{describe_at_once(settings, placement.concurrent)}, each holding {placement.cpus:g} CPUs and "
            f"{placement.gpus:g} GPUs; "
            f"{describe_scheduler(settings.rungs, family.FIDELITY)}"
        )
        if settings.storage_path:
            say(f"== {settings.family}: trial results and checkpoints in {experiment_location(settings)}")
        if copy is not None:
            where = resume_uri(settings.storage_path, settings.experiment_name)
            say(f"== {settings.family}: the run folder is copied there too, as trials end; elsewhere: --resume {where}")
        say(f"== {settings.family}: Optuna study {study.name!r} in {study.where}")
        try:
            search = run_search(
                settings,
                family,
                space,
                splits.search,
                resources=resources,
                storage=storage,
                study=study,
                resume=resume,
                reporter=reporter,
            )
        except NoTrialScored as error:  # every trial failed: the table and the log say how, the study has them too
            if error.trials is not None:
                error.trials.to_csv(run_dir / "trials.csv", index=False)
            write_failure_log(run_dir, error.outcomes)
            raise
        write_failure_log(run_dir, search.outcomes)
        say(f"== {settings.family}: the search ended after {format_duration(search.seconds)}: {search.ended.why}")
        if settings.together:  # its trial slots and CPU priority go to the families still searching
            mark_search_ended(allocation_place(settings.output_dir), search.ended.why)
        say(
            f"== {settings.family}: best validation accuracy {search.validation_accuracy:.2%} with "
            f"{format_config(space.restrict(search.best_config))}; retraining on {sizes['train']} images"
        )
        retrain = retrain_and_test(
            settings.family,
            search.best_config,
            splits.retrain_data(),
            splits.X_test,
            splits.y_test,
            seed=settings.seed,
            **retrain_resources(settings, resources),
            gpus=1 if placement.gpus > 0 else 0,
        )
        family.save(retrain.model, run_dir / family.MODEL_FILE)
        predictions = keep_predictions(splits.y_test, retrain.predictions, splits.X_test, splits.search.image_shape)
        save_predictions(run_dir / PREDICTIONS_FILE, predictions)
        baseline = family.BASELINE_TEST_ACCURACY if settings.dataset == "mnist" else None
        report = build_report(settings, baseline, search, retrain, resources.cpus, predictions.confusion_matrix())
        write_run_files(run_dir, report, search.trials)
        page = write_report_or_warn(run_dir, reporter)
        if page is not None:
            say(f"== {settings.family}: report: {page}")
        return report


def run_copy(settings: Settings, storage: Storage) -> RunCopy | None:
    """The run folder's copy in the bucket, with a bucket for ``--storage-path``; else None."""
    if storage.filesystem is None or settings.together:
        return None
    return RunCopy(storage, copy_place(storage, settings.experiment_name), settings.output_dir)


def retrain_resources(settings: Settings, resources: ClusterResources) -> dict[str, Any]:
    """Alone, the retrain takes the biggest node's CPUs; searched together with other families, it holds a
    trial's CPUs and uses the threads the allocator's share gives it (the others may still be searching)."""
    share = read_share(allocation_place(settings.output_dir)) if settings.together else None
    if share is None:
        return {"cpus": resources.retrain_cpus(settings.cpus_per_trial)}
    return {"cpus": settings.cpus_per_trial, "threads": share.retrain_threads}


def finish(output_dir: Path, reports: list[dict[str, Any]], reporter: Reporter) -> str:
    """The table of every family's figures; a ``--family all`` run also writes it, the families' ranking
    (``ranking.json``) and its combined report in ``output_dir``, and ends the table with the winner."""
    table = summary_table(reports)
    if len(reports) > 1:
        ranking = rank_families(reports, family_predictions(output_dir, [r["family"] for r in reports]))
        table += "\n\n" + ranking.sentence()
        (output_dir / "report.md").write_text(table + "\n")
        write_json(output_dir / "report.json", reports)
        write_json(output_dir / RANKING_FILE, ranking.to_dict())
        write_report_or_warn(output_dir, reporter, combined=True)
    return table


def family_predictions(output_dir: Path, families: list[str]) -> dict[str, tuple[Any, Any]]:
    """Each family's test labels and predictions, from its subfolder (a family without them is left out)."""
    found = {}
    for family in families:
        predictions = load_predictions(output_dir / family / PREDICTIONS_FILE)
        if predictions is not None:
            found[family] = (predictions.y_true, predictions.y_pred)
    return found


def write_failure_log(run_dir: Path, outcomes: list) -> None:
    """Failed trials' tracebacks go to ``trial_errors.log`` in the run folder, not to the terminal."""
    log = failure_log(outcomes)
    if log:
        (run_dir / FAILURE_LOG).write_text(log)


def record_new_experiment(settings: Settings) -> Settings:
    """A search rebuilt from the study writes to a new experiment folder; ``settings.json`` records it.

    The damaged one is left as it is. ``settings.json`` is replaced whole (written beside it, then
    renamed), so that a stop at any moment leaves the old or the new file, never half of one.
    """
    path = settings.output_dir / "settings.json"
    recorded = json.loads(path.read_text())
    name = f"{settings.experiment_name}-rebuilt-{datetime.now():%Y%m%d-%H%M%S}"
    recorded["experiment_name"] = name
    partial = path.with_name(".settings.json.new")
    write_json(partial, recorded)
    os.replace(partial, path)
    return replace(settings, experiment_name=name)


def experiment_location(settings: Settings) -> str:
    """Where Ray Tune keeps this run's trials, as the user wrote the storage (a URI keeps its query)."""
    base, _, query = settings.storage_path.partition("?")
    return f"{base.rstrip('/')}/{settings.experiment_name}" + (f"?{query}" if query else "")


def describe_at_once(settings: Settings, concurrent: int) -> str:
    """How many trials run at once: what the cluster holds, or, searched together, the allocator's share."""
    share = read_share(allocation_place(settings.output_dir)) if settings.together else None
    if share is None:
        return f"{concurrent} at once"
    return f"{share.trials_at_once} at once for now (the allocator's share)"


def describe_end_rule(settings: Settings) -> str:
    """One phrase: when the search ends before its caps."""
    if settings.patience == 0 or (settings.patience is None and settings.end_chance == 0):
        return "with no end before them"
    if settings.patience is not None:
        return (
            f"ending sooner once {settings.patience} full-budget trials in a row bring no gain beyond the "
            "validation noise"
        )
    return (
        f"ending sooner once the chance that the next {HORIZON} trials gain beyond the validation noise falls "
        f"below {settings.end_chance:.0%}"
    )


def describe_scheduler(rungs: Rungs, fidelity: str) -> str:
    """One phrase: what stops weak trials, and at which budgets."""
    if not rungs.stop_early:
        return "no early stopping"
    unit = "training-set sizes" if fidelity == SAMPLES else f"epochs from {rungs.grace_period}"
    return f"ASHA keeps the best 1/{rungs.reduction_factor} at each rung ({unit})"
