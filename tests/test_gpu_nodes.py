"""Nodes with GPUs (logical ones: ``ray start --num-gpus 2`` on a machine that has none): trials that share
a GPU, and families searched at once on a mixed cluster. A file of its own, beside ``test_multinode.py``
(whose fixtures it uses, with a head node of its own), so that the two run on different test workers."""

from __future__ import annotations

import pandas as pd
import pytest

from search.core.trials import most_trials_at_once
from tests.ray_nodes import RayCluster
from tests.test_multinode import SMALL_KERAS, cluster, s3, search, space, worker  # noqa: F401 - fixtures

pytestmark = pytest.mark.cluster


def test_trials_share_logical_gpus(tmp_path_factory, tmp_path):
    """A node that declares 2 GPUs (``ray start --num-gpus 2``; this machine has none): Keras trials at
    half a GPU each run 4 at once. (That scikit-learn trials hold none is the mixed-cluster test's.)"""
    hidden = tmp_path_factory.mktemp("gpu-runs")
    gpu_cluster = RayCluster(hidden, {"RAY_AUTH_MODE": "token"})
    gpu_cluster.start_head(cpus=2, gpus=2)
    shares = ["--gpus-per-trial", "0.5", "--cpus-per-trial", "0.5", "--scheduler", "none"]
    try:
        keras = search(gpu_cluster, "--family", "keras_mlp", *shares, "--num-samples", "4", "--space",
                       space(tmp_path, SMALL_KERAS), "--output-dir", str(hidden / "keras"))  # fmt: skip
    finally:
        gpu_cluster.stop()
    assert keras.returncode == 0, keras.stderr
    assert "4 at once, each holding 0.5 CPUs and 0.5 GPUs" in keras.stdout
    trials = pd.read_csv(hidden / "keras" / "trials.csv")
    assert (trials["status"] == "completed").all()
    assert most_trials_at_once(trials) == 4, trials[["started_at", "ended_at"]]


def test_families_at_once_on_a_mixed_cluster_keras_trials_on_the_gpu_node_alongside_cpu_trials(cluster, worker, s3):
    """A node with 2 logical GPUs and 1 CPU joins the CPU nodes; ``--family logistic,keras_mlp``: every Keras
    trial ran on the GPU node, logistic's trials on the other nodes (had they taken the GPU node's CPU, no Keras
    trial could start there), at the same time (each family searches until the budget ends)."""
    gpu_node = cluster.add_worker(cpus=1, gpus=2)
    out = cluster.hidden / "mixed"
    try:
        result = search(cluster, "--family", "logistic,keras_mlp", "--num-samples", "500", "--time-budget", "60",
                        "--end-chance", "0", "--storage-path", s3, "--output-dir", str(out))  # fmt: skip
    finally:
        cluster.remove(gpu_node)
    assert result.returncode == 0, result.stderr
    keras, logistic = (
        pd.read_csv(out / family / "trials.csv").dropna(subset=["node"]) for family in ("keras_mlp", "logistic")
    )
    assert len(keras) and set(keras["node"]) == {gpu_node.node_id}, "Keras trials ran on the GPU node alone"
    assert gpu_node.node_id not in set(logistic["node"]), "logistic's trials left the GPU node's CPU to Keras"
    print(f"logistic: trials per node {logistic['node'].str[:8].value_counts().to_dict()}")
    pairs = [(a, b) for a in keras.itertuples() for b in logistic.itertuples()]
    overlapping = [(a, b) for a, b in pairs if a.started_at < b.ended_at and b.started_at < a.ended_at]
    assert overlapping, "a Keras trial and a logistic trial ran at the same time"
    assert "each holding 1 CPUs and 1 GPUs" in result.stdout, "a whole logical GPU per Keras trial"
    assert "each holding 1 CPUs and 0 GPUs" in result.stdout, "and none per logistic trial"
