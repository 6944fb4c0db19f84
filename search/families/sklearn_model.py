"""What the scikit-learn families share: fit-once training, prediction and joblib files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np

from search.core.data import FitData
from search.core.trial_report import TrialReport
from search.families.base import Report

MODEL_FILE = "model.joblib"


def fit_once(estimator: Any, data: FitData, report: Report) -> Any:
    """Fit a non-iterative estimator on the whole budget, then report once."""
    estimator.fit(data.X_train, data.y_train)
    if data.has_validation:
        report(TrialReport.after_fit(accuracy(estimator, data.X_val, data.y_val)))
    return estimator


def accuracy(estimator: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Share of ``X`` classified correctly."""
    return float(np.mean(estimator.predict(X) == y))


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Class labels for ``X``."""
    return model.predict(X)


def save(model: Any, path: Path) -> None:
    """Write the fitted estimator with joblib."""
    joblib.dump(model, path)


def load(path: Path) -> Any:
    """An estimator written by ``save``."""
    return joblib.load(path)
