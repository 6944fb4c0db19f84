"""The Optuna searcher, told honestly how far each trial got.

Ray's ``OptunaSearch`` reports every result to Optuna as an intermediate value (step: the trial's
report count), but when a scheduler stops a trial it tells Optuna the trial is COMPLETE with its
last, low-budget score, as if that were what the configuration reaches. Here a trial that ended
before its full budget (``progress`` below 1) is told as PRUNED instead. Optuna's TPE then ranks
it below every complete trial, and among pruned trials by how far they got, then by their last
score: a configuration that lost at a rung still steers the search away from its region, without
posing as a finished result.
"""

from __future__ import annotations

import logging

import optuna
from ray.tune.search.optuna import OptunaSearch

from search.trial_report import reached_full_budget
from search.tune.trial import TRIAL_ERROR

logger = logging.getLogger(__name__)

PRIVATE_STATE = {"_ot_study": optuna.Study, "_ot_trials": dict, "_completed_trials": set}
"""The private attributes of Ray's ``OptunaSearch`` (Ray 2.60) that the shim below reads, and their
types; ``tests/test_fidelity.py`` fails loudly if a Ray release moves them."""


class MultiFidelityOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that tells Optuna a trial stopped early is PRUNED, not COMPLETE."""

    @property
    def study(self) -> optuna.Study:
        """The Optuna study behind the searcher."""
        return self._ot_study

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell Optuna how the trial ended: COMPLETE at its full budget, PRUNED before it, or FAIL."""
        if result and TRIAL_ERROR in result:
            error = True  # its config raised inside the trial (search/tune/trial.py): Optuna records a FAIL
        if error or not result or reached_full_budget(result) or self._told(trial_id):
            super().on_trial_complete(trial_id, result, error)
            return
        self._tell_pruned(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate value for Optuna; the last result of a failed trial holds none."""
        if TRIAL_ERROR not in result:
            super().on_trial_result(trial_id, result)

    # The shim: the only code that touches OptunaSearch's private state (PRIVATE_STATE).

    def _told(self, trial_id: str) -> bool:
        return trial_id in self._completed_trials

    def _tell_pruned(self, trial_id: str) -> None:
        try:
            self._ot_study.tell(self._ot_trials[trial_id], state=optuna.trial.TrialState.PRUNED)
        except Exception as exc:  # noqa: BLE001 - as OptunaSearch does: a bad tell must not stop the search
            logger.warning(exc)
        self._completed_trials.add(trial_id)
