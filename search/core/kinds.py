"""The fixed sets of values a run speaks in: trial statuses, budget units, schedulers, why a search ended.

Each is a ``str`` enum: its members equal their plain strings (``TrialStatus.COMPLETED == "completed"``),
so ``trials.csv``, ``report.json`` and ``settings.json`` hold the same words as before.
"""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    """A ``str`` enum that prints as its value (``str()`` and f-strings alike, on every Python version)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class TrialStatus(Kind):
    """How a trial ended, as ``trials.csv`` and ``report.json`` say it."""

    COMPLETED = "completed"
    """It reached its full budget: a candidate for the best."""
    STOPPED_EARLY = "stopped_early"
    """A scheduler (or the time budget) stopped it before its full budget."""
    FAILED = "failed"


class BudgetUnit(Kind):
    """What a family's budget is counted in."""

    EPOCHS = "epochs"
    """It reports after every epoch."""
    SAMPLES = "samples"
    """Training samples: the search fits it on growing subsets (``search.core.fidelity``)."""


class Scheduler(Kind):
    """What stops weak trials early (``--scheduler``)."""

    ASHA = "asha"
    """ASHA, at rungs of the family's budget."""
    NONE = "none"
    """Every trial trains its full budget."""


class EndReason(Kind):
    """What ended a search."""

    CONVERGED = "converged"
    TRIAL_CAP = "trial_cap"
    TIME_BUDGET = "time_budget"
    BEHIND = "behind"
    """Several families searched at once, and another was clearly ahead (``search.core.allocation``)."""
