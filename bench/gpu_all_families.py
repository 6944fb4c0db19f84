"""Every family at once on a mixed cluster (a GPU node and a CPU-only node): how busy each node was.

    python bench/gpu_all_families.py [--time-budget 5m] [--gpu-node-cpus 8] [--cpu-node-cpus 8]

Starts a two-node Ray cluster on this machine (``tests/ray_nodes.py``): a head node with the
machine's GPUs and ``--gpu-node-cpus`` CPUs, and a worker node with ``--cpu-node-cpus`` CPUs and no
GPU. Runs ``python -m search.run --family all --address HEAD --time-budget T`` on the MNIST files
shipped with the project, with ``--storage-path`` a folder both nodes see (as an NFS mount would be),
samples ``nvidia-smi`` every 2 s, and writes bench/results/gpu-all-families.{md,json}: per node, the
trials each family ran there and the share of the node's CPUs and GPUs that trials held over the
search; whether Keras and scikit-learn trials ran at the same time; per family, its retrained test
accuracy and why its search ended; the winner. Made for the lent GPU machine: one command, about 10
minutes with the defaults (the search, then the retrains).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from bench.gpu_cnn import gpu_inventory, gpus_sampled  # noqa: E402
from tests.ray_nodes import RayCluster  # noqa: E402

KERAS = ("keras_mlp", "cnn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", default="5m")
    parser.add_argument("--gpu-node-cpus", type=int, default=8)
    parser.add_argument("--cpu-node-cpus", type=int, default=8)
    args = parser.parse_args()
    gpus = len(gpu_inventory())
    if not gpus:
        sys.exit("no GPU: nvidia-smi lists none (this benchmark is for a machine with GPUs)")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = BENCH / "runs" / f"gpu-all-families-{stamp}"
    cluster = RayCluster(Path(tempfile.mkdtemp()), {"RAY_AUTH_MODE": "disabled"})
    gpu_node = cluster.start_head(cpus=args.gpu_node_cpus, gpus=gpus)
    cpu_node = cluster.add_worker(cpus=args.cpu_node_cpus, gpus=0, hide=False)
    command = [
        sys.executable, "-m", "search.run", "--family", "all", "--address", cluster.address,
        "--time-budget", args.time_budget, "--storage-path", str(out / "shared"), "--output-dir", str(out),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        with gpus_sampled() as samples:
            environment = {**os.environ, **cluster.env}
            result = subprocess.run(command, cwd=ROOT, text=True, capture_output=True, env=environment)
    finally:
        seconds = time.monotonic() - started
        cluster.stop()
    print(result.stdout[-6000:], result.stderr[-3000:], sep="\n")
    if result.returncode != 0:
        sys.exit(f"the search failed with exit code {result.returncode}")

    nodes = {
        gpu_node.node_id: {"node": f"GPU node ({args.gpu_node_cpus} CPUs, {gpus} GPUs)", "cpus": args.gpu_node_cpus,
                           "gpus": gpus},
        cpu_node.node_id: {"node": f"CPU node ({args.cpu_node_cpus} CPUs)", "cpus": args.cpu_node_cpus, "gpus": 0},
    }  # fmt: skip
    reports = json.loads((out / "report.json").read_text())
    trials = pd.concat([held_trials(out, report) for report in reports], ignore_index=True)
    figures = {
        "command": " ".join(["python", "-m", "search.run", *command[3:]]),
        "whole_command_seconds": round(seconds, 1),
        "nodes": node_use(trials, nodes),
        "keras_and_sklearn_trials_overlapped_seconds": round(overlap_seconds(trials), 1),
        "most_gpu_memory_used_mib": max((gpu["used_mib"] for sample in samples for gpu in sample), default=None),
        "mean_gpu_utilisation_percent": mean_utilisation(samples),
        "families": {
            r["family"]: {
                "test_accuracy": r["test_accuracy"],
                "validation_accuracy": r["validation_accuracy"],
                "trials": r["trials"],
                "search_ended": r["search_ended"]["why"],
            }
            for r in reports
        },  # fmt: skip
        "ranking": json.loads((out / "ranking.json").read_text()),
    }
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / "gpu-all-families.json").write_text(json.dumps(figures, indent=2) + "\n")
    lines = [f"# Every family at once on a GPU node and a CPU node ({stamp})", "", f"`{figures['command']}`", ""]
    lines += [f"- {key}: {value}" for key, value in figures.items() if key != "command"]
    (results / "gpu-all-families.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def held_trials(out: Path, report: dict) -> pd.DataFrame:
    """A family's trials with where they ran, when, and the CPUs and GPUs each held."""
    trials = pd.read_csv(out / report["family"] / "trials.csv").dropna(subset=["node", "started_at", "ended_at"])
    return trials.assign(
        family=report["family"], cpus=float(report["cpus_per_trial"]), gpus=float(report.get("gpus_per_trial") or 0)
    )[["family", "node", "started_at", "ended_at", "cpus", "gpus"]]


def node_use(trials: pd.DataFrame, nodes: dict[str, dict]) -> list[dict]:
    """Per node: its trials by family, and the share of its CPUs and GPUs that trials held over the search."""
    window = trials["ended_at"].max() - trials["started_at"].min()
    held = trials.assign(seconds=trials["ended_at"] - trials["started_at"])
    use = []
    for node_id, node in nodes.items():
        here = held[held["node"] == node_id]
        cpu_share = (here["seconds"] * here["cpus"]).sum() / (node["cpus"] * window)
        gpu_share = (here["seconds"] * here["gpus"]).sum() / (node["gpus"] * window) if node["gpus"] else None
        use.append({
            "node": node["node"], "trials": here["family"].value_counts().to_dict(),
            "cpus_held_share": round(float(cpu_share), 3),
            "gpus_held_share": None if gpu_share is None else round(float(gpu_share), 3),
        })  # fmt: skip
    return use


def overlap_seconds(trials: pd.DataFrame) -> float:
    """Seconds during which a Keras trial and a scikit-learn trial were both running."""
    keras = trials[trials["family"].isin(KERAS)]
    sklearn = trials[~trials["family"].isin(KERAS)]
    return union_length(
        (max(a.started_at, b.started_at), min(a.ended_at, b.ended_at))
        for a in keras.itertuples()
        for b in sklearn.itertuples()
        if a.started_at < b.ended_at and b.started_at < a.ended_at
    )


def union_length(spans) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def mean_utilisation(samples: list[list[dict]]) -> float | None:
    values = [gpu["utilisation_percent"] for sample in samples for gpu in sample]
    return round(sum(values) / len(values), 1) if values else None


if __name__ == "__main__":
    main()
