"""``python -m search.report RUN_DIR [RUN_DIR ...]``: a run's report with plots, or a comparison of runs.

One run folder: its ``report.html`` (self-contained) and ``report.md`` with ``figures/*.png`` are
written again from the folder, without rerunning anything. A ``--family all`` folder: every family's
report and the combined one. Several folders: one comparison (``comparison.html``, ``.md``) of them.
A run writes its own report when it ends, through ``write_report_or_warn``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd

from search.core.errors import InputError
from search.core.formatting import format_config
from search.core.kinds import TrialStatus
from search.core.ranking import RANKING_FILE
from search.core.reporter import Reporter
from search.pipeline.summary import SUMMARY_COLUMNS, summary_cells
from search.visual.run_record import NotARun, RunRecord, family_runs, load_run

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
TOP_TRIALS = 10


def write_run_report(run: RunRecord) -> Path:
    """``report.html``, ``report.md`` and ``figures/`` in the run's folder; returns the HTML's path."""
    from search.visual.page import write_page

    return write_page(run.folder, "report", _run_title(run), _run_subtitle(run), run_sections(run))


def write_comparison(
    runs: Sequence[RunRecord], output: Path, stem: str = "comparison", title: str = "", first: Sequence = ()
) -> Path:
    """One page comparing ``runs``: a table of their final figures and their best-so-far curves together,
    after the sections ``first``."""
    from search.visual.page import Section, write_page
    from search.visual.search_figures import comparison_figure

    links = [
        f"{run.label}: `{_relative(run.folder / 'report.html', output)}`"
        for run in runs
        if (run.folder / "report.html").exists()
    ]
    sections = [
        *first,
        Section("Runs", table=comparison_table(runs)),
        Section("Best so far", figures=[comparison_figure(runs)]),
        Section("Each run's own report", paragraphs=links or ["(none written yet)"]),
    ]
    title = title or f"Comparison of {len(runs)} runs"
    subtitle = "; ".join(f"{run.label} ({run.family} on {run.recorded.get('dataset', '?')})" for run in runs)
    return write_page(output, stem, title, subtitle, sections)


def write_combined_report(folder: Path, runs: Sequence[RunRecord] | None = None) -> Path:
    """The combined report of a ``--family all`` run: ``report.html`` in its folder, every family (``runs``,
    read from the folder when not given) compared."""
    from search.visual.page import Section

    runs = [load_run(family) for family in family_runs(folder)] if runs is None else runs
    ranking = folder / RANKING_FILE
    first = [Section("Which model", table=ranking_table(json.loads(ranking.read_text())))] if ranking.exists() else []
    first.append(Section("Where the time went", table=allocation_table(runs)))
    return write_comparison(runs, folder, stem="report", title=f"Every family: {folder.name}", first=first)


def allocation_table(runs: Sequence[RunRecord]) -> list[list[str]]:
    """Per family: what each trial held, the trial-seconds it spent on CPUs or GPUs, and why its search ended."""
    rows = [["family", "each trial held", "trials", "CPU trial-seconds", "GPU trial-seconds", "search", "why it ended"]]
    for run in runs:
        cpus, gpus = run.recorded.get("cpus_per_trial", 1), run.recorded.get("gpus_per_trial") or 0
        seconds = float(run.trials["seconds"].fillna(0).sum()) if "seconds" in run.trials else 0.0
        report = run.report or {}
        ended = report.get("search_ended", {})
        gpu_held = report.get("gpus_per_trial", gpus) or 0
        rows.append([
            run.family,
            f"{cpus:g} CPUs" + (f", {gpu_held:g} GPUs" if gpu_held else ""),
            str(len(run.trials)),
            f"{seconds:.0f}" if not gpu_held else "",
            f"{seconds:.0f}" if gpu_held else "",
            f"{report.get('search_seconds', 0) / 60:.1f} min",
            ended.get("why") or ended.get("reason", "?"),  # the sentence names its reason
        ])  # fmt: skip
    return rows


def ranking_table(ranking: dict) -> list[list[str]]:
    """``ranking.json`` as rows: the families from best validation accuracy down, the winner against the
    runner-up on the test split."""
    rows = [["rank", "family", "validation acc. (chose the order)", "test acc.", "against the winner on test"]]
    test = ranking["test_accuracy"]
    for place, family in enumerate(ranking["order"], start=1):
        against = ""
        if place == 2:
            against = f"{(test[family] - test[ranking['winner']]) * 100:+.2f} points"
            if ranking["mcnemar"] is not None:
                verdict = "significant" if ranking["significant"] else "not significant"
                against += f", McNemar p = {ranking['mcnemar']['p_value']:.2g} ({verdict})"
        validation = ranking["validation_accuracy"][family]
        rows.append([str(place), family, f"{validation:.2%}", f"{test[family]:.2%}", against])
    return rows


def write_report_or_warn(folder: Path, reporter: Reporter, combined: bool = False) -> Path | None:
    """The report at the end of a run (``combined``: of a ``--family all`` run); a figure that fails costs a
    warning to ``reporter``, never the run's results, which are saved already."""
    try:
        return write_combined_report(folder) if combined else write_run_report(load_run(folder))
    except Exception as error:  # noqa: BLE001 - the plots are extra
        reporter.warn(f"the report was not written ({error}); try python -m search.report {folder}")
        return None


