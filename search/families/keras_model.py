"""What the Keras families share: TensorFlow set-up, per-epoch training and reporting, .keras files.

TensorFlow is imported inside these functions only, so that a scikit-learn family never pays
for it (nor needs it installed).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from search.core.data import FitData
from search.core.trial_report import EPOCHS_DONE, TrialReport
from search.families.base import Report
from search.machine.gpu import configure_tensorflow_gpus

MODEL_FILE = "model.keras"
CHECKPOINT_MODEL = "model.keras"
CHECKPOINT_STATE = "state.json"

BuildModel = Callable[[Any, Mapping[str, Any], tuple[int, ...]], Any]
"""``build(keras, config, input_shape)``: the family's uncompiled model."""


def import_keras() -> Any:
    """Keras on a freshly cleared session, GPU memory capped or growing (``search.machine.gpu``); a clear error if
    missing."""
    try:
        import keras
        import tensorflow as tf
    except ImportError:
        raise ImportError("the Keras families need TensorFlow: pip install tensorflow") from None
    configure_tensorflow_gpus(tf)
    keras.backend.clear_session()  # a reused worker must not keep the last trial's models
    return keras


def train_keras(
    build: BuildModel,
    input_shape: tuple[int, ...],
    config: Mapping[str, Any],
    data: FitData,
    report: Report,
    seed: int,
    restore_from: Path | None = None,
) -> Any:
    """Train ``config["epochs"]`` epochs of Adam; with a validation split, report after each one.

    Each report carries a checkpoint (the model, optimizer state included, and the epoch count);
    ``restore_from`` such a checkpoint carries on after its epoch.
    """
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    epochs = int(config["epochs"])
    if restore_from is not None:
        model = keras.models.load_model(restore_from / CHECKPOINT_MODEL)
        first_epoch = json.loads((restore_from / CHECKPOINT_STATE).read_text())[EPOCHS_DONE]
    else:
        model = build(keras, config, input_shape)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate(keras, config, len(data.y_train))),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        first_epoch = 0
    validation, callbacks = None, []
    if data.has_validation:
        validation = (data.X_val.reshape(-1, *input_shape), data.y_val)

        def report_epoch(epoch: int, logs: dict[str, float]) -> None:
            trial_report = TrialReport.after_epoch(epoch + 1, epochs, logs["val_accuracy"], float(logs["val_loss"]))
            with tempfile.TemporaryDirectory() as folder:
                model.save(Path(folder) / CHECKPOINT_MODEL)
                (Path(folder) / CHECKPOINT_STATE).write_text(json.dumps({EPOCHS_DONE: epoch + 1}))
                report(trial_report, checkpoint=Path(folder))

        callbacks.append(keras.callbacks.LambdaCallback(on_epoch_end=report_epoch))
    model.fit(
        data.X_train.reshape(-1, *input_shape),
        data.y_train,
        batch_size=int(config["batch_size"]),
        epochs=epochs,
        initial_epoch=first_epoch,
        validation_data=validation,
        callbacks=callbacks,
        verbose=0,
    )
    return model


SCHEDULES = {"constant", "cosine"}
"""The learning-rate schedules ``lr_schedule`` names."""


def learning_rate(keras: Any, config: Mapping[str, Any], n_rows: int) -> Any:
    """Adam's rate: constant (the article's), or with ``lr_schedule: cosine`` decaying to 0 by the last epoch."""
    rate = float(config["learning_rate"])
    if config.get("lr_schedule", "constant") == "constant":
        return rate
    steps = int(config["epochs"]) * math.ceil(n_rows / int(config["batch_size"]))
    return keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps)


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Class labels for flat rows ``X``: the arg-max of the softmax output."""
    probabilities = model.predict(X.reshape(-1, *model.input_shape[1:]), batch_size=1024, verbose=0)
    return np.argmax(probabilities, axis=1)


def save(model: Any, path: Path) -> None:
    """Keras' native format."""
    model.save(path)


def load(path: Path) -> Any:
    """A model written by ``save``."""
    return import_keras().models.load_model(path)
