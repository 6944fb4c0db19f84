"""Time to accuracy for svc: our search against plain Ray Tune + Optuna and random search, side by side.

    python bench/time_to_accuracy.py --seeds 0,1,2 [--budget 600] [--solver sklearnex]

Runs, one after another on this machine, on the same split and the same space: (a) our search as
shipped, the README's default command (``python -m search.run --family svc``: ASHA over
training-set sizes, ending when more search is unlikely to change its answer or at its own time
cap, then its retrain; ``--ours-budget`` gives it another cap); (b) ``bench/plain_tune.py
--searcher optuna``, every trial at full fidelity, for ``--budget`` seconds, then its retrain, with
the same solver as ours (``--solver``, scikit-learn-intelex by default) so that only the search
differs; (c) with ``--random``, ``bench/plain_tune.py --searcher random`` for the first seed.
Each run's clock starts when its command starts (data loading and Ray's start are counted alike).

For each run it records best-so-far validation accuracy against wall time, counting only results
at full fidelity (a model fitted on the whole search training split): the best at every minute
(once our search has ended, its answer stays what it was), whether ours is ahead or equal at every
minute, and the time to reach ``--target`` (a run that misses it counts as ``--budget``). It
prints medians over the seeds and the ratios, each run's test accuracy after its retrain, whole
wall time, why our search ended and its share of core-seconds in training (the retrain included), and
writes bench/results/time-to-accuracy-svc-<dataset>.{md,json} after every run, so a run cut short
keeps what it measured. Run folders go to bench/runs/.

``--merge FILE`` keeps the runs of an earlier results JSON of this script and does not run them
again (matched by run and seed; ``--keep`` names which runs to keep, all by default); the table
marks them as earlier runs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

from search.core.trial_report import VALIDATION_ACCURACY, reached_full_budget
from search.visual.core_seconds import core_seconds, training_share
from search.visual.run_record import load_run

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CHECKPOINTS_S = (300, 600, 1200)
MINUTE = 60


def full_fidelity_curve(tune_dir: Path, started: float) -> list[tuple[float, float]]:
    """``(seconds since start, best validation accuracy so far)`` from every full-fidelity result."""
    points = []
    for results in tune_dir.glob("*/result.json"):
        for line in results.read_text().splitlines():
            row = json.loads(line)
            if VALIDATION_ACCURACY in row and reached_full_budget(row):
                points.append((row["timestamp"] - started, row[VALIDATION_ACCURACY]))
    curve, best = [], 0.0
    for seconds, accuracy in sorted(points):
        if accuracy > best:
            best = accuracy
            curve.append((round(seconds, 1), accuracy))
    return curve


def best_by(curve: list[tuple[float, float]], seconds: float) -> float | None:
    """Best validation accuracy reached within ``seconds``."""
    reached = [accuracy for at, accuracy in curve if at <= seconds]
    return max(reached) if reached else None


def time_to(curve: list[tuple[float, float]], target: float, budget: float) -> float:
    """Seconds until the best reached ``target``; the budget if it never did."""
    return next((at for at, accuracy in curve if accuracy >= target and at <= budget), budget)


def by_minute(curve: list[tuple[float, float]], minutes: int) -> list[float | None]:
    """Best validation accuracy reached by the end of each minute, 1 to ``minutes``."""
    return [best_by(curve, MINUTE * m) for m in range(1, minutes + 1)]


def ahead_or_equal(ours: list[float | None], plain: list[float | None]) -> bool:
    """Whether ours is ahead of plain, or equal, at every minute either has a result."""
    return all(p is None or (o is not None and o >= p) for o, p in zip(ours, plain, strict=True))


def run(name: str, command: list[str], tune_dir: Path, target: float, budget: float) -> dict:
    """Run ``command`` and summarise its search's curve."""
    print("$ " + " ".join(command), flush=True)
    started = time.time()
    subprocess.run(command, cwd=ROOT, check=True)
    wall = time.time() - started
    curve = full_fidelity_curve(tune_dir, started)
    return {
        "run": name,
        "curve": curve,
        **{f"best_at_{s // 60}m": best_by(curve, s) for s in CHECKPOINTS_S},
        "time_to_target_s": time_to(curve, target, budget),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="MNIST's IDX files")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "digits"], help="digits: a quick check")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--budget", type=float, default=600, help="search seconds of (b) and (c), and the time-to-target cap (600)"
    )
    parser.add_argument("--solver", choices=["sklearnex", "sklearn"], default="sklearnex", help="(b)'s and (c)'s")
    parser.add_argument("--ours-budget", help="--time-budget of (a) (default: none given, the family's own)")
    parser.add_argument("--target", type=float, default=0.98, help="validation accuracy to reach (default 0.98)")
    parser.add_argument("--plain", action=argparse.BooleanOptionalAction, default=True, help="run (b) (default: on)")
    parser.add_argument(
        "--random", action=argparse.BooleanOptionalAction, default=False, help="run (c) for the first seed (off)"
    )
    parser.add_argument("--merge", type=Path, help="an earlier results JSON whose runs are kept, not run again")
    parser.add_argument("--keep", help="with --merge: the runs to keep, e.g. plain-optuna,plain-random (default: all)")
    args = parser.parse_args()
    data = ["--dataset", args.dataset] + (["--data-dir", str(Path(args.data_dir).resolve())] if args.data_dir else [])
    seeds = [int(s) for s in args.seeds.split(",")]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    command = "python bench/time_to_accuracy.py " + " ".join(sys.argv[1:])
    rows = [{**row, "earlier": True} for row in json.loads(args.merge.read_text())["runs"]] if args.merge else []
    rows = [row for row in rows if not args.keep or row["run"] in args.keep.split(",")]
    done = {(row["run"], row["seed"]) for row in rows}
    for seed in seeds:
        if ("ours", seed) not in done:
            out = BENCH / "runs" / f"tta-ours-seed{seed}-{stamp}"
            cap = ["--time-budget", args.ours_budget] if args.ours_budget else []
            ours = [sys.executable, "-m", "search.run", "--family", "svc", *data, "--seed", str(seed), *cap,
                    "--quiet", "--output-dir", str(out)]  # fmt: skip
            row = run("ours", ours, out / "tune", args.target, args.budget)
            rows.append({**row, "seed": seed, **our_figures(out)})
            write_results(rows, args, command)
        for searcher in (["optuna"] if args.plain else []) + (["random"] if args.random and seed == seeds[0] else []):
            if (f"plain-{searcher}", seed) in done:
                continue
            out = BENCH / "runs" / f"tta-{searcher}-seed{seed}-{stamp}"
            plain = [sys.executable, str(BENCH / "plain_tune.py"), *data, "--searcher", searcher,
                     "--solver", args.solver, "--seed", str(seed), "--time-budget", str(args.budget),
                     "--output", str(out)]  # fmt: skip
            row = run(f"plain-{searcher}", plain, out / "tune", args.target, args.budget)
            rows.append({**row, "seed": seed, **json.loads((out / "plain_result.json").read_text())})
            write_results(rows, args, command)
    print("\n" + write_results(rows, args, command))


