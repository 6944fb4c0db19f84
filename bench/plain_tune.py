"""The baseline searches: plain Ray Tune over SVC at full fidelity, written as Ray's documentation shows.

    python bench/plain_tune.py --searcher optuna --seed 0 --output DIR [--solver sklearnex]

``--searcher optuna``: ``OptunaSearch`` with Optuna's default sampler (TPE, seeded). ``--searcher
random``: Ray Tune's default random search. Either way every trial fits SVC on the whole search
training split and reports validation accuracy once; the data goes in through
``tune.with_parameters`` and ``max_concurrent_trials`` comes from the cluster's CPUs. The split
and the space's bounds are the same as our search's (``search.core.data``, ``spaces/svc.yaml``).

``--solver sklearnex`` (the default) fits with the same solver our svc family uses (scikit-learn-
intelex's SVC, on the one core Ray gives each trial: ``cap_threads``, without which oneDAL takes
every core outside the main thread, where Ray Tune runs trials), so that only the search differs;
``--solver sklearn`` with scikit-learn's own libsvm ``SVC``. After the budget, the best config is
retrained on the whole training split (on every core) and scored once on the test split, as our
search does; ``DIR/plain_result.json`` keeps the best config, its validation and test accuracy.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import ray
from ray import tune
from ray.tune.search import BasicVariantGenerator
from ray.tune.search.optuna import OptunaSearch
from sklearn.svm import SVC

from search.core.data import load_dataset, make_splits
from search.core.spaces import default_space_path, load_space
from search.families import svc
from search.machine.threads import cap_threads


def build(config: dict, solver: str, threads: int):
    """The SVC for ``config``: scikit-learn's libsvm, or scikit-learn-intelex's on ``threads`` cores."""
    if solver == "sklearnex":
        return svc.build(config, seed=0, threads=threads)
    return SVC(kernel="rbf", C=config["C"], gamma=config["gamma"], cache_size=svc.KERNEL_CACHE_MB)


def objective(config: dict, data: tuple, solver: str) -> None:
    """Fit SVC on the whole search training split; report validation accuracy."""
    X_train, y_train, X_val, y_val = data
    with cap_threads(1):
        model = build(config, solver, threads=1)
        model.fit(X_train, y_train)
    tune.report({"validation_accuracy": float(np.mean(model.predict(X_val) == y_val)), "progress": 1.0})


def tune_space() -> dict:
    """``spaces/svc.yaml``'s log-uniform ranges, as Ray Tune's own search space."""
    space = load_space(default_space_path("svc"), svc.PARAMETERS)
    return {name: tune.loguniform(d.low, d.high) for name, d in space.distributions.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST's IDX files")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "digits"], help="digits: a quick check")
    parser.add_argument("--searcher", choices=["optuna", "random"], required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=1200, help="seconds")
    parser.add_argument("--output", required=True, help="folder for Ray Tune's results")
    parser.add_argument("--solver", choices=["sklearnex", "sklearn"], default="sklearnex")
    args = parser.parse_args()
    if args.solver == "sklearnex" and svc.IntelexSVC is None:
        parser.error("scikit-learn-intelex is not installed here; use --solver sklearn")

    splits = make_splits(load_dataset(args.dataset, args.data_dir))
    search = splits.search
    ray.init(address="local", include_dashboard=False)
    if args.searcher == "optuna":
        searcher = OptunaSearch(seed=args.seed)
    else:
        searcher = BasicVariantGenerator(random_state=args.seed)
    tuner = tune.Tuner(
        tune.with_parameters(
            objective, data=(search.X_train, search.y_train, search.X_val, search.y_val), solver=args.solver
        ),
        param_space=tune_space(),
        tune_config=tune.TuneConfig(
            metric="validation_accuracy",
            mode="max",
            search_alg=searcher,
            num_samples=1000,
            max_concurrent_trials=int(ray.cluster_resources()["CPU"]),
            time_budget_s=args.time_budget,
        ),
        run_config=tune.RunConfig(name="tune", storage_path=str(Path(args.output).resolve()), verbose=0),
    )
    best = tuner.fit().get_best_result()
    print(f"best validation accuracy {best.metrics['validation_accuracy']:.4f} with {best.config}", flush=True)
    started = time.monotonic()
    model = build(best.config, args.solver, threads=int(ray.cluster_resources()["CPU"]))
    model.fit(splits.X_train, splits.y_train)
    test_accuracy = float(np.mean(model.predict(splits.X_test) == splits.y_test))
    retrain_s = time.monotonic() - started
    print(f"retrained on {len(splits.y_train)} images in {retrain_s:.0f} s: test accuracy {test_accuracy:.4f}")
    result = {
        "solver": args.solver,
        "best_config": best.config,
        "validation_accuracy": best.metrics["validation_accuracy"],
        "test_accuracy": test_accuracy,
        "retrain_s": round(retrain_s, 1),
    }
    (Path(args.output) / "plain_result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
