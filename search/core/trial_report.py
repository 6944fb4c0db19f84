"""What a trial reports after each unit of its budget: one typed record, its keys in one place.

A family builds a ``TrialReport`` (``after_epoch`` or ``after_fit``) and hands it to the ``report``
function it was given. The search adds the training-set size of a sample-budget trial and the
seconds spent training, and Ray Tune receives ``to_metrics()``. ASHA reads the budget reached from
those metrics, and the best-trial rule reads the metric and ``progress``: a report that lacks them is
rejected where it is made, instead of quietly changing which trial wins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

VALIDATION_ACCURACY = "validation_accuracy"
"""The metric the search maximises."""
VALIDATION_LOSS = "validation_loss"
PROGRESS = "progress"
EPOCHS_DONE = "epochs_done"
TRAIN_SAMPLES = "train_samples"
TRAINING_SECONDS = "training_seconds"
CPU_WAIT_SECONDS = "cpu_wait_seconds"


class ReportError(ValueError):
    """A trial's report lacks what the search needs, or holds a value no trial can reach."""


@dataclass(frozen=True)
class TrialReport:
    """One report of a trial: its validation score and how far into its budget it was made."""

    validation_accuracy: float
    progress: float
    """Share of the trial's full budget done: 1.0 after its last epoch, or after its fit on the whole split."""
    epochs_done: int | None = None
    """Epochs trained so far (the budget of ``mlp``, ``keras_mlp`` and ``cnn``)."""
    train_samples: int | None = None
    """Rows the model was fitted on (the budget of ``svc`` and ``logistic``); set by the search."""
    validation_loss: float | None = None
    training_seconds: float | None = None
    """Seconds spent training since the trial started; set by the search."""
    cpu_wait_seconds: float | None = None
    """Of ``training_seconds``, those its threads waited for CPUs other processes held (None: not known); set
    by the search."""

    def __post_init__(self) -> None:
        if not (isinstance(self.validation_accuracy, (int, float)) and 0.0 <= self.validation_accuracy <= 1.0):
            raise ReportError(f"{VALIDATION_ACCURACY} must be between 0 and 1 (got {self.validation_accuracy!r})")
        if not (isinstance(self.progress, (int, float)) and 0.0 < self.progress <= 1.0):
            raise ReportError(f"{PROGRESS} must be more than 0 and at most 1 (got {self.progress!r})")
        if self.validation_loss is not None and not math.isfinite(self.validation_loss):
            raise ReportError(f"{VALIDATION_LOSS} must be a finite number (got {self.validation_loss!r})")

    @classmethod
    def after_epoch(cls, epoch: int, epochs: int, accuracy: float, loss: float | None = None) -> TrialReport:
        """The report after epoch ``epoch`` (counted from 1) of ``epochs``."""
        return cls(float(accuracy), epoch / epochs, epochs_done=epoch, validation_loss=loss)

    @classmethod
    def after_fit(cls, accuracy: float) -> TrialReport:
        """The report of a model fitted once on its whole training set."""
        return cls(float(accuracy), 1.0)

    @property
    def reached_full_budget(self) -> bool:
        """Whether the trial had done its whole budget when it made this report."""
        return self.progress >= 1.0

    def budget_reached(self, key: str) -> int:
        """The budget in the unit ASHA counts (``epochs_done`` or ``train_samples``); rejects a report without it."""
        value = getattr(self, key, None)
        if value is None:
            raise ReportError(f"a trial's report has no {key}, which the scheduler counts its rungs in")
        return value

    def to_metrics(self) -> dict[str, float]:
        """The metrics Ray Tune records: every field that has a value."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> TrialReport:
        """The report behind a result that Ray Tune recorded (it adds keys of its own, ignored here)."""
        missing = [key for key in (VALIDATION_ACCURACY, PROGRESS) if metrics.get(key) is None]
        if missing:
            raise ReportError(f"a trial's result has no {' or '.join(missing)}")
        return cls(**{field.name: metrics[field.name] for field in fields(cls) if metrics.get(field.name) is not None})


def reached_full_budget(metrics: Mapping[str, Any]) -> bool:
    """Whether a recorded result was made at the trial's full budget; a result without ``progress`` is an error."""
    return TrialReport.from_metrics(metrics).reached_full_budget
