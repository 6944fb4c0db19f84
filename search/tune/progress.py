"""A compact progress line per finished trial, instead of Ray Tune's boxes per trial, and a line on
the trials still running when none has ended for a while."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ray.tune import Callback

from search.core.formatting import format_duration, format_value
from search.core.reporter import Reporter
from search.core.trial_report import EPOCHS_DONE, PROGRESS, TRAIN_SAMPLES, reached_full_budget
from search.tune.trial import TRIAL_ERROR

HEARTBEAT_S = 120.0
"""Seconds without a line after which the trials still running get one (a cnn trial takes minutes)."""

_RESUMED: dict[str, tuple[Reporter, int, float | None]] = {}
"""Per run being resumed: this command's reporter, the trials that had ended, the best among them."""


@contextmanager
def resumed_progress(run_id: str, reporter: Reporter, ended: int, best: float | None) -> Iterator[None]:
    """While ``Tuner.restore`` unpickles the run's ``ProgressPrinter`` (made by the first command, with its
    reporter and counts), it takes this command's ``reporter`` (``--quiet`` or not) and goes on counting."""
    _RESUMED[run_id] = (reporter, ended, best)
    try:
        yield
    finally:
        _RESUMED.pop(run_id, None)


class ProgressPrinter(Callback):
    """Prints one line when a trial ends (its score, its config, the best so far), and every
    ``heartbeat_s`` without one, a line on how far the running trials have got."""

    def __init__(
        self,
        metric: str,
        parameters: list[str],
        num_samples: int,
        reporter: Reporter,
        heartbeat_s: float = HEARTBEAT_S,
        run_id: str = "",
    ) -> None:
        self.run_id = run_id
        self.metric = metric
        self.reporter = reporter
        self.parameters = parameters
        self.num_samples = num_samples
        self.heartbeat_s = heartbeat_s
        self.started = time.monotonic()
        self.last_line = self.started
        self.running: dict[str, str] = {}
        """How far each running trial has got; its score is in ``last_score``."""
        self.ended = 0
        self.best: float | None = None
        self.last_score: dict[str, float] = {}
        self.stopped_at: dict[str, str | None] = {}
        self.failed: set[str] = set()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled by ``Tuner.restore``: this command's reporter, counts from the trials that had ended,
        and a clock of this process (the first command's means nothing here)."""
        self.__dict__.update(state)
        if self.run_id in _RESUMED:
            self.reporter, self.ended, self.best = _RESUMED[self.run_id]
        self.started = self.last_line = time.monotonic()
        self.running, self.last_score, self.stopped_at, self.failed = {}, {}, {}, set()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        """Remember the trial's latest score, or that its config failed."""
        if TRIAL_ERROR in result:
            self.failed.add(trial.trial_id)
        elif self.metric in result:
            budget = budget_reached(result)
            self.last_score[trial.trial_id] = result[self.metric]
            self.stopped_at[trial.trial_id] = None if reached_full_budget(result) else budget
            self.running[trial.trial_id] = budget

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        """After a quiet ``heartbeat_s``: where each running trial is, and its latest score."""
        now = time.monotonic()
        if not self.running or now - self.last_line < self.heartbeat_s:
            return
        self.last_line = now
        where = "; ".join(f"{budget} at {self.last_score[trial_id]:.2%}" for trial_id, budget in self.running.items())
        best = "-" if self.best is None else f"{self.best:.2%}"
        self.reporter.progress(f"  [{format_duration(now - self.started):>7}] running: {where}  | best {best}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A trial ended normally (or was stopped), or its config failed."""
        if trial.trial_id in self.failed:
            self.on_trial_error(iteration, trials, trial)
            return
        score = self.last_score.get(trial.trial_id)
        if score is None:
            self._line(trial, "ended without a result")
            return
        stopped_at = self.stopped_at.get(trial.trial_id)
        if stopped_at is None:  # as the final choice: only trials that reached their full budget compete
            self.best = score if self.best is None else max(self.best, score)
        partial = "" if stopped_at is None else f" (stopped at {stopped_at})"
        self._line(trial, f"validation {score:.2%}{partial}")

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A trial's worker or node died, and Ray Tune will run it again."""
        self.running.pop(trial.trial_id, None)
        self.last_line = time.monotonic()
        elapsed = format_duration(time.monotonic() - self.started)
        where = "its last checkpoint" if getattr(trial, "checkpoint", None) is not None else "the start (no checkpoint)"
        self.reporter.progress(f"  [{elapsed:>7}] a trial's worker or node died; it runs again from {where}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A trial raised."""
        self._line(trial, "FAILED (see trials.csv)")

    def _line(self, trial: Any, outcome: str) -> None:
        self.ended += 1
        self.running.pop(trial.trial_id, None)
        self.last_line = time.monotonic()
        config = ", ".join(f"{name}={format_value(trial.config.get(name))}" for name in self.parameters)
        best = "-" if self.best is None else f"{self.best:.2%}"
        elapsed = format_duration(time.monotonic() - self.started)
        self.reporter.progress(
            f"  [{elapsed:>7}] trial {self.ended:>3}/{self.num_samples}: {outcome:<22} {config}  | best {best}"
        )


def budget_reached(result: dict) -> str:
    """How far a trial got: epochs, training images, or a share of its budget."""
    if EPOCHS_DONE in result:
        return f"epoch {result[EPOCHS_DONE]}"
    if TRAIN_SAMPLES in result:
        return f"{result[TRAIN_SAMPLES]} images"
    return f"{result[PROGRESS]:.0%} of its budget"
