"""Ray Tune ends the search once more search is unlikely to change its answer.

By default the rule of ``search.core.outlook``: the chance that the next trials gain beyond the
validation noise, from each rung's step to the full budget; it also stops a trial at a rung where it
has no such chance left, instead of confirming it at its full budget. With ``--patience N``, the
older rule of ``search.core.plateau``: N full-budget trials in a row without a gain.

The stopper sees every result before the scheduler does; ``TrialEnds`` (a callback) tells it when a
trial ends, however it ended. What ended the search is kept by run (``ended_by_rule``), for the report.
In a search of several families at once, it also ends the search when the allocator asks it to
(``end-request.json`` in the family's folder: ``search.records.shares``), looking every ``LOOK_S``.
A resumed search's stopper first learns from the run's trials that had finished, read from its study
(either way of resuming: Ray Tune's own stopper is the one pickled when the search first started).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial, TrialState
from ray.tune import Callback, Stopper

from search.core.outlook import Outlook
from search.core.plateau import Plateau
from search.core.trial_report import PROGRESS
from search.records.shares import end_requested
from search.records.study import BUDGET_REACHED, TUNE_TRIAL_ID, finished_by_themselves, trials_of_run
from search.tune.searcher import attached_place
from search.tune.trial import TRIAL_ERROR

_ENDED: dict[str, str] = {}
"""Per run: why its end rule ended the search, once it did."""
_CALLED_OFF: dict[str, str] = {}
"""Per run: why the allocator ended the search, once it did."""
LOOK_S = 2.0
"""Seconds between two looks for the allocator's end request."""


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
        step_budgets: Sequence[int] = (),
        requests_from: Path | None = None,
    ) -> None:
        self.run_id, self.metric, self.budget_key = run_id, metric, budget_key
        self.plateau = Plateau(validation_size, patience) if patience is not None else None
        self.outlook = Outlook(validation_size, end_chance) if patience is None else None
        self.rungs = frozenset(rungs)
        """The budgets where a trial may be stopped (ASHA's rungs; none without ASHA)."""
        self.step_budgets = list(step_budgets)
        """The budget of a trial's n-th report (training images); none: the n-th report is n epochs."""
        self.requests_from = str(requests_from) if requests_from is not None else None
        """The family's folder, where the allocator of a several-family run asks for the search's end."""
        self.counted: set[str] = set()
        self.caught_up = False
        self.next_look = 0.0

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Takes in a trial's result; True stops that trial (the outlook rule, at a rung, without a chance)."""
        self._catch_up()
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

    def replay(self, trials: Iterable[FrozenTrial]) -> None:
        """Learn from trials that finished before this stopper ran, in the order they ended, as if seen then."""
        for trial in sorted(trials, key=lambda t: t.datetime_complete or t.datetime_start or datetime.min):
            trial_id = str(trial.user_attrs.get(TUNE_TRIAL_ID, f"study-{trial.number}"))
            complete = trial.state == TrialState.COMPLETE and trial.value is not None
            if self.plateau is not None:
                if complete and trial_id not in self.counted:
                    self.counted.add(trial_id)
                    self.plateau.observe(trial.value)
                continue
            steps = sorted(trial.intermediate_values.items())
            for step, score in self._below_full_budget(trial, steps) if complete else steps:
                self.outlook.report(trial_id, self._budget_of(step), score, full=False)
            if complete:
                self.outlook.report(trial_id, self._budget_of(steps[-1][0]) if steps else 0, trial.value, full=True)
            self.outlook.end(trial_id)

    def _below_full_budget(self, trial: FrozenTrial, steps: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """A complete trial's reports before its full budget. Ray Tune hands a trial's last result to the
        searcher only as the trial ends, so its full-budget score is its value, not an intermediate value."""
        full = trial.user_attrs.get(BUDGET_REACHED) or (self.step_budgets[-1] if self.step_budgets else None)
        if full is None:  # a study from before the budget was recorded: its last step was taken as the full one
            return steps[:-1]
        return [(step, score) for step, score in steps if self._budget_of(step) < full]

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled by ``Tuner.restore`` (from its last periodic save, which may miss the latest trials):
        starts afresh and learns again from the study, the record of every trial that finished."""
        self.__dict__.update(state)
        if self.plateau is not None:
            self.plateau = Plateau(self.plateau.validation_size, self.plateau.patience)
        if self.outlook is not None:
            self.outlook = Outlook(self.outlook.validation_size, self.outlook.end_chance, self.outlook.horizon)
        self.counted, self.caught_up, self.next_look = set(), False, 0.0

    def _budget_of(self, step: int) -> int:
        return self.step_budgets[min(step, len(self.step_budgets)) - 1] if self.step_budgets else step

    def _catch_up(self) -> None:
        """Once, before the first result: replay the run's trials that its study holds as finished."""
        if self.caught_up:
            return
        self.caught_up = True
        place = attached_place(self.run_id)
        study = place.load() if place is not None else None
        if study is not None:
            self.replay(finished_by_themselves(trials_of_run(study, self.run_id)))

    def stop_all(self) -> bool:
        """Whether the search has its answer; its reason is kept for ``ended_by_rule``."""
        self._catch_up()
        if self._called_off():
            return True
        rule = self.outlook if self.outlook is not None else self.plateau
        if rule.reached:
            _ENDED.setdefault(self.run_id, rule.explain())
            return True
        return False

    def _called_off(self) -> bool:
        """Whether the allocator has asked for the end (looked for every ``LOOK_S``); its reason is kept."""
        if self.run_id in _CALLED_OFF:
            return True
        if getattr(self, "requests_from", None) is None or time.monotonic() < self.next_look:
            return False
        self.next_look = time.monotonic() + LOOK_S
        why = end_requested(Path(self.requests_from))
        if why:
            _CALLED_OFF[self.run_id] = why
        return why is not None


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


def called_off(run_id: str) -> str | None:
    """Why the allocator ended run ``run_id``'s search (in this process), or None if it did not."""
    return _CALLED_OFF.pop(run_id, None)
