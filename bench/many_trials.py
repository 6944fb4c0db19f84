"""Ten thousand trials: the driver's cost per trial as a search grows, ours beside plain Ray Tune.

    python bench/many_trials.py --trials 200 2000 10000 [--cpus 16] [--sides ours plain-optuna plain-random]

Trials only sleep (``bench/sleep_family.py``: 3 epochs of 0.3 s, a score from Optuna's ``quality``), so
the driver's bookkeeping is all a search costs. Each size and side runs in a process of its own, on a
local Ray with ``--cpus`` logical CPUs (16 trials at once; this machine has 2 cores), with the same ASHA on
epochs (grace 1, reduction factor 3) and reused workers:

- ``ours``: ``search.tune.runner.run_search`` (its study journal, searcher, stopper, as a search runs; its
  end rule watches every result but never ends the search, ``--end-chance 0``, so that every trial runs);
- ``plain-optuna``: ``tune.Tuner`` with ``OptunaSearch`` (Optuna's default sampler, seeded), nothing more;
- ``plain-random``: ``tune.Tuner`` with Ray Tune's own random search.

For each: wall time, trials per second, the driver's CPU time per trial (its own process, every thread;
Ray's processes are not counted) and its peak resident memory. ``--profile`` records each of our runs
with ``py-spy`` (which must be installed) and prints its top functions by driver samples.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIDES = ("ours", "plain-optuna", "plain-random")
METRIC = "validation_accuracy"


def run_side(side: str, trials: int, cpus: int, folder: Path) -> dict:
    """One search of ``trials`` sleep-only trials; what it cost the driver."""
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, object_store_memory=300 * 1024**2)
    started, before = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    finished = run_ours(trials, cpus, folder) if side == "ours" else run_plain(side, trials, cpus, folder)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "side": side,
        "trials": finished,
        "wall_s": round(wall, 1),
        "trials_per_s": round(finished / wall, 2),
        "driver_cpu_s": round(cpu, 1),
        "driver_cpu_per_trial_s": round(cpu / finished, 4),
        "driver_peak_rss_mb": round(after.ru_maxrss / 1024),
    }


def run_ours(trials: int, cpus: int, folder: Path) -> int:
    import ray

    from bench import sleep_family
    from search.core.data import load_dataset, make_splits
    from search.core.settings import Settings
    from search.core.spaces import load_space
    from search.machine.cluster import read_resources
    from search.records.storage import open_storage
    from search.records.study import open_study_place
    from search.tune.runner import run_search

    ray.cloudpickle.register_pickle_by_value(sleep_family)
    space_path = folder / "space.yaml"
    space_path.write_text(sleep_family.SPACE_YAML)
    settings = Settings(
        family=sleep_family.NAME, space_path=space_path, output_dir=folder, dataset="digits", num_samples=trials,
        time_budget_s=10 * 3600, max_concurrent=cpus, run_id="bench", study_name="bench", end_chance=0.0,
    )  # fmt: skip
    result = run_search(
        settings,
        sleep_family,
        load_space(space_path, sleep_family.PARAMETERS),
        make_splits(load_dataset("digits")).search,
        resources=read_resources(),
        storage=open_storage(None, folder),
        study=open_study_place(None, settings.study, folder),
    )
    return len(result.trials)


def run_plain(side: str, trials: int, cpus: int, folder: Path) -> int:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from bench.sleep_family import EPOCH_S

    def trainable(config: dict) -> None:
        for epoch in range(1, 4):
            time.sleep(EPOCH_S)
            tune.report({METRIC: config["quality"] * epoch / 3, "epochs_done": epoch})

    searcher = OptunaSearch(metric=METRIC, mode="max", seed=0) if side == "plain-optuna" else None
    tuner = tune.Tuner(
        trainable,
        param_space={"quality": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(
            metric=METRIC,
            mode="max",
            search_alg=searcher,
            scheduler=ASHAScheduler(time_attr="epochs_done", max_t=3, grace_period=1, reduction_factor=3),
            num_samples=trials,
            max_concurrent_trials=cpus,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(storage_path=str(folder), name="plain", verbose=0),
    )
    return len(tuner.fit())


def measure(side: str, trials: int, cpus: int, profile: bool) -> dict:
    """``run_side`` in a fresh process (its own Ray, its own peak memory); with ``profile``, under py-spy."""
    with tempfile.TemporaryDirectory(prefix="many-trials-") as folder:
        command = [sys.executable, __file__, "--one", side, "--trials", str(trials), "--cpus", str(cpus),
                   "--folder", folder]  # fmt: skip
        flame = Path(folder) / "profile.txt"
        if profile:
            command = ["py-spy", "record", "-r", "20", "-f", "raw", "-o", str(flame), "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            raise SystemExit(f"{side} at {trials} trials failed:\n{done.stderr[-3000:]}")
        measured = json.loads(lines[-1])
        if profile and flame.exists():
            measured["profile"] = top_functions(flame)
        return measured


def top_functions(flame: Path, count: int = 15) -> list[tuple[str, float]]:
    """The functions with the most samples in them (their callees included), as shares of all samples."""
    from collections import Counter

    inside, total = Counter(), 0
    for line in flame.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        total += int(samples)
        for frame in set(stack.split(";")):
            if "search/" in frame or "ray/tune/" in frame or "optuna/" in frame:
                inside[frame] += int(samples)
    return [(frame, round(n / total, 3)) for frame, n in inside.most_common(count)]


def table(rows: list[dict]) -> str:
    head = "| side | trials | wall | trials/s | driver CPU | driver CPU per trial | driver peak RSS |"
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['side']} | {r['trials']} | {r['wall_s']:.0f} s | {r['trials_per_s']:.2f} | {r['driver_cpu_s']:.0f} s"
            f" | {r['driver_cpu_per_trial_s']:.4f} s | {r['driver_peak_rss_mb']} MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--cpus", type=int, default=16)
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--one", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_side(args.one, args.trials[0], args.cpus, args.folder)), flush=True)
        return
    rows = []
    for trials in args.trials:
        for side in args.sides:
            rows.append(measure(side, trials, args.cpus, args.profile and side == "ours"))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "profile"}), flush=True)
            for frame, share in rows[-1].get("profile", []):
                print(f"    {share:6.1%}  {frame}", flush=True)
    command = "python bench/many_trials.py " + " ".join(sys.argv[1:])
    text = f"{table(rows)}\n\nCommand: `{command}`\n"
    print("\n" + text)
    if args.output:
        args.output.write_text(text)
        args.output.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
