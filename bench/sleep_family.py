"""A family whose trials only sleep: the driver's bookkeeping is all that a search of them costs.

Each trial sleeps ``epochs`` x ``EPOCH_S`` and reports after each epoch a score that follows from its
``quality`` (Optuna's to choose), so that ASHA on epochs and the searcher have something to rank.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from search.core.data import FitData
from search.core.settings import Budget
from search.core.trial_report import TrialReport
from search.families.base import EPOCHS, Report

NAME = "sleep"
PARAMETERS = frozenset({"quality", "epochs"})
ALLOWED = {}
BASELINE_TEST_ACCURACY = 0.5
MODEL_FILE = "model.txt"
FIDELITY = EPOCHS
USES_GPU = False
CHECKPOINTS = False
REUSES_ACTORS = True
MNIST_BUDGET = Budget(num_samples=1, time_budget_s=60)
EPOCH_S = 0.3
SPACE_YAML = "quality: {type: float, low: 0.0, high: 1.0}\nepochs: {type: int, low: 3, high: 3}\n"


def article_config(n_features: int) -> dict[str, Any]:
    return {"quality": 0.5, "epochs": 3}


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None):
    epochs, quality = int(config["epochs"]), float(config["quality"])
    for epoch in range(1, epochs + 1):
        time.sleep(EPOCH_S)
        report(TrialReport.after_epoch(epoch, epochs, quality * epoch / epochs))
    return quality


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    return np.zeros(len(X), dtype=int)
