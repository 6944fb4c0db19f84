"""Which family wins, and by how much: the answer to the article's "which model should I use?".

Families are ranked by their best validation accuracy, so that the test split chooses nothing: it is
read once, after each family's search, to report how the winner and the runner-up compare. Whether
their difference on the test split is more than chance is McNemar's exact test on the two retrained
models' predictions of the same test images: only the images exactly one of them gets right count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

RANKING_FILE = "ranking.json"
"""In a ``--family all`` run's folder: ``Ranking.to_dict()``."""
SIGNIFICANCE = 0.05
"""The p-value below which the runner-up's difference is called significant."""


@dataclass(frozen=True)
class McNemar:
    """Two models' predictions of the same test images, compared."""

    only_first: int
    """Images the first model gets right and the second wrong."""
    only_second: int
    """Images the second model gets right and the first wrong."""
    p_value: float
    """Two-sided, exact: the chance of a split at least this uneven if both models were equally good."""


def mcnemar(y_true: np.ndarray, first: np.ndarray, second: np.ndarray) -> McNemar:
    """McNemar's exact test of ``first``'s and ``second``'s predictions of ``y_true``."""
    from scipy.stats import binomtest

    first_right, second_right = np.asarray(first) == y_true, np.asarray(second) == y_true
    only_first = int(np.sum(first_right & ~second_right))
    only_second = int(np.sum(second_right & ~first_right))
    discordant = only_first + only_second
    p_value = 1.0 if discordant == 0 else float(binomtest(min(only_first, only_second), discordant).pvalue)
    return McNemar(only_first, only_second, min(1.0, p_value))


@dataclass(frozen=True)
class Ranking:
    """The families from best to worst validation accuracy, and the winner against the runner-up on test."""

    order: list[str]
    validation_accuracy: dict[str, float]
    test_accuracy: dict[str, float]
    comparison: McNemar | None
    """The winner's and the runner-up's test predictions compared; None when either has none."""

    @property
    def winner(self) -> str:
        return self.order[0]

    @property
    def runner_up(self) -> str | None:
        return self.order[1] if len(self.order) > 1 else None

    @property
    def test_difference(self) -> float | None:
        """The winner's test accuracy minus the runner-up's."""
        if self.runner_up is None:
            return None
        return self.test_accuracy[self.winner] - self.test_accuracy[self.runner_up]

    @property
    def significant(self) -> bool | None:
        return None if self.comparison is None else self.comparison.p_value < SIGNIFICANCE

    def sentence(self) -> str:
        """The answer in one line."""
        winner = f"{self.winner} ({self.test_accuracy[self.winner]:.2%} test)"
        if self.runner_up is None:
            return f"winner: {winner}"
        text = (
            f"winner by validation accuracy: {winner}; runner-up {self.runner_up} "
            f"({self.test_accuracy[self.runner_up]:.2%} test, {abs(self.test_difference) * 100:.2f} points "
            f"{'lower' if self.test_difference >= 0 else 'higher'})"
        )
        if self.comparison is None:
            return text
        verdict = "significant" if self.significant else "not significant"
        return f"{text}: McNemar p = {self.comparison.p_value:.2g}, {verdict} at {SIGNIFICANCE:.0%}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "winner": self.winner,
            "runner_up": self.runner_up,
            "validation_accuracy": self.validation_accuracy,
            "test_accuracy": self.test_accuracy,
            "test_difference": self.test_difference,
            "mcnemar": None if self.comparison is None else asdict(self.comparison),
            "significant": self.significant,
            "significance_level": SIGNIFICANCE,
        }


def rank_families(
    reports: Sequence[Mapping[str, Any]], predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> Ranking:
    """Rank the families of ``reports`` (``report.json``'s); ``predictions``: per family, the test split's
    true and predicted labels. Ties on validation go to the family named first."""
    ordered = sorted(reports, key=lambda report: (-report["validation_accuracy"], report["family"]))
    order = [report["family"] for report in ordered]
    comparison = None
    if len(order) > 1 and order[0] in predictions and order[1] in predictions:
        (y_true, first), (y_other, second) = predictions[order[0]], predictions[order[1]]
        if np.array_equal(y_true, y_other):
            comparison = mcnemar(y_true, first, second)
    return Ranking(
        order,
        {report["family"]: float(report["validation_accuracy"]) for report in ordered},
        {report["family"]: float(report["test_accuracy"]) for report in ordered},
        comparison,
    )
