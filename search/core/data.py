"""Load MNIST (the IDX files shipped with the package, or a folder of them) or scikit-learn's digits,
and split them.

The split is the article's: ``train_test_split(X / 255, y, stratify=y, random_state=0)`` over the
70,000 images (52,500 train, 17,500 test). The search tunes on a validation split carved from the
training split; the test split stays with the driver and is scored once, after retraining.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from search.core.errors import InputError

DATASETS = ("mnist", "digits")
DEFAULT_VALIDATION_FRACTION = 0.1
"""Share of the training split held out for validation during the search."""
ARTICLE_SPLIT_SEED = 0
VALIDATION_SEED = 0
SUBSET_SEED = 0

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
"""The published sha256 of each original (uncompressed) file; checked whenever a file is read."""
_IDX_IMAGES_MAGIC = 2051
_IDX_LABELS_MAGIC = 2049


class DataError(InputError):
    """The data cannot be found or read; the message says where and what to do."""


@dataclass(frozen=True)
class Dataset:
    """Features scaled to [0, 1] (float32), integer labels, and the shape of one image."""

    name: str
    X: np.ndarray
    y: np.ndarray
    image_shape: tuple[int, int]
    source: str


@dataclass(frozen=True)
class FitData:
    """What a model is fitted on: a training split and, during the search, a validation split.

    A trial sees this and nothing else: never the test split.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    image_shape: tuple[int, int]

    @property
    def has_validation(self) -> bool:
        """Whether there is a validation split to report on."""
        return self.X_val is not None


@dataclass(frozen=True)
class Splits:
    """The article's train/test split, and the search's train/validation split of train."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    search: FitData

    def retrain_data(self) -> FitData:
        """The whole training split, no validation: what the best config is retrained on."""
        return FitData(self.X_train, self.y_train, None, None, self.search.image_shape)

    def describe(self) -> dict:
        """Sizes and seeds, for the run's recorded settings."""
        return {
            "train": len(self.y_train),
            "test": len(self.y_test),
            "search_train": len(self.search.y_train),
            "validation": len(self.search.y_val),
            "article_split_seed": ARTICLE_SPLIT_SEED,
            "validation_seed": VALIDATION_SEED,
            "subset_seed": SUBSET_SEED,
        }


def shipped_mnist_dir() -> Path:
    """The canonical MNIST IDX files that ship inside the package (``search/datasets/mnist``)."""
    return Path(str(files("search") / "datasets" / "mnist"))


def load_dataset(name: str, data_dir: str | Path | None = None) -> Dataset:
    """Load a dataset by name; ``data_dir`` (or ``$SEARCH_DATA_DIR``) holds MNIST's IDX files."""
    if name == "digits":
        return _load_digits()
    if name == "mnist":
        return load_mnist(data_dir)
    raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    return Dataset("digits", X, bunch.target.astype(np.int64), (8, 8), "sklearn.datasets.load_digits")


def load_mnist(data_dir: str | Path | None = None) -> Dataset:
    """MNIST as 70,000 x 784: the IDX training images followed by the test images.

    Reads ``data_dir`` or ``$SEARCH_DATA_DIR`` when given, else the files shipped with the package.
    Either way the files must be the original ones (their checksums are checked).
    """
    explicit = data_dir or os.environ.get("SEARCH_DATA_DIR")
    if explicit:
        X, y = read_idx_folder(Path(explicit))
        return _mnist(X, y, f"IDX files in {explicit}")
    folder = shipped_mnist_dir()
    X, y = read_idx_folder(folder)
    return _mnist(X, y, f"the IDX files shipped with the package ({folder})")


