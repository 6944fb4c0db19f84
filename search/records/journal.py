"""The run folder's study journal: Optuna's journal file, written by the one process that holds the folder.

Optuna's ``JournalFileBackend`` lets several processes, even on NFS, append to one journal: every append
takes a lock file (a link made and removed) and ends with an fsync. A trial costs about ten appends, and
on a loaded driver they took an eighth of its time at thousands of trials (issue 27). A run folder's
journal has one writer, the driver holding the folder's lock (``search.records.lock``), so ``RunJournal``
appends without the lock file, each batch of records in one ``write`` to a file opened for appending (a
reader such as optuna-dashboard sees whole lines: Optuna's reader leaves an unfinished last line for
later), and syncs the file to disk at most once a second, a second after the first unsynced append at
the latest. What was appended is in the operating system as soon as the append returns: a SIGKILL of the
driver loses none of it; a power cut, at most the last second.

Reading is Optuna's own (``JournalFileBackend.read_logs``); the file's format is unchanged.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from optuna.storages.journal import JournalFileBackend

SYNC_EVERY_S = 1.0
"""At most one fsync of the journal in this many seconds."""


class RunJournal(JournalFileBackend):
    """Optuna's journal file for a single writing process: no lock file, at most one fsync a second."""

    def __init__(self, file_path: str, sync_every_s: float = SYNC_EVERY_S) -> None:
        super().__init__(file_path)
        self.path = file_path
        self.sync_every_s = sync_every_s
        self._guard = threading.Lock()
        self._last_sync = 0.0
        self._unsynced = False
        self._sync_due: threading.Timer | None = None

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        data = ("\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n").encode()
        with self._guard:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = 0
                while written < len(data):
                    written += os.write(fd, data[written:])
            finally:
                os.close(fd)
            self._unsynced = True
            wait = self._last_sync + self.sync_every_s - time.monotonic()
            if wait <= 0:
                self._sync_now()
            elif self._sync_due is None:
                # not a daemon: an ending interpreter waits for the last sync (at most a second)
                self._sync_due = threading.Timer(wait, self.sync)
                self._sync_due.start()

    def sync(self) -> None:
        """Write what was appended to the disk now."""
        with self._guard:
            self._sync_now()

    def _sync_now(self) -> None:
        if self._sync_due is not None:
            self._sync_due.cancel()
            self._sync_due = None
        if not self._unsynced:  # a timer that fired as an append synced
            return
        self._unsynced = False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._last_sync = time.monotonic()
