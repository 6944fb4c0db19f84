"""No work thrown away at the deadline: a trial that cannot reach its full budget before the search's
time budget runs out is stopped at the rung it has reached, instead of starting fits that the end of
the budget would cut off unused; and once not even the quickest trial so far could run its whole
budget in the time left, no trial starts (``new_trial_can_finish``): the search ends when the running
ones do, instead of idling or cutting new trials off at the deadline. The quickest trial's seconds leave
out those it waited for a CPU other processes held (``cpu_wait_seconds`` in its reports): a cnn trial of a
several-family run took 11 minutes on a fifth of 2 cores, and would take under 5 with a core to itself.

How long a trial needs from a share of its budget to the whole of it is judged by its own pace
between its first report and this one (the first report also pays for starting: TensorFlow's
start-up, the first compile), so a trial is never stopped on its first report alone. Where the budget
is epochs (``paced_by_itself``), that pace is the judge throughout: every epoch of a trial costs the
same, and configs differ in what an epoch costs (on MNIST, seed 1, a cnn trial at 19 s an epoch was
stopped at epoch 2 of 10 with 5.4 minutes left, judged by the median of two slower networks' 200 and
470 s from the same share). Where it is training-set sizes, a fit costs more than in proportion to its
size: the trials that went from that share to the whole already judge (the median of their seconds).
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

from search.core.formatting import format_duration
from search.core.trial_report import CPU_WAIT_SECONDS, PROGRESS

START_MARGIN = 1.1
"""A trial's own seconds leave out its start (a worker, a placement group, Ray Tune's turn): one that
could run only as long as the quickest so far would end right at the deadline, and risk being cut off."""
_LIVE: dict[str, FinishesInTime] = {}
"""Per run: the scheduler its search runs under (registered as trials are added), for its searcher."""
_CLOSED: dict[str, str] = {}
"""Per run: why no new trial started before the time budget ran out, once that was so."""


class FinishesInTime:
    """A scheduler mixin: STOP a trial whose full budget would end after the search's time budget."""

    def __init__(
        self, *args: Any, time_budget_s: float, run_id: str | None = None, paced_by_itself: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.run_id = run_id
        self.paced_by_itself = paced_by_itself
        """Each trial judged by its own pace alone (a budget in epochs: see the module)."""
        self._budget = self._budget_left = time_budget_s
        self._last_check: float | None = None
        self._seconds_at: dict[str, dict[float, float]] = defaultdict(dict)
        """Per trial: its seconds when it reported each share of its budget."""
        self._to_finish: dict[float, list[float]] = defaultdict(list)
        """Per share of the budget: seconds that trials took from there to their full budget."""
        self._quickest: float | None = None
        """The fewest seconds a trial took in all to reach its full budget, less those it waited for CPUs other
        processes held (a family searched beside others shares the cores with them, and gets more of them as
        they end); None before any did."""
        self._register()

    def __setstate__(self, state: dict) -> None:
        state["_last_check"] = None  # a restored search counts from when it starts again
        state.setdefault("run_id", None)  # pickled before these were kept
        state.setdefault("_quickest", None)
        state.setdefault("paced_by_itself", False)
        state.setdefault("_budget", state["_budget_left"])
        self.__dict__.update(state)
        self._register()

    def _register(self) -> None:
        """This run's searcher asks this scheduler (made, restored, or the one Ray Tune adds trials to)."""
        if self.run_id is not None:
            _LIVE[self.run_id] = self

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        """The budget counts from the first trial added (the search's start, or its resume's)."""
        super().on_trial_add(tune_controller, trial)
        self.seconds_left()
        self._register()

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
        if seen and not self.paced_by_itself:
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
            needed = seconds - min(seconds, result.get(CPU_WAIT_SECONDS) or 0.0)  # with its CPUs to itself
            self._quickest = needed if self._quickest is None else min(self._quickest, needed)
            return decision
        needs = self.seconds_to_finish(progress, seconds, reached)
        reached[progress] = seconds
        if decision == TrialScheduler.CONTINUE and needs > self.seconds_left():
            return TrialScheduler.STOP
        return decision

    def new_trial_can_finish(self) -> bool:
        """Whether a trial started now could reach its full budget in the time left, judged by the
        quickest trial that did so far, and ``START_MARGIN`` (True before any did); when not, why is kept
        for the report."""
        quickest = self._quickest
        if quickest is None:
            return True
        left = self.seconds_left()
        if quickest * START_MARGIN <= left:
            return True
        if self.run_id is not None and self.run_id not in _CLOSED:
            _CLOSED[self.run_id] = (
                f"no trial started after {format_duration(self._budget - left)}: the quickest to reach its "
                f"full budget took {format_duration(quickest)}, more than the {format_duration(left)} left"
            )
        return False


def new_trial_can_finish(run_id: str) -> bool:
    """Whether a trial of run ``run_id`` started now could finish before its time budget runs out."""
    scheduler = _LIVE.get(run_id)
    return scheduler is None or scheduler.new_trial_can_finish()


def closed_to_new_trials(run_id: str) -> str | None:
    """Why run ``run_id``'s search (in this process) started no trial before its time budget ran out, if so."""
    _LIVE.pop(run_id, None)
    return _CLOSED.pop(run_id, None)
