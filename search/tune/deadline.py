"""No work thrown away at the deadline: a trial that cannot reach its full budget before the search's
time budget runs out is stopped at the rung it has reached, instead of starting fits that the end of
the budget would cut off unused.

How long a trial needs from a share of its budget to the whole of it is judged by the trials that
went from that share to the whole already (the median of their seconds); before any has, by the
trial's own pace between its first report and this one (the first report also pays for starting:
TensorFlow's start-up, the first compile), so a trial is never stopped on its first report alone.
The budget left is counted as Ray Tune's own ``TimeoutStopper`` counts it, so that it goes on from
where it was after ``--resume``.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any

from ray.tune.result import TIME_TOTAL_S
from ray.tune.schedulers import TrialScheduler

from search.core.trial_report import PROGRESS


class FinishesInTime:
    """A scheduler mixin: STOP a trial whose full budget would end after the search's time budget."""

    def __init__(self, *args: Any, time_budget_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._budget_left = time_budget_s
        self._last_check: float | None = None
        self._seconds_at: dict[str, dict[float, float]] = defaultdict(dict)
        """Per trial: its seconds when it reported each share of its budget."""
        self._to_finish: dict[float, list[float]] = defaultdict(list)
        """Per share of the budget: seconds that trials took from there to their full budget."""

    def __setstate__(self, state: dict) -> None:
        state["_last_check"] = None  # a restored search counts from when it starts again
        self.__dict__.update(state)

    def seconds_left(self) -> float:
        """The search's time budget still left."""
        now = time.time()
        if self._last_check is not None:
            self._budget_left -= now - self._last_check
        self._last_check = now
        return self._budget_left

    def seconds_to_finish(self, progress: float, seconds: float, earlier: dict[float, float] | None = None) -> float:
        """How long a trial at ``progress`` of its budget after ``seconds`` still needs to reach all of it;
        ``earlier``: the seconds at its earlier reports, by share of the budget. 0 when nothing tells."""
        seen = self._to_finish.get(progress)
        if seen:
            return statistics.median(seen)
        before = {share: at for share, at in (earlier or {}).items() if share < progress}
        if not before:
            return 0.0
        first = min(before)
        return (seconds - before[first]) / (progress - first) * (1 - progress)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        progress, seconds = result.get(PROGRESS), result.get(TIME_TOTAL_S)
        if progress is None or seconds is None or progress <= 0:
            return decision
        reached = self._seconds_at[trial.trial_id]
        if progress >= 1:
            for share, at in reached.items():
                self._to_finish[share].append(seconds - at)
            return decision
        needs = self.seconds_to_finish(progress, seconds, reached)
        reached[progress] = seconds
        if decision == TrialScheduler.CONTINUE and needs > self.seconds_left():
            return TrialScheduler.STOP
        return decision
