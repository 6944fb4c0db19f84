"""Trials as plain data: how each one ended, the best-trial rule, the trials table, the core share.

Nothing here knows Ray: the Ray Tune adapter turns its results into ``TrialOutcome`` values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from search.core.kinds import EndReason, TrialStatus
from search.core.trial_report import (
    EPOCHS_DONE,
    PROGRESS,
    TRAIN_SAMPLES,
    TRAINING_SECONDS,
    VALIDATION_ACCURACY,
    TrialReport,
)


class NoTrialScored(RuntimeError):
    """The search ended without a single validation score; ``trials`` and ``outcomes`` say how each ended."""

    trials: pd.DataFrame | None = None
    outcomes: tuple[TrialOutcome, ...] | list[TrialOutcome] = ()


@dataclass(frozen=True)
class TrialOutcome:
    """How one trial ended: its config, its last report, how many reports it made, its error if any."""

    trial_id: str
    config: dict[str, Any]
    last: TrialReport | None
    """The last report (None: it never reported)."""
    reports: int = 0
    seconds: float | None = None
    """Wall time the trial ran."""
    error: str | None = None
    node: str | None = None
    """The Ray node it ran on (its last attempt)."""
    started_at: float | None = None
    """When its last attempt started, and when it last reported (seconds since the epoch)."""
    ended_at: float | None = None
    attempts: int = 1
    """1, or more when it was retried after its node or worker died."""
    traceback: str | None = None
    """The failure's traceback, for the run folder's log (``trials.csv`` has its one-line ``error``)."""

    @property
    def status(self) -> TrialStatus:
        """``failed``, ``completed`` (its last report at its full budget) or ``stopped_early``."""
        if self.error is not None:
            return TrialStatus.FAILED
        if self.last is not None and self.last.reached_full_budget:
            return TrialStatus.COMPLETED
        return TrialStatus.STOPPED_EARLY


@dataclass(frozen=True)
class SearchEnd:
    """What ended the search (an ``EndReason``), and why, in a sentence (``search.core.ending``)."""

    reason: EndReason
    why: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``report.json``."""
        return {"reason": self.reason.value, "why": self.why}


@dataclass(frozen=True)
class SearchResult:
    """What the search found: the best full config and every trial's outcome."""

    best_config: dict[str, Any]
    validation_accuracy: float
    trials: pd.DataFrame
    """``trials_table`` of every trial."""
    seconds: float
    training_core_share: float | None = None
    """Share of the search's core-seconds (wall time x the cluster's CPUs) spent training models."""
    outcomes: list[TrialOutcome] = field(default_factory=list)
    ended: SearchEnd | None = None
    """Why the search ended."""


def best_outcome(outcomes: Iterable[TrialOutcome]) -> TrialOutcome:
    """The best last score among trials that reached their full budget, else among all that scored.

    A trial that ASHA stopped at a small budget is not a candidate while a finished one exists: its
    score was measured on less training than the retrain will give it. Failed trials count only when
    no other trial scored.
    """
    outcomes = list(outcomes)
    scored = [o for o in outcomes if o.last is not None and o.error is None]
    scored = scored or [o for o in outcomes if o.last is not None]
    if not scored:
        errors = [o.error for o in outcomes if o.error]
        why = f"; first error: {errors[0]}" if errors else "; raise --time-budget"
        raise NoTrialScored(f"no trial reported a validation accuracy{why}")
    finished = [o for o in scored if o.last.reached_full_budget]
    return max(finished or scored, key=lambda o: o.last.validation_accuracy)


def trials_table(outcomes: Iterable[TrialOutcome], parameters: list[str]) -> pd.DataFrame:
    """One row per trial: id, status, the searched parameters, its last report, reports, seconds, error,
    and where and when it ran."""
    rows = []
    for outcome in outcomes:
        last = outcome.last
        rows.append(
            {
                "trial_id": outcome.trial_id,
                "status": outcome.status.value,
                **{name: outcome.config.get(name) for name in parameters},
                VALIDATION_ACCURACY: None if last is None else last.validation_accuracy,
                PROGRESS: None if last is None else last.progress,
                EPOCHS_DONE: None if last is None else last.epochs_done,
                TRAIN_SAMPLES: None if last is None else last.train_samples,
                "reports": outcome.reports,
                "seconds": outcome.seconds,
                TRAINING_SECONDS: None if last is None else last.training_seconds,
                "error": outcome.error,
                "node": outcome.node,
                "attempts": outcome.attempts,
                "started_at": outcome.started_at,
                "ended_at": outcome.ended_at,
            }
        )
    return pd.DataFrame(rows)


def failure_log(outcomes: Iterable[TrialOutcome]) -> str:
    """Every failed trial's id, config and traceback, one after another (empty when none failed)."""
    entries = []
    for outcome in outcomes:
        if outcome.error is None:
            continue
        entries.append(
            f"=== trial {outcome.trial_id}: {outcome.error}\nconfig: {outcome.config}\n"
            f"{(outcome.traceback or '(no traceback recorded)').rstrip()}\n"
        )
    return "\n".join(entries)


def training_core_share(
    trials: pd.DataFrame, seconds: float, cluster_cpus: float, cpus_per_trial: float
) -> float | None:
    """Core-seconds spent inside model training, as a share of wall time x the cluster's CPUs."""
    if seconds <= 0 or cluster_cpus <= 0:
        return None
    training = trials[TRAINING_SECONDS].fillna(0).sum() * cpus_per_trial
    return float(min(1.0, training / (seconds * cluster_cpus)))


def most_trials_at_once(trials: pd.DataFrame) -> int:
    """The most trials running at one moment, from when each started and last reported."""
    events = sorted([(t, 1) for t in trials["started_at"].dropna()] + [(t, -1) for t in trials["ended_at"].dropna()])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most
