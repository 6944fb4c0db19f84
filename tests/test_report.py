"""The run's report: report.html with every figure, the PNGs, search.report, and the page in a real browser.

Two real digits searches (svc, budget in training images; mlp, budget in epochs) are made once for
the module; each test reads or rebuilds their folders.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from search.core.predictions import PREDICTIONS_FILE, load_predictions
from search.families import get_family
from tests.conftest import ROOT
from tests.test_cli import run_cli

pytestmark = pytest.mark.slow

FIGURES = (
    "search_progress",
    "importances",
    "slices",
    "learning_curves",
    "confusion_matrix",
    "misclassified",
    "core_seconds",
)
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A finished svc search (to its trial cap) and a finished mlp search on digits, each with ASHA."""
    made = {}
    for family, samples, patience in (("svc", "8", "0"), ("mlp", "8", "6")):
        out = tmp_path_factory.mktemp("runs") / family
        result = run_cli("--family", family, "--dataset", "digits", "--num-samples", samples, "--quiet",
                         "--patience", patience, "--output-dir", str(out))  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"report: {out / 'report.html'}" in result.stdout, "the run says where its report is"
        made[family] = out
    return made


def report_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "search.report", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def embedded_images(page: str) -> dict[str, bytes]:
    """The PNGs in report.html, by their figure's id."""
    found = re.findall(r'<figure id="([a-z_]+)"><img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return {name: base64.b64decode(data) for name, data in found}


def assert_not_blank(png: bytes, what: str) -> None:
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    assert image.shape[0] > 50 and image.shape[1] > 50, what
    colors = len(np.unique(image.reshape(-1, 3), axis=0))
    assert colors > 20 and image.std() > 10, f"{what} is blank or nearly ({colors} colors)"


@pytest.mark.parametrize("family", ["svc", "mlp"])
def test_every_figure_is_in_the_html_and_a_png_and_none_is_blank(runs, family):
    out = runs[family]
    page = (out / "report.html").read_text()
    images = embedded_images(page)
    assert set(images) == set(FIGURES), "every figure drawn, none left out"
    assert 'class="missing"' not in page
    for name in FIGURES:
        png = (out / "figures" / f"{name}.png").read_bytes()
        assert images[name] == png, f"{name}: the page embeds the PNG beside it"
        assert_not_blank(png, name)
        assert f"(figures/{name}.png)" in (out / "report.md").read_text()
    outside = re.findall(r'(?:src|href)="(?!data:)([^"]*)"', page)
    assert outside == [], "self-contained: nothing loaded from elsewhere"
    report = json.loads((out / "report.json").read_text())
    assert f"{report['test_accuracy']:.2%}" in page and format(report["validation_accuracy"], ".2%") in page
    if family == "svc":  # --patience 0: it runs to its trial cap
        assert report["search_ended"]["reason"] == "trial_cap" and "all 8 trials" in report["search_ended"]["why"]
    assert html.escape(report["search_ended"]["why"]) in page, "the page says why the search ended"


def test_the_confusion_matrix_counts_the_test_split_and_agrees_with_the_test_accuracy(runs, digits_splits):
    out = runs["svc"]
    report = json.loads((out / "report.json").read_text())
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == len(digits_splits.y_test) == report["test_samples"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(report["test_accuracy"])
    predictions = load_predictions(out / PREDICTIONS_FILE)
    family = get_family("svc")
    model = family.load(out / family.MODEL_FILE)
    assert (predictions.y_pred == family.predict(model, digits_splits.X_test)).all(), "the saved model's predictions"
    assert (predictions.y_true == digits_splits.y_test).all()
    wrong = np.flatnonzero(predictions.y_true != predictions.y_pred)
    assert list(predictions.mistake_rows) == list(wrong[: len(predictions.mistake_rows)])
    shown = predictions.mistake_images.reshape(len(wrong[: len(predictions.mistake_rows)]), -1).astype(float)
    assert np.allclose(shown, digits_splits.X_test[predictions.mistake_rows], atol=1e-3), "the misclassified images"
    page = (out / "report.html").read_text()
    assert f"{matrix.sum():,} test images, {np.trace(matrix):,} right" in page


def test_the_learning_curves_and_time_use_the_familys_budget(runs):
    svc, mlp = (runs[f] for f in ("svc", "mlp"))
    assert "training images, scored there" in (svc / "report.html").read_text(), "fANOVA at one rung"
    assert "epochs, scored there" in (mlp / "report.html").read_text()
    page = (svc / "report.html").read_text()
    rows = dict(re.findall(r"<tr><td>([a-z ,:()-]+)</td><td class=\"number\">([\d,]+)</td>", page))
    assert {"completed trials", "trials stopped early", "retrain: cores fitting"} <= set(rows)
    report = json.loads((svc / "report.json").read_text())
    total = sum(int(v.replace(",", "")) for v in rows.values())
    whole = (report["search_seconds"] + report["retrain_seconds"]) * report["cluster_cpus"]
    assert total == pytest.approx(whole, abs=len(rows)), "the core-seconds add up to wall time x the CPUs"


def test_search_report_rebuilds_a_run_without_running_it_again(runs):
    out = runs["mlp"]
    trials = hashlib.sha256((out / "trials.csv").read_bytes()).hexdigest()
    tune_files = sorted(p.name for p in (out / "tune").iterdir())
    (out / "report.html").unlink()
    shutil.rmtree(out / "figures")
    result = report_cli(str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {out / 'report.html'}"
    assert set(embedded_images((out / "report.html").read_text())) == set(FIGURES)
    assert sorted(p.name for p in (out / "figures").iterdir()) == sorted(f"{n}.png" for n in FIGURES)
    assert hashlib.sha256((out / "trials.csv").read_bytes()).hexdigest() == trials, "the run's results untouched"
    assert sorted(p.name for p in (out / "tune").iterdir()) == tune_files


def test_search_report_compares_two_runs(runs, tmp_path):
    out = tmp_path / "comparison"
    result = report_cli(str(runs["svc"]), str(runs["mlp"]), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert f"comparison: {out / 'comparison.html'}" in result.stdout
    page = (out / "comparison.html").read_text()
    assert set(embedded_images(page)) == {"best_so_far"}
    assert_not_blank((out / "figures" / "best_so_far.png").read_bytes(), "best so far")
    for family in ("svc", "mlp"):
        report = json.loads((runs[family] / "report.json").read_text())
        assert f"<td>{family}</td>" in page and f"{report['test_accuracy']:.2%}" in page, family
    assert "| svc | svc |" in (out / "comparison.md").read_text()


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "is not a folder"),
        ("empty", "is not a run folder: it has no settings.json"),
        ("unfinished", "has no trials.csv: its search has not ended"),
        ("output is a run", "is a run folder; choose another"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(runs, tmp_path, case, message):
    svc = runs["svc"]
    before = sorted(p.name for p in svc.iterdir())
    target = tmp_path / "folder"
    if case == "empty":
        target.mkdir()
    if case == "unfinished":
        target.mkdir()
        shutil.copy(svc / "settings.json", target)
    args = [str(svc), str(runs["mlp"]), "--output", str(runs["mlp"])] if case == "output is a run" else [str(target)]
    result = report_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in svc.iterdir()) == before


def test_tensorboard_reads_every_trials_scores_and_hparams(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = runs["mlp"]
    trials = pd.read_csv(out / "trials.csv").set_index("trial_id")
    folders = [p for p in (out / "tune").iterdir() if p.is_dir() and p.name.startswith("mlp_trial_")]
    assert sorted(p.name.split("_")[2] for p in folders) == sorted(trials.index), "named by family and id"
    for folder in folders:
        events = EventAccumulator(str(folder))
        events.Reload()
        scores = events.Scalars("ray/tune/validation_accuracy")
        trial = trials.loc[folder.name.split("_")[2]]
        assert len(scores) == trial["reports"], "a point per epoch reported"
        assert scores[-1].value == pytest.approx(trial["validation_accuracy"], abs=1e-6)
        assert "_hparams_/session_start_info" in events.PluginTagToContent("hparams"), "the HParams table"


@pytest.mark.browser
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("REQUIRE_BROWSER"),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)
def test_the_page_renders_in_headless_chromium_with_no_console_errors(runs, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,2400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ["SE_OFFLINE"] = "true"  # the driver is Debian's: Selenium Manager must not fetch one
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        browser.get((runs["svc"] / "report.html").as_uri())
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])"
        )
        console = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        screenshot = browser.get_screenshot_as_png()
        title = browser.title
    finally:
        browser.quit()
    assert console == [], console
    assert len(images) == len(FIGURES)
    assert all(complete and width > 100 and height > 100 for _, complete, width, height in images), images
    assert title.startswith("svc search: ")
    (tmp_path / "screenshot.png").write_bytes(screenshot)
    assert_not_blank(screenshot, "the screenshot")
