"""A Keras convolutional network (the article's CNN: two Conv2D(32, 5x5) + MaxPool blocks,
Dense(128), Dropout(0.2), Adam, 10 epochs)."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from pathlib import Path
from typing import Any

from sklearn.utils._param_validation import Interval, StrOptions

from search.core.data import FitData
from search.core.kinds import Scheduler
from search.core.settings import Budget, Rungs
from search.families.allowed import declared, positive_number, share, whole_number
from search.families.base import EPOCHS, Report
from search.families.keras_model import MODEL_FILE as MODEL_FILE
from search.families.keras_model import SCHEDULES, train_keras
from search.families.keras_model import load as load
from search.families.keras_model import predict as predict
from search.families.keras_model import save as save

NAME = "cnn"
PARAMETERS = frozenset(
    {
        "n_blocks", "filters", "filters_growth", "kernel_size", "batch_norm", "dense_units", "dropout",
        "learning_rate", "lr_schedule", "batch_size", "epochs", "augment_shift",
    }
)  # fmt: skip
ALLOWED = declared(
    "cnn",
    n_blocks=whole_number(), filters=whole_number(), filters_growth=whole_number(), kernel_size=whole_number(),
    dense_units=whole_number(), dropout=share(), learning_rate=positive_number(),
    lr_schedule=StrOptions(SCHEDULES), batch_size=whole_number(), epochs=whole_number(),
    augment_shift=Interval(Real, 0, 0.5, closed="left"),
)  # fmt: skip
BASELINE_TEST_ACCURACY = 0.992
FIDELITY = EPOCHS
USES_GPU = True
CHECKPOINTS = True
REUSES_ACTORS = False
"""An epoch takes minutes: a trial stopped mid-epoch would still hold a reused worker when Ray Tune, after
2 s (``TUNE_FUNCTION_THREAD_TIMEOUT_S``), gives up on it and fails the next trial ("Trainable runner reuse
requires reset_config()": a cnn trial lost so on MNIST, seed 1). A new worker per trial costs a TensorFlow
import, seconds beside the minutes of a trial."""
BATCH_NORM_MOMENTUM = 0.9
"""Keras' 0.99 leaves the moving statistics far behind in a short run, so early validation scores
(the ones ASHA compares) would misjudge batch normalization."""
MNIST_BUDGET = Budget(
    num_samples=200, time_budget_s=22 * 60, rungs=Rungs(scheduler=Scheduler.NONE.value, grace_period=3)
)
"""22 minutes leave room, within half an hour, for the retrain (4 to 7 minutes on 2 cores) and the
report. Every trial trains in full by default. On MNIST the networks that end best (batch normalization,
shifted images, a cosine schedule) trail after a few epochs: with ASHA at 1, 3 and 9 epochs, and
again at 3 and 9, the search stopped them early and ended at the article's network. With
``--scheduler asha`` the first rung is at 3 epochs."""


def article_config(n_features: int) -> dict[str, Any]:
    """The article's network: 2 blocks of 32 5x5 filters, Dense(128), dropout 0.2, batch 32."""
    return {
        "n_blocks": 2,
        "filters": 32,
        "filters_growth": 1,
        "kernel_size": 5,
        "batch_norm": False,
        "dense_units": 128,
        "dropout": 0.2,
        "learning_rate": 1e-3,
        "lr_schedule": "constant",
        "batch_size": 32,
        "epochs": 10,
        "augment_shift": 0.0,
    }


def build(keras: Any, config: Mapping[str, Any], input_shape: tuple[int, ...]) -> Any:
    """``n_blocks`` of Conv2D (``filters`` times ``filters_growth`` per block) + MaxPool, then dense.

    With ``augment_shift`` above 0, each training image is first shifted at random by up to that share
    of its height and width; the layer does nothing at prediction time.
    """
    layers = [keras.Input(input_shape)]
    shift = float(config.get("augment_shift", 0.0))
    if shift > 0:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="constant"))
    side = input_shape[0]
    filters = int(config["filters"])
    for _ in range(int(config["n_blocks"])):
        kernel = int(config["kernel_size"])
        layers.append(keras.layers.Conv2D(filters, kernel, padding="same", use_bias=not config["batch_norm"]))
        if config["batch_norm"]:
            layers.append(keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM))
        layers.append(keras.layers.Activation("relu"))
        if side >= 2:  # the digits' 8x8 images run out of room for a third pooling
            layers.append(keras.layers.MaxPooling2D(2))
            side //= 2
        filters *= int(config["filters_growth"])
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(int(config["dense_units"]), activation="relu"),
        keras.layers.Dropout(float(config["dropout"])),
        keras.layers.Dense(10, activation="softmax"),
    ]
    return keras.Sequential(layers)


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None) -> Any:
    """Train on images of ``data.image_shape`` with one channel, reporting after every epoch."""
    return train_keras(build, (*data.image_shape, 1), config, data, report, seed, restore_from)