def run_sections(run: RunRecord) -> list:
    """The sections of one run's report, top to bottom."""
    from search.visual.core_seconds import core_seconds, core_seconds_figure, core_seconds_table
    from search.visual.model_figures import confusion_figure, mistakes_figure
    from search.visual.page import Section
    from search.visual.search_figures import (
        importance_figure,
        learning_curves_figure,
        progress_figure,
        slices_figure,
    )

    parts = core_seconds(run)
    return [
        Section("Summary", table=summary_rows(run)),
        Section("Search progress", figures=[progress_figure(run)]),
        Section("What mattered", figures=[importance_figure(run), slices_figure(run)]),
        Section("Learning curves", figures=[learning_curves_figure(run)]),
        Section("Best trials", table=best_trials_table(run)),
        Section(
            "Where the retrained model errs",
            figures=[confusion_figure(run.predictions), mistakes_figure(run.predictions)],
        ),
        Section("Where the time went", figures=[core_seconds_figure(run, parts)], table=core_seconds_table(parts)),
        Section("Look further", paragraphs=look_further(run)),
    ]


def summary_rows(run: RunRecord) -> list[list[str]]:
    """The run's figures, as rows of a two-column table."""
    report, splits = run.report, run.recorded.get("splits", {})
    rows = [["measure", "value"]]
    if report is None:
        rows.append(["result", "no trial scored: the run ended before its retrain (see trial_errors.log)"])
    else:
        rows += [[name, cell] for name, cell in zip(SUMMARY_COLUMNS, summary_cells(report), strict=True)][2:]
        if report.get("search_ended"):  # runs from before it was recorded lack it
            rows.append(["why the search ended", report["search_ended"]["why"]])
    rows += [
        ["early stopping", "ASHA" if run.rungs.stop_early else "none"],
        [
            "data",
            f"{run.recorded.get('dataset')}: searched on {splits.get('search_train', '?'):,} images, validated "
            f"on {splits.get('validation', '?'):,}; retrained on {splits.get('train', '?'):,}, tested on "
            f"{splits.get('test', '?'):,}"
            if splits
            else str(run.recorded.get("dataset")),
        ],
    ]
    return rows


