"""The trial report: one record, its keys in one place, and reports the search cannot use rejected."""

from __future__ import annotations

import dataclasses

import pytest

from search.core import trial_report
from search.core.trial_report import EPOCHS_DONE, TRAIN_SAMPLES, ReportError, TrialReport, reached_full_budget
from search.tune.trial import tune_report


def test_the_metric_keys_are_the_reports_field_names():
    keys = {value for name, value in vars(trial_report).items() if name.isupper() and isinstance(value, str)}
    assert keys == {field.name for field in dataclasses.fields(TrialReport)}


def test_the_constructors_say_how_far_into_its_budget_a_trial_was():
    assert TrialReport.after_epoch(3, 4, 0.9, loss=0.3).to_metrics() == {
        "validation_accuracy": 0.9, "progress": 0.75, "epochs_done": 3, "validation_loss": 0.3,
    }  # fmt: skip
    assert TrialReport.after_fit(0.8).to_metrics() == {"validation_accuracy": 0.8, "progress": 1.0}
    assert TrialReport.after_epoch(4, 4, 0.9).reached_full_budget
    assert not TrialReport.after_epoch(1, 4, 0.9).reached_full_budget


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TrialReport(1.5, 1.0), "validation_accuracy must be between 0 and 1"),
        (lambda: TrialReport(float("nan"), 1.0), "validation_accuracy must be between 0 and 1"),
        (lambda: TrialReport(0.9, 0.0), "progress must be more than 0 and at most 1"),
        (lambda: TrialReport.after_epoch(5, 4, 0.9), "progress must be more than 0 and at most 1"),
        (lambda: TrialReport(0.9, 1.0, validation_loss=float("inf")), "validation_loss must be a finite number"),
    ],
)
def test_an_impossible_report_is_rejected(make, message):
    with pytest.raises(ReportError, match=message):
        make()


def test_a_result_without_progress_is_an_error_not_a_full_budget():
    assert reached_full_budget({"validation_accuracy": 0.9, "progress": 1.0, "time_total_s": 3.0})
    assert not reached_full_budget({"validation_accuracy": 0.9, "progress": 0.5})
    with pytest.raises(ReportError, match="has no progress"):
        reached_full_budget({"validation_accuracy": 0.9, "progres": 1.0})  # a typo no longer picks the winner
    with pytest.raises(ReportError, match="has no validation_accuracy"):
        TrialReport.from_metrics({"accuracy": 0.9, "progress": 1.0})


def test_a_recorded_result_reads_back_as_the_report_that_made_it():
    report = TrialReport(0.9, 1 / 3, train_samples=396, training_seconds=1.5)
    assert TrialReport.from_metrics({**report.to_metrics(), "trial_id": "x", "time_total_s": 2.0}) == report


def test_ray_tune_gets_only_reports_that_say_how_far_they_got_in_the_schedulers_unit():
    with pytest.raises(ReportError, match="must report a TrialReport, not dict"):
        tune_report(EPOCHS_DONE)({"validation_accuracy": 0.9, "progress": 1.0})
    with pytest.raises(ReportError, match="has no epochs_done"):
        tune_report(EPOCHS_DONE)(TrialReport.after_fit(0.9))
    with pytest.raises(ReportError, match="has no train_samples"):
        tune_report(TRAIN_SAMPLES)(TrialReport.after_epoch(1, 2, 0.9))
