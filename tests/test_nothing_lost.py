"""Nothing lost: the study on disk, a killed driver resumed, damaged state rebuilt, one run per folder.

Every test runs the command line on real Ray with the study in a real Optuna journal, and kills,
damages or races it the way a user's machine would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import psutil
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from search.records.storage import Storage
from search.records.study import INTERRUPTED, JOURNAL_FILE, RUN, TUNE_TRIAL_ID, open_study_place
from search.tune.resume import plan_resume, tune_state_problem
from tests.conftest import ROOT
from tests.ray_nodes import wait_for
from tests.test_cli import run_cli, signal_when_printed

pytestmark = pytest.mark.slow  # every test runs the command line, or reads a run it made

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
NUM_SAMPLES = 10


def load_study(run_dir: Path) -> optuna.Study:
    """The run's study, read from its journal as optuna-dashboard or a notebook would."""
    storage = JournalStorage(JournalFileBackend(str(run_dir / JOURNAL_FILE)))
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


def finished_ids(run_dir: Path) -> set[str]:
    """Ray Tune ids of the trials the study records as finished (none while it is not made yet)."""
    storage = JournalStorage(JournalFileBackend(str(run_dir / JOURNAL_FILE)))
    if not optuna.get_all_study_names(storage):
        return set()
    study = load_study(run_dir)
    return {t.user_attrs[TUNE_TRIAL_ID] for t in study.get_trials(states=FINISHED) if INTERRUPTED not in t.user_attrs}


def start_search(out: Path, *options: str, num_samples: int = NUM_SAMPLES) -> subprocess.Popen:
    command = [sys.executable, "-m", "search.run", "--family", "mlp", "--dataset", "digits", "--scheduler", "none",
               "--num-samples", str(num_samples), "--time-budget", "10m", "--patience", "0", "--output-dir", str(out),
               *options]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_after_finished(process: subprocess.Popen, out: Path, finished: int) -> tuple[set[str], dict[int, float]]:
    """SIGKILL the driver once the study records ``finished`` trials; what had finished, and its processes."""
    deadline = time.monotonic() + 180
    done: set[str] = set()
    while time.monotonic() < deadline and len(done) < finished:
        time.sleep(0.5)
        if (out / JOURNAL_FILE).exists():
            done = finished_ids(out)
    processes = {p.pid: p.create_time() for p in psutil.Process(process.pid).children(recursive=True)}
    process.kill()
    process.communicate(timeout=30)
    assert len(done) >= finished, "the search never got that far"
    return finished_ids(out), processes


def still_alive(processes: dict[int, float]) -> list[str]:
    alive = []
    for pid, started in processes.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process.name())
        except psutil.Error:
            continue
    return alive


def assert_finished_with_every_trial(out: Path, kept: set[str]) -> pd.DataFrame:
    trials = pd.read_csv(out / "trials.csv")
    assert kept <= set(trials["trial_id"]), "every trial that finished before the stop is in the results"
    assert len(trials) == NUM_SAMPLES and trials["trial_id"].is_unique
    study = load_study(out)
    run_trials = [t for t in study.trials if INTERRUPTED not in t.user_attrs]
    assert len(run_trials) == len(trials), "the study and trials.csv count the same trials"
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING)), "no trial is left open"
    return trials


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A search whose driver was SIGKILLed after 4 trials had finished (copied for each test that damages it)."""
    out = tmp_path_factory.mktemp("killed") / "run"
    kept, processes = kill_after_finished(start_search(out), out, 4)
    shutil.copytree(out, out.parent / "as killed")  # the first test resumes the run itself
    return out, kept, processes


def copy_of(run: Path, tmp_path: Path) -> Path:
    """The killed run, as it was killed, in a folder of its own; its journal goes with it."""
    copy = tmp_path / "run"
    shutil.copytree(run.parent / "as killed", copy)
    return copy


def test_a_killed_driver_leaves_no_ray_process_and_resume_keeps_every_finished_trial(killed_run):
    out, kept, processes = killed_run
    try:  # 2 s of grace, then the watchdog's kill; a worker started after its last look ends with its raylet,
        wait_for(lambda: not still_alive(processes), timeout=15)  # seconds later under CI's load (once: >5 s)
    except TimeoutError:
        pytest.fail(f"Ray processes of the run outlived it by more than 15 s: {still_alive(processes)}")
    behind = tune_state_problem(Storage(None, str(out)), str(out / "tune"), kept)
    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    if behind is None:  # Ray Tune saved its state after the last trial ended: it goes on from there
        assert f"going on from Ray Tune's saved state ({len(kept)} finished trials)" in result.stdout
    else:  # the study is the record of what finished; Ray Tune's state, saved every so often, is behind it
        assert f"going on from the study: {len(kept)} finished trials kept" in result.stdout
    print(f"\nRay Tune's state was {behind or 'up to date'}; killed after {len(kept)} finished trials")
    trials = assert_finished_with_every_trial(out, kept)
    assert trials["status"].eq("completed").all()
    study = load_study(out)
    for trial in study.get_trials(states=(TrialState.COMPLETE,)):
        assert trial.user_attrs["budget_reached"] == trial.params["epochs"] and trial.user_attrs["training_seconds"] > 0
        assert len(trial.intermediate_values) == trial.params["epochs"], "every epoch's score is in the study"
        assert trial.user_attrs[RUN] == json.loads((out / "settings.json").read_text())["run_id"]


DAMAGE = {
    "experiment state deleted": "missing",
    "experiment state truncated": "damaged (experiment_state-",
    "searcher state emptied": "damaged (searcher-state-",
    "whole tune folder deleted": "missing",
}


def damage(out: Path, kind: str) -> None:
    """Damage the run's Ray Tune state as ``kind`` says."""
    tune_dir = out / "tune"
    state = max(tune_dir.glob("experiment_state-*.json"))
    if kind == "experiment state deleted":
        state.unlink()
    elif kind == "experiment state truncated":
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    elif kind == "searcher state emptied":
        max(tune_dir.glob("searcher-state-*.pkl")).write_bytes(b"")
    else:
        shutil.rmtree(tune_dir)


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_each_kind_of_damage_to_ray_state_is_found_and_the_study_keeps_every_finished_trial(killed_run, tmp_path, kind):
    """In-process, as ``--resume`` plans; the rebuild that follows is the same for each (the test below)."""
    out = copy_of(killed_run[0], tmp_path)
    kept = finished_ids(out)
    damage(out, kind)
    settings = json.loads((out / "settings.json").read_text())
    place = open_study_place(None, settings["study_name"], out, create=False)
    plan = plan_resume(Storage(None, str(out)), settings["experiment_name"], place, settings["run_id"])
    assert not plan.restore and plan.problem.startswith(DAMAGE[kind]), plan.problem
    assert {t.user_attrs[TUNE_TRIAL_ID] for t in plan.kept} == kept