def best_trials_table(run: RunRecord) -> list[list[str]]:
    """The ``TOP_TRIALS`` best trials: completed ones first, then by validation accuracy."""
    names = [n for n in run.distributions() if n in run.trials.columns]
    trials = run.trials.assign(done=run.trials["status"] == TrialStatus.COMPLETED.value, budget=run.budget_reached())
    trials = trials[trials["validation_accuracy"].notna()].sort_values(["done", "validation_accuracy"], ascending=False)
    rows = [["trial", "status", *names, "validation acc.", f"budget ({run.budget_unit})", "seconds"]]
    for _, trial in trials.head(TOP_TRIALS).iterrows():
        rows.append(
            [
                str(trial["trial_id"]),
                str(trial["status"]).replace("_", " "),
                *[format_config({n: trial[n]}).split("=", 1)[1] for n in names],
                f"{trial['validation_accuracy']:.2%}",
                "" if pd.isna(trial["budget"]) else f"{trial['budget']:,.0f}",
                "" if pd.isna(trial["seconds"]) else f"{trial['seconds']:.1f}",
            ]
        )
    return rows


def comparison_table(runs: Sequence[RunRecord]) -> list[list[str]]:
    """One row per run: its final figures (a run that never reached its retrain has only its trial count)."""
    rows = [["run", *SUMMARY_COLUMNS]]
    for run in runs:
        if run.report is None:
            dataset = run.recorded.get("dataset", "")
            rows.append([run.label, run.family, dataset, "no trial scored", "", "", "", str(len(run.trials)), "", ""])
            continue
        rows.append([run.label, *summary_cells(run.report)])
    return rows


def look_further(run: RunRecord) -> list[str]:
    """Where the same run can be explored interactively (``pip install -e ".[viz]"`` brings both tools)."""
    from search.records.study import JOURNAL_FILE, hide_password

    recorded = run.recorded
    storage = recorded.get("storage_path") or str(run.folder)
    experiment = f"{storage.rstrip('/')}/{recorded.get('experiment_name', 'tune')}"
    study = recorded.get("study_storage")
    return [
        f"Every trial's reported scores, per epoch or rung, and the HParams table: `tensorboard --logdir {experiment}`",
        "The Optuna study (history, importances, parallel coordinates): "
        f"`optuna-dashboard {run.folder / JOURNAL_FILE if study is None else hide_password(study)}`",
        f"This page again, after any change to the folder: `python -m search.report {run.folder}`",
    ]


def _run_title(run: RunRecord) -> str:
    return f"{run.family} search: {run.label}"


def _run_subtitle(run: RunRecord) -> str:
    recorded = run.recorded
    return (
        f"{run.family} on {recorded.get('dataset')}, space {Path(recorded.get('space_path', '?')).name}, "
        f"seed {recorded.get('seed')}; folder {run.folder}"
    )


def _relative(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m search.report",
        description=(
            "Write a run's report again (report.html, report.md, figures/) from its folder, or, given several "
            "run folders, one comparison of them."
        ),
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="run folders (a --family all folder counts as its families)"
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="where the comparison of several runs goes (default: comparison-<date>-<time> beside the first run)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    folders = [Path(p) for p in args.runs]
    try:
        for folder in folders:
            if not folder.is_dir():
                raise NotARun(f"{folder} is not a folder")
        groups = {folder: [load_run(p) for p in family_runs(folder) or [folder]] for folder in folders}
        output = None
        if len(folders) > 1:
            default = folders[0].parent / f"comparison-{datetime.now():%Y%m%d-%H%M%S}"
            output = Path(args.output) if args.output else default
            if (output / "settings.json").exists():
                raise NotARun(f"--output {output} is a run folder; choose another")
    except InputError as error:  # every folder is read and checked before anything is written
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        for folder, runs in groups.items():
            for run in runs:
                print(f"report: {write_run_report(run)}")
            if run.folder != folder:  # a --family all folder
                print(f"report: {write_combined_report(folder, runs)}")
        if output is not None:
            print(f"comparison: {write_comparison([run for runs in groups.values() for run in runs], output)}")
    except Exception as error:  # noqa: BLE001 - one line; the traceback is there for bugs
        traceback.print_exc()
        print(f"error: {error}".splitlines()[0], file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
