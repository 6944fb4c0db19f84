"""One run per results folder: an exclusive lock on the folder, held for the whole run.

The lock is ``flock`` on ``.lock`` inside the folder, so the kernel releases it when the process ends,
however it ends (a killed driver leaves no stale lock). It is taken before anything is written, by
a new run and by ``--resume`` alike; a second run on a held folder stops at once with exit code 2.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from search.core.errors import InputError

LOCK_FILE = ".lock"


class FolderInUse(InputError):
    """Another run holds the results folder."""


class FolderNotEmpty(InputError):
    """A new run's results folder already holds files."""


def lock_folder(path: Path, *, new: bool) -> int:
    """Make ``path`` if needed and lock it for this process; returns the lock's file descriptor.

    Raises ``FolderInUse`` when another process holds it, and, for a ``new`` run, ``FolderNotEmpty``
    when it holds anything but the lock (a run that started and finished in between, say).
    """
    path.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        raise FolderInUse(
            f"{path} is in use by another run (process {holder}); wait for it or choose another folder"
        ) from None
    if new and any(entry.name != LOCK_FILE for entry in path.iterdir()):
        os.close(descriptor)
        raise FolderNotEmpty(f"--output-dir {path} already exists and is not empty; choose a new folder")
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return descriptor


def holds_only_lock(path: Path) -> bool:
    """Whether ``path`` is missing, empty, or holds nothing but a lock file."""
    return not path.exists() or (path.is_dir() and all(entry.name == LOCK_FILE for entry in path.iterdir()))
