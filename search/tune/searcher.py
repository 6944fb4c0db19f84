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
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch

from search import study as stored
from search.trial_report import TrialReport, reached_full_budget
from search.trials import TrialOutcome
from search.tune.trial import TRIAL_ERROR, where_and_when

logger = logging.getLogger(__name__)

PRIVATE_STATE = {"_ot_study": optuna.Study, "_ot_trials": dict, "_completed_trials": set}
"""The private attributes of Ray's ``OptunaSearch`` (Ray 2.60) that the shim below reads, and their
types; ``tests/test_fidelity.py`` fails loudly if a Ray release moves them."""


@contextmanager
def keeping_first_values() -> Iterator[None]:
    """Optuna keeps the first value of a step it already has and warns; here that is expected.

    A trial that runs again after ``--resume`` reports its epochs again, and the result that made
    the scheduler stop a trial may have been reported already.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The reported value is ignored", category=UserWarning)
        yield


class MultiFidelityOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that tells Optuna a trial stopped early is PRUNED, not COMPLETE.

    Every trial it asks Optuna for is marked with ``run_id`` and Ray Tune's trial id, and when it ends,
    with what it reached (``search/study.py``), so that the study alone tells the search's story.
    """

    def __init__(self, *args, run_id: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.run_id = run_id

    def suggest(self, trial_id: str) -> dict | None:
        """The next config; its Optuna trial is marked with this run and Ray Tune's trial id."""
        new = trial_id not in self._ot_trials
        config = super().suggest(trial_id)
        if new and trial_id in self._ot_trials:
            ot_trial = self._ot_trials[trial_id]
            ot_trial.set_user_attr(stored.RUN, self.run_id)
            ot_trial.set_user_attr(stored.TUNE_TRIAL_ID, trial_id)
        return config

    @property
    def study(self) -> optuna.Study:
        """The Optuna study behind the searcher."""
        return self._ot_study

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell Optuna how the trial ended: COMPLETE at its full budget, PRUNED before it, or FAIL."""
        if result and TRIAL_ERROR in result:
            error = True  # its config raised inside the trial (search/tune/trial.py): Optuna records a FAIL
        if result and trial_id in self._ot_trials and not self._told(trial_id):
            self._record(self._ot_trials[trial_id], result)
        if error or not result or reached_full_budget(result) or self._told(trial_id):
            super().on_trial_complete(trial_id, result, error)
            return
        self._tell_pruned(trial_id, result)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """An intermediate value for Optuna; the last result of a failed trial holds none."""
        if TRIAL_ERROR not in result:
            with keeping_first_values():
                super().on_trial_result(trial_id, result)

    def _record(self, ot_trial: optuna.Trial, result: dict) -> None:
        """What the trial reached, as user attributes of its Optuna trial (before it is told)."""
        try:
            last = TrialReport.from_metrics(result)
        except ValueError:  # its last result holds no score (an error)
            last = None
        outcome = TrialOutcome(
            trial_id=result.get("trial_id", ""),
            config={},
            last=last,
            error=result.get(TRIAL_ERROR),
            **where_and_when(result),
        )
        try:
            for key, value in stored.outcome_attributes(outcome).items():
                ot_trial.set_user_attr(key, value)
        except Exception as exc:  # noqa: BLE001 - a lost attribute must not stop the search
            logger.warning(exc)

    # The shim: the only code that touches OptunaSearch's private state (PRIVATE_STATE).

    def _told(self, trial_id: str) -> bool:
        return trial_id in self._completed_trials

    def _tell_pruned(self, trial_id: str, result: dict) -> None:
        ot_trial = self._ot_trials[trial_id]
        try:
            # Ray Tune hands the result that made the scheduler stop the trial to on_trial_complete only:
            # it becomes the last intermediate value, by which TPE ranks pruned trials
            step = result.get(TRAINING_ITERATION)
            if step is not None and result.get(self.metric) is not None:
                with keeping_first_values():
                    ot_trial.report(result[self.metric], step)
            self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
        except Exception as exc:  # noqa: BLE001 - as OptunaSearch does: a bad tell must not stop the search
            logger.warning(exc)
        self._completed_trials.add(trial_id)
