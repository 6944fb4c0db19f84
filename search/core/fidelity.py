"""Multi-fidelity: a trial's budget grows in rungs, and ASHA stops the weak trials at each rung.

A family's budget is either epochs (mlp, keras_mlp, cnn: the family reports after every epoch)
or training samples (svc, logistic: the trial fits on growing, nested, stratified subsets of the
search's training split, for example 1/27, 1/9, 1/3 and then all of it, and reports after each).
Ray Tune's ASHA scheduler compares trials at the same budget and stops all but the best
``1 / reduction_factor`` of them; the survivors go on to the next rung.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search.core.data import FitData
from search.core.kinds import BudgetUnit
from search.core.settings import Rungs
from search.core.spaces import SearchSpace
from search.core.trial_report import EPOCHS_DONE, TRAIN_SAMPLES, TrialReport

if TYPE_CHECKING:  # a family is what it runs; the core imports no family
    from search.families.base import Family, Report

MIN_PER_CLASS = 10
"""A subset smaller than this many images per class is too small to be a rung."""
LOW_RUNG_VALIDATION_SHARE = 1 / 3
"""A low rung (fitted on no more rows than the validation split holds) is scored on this stratified part of
the validation split: at 1,750 and 5,250 MNIST training images, predicting all 5,250 validation images
took longer than fitting, and a third ranks configurations as the whole split does (Spearman 0.970 and
0.996 over 30 configurations: ``bench/low_rung_scoring.py``). Higher rungs and the full budget, which
the best-trial rule and the end of the search read, are scored on all of it."""


def sample_sizes(n_rows: int, n_classes: int, rungs: Rungs) -> list[int]:
    """Subset sizes for one trial, each ``reduction_factor`` times the last, ending with all ``n_rows``.

    Without a scheduler a trial fits on everything at once. Rungs smaller than ``MIN_PER_CLASS``
    images per class are left out.
    """
    if not rungs.stop_early:
        return [n_rows]
    factor = rungs.reduction_factor
    smallest = n_rows // factor ** (rungs.sample_rungs - 1)
    sizes = [smallest * factor**k for k in range(rungs.sample_rungs - 1)]
    return [size for size in sizes if size >= MIN_PER_CLASS * n_classes] + [n_rows]


def nested_stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of the rows whose every prefix holds each class in its share, give or take one.

    Each class's rows are shuffled and spread evenly over [0, 1); sorting all rows by that
    position interleaves the classes. The first ``k`` rows are therefore a stratified subset, and
    the subsets of growing ``k`` are nested.
    """
    rng = np.random.default_rng(seed)
    position = np.empty(len(y))
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        rng.shuffle(rows)
        position[rows] = (np.arange(len(rows)) + rng.random()) / len(rows)
    return np.argsort(position, kind="stable")


def train_on_growing_subsets(
    family: Family, config: Mapping[str, Any], data: FitData, report: Report, seed: int, sizes: list[int]
) -> Any:
    """Fit ``family`` on nested stratified subsets of ``sizes`` rows, reporting after each fit.

    Each report's ``progress`` is the share of the training split used, and ``train_samples`` the
    rows; a scheduler that stops the trial after a report saves the larger fits. Low rungs are scored on
    part of the validation split (``LOW_RUNG_VALIDATION_SHARE``).
    """
    order = nested_stratified_order(data.y_train, seed)
    n_rows = len(data.y_train)
    low_rung_validation = part_of_validation(data, seed)
    model = None
    for size in sizes:
        if size == n_rows:
            subset = data  # all of it: no copy
        else:
            rows = np.sort(order[:size])
            X_val, y_val = low_rung_validation if size <= len(data.y_val) else (data.X_val, data.y_val)
            subset = FitData(data.X_train[rows], data.y_train[rows], X_val, y_val, data.image_shape)

        def report_size(trial_report: TrialReport, checkpoint: Path | None = None, size: int = size) -> None:
            report(replace(trial_report, train_samples=size, progress=size / n_rows), checkpoint)

        model = family.train(config, subset, report_size, seed)
    return model


def part_of_validation(data: FitData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The stratified ``LOW_RUNG_VALIDATION_SHARE`` of the validation split that low rungs are scored on; all of it
    when that part would hold fewer than ``MIN_PER_CLASS`` images per class."""
    n_classes = len(np.unique(data.y_val))
    size = int(len(data.y_val) * LOW_RUNG_VALIDATION_SHARE)
    if size < MIN_PER_CLASS * n_classes:
        return data.X_val, data.y_val
    rows = np.sort(nested_stratified_order(data.y_val, seed)[:size])
    return data.X_val[rows], data.y_val[rows]


def timed(report: Report, threads: int = 1, cpu_wait: Callable[[], float | None] = lambda: None) -> Report:
    """``report``, with the seconds spent training so far added to every report, and of those, the seconds the
    trial waited for a busy CPU: what ``cpu_wait`` (the process's threads' waits so far) grew by, over the
    ``threads`` the trial trains with."""
    started, waited_before = time.monotonic(), cpu_wait()

    def report_with_time(trial_report: TrialReport, checkpoint: Path | None = None) -> None:
        seconds, waited = time.monotonic() - started, cpu_wait()
        wait = None
        if waited is not None and waited_before is not None:
            wait = min(seconds, max(0.0, waited - waited_before) / max(1, threads))
        report(replace(trial_report, training_seconds=seconds, cpu_wait_seconds=wait), checkpoint=checkpoint)

    return report_with_time


@dataclass(frozen=True)
class AshaRungs:
    """Where ASHA compares trials: in ``time_attr`` units, from ``grace_period`` up to ``max_t``."""

    time_attr: str
    grace_period: int
    max_t: int
    reduction_factor: int

    @property
    def milestones(self) -> list[int]:
        """The budgets below ``max_t`` where ASHA compares trials (its rungs)."""
        found, at = [], self.grace_period
        while at < self.max_t:
            found.append(at)
            at *= self.reduction_factor
        return found


def asha_rungs(fidelity: str, rungs: Rungs, *, max_epochs: int, sizes: list[int]) -> AshaRungs | None:
    """ASHA's rungs over the family's budget unit, or None when ``rungs.scheduler`` is ``none``."""
    if not rungs.stop_early:
        return None
    if fidelity == BudgetUnit.SAMPLES:
        first, last = sizes[0], sizes[-1]
    else:
        first, last = min(rungs.grace_period, max_epochs), max_epochs
    return AshaRungs(budget_key(fidelity), first, max(last, first), rungs.reduction_factor)


def budget_key(fidelity: str) -> str:
    """The report's field that counts a family's budget: epochs done, or training images."""
    return TRAIN_SAMPLES if fidelity == BudgetUnit.SAMPLES else EPOCHS_DONE


def max_epochs(space: SearchSpace, defaults: Mapping[str, Any]) -> int:
    """The most epochs a trial can train: the top of the space's ``epochs``, else the article's."""
    epochs = space.distributions.get("epochs")
    if epochs is not None and hasattr(epochs, "high"):
        return int(epochs.high)
    if epochs is not None:
        return int(max(epochs.choices))
    return int(defaults.get("epochs", 1))
