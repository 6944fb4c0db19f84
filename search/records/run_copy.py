"""With a bucket for ``--storage-path``, the bucket holds the whole run, not only Ray Tune's part of it.

The run folder's files (``settings.json``, the study's journal, ``trials.csv``, the reports, the model)
are copied to ``<experiment>/run/``, beside Ray Tune's state in the bucket: when the run starts, the
journal (and a changed ``settings.json``) as trials end (in the background, one upload at a time, at
least a second apart), and everything when the run stops, however it stops short of SIGKILL. A
several-family run's folder is copied whole, every family's folder in it, its changed files looked
for every few seconds. A run whose driver's disk is gone goes on from there:
``--resume s3://bucket/prefix/<experiment>`` fetches the copy into a new folder (``fetch_run``) and
resumes it, and the results can be fetched from the bucket after the cluster is gone.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from search.core.errors import InputError
from search.records.storage import Storage, StorageError, open_storage
from search.records.study import JOURNAL_FILE

RUN_COPY = "run"
"""The copy's folder inside the experiment's folder in the bucket."""
REBUILT = "-rebuilt-"
"""What a search rebuilt from the study adds to its experiment's name (``record_new_experiment``)."""
SETTINGS_FILE = "settings.json"
TOGETHER_FILE = "families.json"
"""In a several-family run's folder (``search.pipeline.together``), instead of a ``settings.json``: its families,
their options, when it started."""
MIN_GAP_S = 1.0
"""Seconds at least between two uploads of what changed (a search may end several trials a second)."""


def copy_place(storage: Storage, experiment_name: str) -> str:
    """Where the copy of a run is: in its first experiment's folder, which a rebuilt search keeps."""
    return f"{storage.experiment_path(experiment_name.split(REBUILT)[0])}/{RUN_COPY}"


def resume_uri(storage_path: str, experiment_name: str) -> str:
    """What ``--resume`` takes to go on from the bucket: the experiment's URI, with the storage's query."""
    base, _, query = storage_path.partition("?")
    return f"{base.rstrip('/')}/{experiment_name.split(REBUILT)[0]}" + (f"?{query}" if query else "")


