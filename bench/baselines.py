"""The article's five untuned models, on the article's split, timed on this machine.

    python bench/baselines.py [--only logistic,svc,mlp,keras_mlp,cnn] [--data-dir DIR]

Fits each model on the 52,500 training images, scores it on the 17,500 test images and prints
a table (also written to bench/results/baselines.md and .json). Wall time is fit plus predict.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from search.core.data import load_mnist, make_splits

RESULTS = Path(__file__).resolve().parent / "results"
ARTICLE = {
    "logistic": (0.925, 15),
    "svc": (0.946, 690),
    "mlp": (0.976, 22),
    "keras_mlp": (0.977, 57),
    "cnn": (0.992, 540),
}


def sklearn_model(name: str):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    return {
        "logistic": lambda: LogisticRegression(solver="lbfgs"),
        "svc": lambda: SVC(kernel="rbf", gamma="auto", C=2),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(128,), solver="adam", max_iter=20, random_state=0),
    }[name]()


def keras_model(name: str, image_shape: tuple[int, int]):
    import keras

    keras.utils.set_random_seed(0)
    if name == "keras_mlp":
        layers = [keras.Input((image_shape[0] * image_shape[1],)), keras.layers.Dense(128, activation="relu")]
    else:
        layers = [
            keras.Input((*image_shape, 1)),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
        ]
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def run(name: str, splits, image_shape) -> dict:
    started = time.monotonic()
    if name in ("keras_mlp", "cnn"):
        shape = (-1, *image_shape, 1) if name == "cnn" else (-1, image_shape[0] * image_shape[1])
        model = keras_model(name, image_shape)
        model.fit(splits.X_train.reshape(shape), splits.y_train, epochs=20 if name == "keras_mlp" else 10, verbose=0)
        predictions = np.argmax(model.predict(splits.X_test.reshape(shape), verbose=0), axis=1)
    else:
        model = sklearn_model(name).fit(splits.X_train, splits.y_train)
        predictions = model.predict(splits.X_test)
    seconds = time.monotonic() - started
    return {"family": name, "test_accuracy": float(np.mean(predictions == splits.y_test)), "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", help="folder with MNIST's IDX files (default: the files shipped with the project)"
    )
    parser.add_argument("--only", default=",".join(ARTICLE), help="comma-separated families")
    args = parser.parse_args()
    dataset = load_mnist(args.data_dir)
    splits = make_splits(dataset)
    rows = []
    for name in args.only.split(","):
        row = run(name, splits, dataset.image_shape)
        rows.append(row)
        print(f"{name}: test {row['test_accuracy']:.2%} in {row['seconds']:.0f} s", flush=True)
    lines = [
        "| family | test accuracy (here) | wall time (here) | article's test accuracy | article's time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        accuracy, seconds = ARTICLE[row["family"]]
        lines.append(
            f"| {row['family']} | {row['test_accuracy']:.2%} | {row['seconds']:.0f} s | {accuracy:.1%} | {seconds} s |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.only == ",".join(ARTICLE) else "-" + args.only.replace(",", "-")
    (RESULTS / f"baselines{suffix}.md").write_text(table + "\n")
    (RESULTS / f"baselines{suffix}.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
