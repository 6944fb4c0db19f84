"""Our search with its default budget, one family after another, timed as a user would time it.

    python bench/tuned.py [--families logistic,svc,mlp] [--seed 0] [--data-dir DIR]

Runs ``python -m search.run --family F --seed S`` for each family (on the MNIST files shipped with
the project, or ``--data-dir``), measures the whole command's wall time (Ray start, search,
retrain, report), and prints a table next to the article's untuned figures and to
bench/results/baselines.json when it exists. The run folders go to bench/runs/; the table to
bench/results/tuned-<families>-seed<S>.md.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", help="folder with MNIST's IDX files (default: the files shipped with the project)"
    )
    parser.add_argument("--families", default="logistic,svc,mlp", help="comma-separated families")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data_dir = f" --data-dir {args.data_dir}" if args.data_dir else ""
    baselines_file = BENCH / "results" / "baselines.json"
    here = {row["family"]: row for row in json.loads(baselines_file.read_text())} if baselines_file.exists() else {}

    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows = []
    for family in args.families.split(","):
        out = BENCH / "runs" / f"{family}-seed{args.seed}-{stamp}"
        command = [sys.executable, "-m", "search.run", "--family", family, "--seed", str(args.seed)]
        command += ["--output-dir", str(out)]
        if args.data_dir:
            command += ["--data-dir", str(Path(args.data_dir).resolve())]
        print("$ " + " ".join(command[1:]), flush=True)
        started = time.monotonic()
        subprocess.run(command, cwd=ROOT, check=True)
        wall = time.monotonic() - started
        report = json.loads((out / "report.json").read_text())
        rows.append((report, wall, here.get(family)))

    lines = [
        "| family | test acc. (95% CI) | validation acc. | trials (done / stopped / failed) | search | retrain "
        "| whole command | search ended | article's test acc. | untuned here (test, time) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for report, wall, baseline in rows:
        low, high = report["test_accuracy_ci95"]
        trials = report["trials"]
        untuned = f"{baseline['test_accuracy']:.2%}, {baseline['seconds']:.0f} s" if baseline else "not run"
        lines.append(
            f"| {report['family']} | {report['test_accuracy']:.2%} ({low:.2%} - {high:.2%}) "
            f"| {report['validation_accuracy']:.2%} "
            f"| {trials['total']} ({trials['completed']} / {trials['stopped_early']} / {trials['failed']}) "
            f"| {report['search_seconds'] / 60:.1f} min | {report['retrain_seconds'] / 60:.1f} min "
            f"| {wall / 60:.1f} min | {report['search_ended']['why']} "
            f"| {report['baseline_test_accuracy']:.1%} | {untuned} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    (BENCH / "results").mkdir(exist_ok=True)
    name = args.families.replace(",", "-")
    (BENCH / "results" / f"tuned-{name}-seed{args.seed}.md").write_text(
        f"`python bench/tuned.py --families {args.families} --seed {args.seed}{data_dir}`\n\n{table}\n"
    )


if __name__ == "__main__":
    main()