class RunCopy:
    """Keeps ``folder``'s copy at ``place`` in ``storage``'s bucket current; a failed upload is one warning."""

    def __init__(self, storage: Storage, place: str, folder: Path, every_s: float | None = None) -> None:
        """``every_s``: also look that often for changed files (a several-family run's driver hears of no
        trial's end: its families search in processes of their own, each writing its settings and journal)."""
        self.filesystem, self.place, self.folder, self.every_s = storage.filesystem, place, folder, every_s
        self._pushed: dict[Path, tuple[int, int]] = {}
        """Each settings file's and journal's size and modification time when it was last uploaded."""
        self._changed = threading.Event()
        self._closing = threading.Event()
        self._warned = False
        self._made: set[str] = set()
        self._uploader = threading.Thread(target=self._keep_current, name="run-copy", daemon=True)

    def start(self) -> None:
        """Copy the folder as it is now, then what changed of it each time ``trial_ended`` is called."""
        self.push_all()
        self._uploader.start()

    def trial_ended(self) -> None:
        """A trial ended: its study's journal changed (uploaded by the background thread, with the settings
        files where they changed: a search rebuilt from its study records its new experiment there)."""
        self._changed.set()

    def close(self) -> None:
        """The run stops: the background upload ends, and every file of the folder is copied."""
        self._closing.set()
        self._changed.set()
        if self._uploader.is_alive():
            self._uploader.join(timeout=60)
        self.push_all()

    def push_all(self) -> None:
        """Upload every file of the folder but its lock files."""
        for path in sorted(self.folder.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and not path.name.endswith(".lock"):
                self._push(path)

    def _keep_current(self) -> None:
        while True:
            self._changed.wait(timeout=self.every_s)
            if self._closing.is_set():
                return
            self._changed.clear()
            started = time.monotonic()
            for name in (SETTINGS_FILE, JOURNAL_FILE):  # a family's settings before its trials
                for path in [self.folder / name, *sorted(self.folder.glob(f"*/{name}"))]:
                    self._push_if_changed(path)
            # a long search's journal grows: uploads take at most a fifth of the time, trials ending meanwhile
            # are in the next one
            self._closing.wait(max(MIN_GAP_S, 4 * (time.monotonic() - started)))

    def _push_if_changed(self, path: Path) -> None:
        try:
            stat = path.stat()
        except OSError:  # not made yet
            return
        if self._pushed.get(path) != (stat.st_size, stat.st_mtime_ns):
            self._pushed[path] = (stat.st_size, stat.st_mtime_ns)
            self._push(path)

    def _push(self, path: Path) -> None:
        target = f"{self.place}/{path.relative_to(self.folder).as_posix()}"
        try:
            data = path.read_bytes()
            parent = target.rsplit("/", 1)[0]
            if parent not in self._made:  # a bucket needs no folders; other filesystems do
                self.filesystem.create_dir(parent, recursive=True)
                self._made.add(parent)
            with self.filesystem.open_output_stream(target) as stream:  # an object is replaced whole
                stream.write(data)
        except OSError as error:
            if not self._warned:
                self._warned = True
                print(f"warning: could not copy {path.name} to {target}: {error}", file=sys.stderr, flush=True)


_COPIES: dict[str, RunCopy] = {}
"""The run copies this driver keeps, by run: where a callback that Ray Tune unpickles finds its own."""


@contextmanager
def copying_run(run_id: str, copy: RunCopy | None) -> Iterator[None]:
    """While the run ``run_id`` runs, its copy (if any) is kept current; when it stops, it is copied whole."""
    if copy is None:
        yield
        return
    _COPIES[run_id] = copy
    copy.start()
    try:
        yield
    finally:
        _COPIES.pop(run_id, None)
        copy.close()


def trial_ended(run_id: str) -> None:
    """A trial of ``run_id`` ended: its copy's journal is brought up to date."""
    copy = _COPIES.get(run_id)
    if copy is not None:
        copy.trial_ended()


def fetch_run(uri: str, output_dir: str | None) -> Path:
    """The copy of a run at ``uri`` (``s3://bucket/prefix/<experiment>``) fetched into a new local folder; a
    several-family run's copy holds every family's folder.

    The folder is ``output_dir``, else ``runs/<the run's folder name>``; it must not hold anything yet.
    Raises ``InputError`` with one line, before anything is written, when there is no unfinished run there.
    """
    import pyarrow.fs

    base, _, query = uri.partition("?")
    base = base.rstrip("/").removesuffix(f"/{RUN_COPY}")
    try:
        storage = open_storage(base + (f"?{query}" if query else ""), Path("."))
    except StorageError as error:
        raise InputError(f"--resume {uri}: {str(error).partition(': ')[2]}") from None
    place = f"{storage.path.rstrip('/')}/{RUN_COPY}"
    settings = f"{place}/{SETTINGS_FILE}"
    marks = [f"{place}/{name}" for name in (SETTINGS_FILE, TOGETHER_FILE)]
    found = [mark for mark in marks if storage.filesystem.get_file_info(mark).type == pyarrow.fs.FileType.File]
    if not found:
        raise InputError(f"--resume {uri}: no run's copy there ({settings} does not exist)")
    try:
        recorded = json.loads(_read(storage.filesystem, found[0]))
    except (OSError, ValueError) as error:
        raise InputError(f"--resume {uri}: its {Path(found[0]).name} cannot be read ({error})") from None
    if recorded.get("together"):
        raise InputError(f"--resume {uri}: a family of a several-family run; resume that run from its folder")
    listing = storage.filesystem.get_file_info(pyarrow.fs.FileSelector(place, recursive=True))
    files = [info.path for info in listing if info.type == pyarrow.fs.FileType.File]
    if f"{place}/report.json" in files:
        raise InputError(f"--resume {uri}: that run already finished; its results are in {base}/{RUN_COPY}")
    folder = Path(output_dir) if output_dir else Path("runs") / Path(recorded.get("output_dir") or base).name
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(
            f"--resume {uri}: {folder} exists already and is not empty; resume it with --resume {folder}, "
            "or give another --output-dir"
        )
    for path in files:
        local = folder / Path(path).relative_to(place)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(_read(storage.filesystem, path))
    return folder.resolve()


def _read(filesystem, path: str) -> bytes:
    with filesystem.open_input_stream(path) as stream:
        return stream.read()