def our_figures(run_dir: Path) -> dict:
    """Test accuracy, search and retrain seconds, why the search ended, the best config, and the share of the
    run's core-seconds in training, the retrain included (as its report's "Where the time went")."""
    record = load_run(run_dir)
    report = record.report
    return {
        "test_accuracy": report["test_accuracy"],
        "validation_accuracy": report["validation_accuracy"],
        "best_config": report["best_config"],
        "search_s": report["search_seconds"],
        "retrain_s": report["retrain_seconds"],
        "search_ended": report["search_ended"]["reason"],
        "trials": report["trials"]["total"],
        "completed": report["trials"]["completed"],
        "training_core_share": round(training_share(core_seconds(record)), 3),
    }


def write_results(rows: list[dict], args: argparse.Namespace, command: str) -> str:
    """Write the table and the JSON so far to bench/results/; return the table."""
    summary = summarise(rows, args)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    name = f"time-to-accuracy-svc-{args.dataset}"
    table = markdown(rows, summary, command)
    (results / f"{name}.md").write_text(table + "\n")
    (results / f"{name}.json").write_text(json.dumps({"summary": summary, "runs": rows}, indent=2))
    return table


def summarise(rows: list[dict], args: argparse.Namespace) -> dict:
    """Medians over seeds for (a) and (b), and the ratios the issue asks for."""

    def median(run: str, key: str) -> float | None:
        values = [r[key] for r in rows if r["run"] == run and r[key] is not None]
        return statistics.median(values) if values else None

    ours_tta, plain_tta = median("ours", "time_to_target_s"), median("plain-optuna", "time_to_target_s")
    ratio = None if not (ours_tta and plain_tta) else round(ours_tta / plain_tta, 3)
    return {
        "target": args.target,
        "budget_s": args.budget,
        "median_time_to_target_s": {"ours": ours_tta, "plain-optuna": plain_tta},
        "time_to_target_ratio": ratio,
        "median_best_at_10m": {run: median(run, "best_at_10m") for run in ("ours", "plain-optuna")},
        "ours_test_accuracy": [r["test_accuracy"] for r in rows if r["run"] == "ours"],
        "ours_wall_s": [r["wall_s"] for r in rows if r["run"] == "ours"],
        "ours_median_wall_s": median("ours", "wall_s"),
        "ours_training_core_share": [r.get("training_core_share") for r in rows if r["run"] == "ours"],
        "minute_by_minute": minute_by_minute(rows),
    }


