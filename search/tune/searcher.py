"""Ray Tune's searcher over an Optuna study, on Optuna's public ask / report / tell alone.

Each trial Ray Tune asks for is an Optuna trial (``Study.ask``), marked with the run and Ray Tune's
trial id. Every result is an intermediate value (``Trial.report``). When the trial ends, Optuna
hears how far it got: COMPLETE with its score at its full budget; PRUNED, with its last score as
the last intermediate value, when a scheduler stopped it before (Ray's own ``OptunaSearch`` tells
such a trial COMPLETE, as if its low-budget score were what the configuration reaches); FAIL when it
raised. Optuna's TPE ranks pruned trials below every complete one, and among themselves by how far
they got, then by their last score: a configuration that lost at a rung steers the search away from
its region without posing as a finished result.

The study lives in its storage from the first trial (a journal in the run folder, or a database), so
it is the record of what finished. Ray Tune's saved state is a cache on top: the searcher saves only
which Ray Tune trial is which Optuna trial, and its sampler, and never the study's storage (no path,
no password goes into Ray Tune's files). A searcher that Ray Tune restores finds its study through
``attached_study``.

The space is Optuna distributions by name, or a define-by-run function of an ``optuna.Trial`` that
returns the config (a multi-family search's first choice is the family).
"""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState
from ray.tune.result import TRAINING_ITERATION
from ray.tune.search import Searcher

from search.core.trial_report import TrialReport, reached_full_budget
from search.core.trials import TrialOutcome
from search.records import study as stored
from search.tune.deadline import new_trial_can_finish
from search.tune.trial import TRIAL_ERROR, where_and_when

logger = logging.getLogger(__name__)

Space = Mapping[str, BaseDistribution] | Callable[[optuna.Trial], dict[str, Any]]
STATE_FORMAT = "study-searcher/1"
"""Marks the searcher's saved state (``searcher-state-*.pkl``), so that a resume can tell it is whole."""

_ATTACHED: dict[str, stored.StudyPlace] = {}
"""The studies this driver has open, by run: where a searcher that Ray Tune unpickles finds its own."""


@contextmanager
def attached_study(run_id: str, place: stored.StudyPlace) -> Iterator[None]:
    """While a search of ``run_id`` runs or is restored, its searcher finds its study at ``place``."""
    _ATTACHED[run_id] = place
    try:
        yield
    finally:
        _ATTACHED.pop(run_id, None)


def attached_place(run_id: str) -> stored.StudyPlace | None:
    """Where the study of ``run_id`` is, while ``attached_study`` holds it open; else None."""
    return _ATTACHED.get(run_id)


