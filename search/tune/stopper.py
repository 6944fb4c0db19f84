"""Ray Tune ends the search once more search is unlikely to change its answer.

By default the rule of ``search.core.outlook``: the chance that the next trials gain beyond the
validation noise, from each rung's step to the full budget; it also stops a trial at a rung where it
has no such chance left, instead of confirming it at its full budget. With ``--patience N``, the
older rule of ``search.core.plateau``: N full-budget trials in a row without a gain.

The stopper sees every result before the scheduler does; ``TrialEnds`` (a callback) tells it when a
trial ends, however it ended. What ended the search is kept by run (``ended_by_rule``), for the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ray.tune import Callback, Stopper

from search.core.outlook import Outlook
from search.core.plateau import Plateau
from search.core.trial_report import PROGRESS
from search.tune.trial import TRIAL_ERROR

_ENDED: dict[str, str] = {}
"""Per run: why its end rule ended the search, once it did."""


class EndRuleStopper(Stopper):
    """Watches every result; ends the search when its rule says so, and (the outlook rule) stops a trial
    at a rung where it can no longer end as a gain."""

    def __init__(
        self,
        run_id: str,
        metric: str,
        budget_key: str,
        validation_size: int,
        *,
        end_chance: float,
        patience: int | None,
        rungs: Iterable[int] = (),
    ) -> None:
        self.run_id, self.metric, self.budget_key = run_id, metric, budget_key
        self.plateau = Plateau(validation_size, patience) if patience is not None else None
        self.outlook = Outlook(validation_size, end_chance) if patience is None else None
        self.rungs = frozenset(rungs)
        """The budgets where a trial may be stopped (ASHA's rungs; none without ASHA)."""
        self.counted: set[str] = set()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Takes in a trial's result; True stops that trial (the outlook rule, at a rung, without a chance)."""
        if TRIAL_ERROR in result or result.get(self.metric) is None or result.get(PROGRESS) is None:
            return False
        score, full = float(result[self.metric]), result[PROGRESS] >= 1
        if self.plateau is not None:
            if full and trial_id not in self.counted:  # Ray Tune may show a result twice
                self.counted.add(trial_id)
                self.plateau.observe(score)
            return False
        budget = result.get(self.budget_key)
        if budget is None:
            return False
        self.outlook.report(trial_id, budget, score, full)
        return not full and budget in self.rungs and not self.outlook.promising(trial_id)

    def trial_ended(self, trial_id: str) -> None:
        if self.outlook is not None:
            self.outlook.end(trial_id)

    def stop_all(self) -> bool:
        """Whether the search has its answer; its reason is kept for ``ended_by_rule``."""
        rule = self.outlook if self.outlook is not None else self.plateau
        if rule.reached:
            _ENDED.setdefault(self.run_id, rule.explain())
            return True
        return False


class TrialEnds(Callback):
    """Tells the stopper of every trial that ended: finished, stopped, or failed for good."""

    def __init__(self, stopper: EndRuleStopper) -> None:
        self.stopper = stopper

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.stopper.trial_ended(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.stopper.trial_ended(trial.trial_id)


def ended_by_rule(run_id: str) -> str | None:
    """Why the end rule ended run ``run_id``'s search (in this process), or None if it did not."""
    return _ENDED.pop(run_id, None)
