"""cluster.yaml is a config Ray's cluster launcher accepts."""

from __future__ import annotations

import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.conftest import ROOT


def test_cluster_yaml_passes_rays_schema():
    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    validate_config(prepare_config(config))
    assert config["file_mounts"]["~/mnist-search"] == "."
    assert any("search" in command for command in config["setup_commands"])
