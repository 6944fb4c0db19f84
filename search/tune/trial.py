"""What runs inside each trial's Ray worker: the family trains and reports through ``tune.report``."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ray
from ray import tune

from search.core.data import FitData
from search.core.fidelity import timed, train_on_growing_subsets
from search.core.formatting import format_config
from search.core.trial_report import EPOCHS_DONE, TRAIN_SAMPLES, ReportError, TrialReport
from search.families.base import SAMPLES, Family
from search.machine.cpu_wait import cpu_wait_seconds
from search.machine.environment import prepare_trial_worker
from search.machine.priority import run_at_nice
from search.machine.threads import cap_threads
from search.records.shares import READ_EVERY_S, read_share

NODE_ID = "node_id"
"""The Ray node the trial ran on, in every result."""
STARTED_AT = "started_at"
"""When this attempt at the trial started (seconds since the epoch); a retried trial has several."""
REPORTED_AT = "reported_at"
"""When the result was reported (seconds since the epoch)."""
TRIAL_ERROR = "trial_error"
"""In a trial's last result only: the one-line error its own config raised."""
TRIAL_TRACEBACK = "trial_traceback"
"""In a trial's last result only: that error's traceback, for the run folder's log (not the terminal)."""


def run_trial(
    config: dict[str, Any],
    *,
    family: Family,
    data: FitData,
    defaults: Mapping[str, Any],
    seed: int,
    threads: int,
    gpu_share: float,
    sample_sizes: list[int],
    priority_from: str | None = None,
) -> None:
    """One trial: ``family.train`` with its threads capped, reporting to Ray Tune.

    A family whose budget is samples fits on growing subsets of ``sample_sizes`` rows. A trial that
    Ray Tune restarts (``--resume``, a retry after its node died) carries on from its last
    checkpoint when its family writes them. An error that the trial's own config causes ends the
    trial with a last result that names it, instead of raising: Ray Tune retries what raises, and
    retrying a config that cannot train would fail again.
    """
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per saved checkpoint
    prepare_trial_worker(gpu_share)
    # the actor's log (the Ray dashboard's Logs tab; the terminal with --debug) says which trial runs now
    print(f"{family.NAME} trial {tune.get_context().get_trial_id()} starts: {format_config(config)}", flush=True)
    config = {**defaults, **config}
    placement = {NODE_ID: ray.get_runtime_context().get_node_id(), STARTED_AT: time.time()}
    budget = TRAIN_SAMPLES if family.FIDELITY == SAMPLES else EPOCHS_DONE
    report = timed(tune_report(budget, placement), threads, cpu_wait_seconds)
    if priority_from is not None:
        report = at_shared_priority(report, Path(priority_from))
    checkpoint = tune.get_checkpoint()
    try:
        with cap_threads(threads):
            if family.FIDELITY == SAMPLES:
                train_on_growing_subsets(family, config, data, report, seed, sample_sizes)
            elif checkpoint is None:
                family.train(config, data, report, seed)
            else:
                with checkpoint.as_directory() as folder:
                    family.train(config, data, report, seed, restore_from=Path(folder))
    except Exception as error:  # noqa: BLE001 - recorded as the trial's failure (Ray stops trials by SystemExit)
        failure = {TRIAL_ERROR: one_line(error), TRIAL_TRACEBACK: traceback.format_exc()}
        tune.report({**placement, REPORTED_AT: time.time(), **failure})


def at_shared_priority(report, folder: Path):
    """Run this worker's threads at the nice value of the family's share in ``folder``, now and before each
    of ``report``'s calls (the share read at most every ``READ_EVERY_S``); returns that ``report``."""
    checked = [0.0]

    def follow_share() -> None:
        if time.monotonic() - checked[0] >= READ_EVERY_S:
            checked[0] = time.monotonic()
            share = read_share(folder)
            if share is not None:
                run_at_nice(share.nice)  # a worker lowered before stays lower without the privilege to raise it

    def report_at_priority(*args: Any, **kwargs: Any) -> None:
        follow_share()
        report(*args, **kwargs)

    follow_share()
    return report_at_priority


def named_trial(family_name: str):
    """``run_trial`` under the name ``<family>_trial``: Ray Tune's trial folders and the Ray dashboard's
    actors (their ``repr``, shared by the trials an actor runs in turn) carry it."""

    def trial(config: dict[str, Any], **parameters: Any) -> None:
        run_trial(config, **parameters)

    trial.__name__ = trial.__qualname__ = f"{family_name}{TRIAL_SUFFIX}"
    trial.__doc__ = run_trial.__doc__
    return trial


TRIAL_SUFFIX = "_trial"


def trial_dirname(trial: Any) -> str:
    """A trial's folder: ``<family>_trial_<Ray Tune's trial id>_<its number in the search>``.

    Ray Tune's default also holds the parameters and a date, so a trial cut off before it reported
    (no metrics, hence no ``trial_id`` in them) could only be told by its folder's whole name.
    """
    number = str(trial.experiment_tag).split("_", 1)[0]
    return f"{trial.trainable_name}_{trial.trial_id}_{number}"


def trial_id_of(folder_name: str) -> str:
    """Ray Tune's trial id in a folder that ``trial_dirname`` named."""
    return folder_name.split(f"{TRIAL_SUFFIX}_", 1)[-1].split("_", 1)[0]


def tune_report(budget_key: str, placement: Mapping[str, Any] | None = None):
    """The families' ``report``: a ``TrialReport`` that says how far it got in ``budget_key``, to Ray Tune,
    with where and since when the trial runs (``placement``)."""

    def report(trial_report: TrialReport, checkpoint: Path | None = None) -> None:
        if not isinstance(trial_report, TrialReport):
            raise ReportError(f"a family must report a TrialReport, not {type(trial_report).__name__}")
        trial_report.budget_reached(budget_key)
        saved = None if checkpoint is None else tune.Checkpoint.from_directory(checkpoint)
        tune.report({**trial_report.to_metrics(), **(placement or {}), REPORTED_AT: time.time()}, checkpoint=saved)

    return report


def where_and_when(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's last metrics as ``TrialOutcome`` fields: its node, when it started and last reported, its seconds."""
    return {
        "node": metrics.get(NODE_ID),
        "started_at": metrics.get(STARTED_AT),
        "ended_at": metrics.get(REPORTED_AT),
        "seconds": metrics.get("time_total_s"),
    }


def one_line(error: BaseException) -> str:
    """``ValueError: the last line of its message``."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1] if lines else ''}"
