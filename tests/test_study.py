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

from search.records.study import CUT_OFF, INTERRUPTED, JOURNAL_FILE, RUN, close_orphans, open_study_place
from tests.postgres_server import free_port, postgres_server
from tests.test_cli import run_cli
from tests.test_nothing_lost import load_study

DIGITS = ["--dataset", "digits", "--quiet"]
LONG_MLP = (
    "n_layers: {type: int, low: 2, high: 2}\nunits: {type: int, low: 512, high: 512}\n"
    "batch_size: {type: categorical, choices: [32]}\nepochs: {type: int, low: 100, high: 100}\n"
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
def test_a_search_cut_off_by_its_time_budget_leaves_no_trial_open(tmp_path):
    # No trial starts that could not finish in the time left, judged by the quickest that did (search/tune/deadline.py):
    # so the trials cut off here are the first ones, each longer than the whole budget (100 epochs of a wide MLP on
    # 4,000 MNIST images, about a second each). The budget leaves room for a first report on a loaded machine (CI
    # ran out a 15-s budget once before any trial reported). A trial cut before its first report is closed as failed.
    out = tmp_path / "run"
    space = tmp_path / "long_mlp.yaml"
    space.write_text(LONG_MLP)
    result = run_cli("--family", "mlp", "--dataset", "mnist", "--max-train-samples", "4000", "--quiet", "--space",
                     str(space), "--scheduler", "none", "--num-samples", "2000", "--time-budget", "30",
                     "--patience", "0", "--output-dir", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    study = load_study(out)
    trials = pd.read_csv(out / "trials.csv")
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    assert len(study.trials) == len(trials) < 2000
    cut = [t for t in study.trials if CUT_OFF in t.user_attrs]
    assert cut, "the time budget cut some trials off"
    assert all(t.state == (TrialState.PRUNED if t.intermediate_values else TrialState.FAIL) for t in cut)
    assert (trials["status"] == "stopped_early").sum() == len(cut) + sum(
        t.state == TrialState.PRUNED for t in study.trials if CUT_OFF not in t.user_attrs
    )
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        assert trial.user_attrs["budget_reached"] == len(trial.intermediate_values) == trial.params["epochs"]

    port = free_port()
    dashboard = subprocess.Popen(["optuna-dashboard", "--port", str(port), str(out / JOURNAL_FILE)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        summaries = poll_json(f"http://127.0.0.1:{port}/api/studies", timeout=60)["study_summaries"]
    finally:
        dashboard.terminate()
        dashboard.wait(timeout=30)
    assert [s["study_name"] for s in summaries] == ["run"], "optuna-dashboard serves the run's journal"


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
