"""The retrained model's test predictions, kept in the run folder: the confusion matrix and the mistakes.

``test_predictions.npz`` holds every test image's true and predicted digit, and the first
``KEPT_MISTAKES`` misclassified images themselves, so that a report can be rebuilt without the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

PREDICTIONS_FILE = "test_predictions.npz"
KEPT_MISTAKES = 100
"""Misclassified test images kept in the file (the report shows some of them)."""


@dataclass(frozen=True)
class TestPredictions:
    """True and predicted labels of the test split, and some misclassified images."""

    __test__ = False  # not a pytest class

    y_true: np.ndarray
    y_pred: np.ndarray
    mistake_rows: np.ndarray
    """Test-split rows of the kept misclassified images."""
    mistake_images: np.ndarray
    """Those images, shaped (n, height, width), pixels in [0, 1]."""

    @property
    def labels(self) -> np.ndarray:
        """Every class seen in the truth or the predictions, sorted."""
        return np.union1d(self.y_true, self.y_pred)

    def confusion_matrix(self) -> np.ndarray:
        """Counts: row = true class, column = predicted class, over ``labels``."""
        from sklearn.metrics import confusion_matrix

        return confusion_matrix(self.y_true, self.y_pred, labels=self.labels)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_true == self.y_pred))


def keep_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, X_test: np.ndarray, image_shape: tuple[int, int]
) -> TestPredictions:
    """The predictions, with the first ``KEPT_MISTAKES`` misclassified test images."""
    rows = np.flatnonzero(y_true != y_pred)[:KEPT_MISTAKES]
    images = np.asarray(X_test[rows], dtype=np.float16).reshape(len(rows), *image_shape)
    return TestPredictions(np.asarray(y_true), np.asarray(y_pred), rows, images)


def save_predictions(path: Path, predictions: TestPredictions) -> None:
    """``test_predictions.npz`` (compressed; about 30 KB for MNIST's 17,500 test images)."""
    np.savez_compressed(
        path,
        y_true=predictions.y_true,
        y_pred=predictions.y_pred,
        mistake_rows=predictions.mistake_rows,
        mistake_images=predictions.mistake_images,
    )


def load_predictions(path: Path) -> TestPredictions | None:
    """The saved predictions, or None when the run has none (it never reached its retrain)."""
    if not path.exists():
        return None
    with np.load(path) as saved:
        return TestPredictions(saved["y_true"], saved["y_pred"], saved["mistake_rows"], saved["mistake_images"])
