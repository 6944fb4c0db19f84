"""A quiet search on scikit-learn's digits through ``run_search``, with a run's own ``Settings``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ray

from search.core.settings import Settings
from search.core.spaces import default_space_path, load_space
from search.core.trials import SearchResult
from search.families import FAMILIES
from search.machine.cluster import read_resources
from search.records.storage import open_storage
from search.records.study import open_study_place
from search.tune.runner import run_search
from tests import scripted_family


def digits_settings(family: str, tmp_path: Path, space_yaml: str | None = None, **options: Any) -> Settings:
    """A run's settings for ``family`` on the digits, in ``tmp_path``: ``space_yaml`` or the family's space."""
    space_path = default_space_path(family) if family in FAMILIES else None
    if space_yaml is not None:
        space_path = tmp_path / "space.yaml"
        space_path.write_text(space_yaml)
    values = dict(num_samples=4, time_budget_s=120, max_concurrent=2, run_id="test", study_name="test")
    return Settings(
        family=family, space_path=space_path, output_dir=tmp_path, dataset="digits", **{**values, **options}
    )


def search_digits(digits_splits, tmp_path: Path, family: str, space_yaml: str | None = None, **options: Any):
    """Search ``family`` (a registered one, or ``scripted``) on the digits with ``options`` as its settings."""
    settings = digits_settings(family, tmp_path, space_yaml, **options)
    if family == scripted_family.NAME:
        ray.cloudpickle.register_pickle_by_value(scripted_family)  # the workers cannot import tests/
        chosen = scripted_family
    else:
        chosen = FAMILIES[family]
    space = load_space(settings.space_path, chosen.PARAMETERS)
    result: SearchResult = run_search(
        settings,
        chosen,
        space,
        digits_splits.search,
        resources=read_resources(),
        storage=open_storage(None, tmp_path),
        study=open_study_place(None, settings.study, tmp_path),
    )
    return result
