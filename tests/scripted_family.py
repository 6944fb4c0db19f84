"""A scripted family for scheduling tests: no model, a known score after every epoch.

Like scikit-learn's ``FastClassifier`` in its successive-halving tests: training costs nothing, and
the score at epoch ``e`` of ``epochs`` is ``quality * e / epochs``, so which trials ASHA stops, and
at which rung, follows from the order and the qualities of the trials alone. With ``rise``, each
trial is better than the one before.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ray import tune

from search.core.data import FitData
from search.core.settings import Budget
from search.core.trial_report import TrialReport
from search.families.base import EPOCHS, Report

NAME = "scripted"
PARAMETERS = frozenset({"quality", "epochs", "rise", "pause", "note_nice_in"})
ALLOWED = {}
BASELINE_TEST_ACCURACY = 0.5
MODEL_FILE = "model.txt"
FIDELITY = EPOCHS
USES_GPU = False
CHECKPOINTS = False
REUSES_ACTORS = True
MNIST_BUDGET = Budget(num_samples=1, time_budget_s=60)


def article_config(n_features: int) -> dict[str, Any]:
    return {"quality": 0.5, "epochs": 9}


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None):
    """``rise``: each trial's quality is that much more than the last one's (by Ray Tune's trial number);
    ``pause``: the seconds a trial takes, so that a watcher polling the study can keep up; ``note_nice_in``:
    a folder where each trial notes the nice value its thread trains at."""
    if "note_nice_in" in config:
        note = Path(config["note_nice_in"]) / f"{os.getpid()}-{threading.get_native_id()}"
        note.write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))
    epochs, quality = int(config["epochs"]), float(config["quality"])
    if "rise" in config:
        # Ray Tune counts its trials in their folders' names: <trainable>_<trial id>_<count>_<config>
        number = int(re.search(r"_[0-9a-f]{8}_(\d+)$", Path(tune.get_context().get_trial_dir()).name).group(1))
        quality = min(1.0, float(config["rise"]) * number)
    for epoch in range(1, epochs + 1):
        time.sleep(float(config.get("pause", 0.0)) / epochs)
        report(TrialReport.after_epoch(epoch, epochs, quality * epoch / epochs))
    return quality


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    return np.zeros(len(X), dtype=int)
