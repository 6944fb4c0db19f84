"""Support vector classifier with an RBF kernel (scikit-learn ``SVC``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sklearn.svm import SVC

from search.data import FitData
from search.families.allowed import model_ranges
from search.families.base import SAMPLES, Report
from search.families.sklearn_model import MODEL_FILE as MODEL_FILE
from search.families.sklearn_model import fit_once
from search.families.sklearn_model import load as load
from search.families.sklearn_model import predict as predict
from search.families.sklearn_model import save as save
from search.settings import Budget

NAME = "svc"
PARAMETERS = frozenset({"C", "gamma"})
ALLOWED = model_ranges(SVC, "C", "gamma")
BASELINE_TEST_ACCURACY = 0.946
KERNEL_CACHE_MB = 1000
FIDELITY = SAMPLES
USES_GPU = False
CHECKPOINTS = False
MNIST_BUDGET = Budget(num_samples=500, time_budget_s=20 * 60)


def article_config(n_features: int) -> dict[str, Any]:
    """``SVC(kernel='rbf', gamma='auto', C=2)``: gamma 'auto' is 1 / n_features."""
    return {"C": 2.0, "gamma": 1.0 / n_features}


def build(config: Mapping[str, Any], seed: int) -> SVC:
    """The estimator for ``config``."""
    return SVC(
        kernel="rbf",
        C=float(config["C"]),
        gamma=float(config["gamma"]),
        cache_size=KERNEL_CACHE_MB,
        random_state=seed,
    )


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None) -> SVC:
    """Fit once on the training split and report validation accuracy."""
    return fit_once(build(config, seed), data, report)
