"""A run's results folder: which one a new run takes, and how bad input leaves none behind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from search.core.errors import InputError
from search.records.lock import LOCK_FILE, holds_only_lock
from search.records.study import JOURNAL_FILE


def results_folder(output_dir: str | None, family: str, attempt: int = 1) -> Path:
    """The results folder: ``output_dir`` (``--output-dir``, which must not hold anything yet) or a new one.

    The default is ``runs/<family>-<time>``, with ``-2``, ``-3`` ... on later ``attempt``s, when
    another run took that folder in the same second.
    """
    if output_dir:
        path = Path(output_dir)
        # a folder with a lock is checked once it is locked: a run that holds it is then named as such
        if not holds_only_lock(path) and not (path / LOCK_FILE).exists():
            raise InputError(f"--output-dir {path} already exists and is not empty; choose a new folder")
        return path.resolve()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"-{attempt}" if attempt > 1 else ""
    return (Path("runs") / f"{family}-{stamp}{suffix}").resolve()


def remove_made(made: list[Path]) -> None:
    """Remove the folders a refused run made (holding only its lock and empty study), as if it never started."""
    for folder in reversed(made):
        for name in (LOCK_FILE, JOURNAL_FILE):
            (folder / name).unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
