"""Budgets in rungs: training-set sizes, nested stratified subsets, and how Optuna hears of stopped trials."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from search.core import fidelity
from search.core.data import FitData
from search.core.fidelity import (
    AshaRungs,
    asha_rungs,
    nested_stratified_order,
    sample_sizes,
    timed,
    train_on_growing_subsets,
)
from search.core.settings import Rungs
from search.core.trial_report import TrialReport
from search.machine.cpu_wait import cpu_wait_seconds


def test_sample_sizes_grow_by_the_reduction_factor_up_to_the_whole_split():
    assert sample_sizes(47_250, 10, Rungs()) == [1_750, 5_250, 15_750, 47_250]
    assert sample_sizes(10_000, 10, Rungs(reduction_factor=2, sample_rungs=3)) == [2_500, 5_000, 10_000]
    assert sample_sizes(1_000, 10, Rungs(sample_rungs=1)) == [1_000]


def test_without_a_scheduler_a_trial_fits_the_whole_split():
    assert sample_sizes(47_250, 10, Rungs(scheduler="none")) == [47_250]


def test_rungs_too_small_to_hold_every_class_are_left_out():
    assert sample_sizes(1_212, 10, Rungs()) == [132, 396, 1_212]
    assert sample_sizes(300, 10, Rungs()) == [300]


def imbalanced_labels(n=3_000, seed=1):
    rng = np.random.default_rng(seed)
    return rng.choice(10, size=n, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum())


@pytest.mark.parametrize("size", [50, 111, 400, 1_000, 2_999])
def test_every_prefix_of_the_order_is_stratified(size):
    y = imbalanced_labels()
    order = nested_stratified_order(y, seed=0)
    assert sorted(order) == list(range(len(y))), "a permutation of the rows"
    counts = np.bincount(y[order[:size]], minlength=10)
    expected = np.bincount(y, minlength=10) * size / len(y)
    assert np.abs(counts - expected).max() <= 1.0


def test_the_order_depends_on_the_seed_only():
    y = imbalanced_labels()
    assert np.array_equal(nested_stratified_order(y, 0), nested_stratified_order(y, 0))
    assert not np.array_equal(nested_stratified_order(y, 0), nested_stratified_order(y, 1))


class RecordingFamily:
    """A family that records the rows it is fitted on (each row's feature is its row number)."""

    def __init__(self):
        self.rows = []
        self.validation_rows = []

    def train(self, config, data, report, seed, restore_from=None):
        self.rows.append(data.X_train[:, 0].astype(int).tolist())
        self.validation_rows.append(data.X_val[:, 0].astype(int).tolist())
        report(TrialReport.after_fit(0.5))


def test_growing_subsets_are_nested_stratified_and_reported():
    y = imbalanced_labels(900)
    X = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    data = FitData(X, y, X[:10], y[:10], (1, 1))
    family = RecordingFamily()
    recorded = []

    def report(trial_report, checkpoint=None):
        recorded.append(trial_report)

    train_on_growing_subsets(family, {}, data, report, seed=0, sizes=[100, 300, 900])
    rows = family.rows
    assert [len(r) for r in rows] == [100, 300, 900]
    assert set(rows[0]) < set(rows[1]) < set(rows[2]), "each subset holds the one before"
    for subset in rows:
        share = np.bincount(y[subset], minlength=10) / len(subset)
        assert np.abs(share - np.bincount(y, minlength=10) / len(y)).max() < 0.02
    assert [r.train_samples for r in recorded] == [100, 300, 900]
    assert [r.progress for r in recorded] == pytest.approx([1 / 9, 1 / 3, 1.0])


def test_low_rungs_are_scored_on_a_stratified_third_of_the_validation_split_and_the_rest_on_all_of_it():
    y = imbalanced_labels(2700)
    X = np.arange(len(y), dtype=np.float32).reshape(-1, 1)
    data = FitData(X[:1800], y[:1800], X[1800:], y[1800:], (1, 1))  # 900 validation images
    family = RecordingFamily()
    train_on_growing_subsets(family, {}, data, lambda r, checkpoint=None: None, seed=0, sizes=[300, 900, 1800])
    low, also_low, full = family.validation_rows
    assert len(low) == 300 and low == also_low, "a third, the same for every low rung"
    share = np.bincount(y[low], minlength=10) / len(low)
    assert np.abs(share - np.bincount(y[1800:], minlength=10) / 900).max() < 0.02, "stratified"
    assert full == list(range(1800, 2700)), "the full budget is scored on all of it"
    tiny = FitData(X[:1800], y[:1800], X[1800:2070], y[1800:2070], (1, 1))  # a third: 9 images per class
    train_on_growing_subsets(family, {}, tiny, lambda r, checkpoint=None: None, seed=0, sizes=[150, 1800])
    assert len(family.validation_rows[-2]) == 270, "too small a part to rank by: all of it"


@pytest.mark.parametrize(
    ("fidelity", "rungs", "expected"),
    [
        ("samples", Rungs(), AshaRungs("train_samples", 132, 1_212, 3)),
        ("epochs", Rungs(), AshaRungs("epochs_done", 1, 15, 3)),
        ("epochs", Rungs(grace_period=3, reduction_factor=2), AshaRungs("epochs_done", 3, 15, 2)),
        ("epochs", Rungs(grace_period=40), AshaRungs("epochs_done", 15, 15, 3)),
        ("samples", Rungs(scheduler="none"), None),
    ],
)
def test_asha_compares_trials_at_rungs_of_the_familys_budget(fidelity, rungs, expected):
    assert asha_rungs(fidelity, rungs, max_epochs=15, sizes=[132, 396, 1_212]) == expected


def test_each_report_says_how_many_of_its_training_seconds_the_trial_waited_for_a_busy_cpu(monkeypatch):
    clock = iter([0.0, 10.0, 20.0])  # the trial starts, reports after 10 s, after 20 s
    monkeypatch.setattr(fidelity.time, "monotonic", lambda: next(clock))
    waits = iter([10.0, 10.0 + 3.0, 10.0 + 1e9])  # the process's threads' waits so far, at the same moments
    sent = []
    report = timed(lambda r, checkpoint=None: sent.append(r), threads=2, cpu_wait=lambda: next(waits))
    report(TrialReport.after_epoch(1, 2, 0.5))
    report(TrialReport.after_epoch(2, 2, 0.6))
    assert sent[0].cpu_wait_seconds == 1.5, "3 s of waits over the trial's 2 threads"
    assert sent[1].cpu_wait_seconds == sent[1].training_seconds == 20.0, "never more than the seconds it trained"
    monkeypatch.undo()
    unknown = []
    timed(lambda r, checkpoint=None: unknown.append(r))(TrialReport.after_fit(0.9))
    assert unknown[0].cpu_wait_seconds is None and unknown[0].training_seconds >= 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's schedstat")
def test_a_thread_sharing_its_core_with_a_busy_process_waits_for_it_about_half_the_time():
    core = min(os.sched_getaffinity(0))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    kept = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(busy.pid, {core})
        os.sched_setaffinity(0, {core})  # this thread only, on Linux
        before, started = cpu_wait_seconds(), time.monotonic()
        while time.monotonic() - started < 1.0:
            pass
        waited = cpu_wait_seconds() - before
    finally:
        os.sched_setaffinity(0, kept)
        busy.kill()
        busy.wait()
    assert 0.3 < waited < 1.0, waited