@contextmanager
def keeping_first_values() -> Iterator[None]:
    """Optuna keeps the first value of a step it already has and warns; here that is expected.

    A trial that runs again after ``--resume`` reports its epochs again, and the result that made
    the scheduler stop a trial may have been reported already.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The reported value is ignored", category=UserWarning)
        yield


class StudySearcher(Searcher):
    """Suggests configs from an Optuna study and tells it how each trial ended (see the module)."""

    def __init__(
        self,
        place: stored.StudyPlace,
        space: Space,
        *,
        sampler: optuna.samplers.BaseSampler,
        run_id: str,
        metric: str,
        mode: str = "max",
    ) -> None:
        super().__init__(metric=metric, mode=mode)
        self.space = space
        self.sampler = sampler
        self.run_id = run_id
        self.place = place
        self.study = place.create(sampler, maximize=mode == "max")
        self._running: dict[str, optuna.Trial] = {}
        """Ray Tune's trial id -> its Optuna trial, until Optuna is told how it ended."""

    # What Ray Tune calls

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        """The space is the searcher's own: a Tune ``param_space`` is refused."""
        return not config

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        """The next config: an Optuna trial asked for and marked with this run and Ray Tune's id; none, and
        the search ends as its running trials do, once no new trial could finish in the time left."""
        if not new_trial_can_finish(self.run_id):
            return Searcher.FINISHED
        if callable(self.space):
            trial = self.study.ask()
            config = self.space(trial)
        else:
            trial = self.study.ask(fixed_distributions=dict(self.space))
            config = dict(trial.params)
        stored.set_user_attrs(trial, {stored.RUN: self.run_id, stored.TUNE_TRIAL_ID: trial_id})
        self._running[trial_id] = trial
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Each scored result is an intermediate value at its report's step."""
        trial = self._running.get(trial_id)
        if trial is not None and TRIAL_ERROR not in result:
            self._report(trial, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Tell Optuna how the trial ended: COMPLETE at its full budget, PRUNED before it, or FAIL."""
        trial = self._running.pop(trial_id, None)
        if trial is None:  # told already, or not this searcher's
            return
        result = result or {}
        if result:
            self._record(trial, result)
        score = result.get(self.metric)
        try:
            if error or TRIAL_ERROR in result:
                self.study.tell(trial, state=TrialState.FAIL)
            elif score is not None and reached_full_budget(result):
                self.study.tell(trial, float(score), state=TrialState.COMPLETE)
            else:
                # Ray Tune hands the result that made the scheduler stop the trial to on_trial_complete
                # only: it becomes the last intermediate value, by which TPE ranks pruned trials
                self._report(trial, result)
                self.study.tell(trial, state=TrialState.PRUNED)
        except Exception as exc:  # noqa: BLE001 - as Ray's OptunaSearch: a bad tell must not stop the search
            logger.warning(exc)

    def _report(self, trial: optuna.Trial, result: dict) -> None:
        """``result``'s score as ``trial``'s intermediate value, when it holds one."""
        if result.get(self.metric) is not None and result.get(TRAINING_ITERATION) is not None:
            with keeping_first_values():
                trial.report(float(result[self.metric]), int(result[TRAINING_ITERATION]))

    def save(self, checkpoint_path: str) -> None:
        """Which Ray Tune trial is which Optuna trial, and the sampler; the study stays in its storage."""
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.get_state(), file)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as file:
            self.set_state(pickle.load(file))

    def get_state(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "run_id": self.run_id,
            "sampler": self.sampler,
            "running": self._running_numbers(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if not is_saved_state(state):
            raise ValueError("not a StudySearcher's saved state")
        self.run_id, self.sampler = state["run_id"], state["sampler"]
        self._reattach(state["running"])

    # Pickling (Ray Tune keeps the searcher in tuner.pkl): everything but the study and its storage

    def __getstate__(self) -> dict[str, Any]:
        kept = {k: v for k, v in self.__dict__.items() if k not in ("place", "study", "_running")}
        return {**kept, "_running_numbers": self._running_numbers()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        numbers = state.pop("_running_numbers")
        self.__dict__.update(state)
        self._reattach(numbers)

    def _running_numbers(self) -> dict[str, int]:
        return {trial_id: trial.number for trial_id, trial in self._running.items()}

    def _reattach(self, running_numbers: dict[str, int]) -> None:
        """Find this run's study where the driver attached it, and handles on its running trials."""
        place = _ATTACHED.get(self.run_id)
        if place is None:
            raise RuntimeError(f"the study of run {self.run_id!r} is not attached (see attached_study)")
        self.place = place
        self.study = place.create(self.sampler, maximize=self.mode == "max")
        self._running = {trial_id: place.trial(self.study, number) for trial_id, number in running_numbers.items()}

    def _record(self, trial: optuna.Trial, result: dict) -> None:
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
            stored.set_user_attrs(trial, stored.outcome_attributes(outcome))
        except Exception as exc:  # noqa: BLE001 - a lost attribute must not stop the search
            logger.warning(exc)


def is_saved_state(state: Any) -> bool:
    """Whether ``state`` (an unpickled ``searcher-state-*.pkl``) is a whole ``StudySearcher`` state."""
    return isinstance(state, dict) and state.get("format") == STATE_FORMAT and isinstance(state.get("running"), dict)
