"""Whether svc's low rungs can be scored on part of the validation split: rank correlation and time saved.

    python bench/low_rung_scoring.py [--configs 40] [--seed 0] [--data-dir DIR]

Draws ``--configs`` configurations from ``spaces/svc.yaml`` (log-uniform, seeded), fits each on the
search's low rungs (the nested stratified subsets of 1/27 and 1/9 of the search training split a
trial fits on), and scores it on the whole validation split and on stratified parts of it. Writes
the Spearman rank correlation of each part's scores with the whole split's, and the seconds spent
fitting and scoring, to ``results/low-rung-scoring.{md,json}``. One core, as a trial holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.model_selection import train_test_split

from search.core.data import load_mnist, make_splits
from search.core.fidelity import nested_stratified_order, sample_sizes
from search.core.settings import DEFAULT_RUNGS
from search.core.spaces import default_space_path, load_space
from search.families import svc

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = (1 / 3, 1 / 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST's IDX files (default: the shipped ones)")
    args = parser.parse_args()
    search = make_splits(load_mnist(args.data_dir)).search
    space = load_space(default_space_path("svc"), svc.PARAMETERS)
    rng = np.random.default_rng(args.seed)
    configs = [
        {name: float(np.exp(rng.uniform(np.log(d.low), np.log(d.high)))) for name, d in space.distributions.items()}
        for _ in range(args.configs)
    ]
    parts = {share: train_test_split(np.arange(len(search.y_val)), train_size=share, stratify=search.y_val,
                                     random_state=0)[0] for share in PARTS}  # fmt: skip
    order = nested_stratified_order(search.y_train, seed=0)
    rungs = sample_sizes(len(search.y_train), 10, DEFAULT_RUNGS)[:2]
    results = {}
    for size in rungs:
        rows = np.sort(order[:size])
        scores = {"whole": [], **{share: [] for share in PARTS}}
        seconds = {"fit": 0.0, "score whole": 0.0, **{f"score {share:.2f}": 0.0 for share in PARTS}}
        for config in configs:
            model = svc.build(config, seed=0, threads=1)
            started = time.monotonic()
            model.fit(search.X_train[rows], search.y_train[rows])
            seconds["fit"] += time.monotonic() - started
            started = time.monotonic()
            predicted = model.predict(search.X_val)
            seconds["score whole"] += time.monotonic() - started
            scores["whole"].append(float(np.mean(predicted == search.y_val)))
            for share, part in parts.items():
                started = time.monotonic()
                predicted = model.predict(search.X_val[part])
                seconds[f"score {share:.2f}"] += time.monotonic() - started
                scores[share].append(float(np.mean(predicted == search.y_val[part])))
        results[size] = {
            "spearman": {f"{share:.2f}": float(spearmanr(scores["whole"], scores[share]).statistic) for share in PARTS},
            "seconds_per_trial": {k: round(v / len(configs), 3) for k, v in seconds.items()},
        }
        print(size, results[size], flush=True)
    command = "python bench/low_rung_scoring.py " + " ".join(sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "low-rung-scoring.json").write_text(json.dumps({"command": command, "rungs": results}, indent=2))
    lines = [
        f"`{command}`: {len(configs)} configurations from `spaces/svc.yaml`, fitted on each low rung, "
        f"scored on the whole {len(search.y_val):,}-image validation split and on stratified parts of it; one core",
        "",
        "| rung (training images) | rank correlation, 1/3 of validation | 1/2 of validation | fit, s per trial "
        "| score on all, s | on 1/3, s | on 1/2, s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size, row in results.items():
        rho, sec = row["spearman"], row["seconds_per_trial"]
        lines.append(
            f"| {size:,} | {rho['0.33']:.3f} | {rho['0.50']:.3f} | {sec['fit']:.2f} | {sec['score whole']:.2f} "
            f"| {sec['score 0.33']:.2f} | {sec['score 0.50']:.2f} |"
        )
    (RESULTS / "low-rung-scoring.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
