"""Multi-layer perceptron (scikit-learn ``MLPClassifier``, adam), trained and reported per epoch."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from search.core.data import FitData
from search.core.settings import Budget
from search.core.trial_report import TrialReport
from search.families.allowed import declared, model_ranges, whole_number
from search.families.base import EPOCHS, Report
from search.families.sklearn_model import MODEL_FILE as MODEL_FILE
from search.families.sklearn_model import accuracy
from search.families.sklearn_model import load as load
from search.families.sklearn_model import predict as predict
from search.families.sklearn_model import save as save

NAME = "mlp"
PARAMETERS = frozenset({"n_layers", "units", "alpha", "learning_rate_init", "batch_size", "epochs"})
ALLOWED = {
    **model_ranges(MLPClassifier, "alpha", "learning_rate_init", "batch_size"),
    **declared("mlp", n_layers=whole_number(), units=whole_number(), epochs=whole_number()),
}
BASELINE_TEST_ACCURACY = 0.976
FIDELITY = EPOCHS
USES_GPU = False
CHECKPOINTS = False
REUSES_ACTORS = True
MNIST_BUDGET = Budget(num_samples=300, time_budget_s=20 * 60)


def article_config(n_features: int) -> dict[str, Any]:
    """``MLPClassifier(hidden_layer_sizes=(128,), solver='adam', max_iter=20)``, other defaults."""
    return {"n_layers": 1, "units": 128, "alpha": 1e-4, "learning_rate_init": 1e-3, "batch_size": 200, "epochs": 20}


def build(config: Mapping[str, Any], seed: int) -> MLPClassifier:
    """The network for ``config``: ``n_layers`` hidden layers of ``units`` each."""
    return MLPClassifier(
        hidden_layer_sizes=(int(config["units"]),) * int(config["n_layers"]),
        solver="adam",
        alpha=float(config["alpha"]),
        learning_rate_init=float(config["learning_rate_init"]),
        batch_size=int(config["batch_size"]),
        random_state=seed,
    )


def train(
    config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None
) -> MLPClassifier:
    """Train ``epochs`` passes of adam, reporting validation accuracy after each one."""
    model = build(config, seed)
    epochs = int(config["epochs"])
    classes = np.unique(data.y_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, epochs + 1):
            model.partial_fit(data.X_train, data.y_train, classes=classes)
            if data.has_validation:
                report(TrialReport.after_epoch(epoch, epochs, accuracy(model, data.X_val, data.y_val)))
    return model
