"""Why a search ended: its end rule said so (``search.core.outlook``, or ``search.core.plateau`` with
``--patience``), another family searched at once was clearly ahead (``search.core.allocation``), or its
trial cap or time budget ran out."""

from __future__ import annotations

from collections.abc import Iterable

from search.core.formatting import format_duration
from search.core.kinds import EndReason
from search.core.trials import SearchEnd, TrialOutcome

CONVERGED, TRIAL_CAP, TIME_BUDGET, BEHIND = (
    EndReason.CONVERGED,
    EndReason.TRIAL_CAP,
    EndReason.TIME_BUDGET,
    EndReason.BEHIND,
)


def why_search_ended(
    outcomes: Iterable[TrialOutcome],
    *,
    converged: str | None,
    num_samples: int,
    time_budget_s: float,
    behind: str | None = None,
    no_time_left: str | None = None,
) -> SearchEnd:
    """``converged``: why the end rule ended the search, if it did; ``behind``: why the allocator did;
    else the trial cap, or the time budget (``no_time_left``: why no trial started before it ran out)."""
    if behind:
        return SearchEnd(BEHIND, behind)
    if converged:
        return SearchEnd(CONVERGED, converged)
    if len(list(outcomes)) >= num_samples:
        return SearchEnd(TRIAL_CAP, f"all {num_samples} trials it may run ran (--num-samples)")
    why = f"its time budget: {format_duration(time_budget_s)} (--time-budget)"
    return SearchEnd(TIME_BUDGET, f"{why}; {no_time_left}" if no_time_left else why)
