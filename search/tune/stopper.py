"""Ray Tune ends the whole search once it has converged (``search.core.plateau``)."""

from __future__ import annotations

from typing import Any

from ray.tune import Stopper

from search.core.plateau import Plateau
from search.core.trial_report import PROGRESS
from search.tune.trial import TRIAL_ERROR


class PlateauStopper(Stopper):
    """Watches every result; once ``patience`` full-budget trials in a row brought no gain beyond the
    validation split's noise, stops every trial and the search."""

    def __init__(self, metric: str, validation_size: int, patience: int) -> None:
        self.metric = metric
        self.plateau = Plateau(validation_size, patience)
        self.counted: set[str] = set()

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """A trial's result: counted when the trial reached its full budget (once: Ray Tune may show a result
        twice). Never stops one trial alone."""
        if TRIAL_ERROR in result or result.get(self.metric) is None or result.get(PROGRESS, 0) < 1:
            return False
        if trial_id not in self.counted:
            self.counted.add(trial_id)
            self.plateau.observe(float(result[self.metric]))
        return False

    def stop_all(self) -> bool:
        """Whether the search has converged."""
        return self.plateau.reached
