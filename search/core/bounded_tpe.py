"""Optuna's TPE with a bounded view of the past, so that its cost per trial stays flat as a study grows.

On each ask, TPE splits every finished trial into a "good" group (the best ones: 10%, at most 25,
Optuna's ``default_gamma``) and a "bad" group (all the others), and walks both in Python: its cost per
trial grows with the study (39% of the driver's time at 4,000 trials of a sleep-only search, issue 27).
``BoundedTPESampler`` shows TPE the same good group and, as the bad group, the ``window`` most recent
finished trials, which TPE's own weights already favour (``default_weights`` ramps older trials down).
Each finished trial is scored once, as it first appears (looked for from the newest back), so an ask costs
one pass over the trial list and a model of at most ``window`` + 50 trials (and the running ones, which Optuna's
constant liar counts as bad). With a ``window`` of 250 or more, TPE's good group is the whole study's. A
study with ``window`` + 50 finished trials or fewer is sampled exactly as ``TPESampler`` samples it.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import TPESampler
from optuna.samplers._tpe.sampler import default_gamma
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

WINDOW = 300
"""Recent finished trials TPE models as its bad group once a study holds more."""
BEST = default_gamma(10**9)
"""TPE's good group at most (25): the best complete trials and the best pruned ones are always kept."""


class BoundedTPESampler(TPESampler):
    """``TPESampler`` that models the best finished trials and the ``window`` most recent ones."""

    def __init__(self, *, window: int = WINDOW, **options: Any) -> None:
        super().__init__(**options)
        self.window = window
        self._kept: KeptTrials | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_kept": None}  # rebuilt from the study on the next ask

    def _sample(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if len(study.directions) > 1:  # the view below ranks trials by one value
            return super()._sample(study, trial, search_space)
        if self._kept is None or self._kept.study is not study:
            self._kept = KeptTrials(study, self.window)
        return super()._sample(BoundedView(study, self._kept), trial, search_space)


class BoundedView:
    """A study as TPE sees it: the study itself, but its finished trials bounded by ``kept``."""

    def __init__(self, study: Study, kept: KeptTrials) -> None:
        self._study, self._kept = study, kept

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states: Any = None, use_cache: bool = False) -> list[FrozenTrial]:
        return self._kept.bound(self._study._get_trials(deepcopy=deepcopy, states=states, use_cache=use_cache))


class KeptTrials:
    """The best complete and pruned trials of one study so far, updated as new finished trials appear.

    TPE reads a study's trials through ``Study._get_trials`` and samples in ``TPESampler._sample``: the two
    private names this module relies on, tested on the oldest Optuna the project supports and the newest.
    """

    def __init__(self, study: Study, window: int) -> None:
        self.study, self.window = study, window
        self.sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        self.seen: set[int] = set()
        self.best_complete: list[tuple[float, int, FrozenTrial]] = []
        """(score, -number, trial): a min-heap of the best ``BEST``."""
        self.best_pruned: list[tuple[tuple[float, float], int, FrozenTrial]] = []

    def bound(self, trials: list[FrozenTrial]) -> list[FrozenTrial]:
        """``trials`` (in number order) when few have finished; else the best finished ones, the ``window`` most
        recent finished ones, and every running one (Optuna's constant liar counts them as bad)."""
        finished = [t for t in trials if t.state is not TrialState.RUNNING]
        unseen = len(finished) - len(self.seen)  # finished trials never change: each is scored once
        for trial in reversed(finished):  # trials end roughly in order: the new ones are near the end
            if unseen == 0:
                break
            if trial.number not in self.seen:
                self.seen.add(trial.number)
                self._score(trial)
                unseen -= 1
        if len(finished) <= self.window + 2 * BEST:
            return trials
        running = [t for t in trials if t.state is TrialState.RUNNING] if len(finished) < len(trials) else []
        chosen = {t.number: t for t in (*finished[-self.window :], *running)}
        for *_, trial in (*self.best_complete, *self.best_pruned):
            chosen.setdefault(trial.number, trial)
        return [chosen[number] for number in sorted(chosen)]

    def _score(self, trial: FrozenTrial) -> None:
        if trial.state == TrialState.COMPLETE and trial.value is not None and not math.isnan(trial.value):
            _keep_best(self.best_complete, self.sign * trial.value, trial)
        elif trial.state == TrialState.PRUNED:
            _keep_best(self.best_pruned, self._pruned_score(trial), trial)

    def _pruned_score(self, trial: FrozenTrial) -> tuple[float, float]:
        """Higher is better, in the order TPE ranks pruned trials: how far they got, then their last score."""
        if not trial.intermediate_values:
            return (-math.inf, 0.0)
        step, value = max(trial.intermediate_values.items())
        return (step, -math.inf if math.isnan(value) else self.sign * value)


def _keep_best(heap: list, score: Any, trial: FrozenTrial) -> None:
    """Keep the ``BEST`` highest-scoring trials in a min-heap (ties: the earlier trial stays, as TPE's stable sort)."""
    item = (score, -trial.number, trial)
    if len(heap) < BEST:
        heapq.heappush(heap, item)
    elif item[:2] > heap[0][:2]:
        heapq.heapreplace(heap, item)
