"""Every family at once, with the default budget, timed as a user would time it.

    python bench/all_families.py [--seeds 0,1] [--sequential] [--data-dir DIR]

Runs ``python -m search.run --family all --seed S`` for each seed (on the MNIST files shipped with
the project, or ``--data-dir``), measures the whole command's wall time (Ray start, the five
searches at once, their retrains, the ranking and reports), and prints each family's retrained test
accuracy beside the article's figure, why each family's search ended, and the winner. With
``--sequential``, the same run also times the five default one-family commands one after another
(``python -m search.run --family F --seed S``), side by side. Run folders go to bench/runs/; the
table to bench/results/all-families-seed<S...>.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FAMILIES = ("logistic", "svc", "mlp", "keras_mlp", "cnn")


def timed_run(arguments: list[str], out: Path, data_dir: str | None) -> float:
    """Wall seconds of ``python -m search.run ARGUMENTS --output-dir OUT``."""
    command = [sys.executable, "-m", "search.run", *arguments, "--output-dir", str(out)]
    if data_dir:
        command += ["--data-dir", str(Path(data_dir).resolve())]
    print("$ " + " ".join(command[1:]), flush=True)
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True)
    return time.monotonic() - started


def family_rows(reports: list[dict], label: str) -> list[str]:
    rows = []
    for report in reports:
        low, high = report["test_accuracy_ci95"]
        trials = report["trials"]
        rows.append(
            f"| {label} | {report['family']} | {report['test_accuracy']:.2%} ({low:.2%} - {high:.2%}) "
            f"| {report['baseline_test_accuracy']:.1%} | {report['validation_accuracy']:.2%} "
            f"| {trials['total']} ({trials['completed']} / {trials['stopped_early']} / {trials['failed']}) "
            f"| {report['search_seconds'] / 60:.1f} min | {report['search_ended']['why']} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--sequential", action="store_true", help="also time the five one-family commands")
    parser.add_argument("--data-dir", help="folder with MNIST's IDX files (default: the files shipped)")
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    summary = [
        "| run | seed | whole command | winner (test acc.) | runner-up | McNemar p |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    rows = [
        "| run | family | test acc. (95% CI) | article's | validation acc. | trials (done / stopped / failed) "
        "| search | search ended |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for seed in [int(s) for s in args.seeds.split(",")]:
        out = BENCH / "runs" / f"all-seed{seed}-{stamp}"
        wall = timed_run(["--family", "all", "--seed", str(seed)], out, args.data_dir)
        reports = json.loads((out / "report.json").read_text())
        ranking = json.loads((out / "ranking.json").read_text())
        by_family = {r["family"]: r for r in reports}
        winner, runner_up = ranking["order"][0], ranking["order"][1]
        summary.append(
            f"| all at once | {seed} | {wall / 60:.1f} min | {winner} ({by_family[winner]['test_accuracy']:.2%}) "
            f"| {runner_up} ({by_family[runner_up]['test_accuracy']:.2%}) | {ranking['mcnemar']['p_value']:.3g} |"
        )
        rows += family_rows(reports, f"all at once, seed {seed}")
        if args.sequential:
            walls, one_by_one = 0.0, []
            for family in FAMILIES:
                folder = BENCH / "runs" / f"{family}-seed{seed}-{stamp}"
                walls += timed_run(["--family", family, "--seed", str(seed)], folder, args.data_dir)
                one_by_one.append(json.loads((folder / "report.json").read_text()))
            best = max(one_by_one, key=lambda r: (r["validation_accuracy"], r["family"]))
            summary.append(
                f"| one after another | {seed} | {walls / 60:.1f} min | {best['family']} "
                f"({best['test_accuracy']:.2%}) | | |"
            )
            rows += family_rows(one_by_one, f"one after another, seed {seed}")
    table = "\n".join(summary) + "\n\n" + "\n".join(rows)
    print("\n" + table)
    (BENCH / "results").mkdir(exist_ok=True)
    flags = f"--seeds {args.seeds}" + (" --sequential" if args.sequential else "")
    name = f"all-families-seed{args.seeds.replace(',', '-')}.md"
    (BENCH / "results" / name).write_text(f"`python bench/all_families.py {flags}`\n\n{table}\n")


if __name__ == "__main__":
    main()