def _mnist(X: np.ndarray, y: np.ndarray, source: str) -> Dataset:
    return Dataset("mnist", (X / np.float32(255.0)).astype(np.float32), y.astype(np.int64), (28, 28), source)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx_folder(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the four IDX files of ``folder``: images (70000, 784) uint8 and labels (70000,)."""
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist")
    paths = {stem: _find_idx(folder, stem) for stem in IDX_FILES.values()}
    for stem, path in paths.items():
        if path is None:
            raise DataError(f"data folder {folder} has no {stem} (or {stem}.gz); it needs the four MNIST IDX files")
    arrays = {
        key: read_idx(
            paths[stem], _IDX_IMAGES_MAGIC if key.endswith("images") else _IDX_LABELS_MAGIC, MNIST_SHA256[stem]
        )
        for key, stem in IDX_FILES.items()
    }
    train_images, train_labels = arrays["train_images"], arrays["train_labels"]
    test_images, test_labels = arrays["test_images"], arrays["test_labels"]
    for images, labels, name in ((train_images, train_labels, "train"), (test_images, test_labels, "t10k")):
        if len(images) != len(labels):
            raise DataError(f"{folder}: {name} has {len(images)} images but {len(labels)} labels")
    X = np.concatenate([train_images, test_images]).reshape(-1, 28 * 28)
    y = np.concatenate([train_labels, test_labels])
    if y.max() > 9:
        raise DataError(f"{folder}: labels outside 0-9 (max {y.max()}); the label files are corrupt")
    return X, y


def read_idx(path: Path, expected_magic: int, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not), checking its magic number, its length and its checksum."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if len(raw) < 8:
        raise DataError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise DataError(
            f"{path}: not an IDX {'image' if expected_magic == _IDX_IMAGES_MAGIC else 'label'} file (magic {magic})"
        )
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    header = 4 + 4 * ndim
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(f"{path}: truncated or corrupt ({len(raw)} bytes, header says {expected})")
    if ndim == 3 and dims[1:] != [28, 28]:
        raise DataError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28")
    if expected_sha256 is not None and hashlib.sha256(raw).hexdigest() != expected_sha256:
        raise DataError(
            f"{path}: not the original MNIST file (its sha256 differs from the published one); "
            "the article's split needs the original files"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def make_splits(
    dataset: Dataset,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    max_train_samples: int | None = None,
    search_train_samples: int | None = None,
) -> Splits:
    """The article's split, an optional stratified subset of train, and the validation split.

    ``max_train_samples`` shrinks the training split for search and retrain alike (quick runs);
    ``search_train_samples`` only caps what each trial fits on. The test split never changes.
    """
    X_train, X_test, y_train, y_test = train_test_split(
        dataset.X, dataset.y, stratify=dataset.y, random_state=ARTICLE_SPLIT_SEED
    )
    if max_train_samples is not None and max_train_samples < len(y_train):
        X_train, y_train = stratified_subset(X_train, y_train, max_train_samples)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=validation_fraction, stratify=y_train, random_state=VALIDATION_SEED
    )
    if search_train_samples is not None and search_train_samples < len(y_fit):
        X_fit, y_fit = stratified_subset(X_fit, y_fit, search_train_samples)
    search = FitData(X_fit, y_fit, X_val, y_val, dataset.image_shape)
    return Splits(X_train, y_train, X_test, y_test, search)


def stratified_subset(X: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified subset of ``size`` rows, the same one every time."""
    X_subset, _, y_subset, _ = train_test_split(X, y, train_size=size, stratify=y, random_state=SUBSET_SEED)
    return X_subset, y_subset


def checked_splits(
    dataset: Dataset,
    validation_fraction: float,
    max_train_samples: int | None,
    search_train_samples: int | None,
) -> Splits:
    """``make_splits`` with these options, or an ``InputError`` naming them when the data cannot be split so
    (too few rows for every class, or fewer than 10 validation images)."""
    try:
        splits = make_splits(
            dataset,
            validation_fraction=validation_fraction,
            max_train_samples=max_train_samples,
            search_train_samples=search_train_samples,
        )
    except ValueError as error:  # scikit-learn's stratified split: too few rows for every class
        raise InputError(
            f"cannot split the {dataset.name} data with --max-train-samples {max_train_samples}, "
            f"--validation-fraction {validation_fraction:g} and --search-train-samples {search_train_samples}: {error}"
        ) from None
    validation_size = len(splits.search.y_val)
    if validation_size < 10:
        raise InputError(f"the validation split has only {validation_size} images; use more training samples")
    return splits
