"""Data: the real MNIST files, the article's split, the validation split, bad data folders."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from search.core.data import (
    DataError,
    Dataset,
    load_dataset,
    load_mnist,
    make_splits,
    read_idx_folder,
    shipped_mnist_dir,
)


def test_with_no_folder_given_the_shipped_mnist_is_the_articles_matrix_and_split(monkeypatch):
    monkeypatch.delenv("SEARCH_DATA_DIR", raising=False)
    dataset = load_dataset("mnist")
    assert dataset.source == f"the IDX files shipped with the package ({shipped_mnist_dir()})"
    assert dataset.X.shape == (70_000, 784) and dataset.X.dtype == np.float32
    assert 0.0 == dataset.X.min() and dataset.X.max() == 1.0
    assert np.bincount(dataset.y).tolist()[:3] == [6903, 7877, 6990]  # OpenML mnist_784's class counts
    splits = make_splits(dataset)
    assert len(splits.y_train) == 52_500 and len(splits.y_test) == 17_500
    assert len(splits.search.y_train) + len(splits.search.y_val) == 52_500


def test_data_dir_comes_from_the_environment(mnist_dir, monkeypatch):
    monkeypatch.setenv("SEARCH_DATA_DIR", str(mnist_dir))
    assert load_dataset("mnist").source == f"IDX files in {mnist_dir}"


def ids_dataset(n: int = 1000) -> Dataset:
    """Each row's only feature is its row number, so a split's rows can be traced."""
    X = np.arange(n, dtype=np.float32)[:, None]
    y = np.arange(n) % 10
    return Dataset("ids", X, y, (1, 1), "test")


def ids(X: np.ndarray) -> set[int]:
    return set(X[:, 0].astype(int).tolist())


@pytest.mark.parametrize("options", [{}, {"max_train_samples": 300}, {"search_train_samples": 200}])
def test_the_test_split_never_reaches_the_search(options):
    splits = make_splits(ids_dataset(), **options)
    test = ids(splits.X_test)
    search_rows = ids(splits.search.X_train) | ids(splits.search.X_val)
    assert not test & search_rows
    assert not ids(splits.search.X_train) & ids(splits.search.X_val)
    assert not test & ids(splits.retrain_data().X_train)
    assert splits.retrain_data().X_val is None


def test_subsets_shrink_the_training_split_but_never_the_test_split():
    full = make_splits(ids_dataset())
    small = make_splits(ids_dataset(), max_train_samples=300, search_train_samples=100)
    assert ids(small.X_test) == ids(full.X_test)
    assert len(small.y_train) == 300 and len(small.search.y_train) == 100
    assert np.bincount(small.search.y_train).tolist() == [10] * 10  # stratified
    assert ids(small.search.X_train) <= ids(small.X_train)


def test_the_split_is_the_same_every_time():
    first, second = make_splits(ids_dataset()), make_splits(ids_dataset())
    assert np.array_equal(first.search.X_val, second.search.X_val)
    assert np.array_equal(first.X_test, second.X_test)


@pytest.fixture
def mnist_copy(tmp_path, mnist_dir) -> Path:
    """A copy of the real files, uncompressed, that a test may damage."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for path in mnist_dir.glob("*.gz"):
        with gzip.open(path) as source, open(folder / path.stem, "wb") as target:
            shutil.copyfileobj(source, target)
    return folder


def test_uncompressed_idx_files_read_the_same(mnist_copy, mnist_dir):
    X, y = read_idx_folder(mnist_copy)
    X_gz, y_gz = read_idx_folder(mnist_dir)
    assert np.array_equal(X, X_gz) and np.array_equal(y, y_gz)


def test_missing_file_is_named(mnist_copy):
    (mnist_copy / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="has no t10k-labels-idx1-ubyte"):
        load_mnist(mnist_copy)


def test_truncated_file_is_named(mnist_copy):
    path = mnist_copy / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="train-images-idx3-ubyte: truncated or corrupt"):
        load_mnist(mnist_copy)


def test_a_file_that_is_not_the_original_is_named(mnist_copy):
    path = mnist_copy / "t10k-images-idx3-ubyte"
    pixels = bytearray(path.read_bytes())
    pixels[-1] ^= 0xFF  # one pixel of the last test image: a well-formed IDX file, but not MNIST's
    path.write_bytes(bytes(pixels))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: not the original MNIST file"):
        load_mnist(mnist_copy)


def test_wrong_kind_of_file_is_named(mnist_copy):
    shutil.copy(mnist_copy / "train-labels-idx1-ubyte", mnist_copy / "train-images-idx3-ubyte")
    with pytest.raises(DataError, match="not an IDX image file"):
        load_mnist(mnist_copy)


def test_corrupt_gzip_is_named(tmp_path, mnist_dir):
    for path in mnist_dir.glob("*.gz"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: cannot read"):
        load_mnist(tmp_path)


def test_folder_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
