"""The search's SVC (scikit-learn-intelex, every core it holds) against scikit-learn's own ``SVC``.

    python bench/svc_agreement.py [--C 12.6 --gamma 0.0248] [--cpus 2] [--data-dir DIR]

Fits both on the article's 52,500 training images with the same config, predicts the 17,500 test
images, and writes how often their predictions agree, each one's test accuracy, fit and predict
seconds and support vectors to ``results/svc-agreement.{md,json}``. scikit-learn's ``SVC`` runs
libsvm's one-vs-one fits one after another on one core; scikit-learn-intelex's runs oneDAL's
solver on ``--cpus`` threads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.svm import SVC

from search.core.data import load_mnist, make_splits
from search.families import svc

RESULTS = Path(__file__).resolve().parent / "results"


def timed_fit_predict(model, X_train, y_train, X_test) -> tuple[np.ndarray, float, float, int]:
    """Predictions for ``X_test``, fit and predict seconds, support vectors."""
    started = time.monotonic()
    model.fit(X_train, y_train)
    fitted = time.monotonic()
    predictions = model.predict(X_test)
    return predictions, fitted - started, time.monotonic() - fitted, len(model.support_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=12.6)
    parser.add_argument("--gamma", type=float, default=0.0248)
    parser.add_argument("--cpus", type=int, default=2, help="threads of scikit-learn-intelex's fit (default 2)")
    parser.add_argument("--data-dir", help="MNIST's IDX files (default: the shipped ones)")
    args = parser.parse_args()
    splits = make_splits(load_mnist(args.data_dir))
    config = {"C": args.C, "gamma": args.gamma}
    rows = {}
    for name, model in (
        ("scikit-learn-intelex", svc.build(config, seed=0, threads=args.cpus)),
        ("scikit-learn SVC (libsvm)", SVC(kernel="rbf", cache_size=svc.KERNEL_CACHE_MB, random_state=0, **config)),
    ):
        predictions, fit_s, predict_s, vectors = timed_fit_predict(model, splits.X_train, splits.y_train, splits.X_test)
        rows[name] = {
            "test_accuracy": float(np.mean(predictions == splits.y_test)),
            "fit_s": round(fit_s, 1),
            "predict_s": round(predict_s, 1),
            "support_vectors": vectors,
            "predictions": predictions,
        }
        print(name, {k: v for k, v in rows[name].items() if k != "predictions"}, flush=True)
    ours, theirs = (row.pop("predictions") for row in rows.values())
    summary = {
        "config": config,
        "cpus": args.cpus,
        "train": len(splits.y_train),
        "test": len(splits.y_test),
        "agreement": float(np.mean(ours == theirs)),
        "disagreements": int(np.sum(ours != theirs)),
        "models": rows,
        "command": "python bench/svc_agreement.py " + " ".join(sys.argv[1:]),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "svc-agreement.json").write_text(json.dumps(summary, indent=2))
    lines = [
        f"`{summary['command']}`: `{config}` on the article's {summary['train']:,} training images, "
        f"predictions on its {summary['test']:,} test images",
        "",
        "| SVC | test accuracy | fit | predict | support vectors |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {name} | {row['test_accuracy']:.2%} | {row['fit_s']:.1f} s | {row['predict_s']:.1f} s "
            f"| {row['support_vectors']:,} |"
            for name, row in rows.items()
        ),
        "",
        f"The two agree on {summary['agreement']:.2%} of the test images ({summary['disagreements']} differ).",
    ]
    (RESULTS / "svc-agreement.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
