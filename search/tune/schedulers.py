"""The search's scheduler: ASHA (or every trial in full), finishing in time."""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from search.tune.deadline import FinishesInTime


class SearchFIFOScheduler(FinishesInTime, FIFOScheduler):
    """Every trial trains its whole budget, unless it could not finish in time."""


class SearchASHAScheduler(FinishesInTime, ASHAScheduler):
    """ASHA, and no trial goes on to a rung it could not finish in time."""


def search_scheduler(
    plan: Any | None, time_budget_s: float, run_id: str | None = None, paced_by_itself: bool = False
) -> TrialScheduler:
    """ASHA with the rungs of ``plan``, or none (FIFO) when ``plan`` is None; both stop trials that could not
    finish in time, and start none that could not (``search.tune.deadline``), in run ``run_id``'s search;
    ``paced_by_itself``: each trial's time to finish is judged by its own pace alone (a budget in epochs)."""
    deadline = {"time_budget_s": time_budget_s, "run_id": run_id, "paced_by_itself": paced_by_itself}
    if plan is None:
        return SearchFIFOScheduler(**deadline)
    return SearchASHAScheduler(**deadline, **vars(plan))
