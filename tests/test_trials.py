"""Trials as plain data, without Ray: the best-trial rule, the trials table, the core share."""

from __future__ import annotations

import pandas as pd
import pytest

from search.core.trial_report import TrialReport
from search.core.trials import (
    NoTrialScored,
    TrialOutcome,
    best_outcome,
    most_trials_at_once,
    training_core_share,
    trials_table,
)


def outcome(trial_id, accuracy=None, progress=1.0, error=None, **fields):
    last = None if accuracy is None else TrialReport(accuracy, progress, **fields)
    return TrialOutcome(trial_id, {"C": float(len(trial_id))}, last, reports=2, seconds=3.0, error=error)


def test_the_best_is_the_best_full_budget_trial_even_when_a_stopped_one_scored_higher():
    outcomes = [
        outcome("a", 0.95, progress=1 / 3),
        outcome("b", 0.90),
        outcome("c", 0.92),
        outcome("d", 0.99, error="X"),
    ]
    assert best_outcome(outcomes).trial_id == "c"


def test_without_a_full_budget_trial_the_best_score_at_any_budget_wins():
    assert best_outcome([outcome("a", 0.95, progress=1 / 3), outcome("b", 0.90, progress=1 / 9)]).trial_id == "a"


def test_failed_trials_count_only_when_nothing_else_scored():
    assert best_outcome([outcome("a", 0.5, error="ValueError: x"), outcome("b")]).trial_id == "a"
    with pytest.raises(NoTrialScored, match="first error: ValueError: x"):
        best_outcome([outcome("a", error="ValueError: x"), outcome("b")])
    with pytest.raises(NoTrialScored, match="raise --time-budget"):
        best_outcome([outcome("a")])


def test_the_trials_table_has_a_row_and_a_status_per_trial():
    outcomes = [
        outcome("done", 0.9, epochs_done=4),
        outcome("stopped", 0.8, progress=0.25, epochs_done=1, training_seconds=2.0),
        outcome("broken", error="ValueError: bad"),
        outcome("silent"),
    ]
    table = trials_table(outcomes, ["C"])
    assert table["status"].tolist() == ["completed", "stopped_early", "failed", "stopped_early"]
    assert list(table.columns) == [
        "trial_id", "status", "C", "validation_accuracy", "progress", "epochs_done", "train_samples", "reports",
        "seconds", "training_seconds", "error", "node", "attempts", "started_at", "ended_at",
    ]  # fmt: skip
    assert table.loc[1, "epochs_done"] == 1 and table.loc[1, "training_seconds"] == 2.0
    assert table.loc[2, "error"] == "ValueError: bad" and pd.isna(table.loc[3, "validation_accuracy"])


def test_the_core_share_is_training_core_seconds_over_wall_time_times_cpus():
    table = pd.DataFrame({"training_seconds": [30.0, 50.0, None]})
    assert training_core_share(table, seconds=50, cluster_cpus=2, cpus_per_trial=1) == pytest.approx(0.8)
    assert training_core_share(table, seconds=50, cluster_cpus=2, cpus_per_trial=2) == 1.0, "at most all of it"
    assert training_core_share(table, seconds=0, cluster_cpus=2, cpus_per_trial=1) is None


def test_most_trials_at_once_counts_the_overlap_of_their_running_times():
    trials = pd.DataFrame({"started_at": [0.0, 1.0, 2.0, 10.0], "ended_at": [5.0, 3.0, 6.0, 11.0]})
    assert most_trials_at_once(trials) == 3
    assert most_trials_at_once(trials.iloc[[0, 3]]) == 1
