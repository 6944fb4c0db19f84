"""Where Ray Tune keeps trial results and checkpoints: the run folder, a shared folder, or a bucket.

On one machine the run folder will do. On a cluster every node must reach the place, because a
trial on a worker node writes its checkpoints there (since Ray 2.7 nothing is synced to the head):
an NFS folder mounted at the same path everywhere, or a URI that pyarrow opens (``s3://``,
``gs://``). An S3-compatible server (MinIO, Ceph) is named in the URI's query, as pyarrow reads it:
``s3://bucket/prefix?endpoint_override=http://10.0.0.5:9000``. Credentials come from each node's own
environment (``AWS_ACCESS_KEY_ID`` ..., an instance role), never from the URI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from search.core.errors import InputError
from search.records.credentials import has_credentials, without_password

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class StorageError(InputError):
    """A ``--storage-path`` the search cannot write to."""


def is_uri(storage_path: str) -> bool:
    """``s3://...``, ``gs://...`` and the like, as opposed to a folder."""
    return bool(_URI.match(storage_path))


@dataclass(frozen=True)
class Storage:
    """The place, resolved: pyarrow's filesystem (None: the local disk) and the path within it."""

    filesystem: object | None
    path: str

    def experiment_path(self, name: str) -> str:
        """The folder of the experiment ``name`` inside this storage."""
        return f"{self.path.rstrip('/')}/{name}"


def open_storage(storage_path: str | None, run_dir: Path) -> Storage:
    """``storage_path`` opened and checked, or the run folder when it is None.

    Raises ``StorageError`` with one line when the URI cannot be read or its bucket does not exist, or
    when a local path is a file (a folder that does not exist yet is made by Ray Tune).
    """
    if storage_path is None:
        return Storage(None, str(run_dir.resolve()))
    if not is_uri(storage_path):
        if Path(storage_path).exists() and not Path(storage_path).is_dir():
            raise StorageError(f"--storage-path {storage_path}: it is a file, not a folder")
        return Storage(None, str(Path(storage_path).resolve()))
    if has_credentials(storage_path):
        raise StorageError(
            f"--storage-path {without_password(storage_path)}: credentials do not go in the URI (Ray Tune would "
            "write them into the run's state); each node's environment gives them (AWS_ACCESS_KEY_ID, ...)"
        )
    import pyarrow.fs

    try:
        filesystem, path = pyarrow.fs.FileSystem.from_uri(storage_path)
        bucket = path.split("/", 1)[0]
        found = filesystem.get_file_info(bucket)
    except Exception as error:  # noqa: BLE001 - pyarrow raises OSError, ValueError, ArrowInvalid ...
        raise StorageError(f"--storage-path {storage_path}: cannot open it ({_first_line(error)})") from None
    if found.type == pyarrow.fs.FileType.NotFound:
        raise StorageError(f"--storage-path {storage_path}: the bucket {bucket!r} does not exist; create it first")
    return Storage(filesystem, path)


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
