"""The run folder's journal: Optuna's format and reader, no lock file, at most one fsync a second, and a
driver killed at any moment loses none of what it appended."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

import search.records.journal as journal
from search.records.journal import RunJournal


def study_on(backend) -> optuna.Study:
    return optuna.create_study(study_name="s", storage=JournalStorage(backend), load_if_exists=True)


def counting_fsyncs(monkeypatch, path) -> list[float]:
    """The times of the fsyncs of the file at ``path`` (the real ones, counted)."""
    synced: list[float] = []
    real = journal.os.fsync

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(path):
            synced.append(time.monotonic())
        real(fd)

    monkeypatch.setattr(journal.os, "fsync", fsync)
    return synced


def test_optunas_own_reader_reads_the_journal_and_no_lock_file_is_left(tmp_path):
    path = tmp_path / "study.journal"
    study = study_on(RunJournal(str(path)))
    for n in range(5):
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        trial.set_user_attr("run", "run-1")
        trial.report(0.1 * n, 1)
        study.tell(trial, 0.2 * n)
    reread = study_on(JournalFileBackend(str(path))).trials
    assert [t.value for t in reread] == [0.2 * n for n in range(5)]
    assert all(t.user_attrs == {"run": "run-1"} and t.intermediate_values == {1: 0.1 * t.number} for t in reread)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.journal"]


def test_appends_are_synced_to_disk_at_most_once_a_second_and_the_last_one_within_a_second(tmp_path, monkeypatch):
    path = tmp_path / "study.journal"
    synced = counting_fsyncs(monkeypatch, path)
    study = study_on(RunJournal(str(path)))
    started = time.monotonic()
    for _ in range(500):  # about 1,500 appends
        study.tell(study.ask(), 0.5)
    busy = time.monotonic() - started
    assert len(synced) <= 2 + busy, f"{len(synced)} fsyncs in {busy:.2f} s"
    last_append = time.monotonic()
    time.sleep(1.5)
    assert synced and synced[-1] > last_append, "the last append reached the disk a second later"
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(synced)), synced


WRITER = """
import os, signal, sys, optuna
from optuna.storages.journal import JournalStorage
from search.records.journal import RunJournal
study = optuna.create_study(study_name="s", storage=JournalStorage(RunJournal(sys.argv[1])))
for n in range(30):
    trial = study.ask()
    trial.set_user_attr("n", n)
    study.tell(trial, n)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_right_after_its_appends_loses_none_of_them(tmp_path):
    path = tmp_path / "study.journal"
    writer = subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True, timeout=120)
    assert writer.returncode == -signal.SIGKILL, writer.stderr
    trials = study_on(JournalFileBackend(str(path))).trials
    assert [(t.state, t.value, t.user_attrs["n"]) for t in trials] == [(TrialState.COMPLETE, n, n) for n in range(30)]
