"""A short cnn search on GPUs shared by fractional trials: epoch time, trials per GPU, accuracy.

    python bench/gpu_cnn.py [--gpus-per-trial 0.5] [--time-budget 4m] [--cpus-per-trial 2]

Runs ``python -m search.run --family cnn --gpus-per-trial G --cpus-per-trial C --time-budget T``
on the MNIST files shipped with the project (a local Ray, which sees the machine's GPUs), samples
``nvidia-smi`` every 2 s while it runs, and writes bench/results/gpu-cnn-<G>.{md,json}: the GPUs
and their memory, the most trials running at once and per GPU, the median seconds per epoch, the
most memory one GPU used, the trials, the search and retrain times, and the test accuracy. Made for
the lent GPU machine: one command, under 10 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from search.core.trials import most_trials_at_once

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus-per-trial", type=float, default=0.5)
    parser.add_argument("--cpus-per-trial", type=float, default=2)
    parser.add_argument("--time-budget", default="4m")
    parser.add_argument("--num-samples", type=int, default=24)
    args = parser.parse_args()

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = BENCH / "runs" / f"gpu-cnn-{args.gpus_per_trial:g}-{stamp}"
    command = [
        sys.executable, "-m", "search.run", "--family", "cnn", "--gpus-per-trial", str(args.gpus_per_trial),
        "--cpus-per-trial", str(args.cpus_per_trial), "--time-budget", args.time_budget,
        "--num-samples", str(args.num_samples), "--output-dir", str(out),
    ]  # fmt: skip
    with gpus_sampled() as samples:
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, text=True, capture_output=True)
        seconds = time.monotonic() - started
    print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
    if result.returncode != 0:
        sys.exit(f"the search failed with exit code {result.returncode}")

    report = json.loads((out / "report.json").read_text())
    trials = pd.read_csv(out / "trials.csv")
    gpus = gpu_inventory()
    at_once = most_trials_at_once(trials)
    per_epoch = [t / e for t, e in zip(trials["training_seconds"], trials["epochs_done"], strict=True) if e and t > 0]
    figures = {
        "command": " ".join(["python", "-m", "search.run", *command[3:]]),
        "gpus": gpus,
        "gpus_per_trial": args.gpus_per_trial,
        "most_trials_at_once": at_once,
        "most_trials_per_gpu": at_once / max(1, len(gpus)),
        "median_seconds_per_epoch": round(statistics.median(per_epoch), 2) if per_epoch else None,
        "most_gpu_memory_used_mib": max((gpu["used_mib"] for sample in samples for gpu in sample), default=None),
        "trials": report["trials"],
        "search_seconds": report["search_seconds"],
        "retrain_seconds": report["retrain_seconds"],
        "whole_command_seconds": round(seconds, 1),
        "validation_accuracy": report["validation_accuracy"],
        "test_accuracy": report["test_accuracy"],
        "test_accuracy_ci95": report["test_accuracy_ci95"],
        "best_config": report["best_config"],
    }
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    name = f"gpu-cnn-{args.gpus_per_trial:g}"
    (results / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    lines = [f"# cnn on GPUs, {args.gpus_per_trial:g} GPU per trial ({stamp})", "", f"`{figures['command']}`", ""]
    lines += [f"- {key}: {value}" for key, value in figures.items() if key != "command"]
    (results / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


@contextmanager
def gpus_sampled() -> Iterator[list[list[dict]]]:
    """``nvidia-smi``'s samples (``gpu_inventory``), every 2 s while the block runs."""
    samples: list[list[dict]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_gpus, args=(samples, stop), daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        stop.set()
        sampler.join()


def sample_gpus(samples: list[list[dict]], stop: threading.Event) -> None:
    """``nvidia-smi``'s memory and utilisation of every GPU, every 2 s until ``stop``."""
    while not stop.wait(2):
        samples.append(gpu_inventory())


def gpu_inventory() -> list[dict]:
    query = "--query-gpu=index,name,memory.total,memory.used,utilization.gpu"
    try:
        output = subprocess.run(["nvidia-smi", query, "--format=csv,noheader,nounits"], capture_output=True,
                                text=True, timeout=30, check=True).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in output.strip().splitlines():
        index, name, total, used, utilisation = (part.strip() for part in line.split(","))
        gpus.append({"index": int(index), "name": name, "total_mib": int(total), "used_mib": int(used),
                     "utilisation_percent": int(utilisation)})  # fmt: skip
    return gpus


if __name__ == "__main__":
    main()
