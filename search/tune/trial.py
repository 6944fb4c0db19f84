"""What runs inside each trial's Ray worker: the family trains and reports through ``tune.report``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ray import tune

from search.data import FitData
from search.environment import prepare_trial_worker
from search.families.base import SAMPLES, Family
from search.fidelity import timed, train_on_growing_subsets
from search.threads import cap_threads
from search.trial_report import EPOCHS_DONE, TRAIN_SAMPLES, ReportError, TrialReport


def run_trial(
    config: dict[str, Any],
    *,
    family: Family,
    data: FitData,
    defaults: Mapping[str, Any],
    seed: int,
    threads: int,
    sample_sizes: list[int],
) -> None:
    """One trial: ``family.train`` with its threads capped, reporting to Ray Tune.

    A family whose budget is samples fits on growing subsets of ``sample_sizes`` rows. A trial that
    Ray Tune restarts (``--resume``, a retried failure) carries on from its last checkpoint when its
    family writes them.
    """
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # no line per saved checkpoint
    prepare_trial_worker()
    config = {**defaults, **config}
    report = timed(tune_report(TRAIN_SAMPLES if family.FIDELITY == SAMPLES else EPOCHS_DONE))
    checkpoint = tune.get_checkpoint()
    with cap_threads(threads):
        if family.FIDELITY == SAMPLES:
            train_on_growing_subsets(family, config, data, report, seed, sample_sizes)
        elif checkpoint is None:
            family.train(config, data, report, seed)
        else:
            with checkpoint.as_directory() as folder:
                family.train(config, data, report, seed, restore_from=Path(folder))


def tune_report(budget_key: str):
    """The families' ``report``: a ``TrialReport`` that says how far it got in ``budget_key``, to Ray Tune."""

    def report(trial_report: TrialReport, checkpoint: Path | None = None) -> None:
        if not isinstance(trial_report, TrialReport):
            raise ReportError(f"a family must report a TrialReport, not {type(trial_report).__name__}")
        trial_report.budget_reached(budget_key)
        saved = None if checkpoint is None else tune.Checkpoint.from_directory(checkpoint)
        tune.report(trial_report.to_metrics(), checkpoint=saved)

    return report
