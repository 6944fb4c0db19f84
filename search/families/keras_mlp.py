"""A dense Keras network (the article's Keras MLP: Dense(128, relu) + softmax, Adam, 20 epochs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sklearn.utils._param_validation import StrOptions

from search.core.data import FitData
from search.core.settings import Budget
from search.families.allowed import declared, positive_number, share, whole_number
from search.families.base import EPOCHS, Report
from search.families.keras_model import MODEL_FILE as MODEL_FILE
from search.families.keras_model import SCHEDULES, train_keras
from search.families.keras_model import load as load
from search.families.keras_model import predict as predict
from search.families.keras_model import save as save

NAME = "keras_mlp"
PARAMETERS = frozenset(
    {"n_layers", "units", "activation", "dropout", "learning_rate", "lr_schedule", "batch_size", "epochs"}
)
ALLOWED = declared(
    "keras_mlp",
    n_layers=whole_number(), units=whole_number(), dropout=share(), learning_rate=positive_number(),
    lr_schedule=StrOptions(SCHEDULES), batch_size=whole_number(), epochs=whole_number(),
)  # fmt: skip
BASELINE_TEST_ACCURACY = 0.977
FIDELITY = EPOCHS
USES_GPU = True
CHECKPOINTS = True
REUSES_ACTORS = True
MNIST_BUDGET = Budget(num_samples=300, time_budget_s=30 * 60)


def article_config(n_features: int) -> dict[str, Any]:
    """One hidden Dense(128, relu), no dropout, Adam at Keras' default rate, batch 32, 20 epochs."""
    return {
        "n_layers": 1,
        "units": 128,
        "activation": "relu",
        "dropout": 0.0,
        "learning_rate": 1e-3,
        "lr_schedule": "constant",
        "batch_size": 32,
        "epochs": 20,
    }


def build(keras: Any, config: Mapping[str, Any], input_shape: tuple[int, ...]) -> Any:
    """``n_layers`` Dense layers of ``units``, each followed by dropout, then a softmax."""
    layers = [keras.Input(input_shape)]
    for _ in range(int(config["n_layers"])):
        layers.append(keras.layers.Dense(int(config["units"]), activation=config["activation"]))
        if float(config["dropout"]) > 0:
            layers.append(keras.layers.Dropout(float(config["dropout"])))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers)


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None) -> Any:
    """Train on flat pixel rows, reporting after every epoch."""
    return train_keras(build, (data.X_train.shape[1],), config, data, report, seed, restore_from)
