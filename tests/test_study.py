"""The Optuna study outside Ray: a journal in the run folder, or a real PostgreSQL database shared by drivers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
import urllib.request

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState

from search.core.settings import Rungs
from search.records.study import CUT_OFF, INTERRUPTED, JOURNAL_FILE, RUN, close_orphans, open_study_place
from tests.digits_search import search_digits
from tests.postgres_server import free_port, postgres_server
from tests.test_cli import run_cli
from tests.test_nothing_lost import load_study

DIGITS = ["--dataset", "digits", "--quiet"]
CUT_OFF_SPACE = (
    "quality: {type: categorical, choices: [0.9]}\nepochs: {type: int, low: 10, high: 10}\n"
    "pause: {type: categorical, choices: [60.0]}\n"
)


@pytest.fixture(scope="module")
def database():
    with postgres_server() as url:
        yield url


def shared_study(url: str, name: str) -> optuna.Study:
    return open_study_place(url, name, run_dir=None).load()


@pytest.mark.postgres
def test_two_drivers_share_one_postgresql_study_and_the_second_warm_starts(database, tmp_path):
    study = ["--study-storage", database, "--study-name", "shared"]
    first = run_cli("--family", "logistic", *DIGITS, "--num-samples", "5", *study, "--output-dir", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    assert "Optuna study 'shared' in postgresql://postgres@127.0.0.1:" in first.stdout, "no password shown"

    second = run_cli("--family", "logistic", *DIGITS, "--num-samples", "4", *study, "--output-dir", str(tmp_path / "b"))
    assert second.returncode == 0, second.stderr
    assert "study 'shared' in postgresql://postgres@" in second.stdout
    assert "holds 5 trials; the search warm-starts from them" in second.stdout

    stored = shared_study(database, "shared")
    assert len(stored.trials) == 9 and all(t.state != TrialState.RUNNING for t in stored.trials)
    runs = {json.loads((tmp_path / f / "settings.json").read_text())["run_id"]: f for f in ("a", "b")}
    by_run = pd.Series([runs[t.user_attrs[RUN]] for t in stored.trials]).value_counts().to_dict()
    assert by_run == {"a": 5, "b": 4}
    assert len(pd.read_csv(tmp_path / "b" / "trials.csv")) == 4
    article = {"C": 1.0, "max_iter": 100}
    assert sum(t.params == article for t in stored.trials) == 1, "the second search does not rerun the article's"

    other = tmp_path / "other.yaml"
    other.write_text("C: {type: float, low: 0.5, high: 2.0}\nmax_iter: {type: int, low: 50, high: 1000, log: true}\n")
    refused = run_cli(
        "--family", "logistic", *DIGITS, "--space", str(other), *study, "--output-dir", str(tmp_path / "c")
    )
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "study 'shared' in postgresql://postgres@" in refused.stderr
    assert "was made by a search of another space (C: stored" in refused.stderr
    assert not (tmp_path / "c").exists()


def test_an_unreachable_database_is_bad_input(tmp_path):
    out = tmp_path / "run"
    result = run_cli("--family", "logistic", *DIGITS, "--study-storage", "postgresql://u:pw@127.0.0.1:1/none",
                     "--output-dir", str(out))  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --study-storage postgresql://u@127.0.0.1:1/none: cannot open it (")
    assert not out.exists()


@pytest.mark.slow
def test_a_search_cut_off_by_its_time_budget_leaves_no_trial_open(ray_cluster, digits_splits, tmp_path):
    # Scripted trials of 10 epochs, 6 s each, under a 15-s budget: longer than the budget, none can finish, so
    # the search starts trials until the deadline cuts the running ones off (at their first or second epoch, or
    # before it). A trial cut before its first report is closed as failed, one cut after it as pruned.
    result = search_digits(digits_splits, tmp_path, "scripted", CUT_OFF_SPACE, num_samples=2000, time_budget_s=15,
                           max_concurrent=2, patience=0, rungs=Rungs(scheduler="none"))  # fmt: skip
    study = load_study(tmp_path)
    trials = result.trials
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    assert len(study.trials) == len(trials) < 2000
    cut = [t for t in study.trials if CUT_OFF in t.user_attrs]
    assert cut, "the time budget cut some trials off"
    assert all(t.state == (TrialState.PRUNED if t.intermediate_values else TrialState.FAIL) for t in cut)
    assert (trials["status"] == "stopped_early").sum() == len(cut) + sum(
        t.state == TrialState.PRUNED for t in study.trials if CUT_OFF not in t.user_attrs
    )
    assert not study.get_trials(states=(TrialState.COMPLETE,)), "no trial of 60 s finished in 15"

    port = free_port()
    dashboard = subprocess.Popen(["optuna-dashboard", "--port", str(port), str(tmp_path / JOURNAL_FILE)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        summaries = poll_json(f"http://127.0.0.1:{port}/api/studies", timeout=60)["study_summaries"]
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
    assert [s["study_name"] for s in summaries] == ["test"], "optuna-dashboard serves the run's journal"


def poll_json(url: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
def test_when_every_trial_fails_one_line_exit_1_and_the_trials_are_written(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(
        "activation: {type: categorical, choices: [no_such_activation]}\nepochs: {type: int, low: 1, high: 2}\n"
    )
    out = tmp_path / "run"
    result = run_cli("--family", "keras_mlp", *DIGITS, "--space", str(space), "--num-samples", "3",
                     "--output-dir", str(out))  # fmt: skip
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout, "tracebacks go to the run folder's log"
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "no trial reported a validation accuracy; first error: ValueError" in error and str(out) in error
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 3 and (trials["status"] == "failed").all()
    assert trials["error"].str.contains("no_such_activation").all()
    log = (out / "trial_errors.log").read_text()
    assert log.count("=== trial ") == 3 and log.count("Traceback (most recent call last)") == 3
    study = load_study(out)
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3
    assert all("no_such_activation" in t.user_attrs["error"] for t in study.trials)


def test_a_trial_asked_for_by_a_killed_driver_before_it_marked_it_is_closed_on_resume(tmp_path):
    """The driver marks each trial with its run right after asking the study for it; killed between the
    two, it leaves a RUNNING trial no run claims. ``--resume`` closes it in the run folder's own journal,
    and leaves a shared database's alone (it may be another driver's trial of this moment)."""
    place = open_study_place(None, "run", tmp_path)
    study = place.create(optuna.samplers.RandomSampler(seed=0))
    marked = study.ask()
    marked.set_user_attr(RUN, "run-1")
    orphan = study.ask()
    shared = dataclasses.replace(place, private=False)
    assert close_orphans(shared, "run-1") == 0 and study.trials[orphan.number].state == TrialState.RUNNING

    assert close_orphans(place, "run-1") == 1
    closed = place.load().trials[orphan.number]
    assert closed.state == TrialState.FAIL and closed.user_attrs[RUN] == "run-1" and INTERRUPTED in closed.user_attrs
    assert place.load().trials[marked.number].state == TrialState.RUNNING, "the run's own trials are resume's to close"


def test_a_trial_the_time_budget_cut_off_before_it_started_counts_as_stopped_not_failed():
    from search.core.kinds import TrialStatus
    from search.records.study import outcome_from_trial

    distributions = {"C": optuna.distributions.FloatDistribution(0.1, 10)}
    cut = optuna.trial.create_trial(state=TrialState.FAIL, params={"C": 1.0}, distributions=distributions,
                                    user_attrs={CUT_OFF: "the search ended while it ran"})  # fmt: skip
    raised = optuna.trial.create_trial(state=TrialState.FAIL, params={"C": 1.0}, distributions=distributions)
    assert outcome_from_trial(cut).status == TrialStatus.STOPPED_EARLY, "the budget ended it, not an error"
    assert outcome_from_trial(raised).status == TrialStatus.FAILED
