"""When a search has its answer: the best score stopped rising by more than the validation split's noise.

A validation accuracy ``p`` measured on ``n`` images is a binomial proportion with standard error
``sqrt(p (1 - p) / n)``: about 0.18 points at 98.3% on MNIST's 5,250 validation images. A gain
smaller than that is as likely luck as a better configuration. The search counts the trials that
reach their full budget after the last gain larger than one standard error (small gains add up: the
next must beat the score of the last large gain by one standard error); after ``patience`` of them
in a row the search has converged and ends, whatever its time budget or trial cap still allow.

Why not ``optuna.terminator``: it is deprecated (Optuna 4.9, removed in 6.0), and its regret bound
fits a Gaussian process to the completed trials, 20 of them before it says anything. A search whose
scheduler stops most trials at a low rung completes a handful in the same time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_PATIENCE = 6
"""Full-budget trials in a row without a gain beyond the noise before the search ends."""


def standard_error(accuracy: float, validation_size: int) -> float:
    """The binomial standard error of an accuracy measured on ``validation_size`` images (at least 1 image's worth)."""
    return max(math.sqrt(accuracy * (1 - accuracy) / validation_size), 1 / validation_size)


@dataclass
class Plateau:
    """Counts full-budget trials since the last gain beyond the noise; ``reached`` after ``patience`` of them."""

    validation_size: int
    patience: int = DEFAULT_PATIENCE
    """0: never reached (the search runs to its time budget or trial cap)."""
    best: float | None = None
    anchor: float | None = None
    """The score of the last gain larger than one standard error."""
    since_gain: int = 0
    """Full-budget trials since then."""

    def observe(self, score: float) -> None:
        """One more trial reached its full budget with validation accuracy ``score``."""
        self.best = score if self.best is None else max(self.best, score)
        if self.anchor is None or score > self.anchor + self.noise:
            self.anchor, self.since_gain = score, 0
        else:
            self.since_gain += 1

    @property
    def noise(self) -> float:
        """One standard error at the last large gain's score."""
        return standard_error(self.anchor or 0.0, self.validation_size)

    @property
    def reached(self) -> bool:
        """Whether ``patience`` full-budget trials in a row brought no gain beyond the noise."""
        return self.patience > 0 and self.since_gain >= self.patience

    def explain(self) -> str:
        """Why the search converged, in one sentence."""
        return (
            f"converged: {self.since_gain} trials in a row reached their full budget without beating "
            f"{self.anchor:.2%} by more than one standard error of the {self.validation_size:,}-image "
            f"validation split ({self.noise * 100:.2f} points); best {self.best:.2%}"
        )
