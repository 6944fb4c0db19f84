"""A scripted family for scheduling tests: no model, a known score after every epoch.

Like scikit-learn's ``FastClassifier`` in its successive-halving tests: training costs nothing, and
the score at epoch ``e`` of ``epochs`` is ``quality * e / epochs``, so which trials ASHA stops, and
at which rung, follows from the order and the qualities of the trials alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from search.core.data import FitData
from search.core.settings import Budget
from search.core.trial_report import TrialReport
from search.families.base import EPOCHS, Report

NAME = "scripted"
PARAMETERS = frozenset({"quality", "epochs"})
ALLOWED = {}
BASELINE_TEST_ACCURACY = 0.5
MODEL_FILE = "model.txt"
FIDELITY = EPOCHS
USES_GPU = False
CHECKPOINTS = False
MNIST_BUDGET = Budget(num_samples=1, time_budget_s=60)


def article_config(n_features: int) -> dict[str, Any]:
    return {"quality": 0.5, "epochs": 9}


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None):
    epochs = int(config["epochs"])
    for epoch in range(1, epochs + 1):
        report(TrialReport.after_epoch(epoch, epochs, float(config["quality"]) * epoch / epochs))
    return float(config["quality"])


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    return np.zeros(len(X), dtype=int)
