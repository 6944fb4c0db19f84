"""The command line, run in a subprocess as a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from search.core.data import shipped_mnist_dir
from search.families import FAMILIES
from tests.conftest import ROOT

REPORT_KEYS = {
    "family", "dataset", "best_config", "validation_accuracy", "test_accuracy", "test_accuracy_ci95",
    "baseline_test_accuracy", "trials", "scheduler", "search_seconds", "training_core_share", "retrain_seconds",
}  # fmt: skip


def run_cli(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment.pop("SEARCH_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "search.run", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=environment,
    )  # fmt: skip


def signal_when_printed(process: subprocess.Popen, text: str, signum: int, timeout: float = 120) -> str:
    """Send ``signum`` once ``process`` prints a line holding ``text``; its standard error once it ends."""
    for line in process.stdout:
        if text in line:
            process.send_signal(signum)
            break
    _, stderr = process.communicate(timeout=timeout)
    return stderr


@pytest.mark.slow
def test_end_to_end_on_digits(tmp_path):
    out = tmp_path / "run"
    out.mkdir()  # an empty folder is fine
    result = run_cli(
        "--family", "logistic", "--dataset", "digits", "--num-samples", "8", "--patience", "0", "--output-dir", str(out)
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Ray dashboard: http://" in result.stdout
    assert "Token authentication is enabled" not in result.stderr, "the dashboard's line says it, in a few words"
    assert "trial   8/8" in result.stdout, "progress is printed while the search runs"
    assert "Configuration for experiment" not in result.stdout, "our progress lines, not Ray's box"
    assert "| logistic | digits |" in result.stdout
    for name in ("settings.json", "trials.csv", "best_config.json", "model.joblib", "report.json", "report.md"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 8 and {"C", "max_iter", "validation_accuracy", "status", "train_samples"} <= set(trials)
    statuses = trials["status"].value_counts()
    assert report["trials"] == {"total": 8, "completed": statuses["completed"],
                                "stopped_early": statuses.get("stopped_early", 0), "failed": 0,
                                "retried": 0}  # fmt: skip
    stopped = trials[trials["status"] == "stopped_early"]
    assert len(stopped) > 0 and statuses["completed"] > 0, "ASHA stops some of 8 trials and lets some finish"
    assert (stopped["train_samples"] < trials["train_samples"].max()).all(), "how far a stopped trial got"
    assert report["scheduler"] == "asha" and 0 < report["training_core_share"] <= 1
    assert report["test_accuracy"] > 0.9
    low, high = report["test_accuracy_ci95"]
    assert low < report["test_accuracy"] < high
    completed = trials[trials["status"] == "completed"]
    assert report["validation_accuracy"] == pytest.approx(completed["validation_accuracy"].max())
    settings = json.loads((out / "settings.json").read_text())
    assert settings["splits"]["test"] == 450 and settings["splits"]["validation_seed"] == 0
    assert json.loads((out / "best_config.json").read_text()) == report["best_config"]


@pytest.mark.slow
def test_end_to_end_on_real_mnist_rows_with_no_data_flags_and_no_tensorflow(tmp_path):
    out = tmp_path / "run"
    args = ["--family", "svc", "--max-train-samples", "600", "--num-samples", "3", "--output-dir", str(out), "--quiet"]
    code = (
        f"import sys; from search.run import main; code = main({args!r}); "
        "assert 'tensorflow' not in sys.modules, 'an svc run imported tensorflow'; sys.exit(code)"
    )
    environment = {k: v for k, v in os.environ.items() if k != "SEARCH_DATA_DIR"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env=environment)  # fmt: skip
    assert result.returncode == 0, result.stderr
    settings = json.loads((out / "settings.json").read_text())
    assert settings["data_source"].startswith("the IDX files shipped with the package")
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"] == "mnist" and report["baseline_test_accuracy"] == 0.946
    assert report["test_samples"] == 17_500, "the test split never shrinks"
    assert report["test_accuracy"] > 0.8
    assert "trial " not in result.stdout and "Configuration for experiment" not in result.stdout, "--quiet is quiet"


def bad_space(tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text("gamma: {type: float, low: 0.0, high: 1.0, log: true}\n")
    return str(path)


def truncated_mnist(tmp_path: Path) -> str:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for path in shipped_mnist_dir().glob("*.gz"):
        (folder / path.name).write_bytes(path.read_bytes())
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:5000])
    return str(folder)


def damaged_run(tmp_path: Path) -> str:
    """A run folder whose settings.json holds a value no run could have started with."""
    folder = tmp_path / "damaged"
    folder.mkdir()
    settings = {"family": "svc", "space_path": "spaces/svc.yaml", "num_samples": 0, "time_budget_s": 60,
                "output_dir": str(folder)}  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(settings))
    return str(folder)


BAD_INPUTS = {
    "unknown family": (lambda tmp: ["--family", "xgboost"], "invalid choice: 'xgboost'"),
    "bad space": (lambda tmp: ["--family", "svc", "--space", bad_space(tmp)], "bad.yaml: parameter 'gamma': "),
    "missing space": (lambda tmp: ["--family", "svc", "--space", str(tmp / "none.yaml")], "cannot read space"),
    "zero samples": (lambda tmp: ["--family", "svc", "--num-samples", "0"], "must be at least 1"),
    "bad budget": (lambda tmp: ["--family", "svc", "--time-budget", "soon"], "cannot read time budget"),
    "empty data dir": (lambda tmp: ["--family", "svc", "--data-dir", str(tmp)], "has no train-images"),
    "truncated data": (
        lambda tmp: ["--family", "svc", "--data-dir", truncated_mnist(tmp)],
        "t10k-images-idx3-ubyte.gz: cannot read",
    ),
    "negative gpus": (lambda tmp: ["--family", "cnn", "--gpus-per-trial", "-1"], "must be 0 or more"),
    "unknown scheduler": (lambda tmp: ["--family", "svc", "--scheduler", "fast"], "invalid choice: 'fast'"),
    "reduction factor 1": (
        lambda tmp: ["--family", "svc", "--reduction-factor", "1"],
        "--reduction-factor must be at least 2",
    ),
    "no sample rungs": (lambda tmp: ["--family", "svc", "--sample-rungs", "0"], "must be at least 1 (got 0)"),
    "negative patience": (lambda tmp: ["--family", "svc", "--patience", "-1"], "--patience must be 0 or more (got -1)"),
    "end chance of 1": (
        lambda tmp: ["--family", "svc", "--end-chance", "1"],
        "--end-chance must be between 0 and 1 (got 1)",
    ),
    "resume nothing": (lambda tmp: ["--resume", str(tmp)], "not a run's results folder"),
    "resume damaged settings": (lambda tmp: ["--resume", damaged_run(tmp)], "settings.json is damaged (--num-samples"),
    "resume with options it would not use": (
        lambda tmp: ["--resume", damaged_run(tmp), "--time-budget", "5m", "--quiet"],
        "--time-budget cannot change them (only --address, --quiet, --debug and --study-storage",
    ),
    "no family": (lambda tmp: ["--dataset", "digits"], "choose a --family"),
    "too few images to split": (
        lambda tmp: ["--family", "svc", "--dataset", "digits", "--max-train-samples", "5"],
        "cannot split the digits data with --max-train-samples 5",
    ),
    "unknown storage scheme": (
        lambda tmp: ["--family", "svc", "--storage-path", "nope://bucket/runs"],
        "--storage-path nope://bucket/runs: cannot open it (Unrecognized filesystem type",
    ),
    "unreachable storage": (
        lambda tmp: ["--family", "svc", "--storage-path", "s3://runs/x?endpoint_override=http://127.0.0.1:9"],
        "cannot open it (When getting information for bucket 'runs'",
    ),
    "storage path is a file": (
        lambda tmp: ["--family", "svc", "--storage-path", bad_space(tmp)],
        "bad.yaml: it is a file, not a folder",
    ),
    "space for all": (
        lambda tmp: ["--family", "all", "--space", bad_space(tmp)],
        "cannot be used with --family all",
    ),
    "space for several": (
        lambda tmp: ["--family", "svc,cnn", "--space", bad_space(tmp)],
        "cannot be used with --family svc,cnn",
    ),
    "unknown family in a list": (lambda tmp: ["--family", "svc,xgboost"], "invalid choice: 'xgboost' (choose from"),
}


def test_several_families_are_named_with_commas_and_searched_in_the_order_given(tmp_path):
    from search.run import build_parser, plan_new_run

    args = build_parser().parse_args(["--family", "svc, logistic,svc", "--output-dir", str(tmp_path / "out")])
    output_dir, plans = plan_new_run(args)
    assert [p.family for p in plans] == ["svc", "logistic"], "once each, in the order given"
    assert [p.output_dir for p in plans] == [output_dir / "svc", output_dir / "logistic"]
    assert [p.family for p in plan_new_run(build_parser().parse_args(["--family", "all"]))[1]] == sorted(FAMILIES)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    """In-process through ``main(argv)``, as the command line calls it; one case runs as a subprocess below."""
    from search.run import main

    monkeypatch.delenv("SEARCH_DATA_DIR", raising=False)
    make_args, message = BAD_INPUTS[case]
    out = tmp_path / "out"
    args = make_args(tmp_path)
    assert main(args if "--resume" in args else [*args, "--output-dir", str(out)]) == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr
    assert not out.exists(), "no results folder is left behind"


def test_bad_input_from_the_shell_exits_2_with_one_line(tmp_path):
    out = tmp_path / "out"
    result = run_cli("--family", "svc", "--num-samples", "0", "--output-dir", str(out), timeout=120)
    assert result.returncode == 2 and result.stderr == "error: --num-samples must be at least 1 (got 0)\n"
    assert not out.exists()
    unknown = run_cli("--family", "xgboost", timeout=120)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "invalid choice: 'xgboost'" in unknown.stderr


def test_an_existing_results_folder_is_never_overwritten(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    result = run_cli("--family", "logistic", "--dataset", "digits", "--output-dir", str(out), timeout=120)
    assert result.returncode == 2 and "already exists and is not empty" in result.stderr
    assert (out / "report.json").read_text() == "{}"


def test_help_lists_every_family_and_option():
    result = run_cli("--help", timeout=60)
    assert result.returncode == 0
    assert "--family {" + ",".join([*sorted(FAMILIES), "all"]) + "}" in result.stdout, "the families, from the registry"
    options = ("--time-budget", "--data-dir", "--address", "--max-concurrent", "--scheduler", "--sample-rungs")
    for text in options:
        assert text in result.stdout


@pytest.mark.slow
def test_ctrl_c_stops_the_search_and_resume_of_a_copy_finishes_it(tmp_path):
    """SIGTERM's stop and resume: tests/test_nothing_lost.py."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "search.run", "--family", "mlp", "--dataset", "digits", "--num-samples", "4",
               "--max-concurrent", "1", "--time-budget", "10m", "--output-dir", str(out)]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = signal_when_printed(process, "trial   2/4", signal.SIGINT)
    assert process.returncode == 130, stderr
    assert f"search stopped by SIGINT; Ray Tune saved its state; continue it with --resume {out}" in stderr
    assert "Traceback" not in stderr and "Tuner.restore" not in stderr, "our --resume hint, not Ray's"
    assert not (out / "report.json").exists()
    # the run folder goes on elsewhere: a copy
    original, out = out, tmp_path / "elsewhere" / "run"
    shutil.copytree(original, out)
    before = folder_digest(original)

    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert folder_digest(original) == before, "the copy's resume writes nothing to the original"
    assert f"in {out}/study.journal" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["trials"]["total"] == 4, "trials finished before the stop are kept, the rest are run"
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and trials["validation_accuracy"].notna().sum() >= 3

    again = run_cli("--resume", str(out))
    assert again.returncode == 2 and "already finished" in again.stderr


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and a hash of its bytes (nothing when the folder is gone)."""
    import hashlib

    if not folder.exists():
        return {}
    files = (path for path in folder.rglob("*") if path.is_file())
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


TOGETHER = ("logistic", "keras_mlp")


@pytest.mark.slow
def test_families_searched_at_once_keep_their_trials_after_sigkill_and_are_ranked(tmp_path, digits_splits):
    """Two families at once (a scikit-learn one, a Keras one: ``--family all`` runs the same code with
    five), each in its own search process; a SIGKILL of the driver (and so of every family's search) loses
    no finished trial; ``--resume`` of the run folder finishes every family. (That their trials run at the
    same time is ``test_gpu_nodes.py``'s, whose searches last their whole time budget.)"""
    out = tmp_path / "run"
    families = sorted(TOGETHER)
    options = ["--dataset", "digits", "--num-samples", "3", "--max-train-samples", "400", "--output-dir", str(out)]
    command = [sys.executable, "-m", "search.run", "--family", ",".join(TOGETHER), *options]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    searches, commands = [], []
    for line in process.stdout:
        if "trial   2/3" in line:  # some family has finished two trials; the others are running theirs
            searches = psutil.Process(process.pid).children(recursive=True)
            commands = [argv for argv in map(command_line, searches) if "--together" in argv]
            process.kill()
            break
    searching = sorted(argv[argv.index("--family") + 1] for argv in commands)
    assert searching == families, "every family's search was running when the driver was killed"
    process.wait(timeout=60)
    psutil.wait_procs(searches, timeout=60)  # the watchdog ends every family's search with the driver
    kept = finished_trials(out)
    assert sum(len(ids) for ids in kept.values()) >= 2
    assert json.loads((out / "families.json").read_text())["families"].keys() == set(TOGETHER)

    result = run_cli("--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Checkpoint successfully created" not in result.stdout + result.stderr, "one line per epoch is noise"
    assert "oneDNN" not in result.stdout + result.stderr, "TensorFlow's native start-up lines stay out"
    trials = {family: pd.read_csv(out / family / "trials.csv") for family in families}
    for family, ids in kept.items():
        assert ids <= set(trials[family]["trial_id"]), f"{family}: the trials finished before the SIGKILL are kept"
    for family in families:
        folders = {p.name.split("_trial_")[0] for p in (out / family).glob("tune*/*_trial_*")}
        assert folders == {family}, f"{family}'s Ray Tune folder holds its own trials only, not {folders}"
    table = [row for row in result.stdout.split("results:")[0].splitlines() if row.startswith("| ")]
    assert sorted(row.split("|")[1].strip() for row in table[-len(families) :]) == families
    reports = json.loads((out / "report.json").read_text())
    assert sorted(r["family"] for r in reports) == families
    for report in reports:
        module = FAMILIES[report["family"]]
        model = module.load(out / report["family"] / module.MODEL_FILE)
        accuracy = np.mean(module.predict(model, digits_splits.X_test) == digits_splits.y_test)
        assert accuracy == pytest.approx(report["test_accuracy"]), "the saved model loads back to its test accuracy"
        assert (out / report["family"] / "report.html").is_file(), "each family's own report"
        ended = json.loads((out / "allocation" / report["family"] / "search-ended.json").read_text())
        assert ended["why"] == report["search_ended"]["why"], "the allocator learnt why its search ended"
    combined = (out / "report.html").read_text()
    assert '<figure id="best_so_far">' in combined, "the best-so-far curves together"
    assert all(f"<td>{family}</td>" in combined for family in families), "every family's summary"

    ranking = json.loads((out / "ranking.json").read_text())
    by_validation = sorted(reports, key=lambda r: (-r["validation_accuracy"], r["family"]))
    assert ranking["order"] == [r["family"] for r in by_validation], "ranked on validation, not test"
    winner, runner_up = (np.load(out / family / "test_predictions.npz") for family in ranking["order"][:2])
    assert ranking["mcnemar"]["only_first"] == np.sum(
        (winner["y_pred"] == winner["y_true"]) & (runner_up["y_pred"] != winner["y_true"])
    )
    assert f"winner by validation accuracy: {ranking['winner']}" in result.stdout
    assert "Which model" in combined and "McNemar p = " in combined


def command_line(process: psutil.Process) -> list[str]:
    """A process's command line; empty once it has ended."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def finished_trials(run: Path) -> dict[str, set[str]]:
    """Ray Tune's ids of the trials each family's study holds as finished, by family."""
    from search.records.study import TUNE_TRIAL_ID, finished_by_themselves, open_study_place, trials_of_run

    kept = {}
    for settings_file in run.glob("*/settings.json"):
        settings = json.loads(settings_file.read_text())
        study = open_study_place(None, settings["study_name"], settings_file.parent).load()
        trials = finished_by_themselves(trials_of_run(study, settings["run_id"])) if study else []
        kept[settings["family"]] = {t.user_attrs[TUNE_TRIAL_ID] for t in trials}
    return kept


@pytest.mark.slow
def test_asking_for_gpus_the_cluster_lacks_is_bad_input(tmp_path):
    out = tmp_path / "run"
    result = run_cli("--family", "cnn", "--dataset", "digits", "--gpus-per-trial", "0.5", "--output-dir", str(out))
    assert result.returncode == 2
    assert "--gpus-per-trial 0.5, but the cluster has 0 GPUs" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "family", "scheduler", "grace_period"),
    [
        (["--family", "cnn"], "cnn", "none", 3),
        (["--family", "cnn", "--scheduler", "asha"], "cnn", "asha", 3),
        (["--family", "keras_mlp"], "keras_mlp", "asha", 1),
        (["--family", "cnn", "--dataset", "digits"], "cnn", "asha", 1),
        (["--family", "cnn", "--scheduler", "asha", "--grace-period", "2"], "cnn", "asha", 2),
    ],
)
def test_early_stopping_defaults_are_the_familys_unless_told(args, family, scheduler, grace_period):
    from search.options import resolve_settings
    from search.run import build_parser

    settings = resolve_settings(build_parser().parse_args(args), family)
    assert (settings.rungs.scheduler, settings.rungs.grace_period) == (scheduler, grace_period)


def test_a_failure_is_told_in_one_line_that_says_what_failed():
    from search.run import failure_line

    wrapped = RuntimeError('Traceback (most recent call last):\n  File "x.py", line 1\nOSError: disk full\n')
    assert failure_line(wrapped) == "OSError: disk full", "Ray's wrapped traceback: its last line"
    assert failure_line(ConnectionError()) == "ConnectionError", "an empty message: the exception's name"
    assert failure_line(ValueError("bad value\nmore")) == "bad value"


def test_a_local_ray_that_cannot_start_is_one_line_exit_1_and_leaves_no_folder(tmp_path):
    long_tmp = tmp_path / ("x" * 110)  # Ray's AF_UNIX socket paths would exceed 107 bytes
    long_tmp.mkdir()
    out = tmp_path / "run"
    result = run_cli("--family", "logistic", "--dataset", "digits", "--output-dir", str(out), timeout=120,
                     env={"RAY_TMPDIR": str(long_tmp)})  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr  # (Ray's C++ side may warn first, offline)
    assert errors[0].startswith("error: could not start a local Ray: ") and "107 bytes" in errors[0]
    assert result.stderr.rstrip().splitlines()[-1] == errors[0] and "Traceback" not in result.stderr
    assert not out.exists(), "no half-made folder that neither a new run nor --resume could use"


def _network_namespace_allowed() -> bool:
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not shutil.which("unshare") or not _network_namespace_allowed(), reason="needs unshare --net")
def test_a_local_ray_on_a_machine_whose_loopback_is_down_is_one_line_not_a_wait_without_end(tmp_path):
    """In a network namespace whose ``lo`` is down (``unshare --net``), ray.init waited for its processes forever
    (killed after 5 minutes, printing Ray's "Failed to connect to GCS" every 40 s)."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "search.run", "--family", "logistic", "--dataset", "digits", "--output-dir",
               str(out)]  # fmt: skip
    result = subprocess.run(["unshare", "--net", *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and errors == result.stderr.strip().splitlines(), result.stderr
    assert errors[0].startswith("error: could not start a local Ray: this machine's loopback network takes no")
    assert "ip link set lo up" in errors[0] and not out.exists()
