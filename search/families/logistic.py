"""Logistic regression (scikit-learn ``LogisticRegression``, lbfgs), the article's first model."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from search.core.data import FitData
from search.core.settings import Budget
from search.families.allowed import model_ranges
from search.families.base import SAMPLES, Report
from search.families.sklearn_model import MODEL_FILE as MODEL_FILE
from search.families.sklearn_model import fit_once
from search.families.sklearn_model import load as load
from search.families.sklearn_model import predict as predict
from search.families.sklearn_model import save as save

NAME = "logistic"
PARAMETERS = frozenset({"C", "max_iter", "tol"})
ALLOWED = model_ranges(LogisticRegression, "C", "max_iter", "tol")
BASELINE_TEST_ACCURACY = 0.925
FIDELITY = SAMPLES
USES_GPU = False
CHECKPOINTS = False
REUSES_ACTORS = True
MNIST_BUDGET = Budget(num_samples=200, time_budget_s=10 * 60)


def article_config(n_features: int) -> dict[str, Any]:
    """``LogisticRegression()`` with scikit-learn's defaults, as the article ran it."""
    return {"C": 1.0, "max_iter": 100, "tol": 1e-4}


def build(config: Mapping[str, Any], seed: int) -> LogisticRegression:
    """The estimator for ``config``."""
    return LogisticRegression(
        C=float(config["C"]),
        max_iter=int(config.get("max_iter", 100)),
        tol=float(config.get("tol", 1e-4)),
        solver="lbfgs",
        random_state=seed,
    )


def train(
    config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None
) -> LogisticRegression:
    """Fit once on the training split and report validation accuracy."""
    with warnings.catch_warnings():
        # lbfgs stopping at max_iter is a budget, not an error: the search scores the result.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_once(build(config, seed), data, report)
