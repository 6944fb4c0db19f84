"""Figures of the retrained model on the test split: the confusion matrix and misclassified images."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from search.core.predictions import TestPredictions
from search.visual.drawn import Drawn, Missing

MISTAKES_SHOWN = 40
MISTAKE_COLUMNS = 10


def confusion_figure(predictions: TestPredictions | None) -> Drawn | Missing:
    """The confusion matrix on the test split, counts in every cell."""
    if predictions is None:
        return Missing("the run has no test predictions (it did not reach its retrain)")
    matrix = predictions.confusion_matrix()
    labels = predictions.labels
    figure = Figure(figsize=(7, 6.2), layout="constrained")
    axis = figure.subplots()
    shown = np.log1p(matrix)  # the diagonal dwarfs the mistakes on a linear scale
    image = axis.imshow(shown, cmap="Blues")
    threshold = shown.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            axis.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if shown[row, column] > threshold else "black",
            )
    axis.set_xticks(range(len(labels)), [str(label) for label in labels])
    axis.set_yticks(range(len(labels)), [str(label) for label in labels])
    axis.set_xlabel("predicted digit")
    axis.set_ylabel("true digit")
    figure.colorbar(image, ax=axis, shrink=0.8, label="log(1 + count)")
    errors = int(matrix.sum() - np.trace(matrix))
    worst = _worst_confusion(matrix, labels)
    caption = (
        f"{matrix.sum():,} test images, {np.trace(matrix):,} right ({predictions.accuracy:.2%}), {errors:,} wrong"
        + (f"; the most common mistake: {worst}." if worst else ".")
    )
    return Drawn("confusion_matrix", "Where the retrained model errs: confusion matrix", figure, caption)


def mistakes_figure(predictions: TestPredictions | None) -> Drawn | Missing:
    """A grid of misclassified test images, each labelled with its true and predicted digit."""
    if predictions is None:
        return Missing("the run has no test predictions (it did not reach its retrain)")
    count = min(MISTAKES_SHOWN, len(predictions.mistake_rows))
    if count == 0:
        return Missing("the retrained model classified every test image correctly")
    columns = min(MISTAKE_COLUMNS, count)
    rows = int(np.ceil(count / columns))
    height, width = predictions.mistake_images.shape[1:]
    pad_x, pad_y = max(2, width // 4), max(6, height // 2)  # room between images, and above each for its label
    mosaic = np.zeros((rows * (height + pad_y), columns * (width + pad_x)))
    figure = Figure(figsize=(1.05 * columns, 1.3 * rows), layout="constrained")
    axis = figure.subplots()
    for index in range(count):
        top, left = (index // columns) * (height + pad_y) + pad_y, (index % columns) * (width + pad_x)
        mosaic[top : top + height, left : left + width] = predictions.mistake_images[index].astype(float)
        row = predictions.mistake_rows[index]
        axis.text(
            left + width / 2,
            top - 0.5,
            f"{predictions.y_true[row]} → {predictions.y_pred[row]}",
            ha="center",
            va="bottom",
            fontsize=9,
            color="#b00020",
        )
    axis.imshow(mosaic, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    axis.set_axis_off()
    wrong = int(np.sum(predictions.y_true != predictions.y_pred))
    caption = f"The first {count} of {wrong:,} misclassified test images; above each, its true digit → the prediction."
    return Drawn("misclassified", "Where the retrained model errs: misclassified images", figure, caption)


def _worst_confusion(matrix: np.ndarray, labels: np.ndarray) -> str | None:
    off_diagonal = matrix - np.diag(np.diag(matrix))
    if off_diagonal.max() == 0:
        return None
    row, column = np.unravel_index(off_diagonal.argmax(), matrix.shape)
    return f"{labels[row]} read as {labels[column]} ({off_diagonal[row, column]} times)"