def minute_by_minute(rows: list[dict]) -> dict[int, dict]:
    """Per seed run by both: each one's best validation accuracy at every minute, and whether ours is ahead
    or equal at each of them and its test accuracy not lower."""
    compared = {}
    for seed in sorted({r["seed"] for r in rows}):
        ours = next((r for r in rows if r["run"] == "ours" and r["seed"] == seed), None)
        plain = next((r for r in rows if r["run"] == "plain-optuna" and r["seed"] == seed), None)
        if ours is None or plain is None:
            continue
        minutes = math.ceil(max(ours["wall_s"], plain["wall_s"]) / MINUTE)
        best_ours, best_plain = by_minute(ours["curve"], minutes), by_minute(plain["curve"], minutes)
        compared[seed] = {
            "ours": best_ours,
            "plain-optuna": best_plain,
            "ours_ahead_or_equal": ahead_or_equal(best_ours, best_plain),
            "ours_test_not_lower": ours["test_accuracy"] >= plain.get("test_accuracy", 0.0),
        }
    return compared


def markdown(rows: list[dict], summary: dict, command: str) -> str:
    """The runs' table and the summary, with the command that produced them."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.2%}"

    lines = [
        f"`{command}` (same split and space for every run; plain searches for {summary['budget_s'] / 60:g} "
        f"minutes, ours until it converges or its own cap; target validation accuracy {summary['target']:.1%}, "
        f"a run that misses it counts as {summary['budget_s'] / 60:g} minutes)",
        "",
        "| run | seed | best val. at 5 min | at 10 min | at 20 min | time to target | whole command "
        "| search ended | test acc. (after retrain) | training share of core-seconds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']}{' (earlier run)' if r.get('earlier') else ''} | {r['seed']} "
            f"| {pct(r['best_at_5m'])} | {pct(r['best_at_10m'])} | {pct(r['best_at_20m'])} "
            f"| {r['time_to_target_s'] / 60:.1f} min | {r['wall_s'] / 60:.1f} min | {ended(r)} "
            f"| {pct(r.get('test_accuracy'))} | {pct(r.get('training_core_share'))} |"
        )
    tta = summary["median_time_to_target_s"]
    best = summary["median_best_at_10m"]
    minutes = {run: "-" if value is None else f"{value / 60:.1f} min" for run, value in tta.items()}
    walls = [w / 60 for w in summary["ours_wall_s"]]
    lines += [
        "",
        f"Ours, whole command: median {statistics.median(walls):.1f} min, longest {max(walls):.1f} min."
        if walls
        else "",
        f"Median time to target: ours {minutes['ours']}, plain Ray Tune + Optuna {minutes['plain-optuna']} "
        f"(ratio {summary['time_to_target_ratio']}). Median best validation accuracy after 10 min: "
        f"ours {pct(best['ours'])}, plain {pct(best['plain-optuna'])}.",
    ]
    for seed, compared in summary["minute_by_minute"].items():
        minutes = len(compared["ours"])
        lines += [
            "",
            f"Seed {seed}, best validation accuracy at the end of each minute (ours ahead or equal at every "
            f"minute: {'yes' if compared['ours_ahead_or_equal'] else 'no'}; its test accuracy not lower: "
            f"{'yes' if compared['ours_test_not_lower'] else 'no'}):",
            "",
            "| run | " + " | ".join(f"{m} min" for m in range(1, minutes + 1)) + " |",
            "| --- |" + " --- |" * minutes,
            *(f"| {run} | " + " | ".join(pct(v) for v in compared[run]) + " |" for run in ("ours", "plain-optuna")),
        ]
    return "\n".join(lines)


def ended(row: dict) -> str:
    """Why the run's search ended, in its table cell."""
    if row["run"] != "ours":
        return "budget"
    searched = f"{row['search_s'] / 60:.1f} min" if row.get("search_s") else ""
    return f"{row.get('search_ended', 'budget')} {searched}".replace("_", " ").strip()


if __name__ == "__main__":
    main()
