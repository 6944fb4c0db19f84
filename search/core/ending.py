"""Why a search ended: it converged (``search.core.plateau``), or its trial cap or time budget ran out."""

from __future__ import annotations

from collections.abc import Iterable

from search.core.formatting import format_duration
from search.core.kinds import EndReason, TrialStatus
from search.core.plateau import plateau_of
from search.core.trials import SearchEnd, TrialOutcome

CONVERGED, TRIAL_CAP, TIME_BUDGET = EndReason.CONVERGED, EndReason.TRIAL_CAP, EndReason.TIME_BUDGET


def why_search_ended(
    outcomes: Iterable[TrialOutcome],
    *,
    validation_size: int,
    patience: int,
    num_samples: int,
    time_budget_s: float,
) -> SearchEnd:
    """Read from the trials: the plateau rule over the full-budget trials in the order they finished,
    then the trial cap; otherwise the time budget ended it."""
    outcomes = list(outcomes)
    completed = sorted((o for o in outcomes if o.status == TrialStatus.COMPLETED), key=lambda o: o.ended_at or 0.0)
    plateau = plateau_of([o.last.validation_accuracy for o in completed], validation_size, patience)
    if plateau.reached:
        return SearchEnd(CONVERGED, plateau.explain())
    if len(outcomes) >= num_samples:
        return SearchEnd(TRIAL_CAP, f"all {num_samples} trials it may run ran (--num-samples)")
    still = "" if patience == 0 else f", before it converged ({plateau.since_gain} of {patience} trials without a gain)"
    return SearchEnd(TIME_BUDGET, f"its time budget: {format_duration(time_budget_s)} (--time-budget){still}")
