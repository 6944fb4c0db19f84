"""cluster.yaml is a config that Ray's cluster launcher accepts from a fresh clone, and a cluster a user can run.

``ray up`` first fills in and checks the config against Ray's schema, then hashes the file mounts
(every local source must exist) and the node configs, before it contacts the cloud or any node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.command_runner import SSHCommandRunner
from ray.autoscaler._private.util import hash_launch_conf, hash_runtime_conf, prepare_config, validate_config

from tests.conftest import ROOT


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


@pytest.fixture
def fresh_clone(tmp_path):
    """The checkout as ``git clone`` gives it: committed and staged files only, nothing beside it."""
    clone = tmp_path / "clone"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if (ROOT / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, clone / name)
    return clone


def test_cluster_yaml_passes_rays_schema_and_the_preparation_of_ray_up(config, fresh_clone, monkeypatch):
    monkeypatch.chdir(fresh_clone)  # ray up resolves the file mounts from where it runs
    prepared = prepare_config(config)
    validate_config(prepared)
    for source in prepared["file_mounts"].values():
        assert (fresh_clone / source).resolve().is_relative_to(fresh_clone), f"{source} is outside the checkout"
    hash_runtime_conf(prepared["file_mounts"], None, prepared, generate_file_mounts_contents_hash=True)
    for node_type in prepared["available_node_types"].values():
        hash_launch_conf(node_type["node_config"], prepared["auth"])


@pytest.mark.skipif(not shutil.which("rsync") and not os.environ.get("CI"), reason="needs rsync (.ci/run has it)")
def test_the_checkout_travels_without_its_virtual_environment_or_runs(config, fresh_clone, tmp_path):
    """The rsync that ``ray up`` runs for the ``.`` mount, with the config's filters, as a dry run."""
    (fresh_clone / ".venv" / "lib").mkdir(parents=True)
    (fresh_clone / ".venv" / "lib" / "huge.so").write_bytes(b"0" * 1024)
    (fresh_clone / "runs" / "svc-1").mkdir(parents=True)
    (fresh_clone / ".git").mkdir()
    filters = SSHCommandRunner._create_rsync_filter_args(None, options=config)
    rsync = ["rsync", "-a", "--dry-run", "--out-format=%n", *filters, f"{fresh_clone}/", str(tmp_path / "node")]
    listed = subprocess.run(rsync, capture_output=True, text=True, check=True).stdout.split()
    assert "search/run.py" in listed and "spaces/svc.yaml" in listed
    assert any(name.startswith("search/datasets/mnist/") and name.endswith(".gz") for name in listed), "the data"
    assert not [name for name in listed if name.startswith((".venv", "runs", ".git/"))]


def test_the_cluster_has_cpu_and_gpu_workers_shared_storage_and_a_closed_dashboard(config):
    nodes = config["available_node_types"]
    assert config["provider"]["type"] == "aws"
    assert nodes[config["head_node_type"]]["resources"] == {"CPU": 0}, "the head runs the driver, no trials"
    gpu = [name for name, node in nodes.items() if node["node_config"]["InstanceType"].startswith(("g", "p"))]
    cpu = [name for name, node in nodes.items() if node["node_config"]["InstanceType"].startswith("c")]
    assert gpu and cpu
    images = {node["node_config"].get("ImageId") for node in nodes.values()}
    assert len(images) == 1 and None not in images, "one named machine image on every node: one Python"
    for name in gpu + cpu:
        assert nodes[name]["min_workers"] == 0 and nodes[name]["max_workers"] > 0, "they scale with demand"
    commands = "\n".join(config["setup_commands"] + config["head_start_ray_commands"])
    assert "SEARCH_STORAGE_PATH=s3://" in commands, "trial storage every node reaches"
    assert "--dashboard-host=127.0.0.1" in commands and "0.0.0.0" not in commands
    assert "RAY_AUTH_MODE=token" in commands and "~/.ray/auth_token" in config["cluster_synced_files"]
    assert "ray get-auth-token --generate" in "\n".join(config["head_setup_commands"])
    assert not any(Path(source).is_absolute() or ".." in source for source in config["file_mounts"].values())
