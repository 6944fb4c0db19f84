"""Settings check themselves against one constraints table, on a new run and on --resume alike."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from search.core.settings import CONSTRAINTS, DEFAULT_RUNGS, Rungs, Settings, SettingsError, option_name, parse_duration
from search.options import resolve_settings, shared_time_budget
from search.run import build_parser, rung_default


def settings(**changes) -> Settings:
    base = Settings(
        family="svc", space_path=Path("/s/svc.yaml"), num_samples=5, time_budget_s=60, output_dir=Path("/r")
    )
    return replace(base, **changes)


@pytest.mark.parametrize(("text", "seconds"), [("600", 600), ("90s", 90), ("30m", 1800), ("2h", 7200), (" 1.5m ", 90)])
def test_durations_read_as_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "message"), [("soon", "cannot read time budget"), ("0m", "more than 0 seconds")])
def test_unreadable_durations_are_rejected(text, message):
    with pytest.raises(SettingsError, match=message):
        parse_duration(text)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_samples": 0}, "--num-samples must be at least 1 (got 0)"),
        ({"num_samples": 2.5}, "--num-samples must be a whole number"),
        ({"time_budget_s": 0}, "--time-budget must be more than 0 (got 0)"),
        ({"validation_fraction": 0.7}, "--validation-fraction must be between 0 and 0.5 (got 0.7)"),
        ({"cpus_per_trial": -1}, "--cpus-per-trial must be more than 0 (got -1)"),
        ({"gpus_per_trial": -1}, "--gpus-per-trial must be 0 or more (got -1)"),
        ({"max_concurrent": 0}, "--max-concurrent must be at least 1"),
        ({"dataset": "cifar"}, "--dataset must be one of mnist, digits"),
        ({"rungs": Rungs(reduction_factor=1)}, "--reduction-factor must be at least 2 (got 1)"),
        ({"rungs": Rungs(scheduler="hyperband")}, "--scheduler must be one of asha, none"),
        ({"rungs": Rungs(sample_rungs=0)}, "--sample-rungs must be at least 1 (got 0)"),
    ],
)
def test_a_setting_out_of_range_is_rejected_naming_its_option(changes, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings(**changes)


def test_every_constraint_names_an_option_of_the_command_line():
    usage = build_parser().format_usage()  # each option once: [--time-budget DURATION]
    for name in CONSTRAINTS:
        assert f"[{option_name(name)} " in usage, name


def test_settings_round_trip_through_settings_json():
    original = settings(gpus_per_trial=0.5, rungs=Rungs(scheduler="none", grace_period=3), data_dir="/data")
    assert Settings.from_dict(json.loads(json.dumps(original.to_dict()))) == original


def test_a_run_recorded_before_the_rungs_were_one_value_still_resumes():
    recorded = {k: v for k, v in settings().to_dict().items() if k != "rungs"}
    recorded.update(scheduler="none", reduction_factor=2, grace_period=3, sample_rungs=4)
    assert Settings.from_dict(recorded).rungs == Rungs("none", 2, 3, 4)


def test_recorded_settings_are_checked_like_new_ones():
    recorded = {**settings().to_dict(), "num_samples": -3}
    with pytest.raises(SettingsError, match="--num-samples must be at least 1"):
        Settings.from_dict(recorded)


def test_the_help_shows_each_default_from_where_it_is_kept():
    assert rung_default("reduction_factor") == str(DEFAULT_RUNGS.reduction_factor)
    assert rung_default("grace_period") == "1; 3 for cnn on MNIST"
    assert rung_default("scheduler") == "asha; none for cnn on MNIST"


def test_options_left_out_take_the_familys_budget_or_the_settings_default():
    resolved = resolve_settings(build_parser().parse_args(["--family", "svc"]), "svc")
    assert (resolved.num_samples, resolved.time_budget_s, resolved.rungs) == (500, 900, DEFAULT_RUNGS)
    assert (resolved.seed, resolved.cpus_per_trial, resolved.validation_fraction) == (0, 1.0, 0.1)


def test_families_searched_at_once_on_mnist_share_a_budget_a_little_longer_than_the_longest_of_their_own():
    parser = build_parser()
    every = ["logistic", "svc", "mlp", "keras_mlp", "cnn"]
    assert shared_time_budget(parser.parse_args(["--family", "all"]), every) == 35 * 60, "keras_mlp's 30, plus 4 x 75 s"
    assert shared_time_budget(parser.parse_args(["--family", "svc,cnn"]), ["svc", "cnn"]) == 22 * 60 + 75
    digits = parser.parse_args(["--family", "svc,cnn", "--dataset", "digits"])
    assert shared_time_budget(digits, ["svc", "cnn"]) == 60, "the digits' own budget, unchanged"
    given = parser.parse_args(["--family", "all", "--time-budget", "10m"])
    assert shared_time_budget(given, ["svc", "cnn"]) == 600