def test_damaged_ray_state_is_rebuilt_from_the_study_keeping_every_finished_trial(killed_run, tmp_path):
    out = copy_of(killed_run[0], tmp_path)
    kept = finished_ids(out)
    damage(out, "experiment state truncated")
    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"going on from the study: {len(kept)} finished trials kept" in result.stdout
    assert "Traceback" not in result.stderr
    assert_finished_with_every_trial(out, kept)
    assert json.loads((out / "settings.json").read_text())["experiment_name"].startswith("tune-rebuilt-")


def test_a_finished_trials_folder_deleted_does_not_stop_the_resume(killed_run, tmp_path):
    """Damage that the resume checks do not look for: the search goes on, every finished trial kept."""
    out = copy_of(killed_run[0], tmp_path)
    kept = finished_ids(out)
    # a SIGKILL may come before Ray Tune copied the trial's folder into tune/: then it is missing already
    for folder in [p for p in (out / "tune").iterdir() if p.is_dir() and p.name.split("_")[2] == sorted(kept)[0]]:
        shutil.rmtree(folder)
    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert_finished_with_every_trial(out, kept)


def test_resume_with_neither_ray_state_nor_study_exits_2_in_one_line(killed_run, tmp_path):
    out = copy_of(killed_run[0], tmp_path)
    shutil.rmtree(out / "tune")
    (out / JOURNAL_FILE).unlink()
    before = sorted(p.name for p in out.iterdir())
    result = run_cli("--resume", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot resume: Ray Tune's state in ") and result.stderr.count("\n") == 1
    assert "is missing, and the study" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == before, "nothing written"


def test_a_second_run_or_a_resume_of_a_running_search_exits_2_at_once_and_mixes_nothing_in(tmp_path):
    out = tmp_path / "run"
    process = start_search(out, num_samples=4)
    for line in process.stdout:
        if "trial   1/" in line:
            break
    second = start_search(out, num_samples=4)
    second_output = second.communicate(timeout=120)[0]
    resumed = run_cli("--resume", str(out))
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    assert second.returncode == 2 and f"error: {out} is in use by another run (process " in second_output
    assert resumed.returncode == 2 and "is in use by another run" in resumed.stderr
    assert len(pd.read_csv(out / "trials.csv")) == 4
    assert len([d for d in (out / "tune").iterdir() if d.name.startswith("mlp_trial_")]) == 4, "not mixed"


def test_sigterm_during_the_retrain_stops_gracefully_and_resume_retrains(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "search.run", "--family", "svc", "--max-train-samples", "2500",
               "--num-samples", "2", "--output-dir", str(out)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = signal_when_printed(process, "retraining on", signal.SIGTERM)
    assert process.returncode == 143, stderr
    assert f"stopped by SIGTERM; continue it with --resume {out}" in stderr and "Traceback" not in stderr
    assert not (out / "report.json").exists()
    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "going on from Ray Tune's saved state (2 finished trials)" in result.stdout
    assert len(pd.read_csv(out / "trials.csv")) == 2 and (out / "report.json").is_file()


@pytest.mark.slow
def test_sigterm_to_the_whole_process_group_ends_the_run_within_seconds_and_resume_finishes_it(tmp_path):
    """As systemd and Slurm stop a job: the local Ray gets the signal too, and Ray Tune cannot save."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "search.run", "--family", "mlp", "--dataset", "digits", "--num-samples", "3",
               "--max-concurrent", "1", "--output-dir", str(out)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    for line in process.stdout:
        if "trial   1/3" in line:
            sent = time.monotonic()
            os.killpg(process.pid, signal.SIGTERM)
            break
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert time.monotonic() - sent < 10, "not Ray Tune's minute of waiting for the Ray it lost"
    assert f"continue it with --resume {out}" in stderr and "Traceback" not in stderr
    # the run folder moved to another disk (a copy is tests/test_cli.py's): it goes on where it is now
    original, out = out, tmp_path / "other-disk" / "run"
    shutil.move(original, out)

    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert f"in {out}/study.journal" in result.stdout
    assert json.loads((out / "report.json").read_text())["trials"]["total"] == 3
    assert not original.exists(), "nothing written where the folder was"
