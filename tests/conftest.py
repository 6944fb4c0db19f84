"""Shared fixtures: a real local Ray cluster, the real MNIST files, tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.core.data import shipped_mnist_dir

ROOT = Path(__file__).resolve().parent.parent
NEEDS_MORE_THAN_PYTHON = ("cluster", "postgres", "browser", "install")
"""Markers of tests that need root, a server, a browser or a build: slow too, so that -m "not slow" runs anywhere."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in NEEDS_MORE_THAN_PYTHON):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray with 2 CPUs and a small object store, shared by the session."""
    import ray

    ray.init(
        address="local", num_cpus=2, object_store_memory=300 * 1024**2, include_dashboard=False, log_to_driver=False
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST IDX files, as shipped with the package; nothing is downloaded in tests."""
    return shipped_mnist_dir()


@pytest.fixture(scope="session")
def digits_splits():
    """scikit-learn's digits, split the way a run splits them."""
    from search.core.data import load_dataset, make_splits

    return make_splits(load_dataset("digits"))
