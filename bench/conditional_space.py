"""One Optuna study whose first choice is the family, raced against this project's families searched at once.

    python bench/conditional_space.py [--seed 0] [--time-budget 480] [--max-train-samples 10000] [--data-dir DIR]

Issue 24 asks for several families searched at once either as one Optuna study over a conditional space
(Optuna's first tutorial: ``trial.suggest_categorical("family", ...)``, then that family's parameters) or
as one study per family with an allocator above them, and for both to be tried on a small budget. The
same data (MNIST, the article's split, a stratified subset of its training split), the same cores, the
same time budget, one after the other:

- **per family** (what ``--family all`` runs): ``python -m search.run --family all --max-train-samples N
  --time-budget T --seed S``: a study per family, ASHA on each family's own rungs (epochs, training-set
  sizes), each family's end rule, the allocator above them.
- **conditional**: one Ray Tune search whose study first chooses the family, then that family's
  parameters from ``spaces/<family>.yaml``; one ASHA over every trial, in the one unit the families share,
  the share of a family's full budget (rungs at 1/27, 1/9 and 1/3 of it); built from the same parts:
  ``StudySearcher`` (pruned trials told PRUNED), ``BoundedTPESampler``, the trial function
  ``search.tune.trial.run_trial`` (threads capped to the CPU each trial holds), the deadline rule, the
  article's settings of every family first; as many trials at once as the cluster has CPUs, one CPU
  each; no end rule (it runs its whole budget). Its best is retrained on the whole training split and
  tested once.

Printed and written to ``bench/results/conditional-space-seed<S>.md``: the best validation accuracy at
the end of each minute of each search, the trials each gave each family, the winner and its test
accuracy. Run folders go to ``bench/runs/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import ray
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from ray import tune

from search.core.bounded_tpe import BoundedTPESampler
from search.core.data import load_dataset, make_splits
from search.core.fidelity import sample_sizes
from search.core.settings import Rungs
from search.core.spaces import default_space_path, load_space
from search.core.trial_report import PROGRESS, VALIDATION_ACCURACY
from search.families import get_family
from search.families.base import SAMPLES
from search.pipeline.retrain import retrain_and_test
from search.records.study import open_study_place
from search.tune.schedulers import SearchASHAScheduler
from search.tune.searcher import StudySearcher, attached_study
from search.tune.trial import REPORTED_AT, STARTED_AT, run_trial

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FAMILIES = ("logistic", "svc", "mlp", "keras_mlp", "cnn")
FIRST_RUNG = 1 / 27
"""The conditional search's lowest rung, as a share of a family's full budget (svc and logistic's first subset)."""


def suggest(trial: optuna.Trial, name: str, distribution) -> object:
    """``distribution``'s value for ``name``, through Optuna's public suggest calls."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    kind = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    if isinstance(distribution, (IntDistribution, FloatDistribution)) and distribution.log:
        return kind(name, distribution.low, distribution.high, log=True)
    return kind(name, distribution.low, distribution.high, step=distribution.step)


def conditional_space(spaces: dict):
    """The define-by-run space: the family first, then its own parameters, named ``<family>.<parameter>``."""

    def space(trial: optuna.Trial) -> dict:
        family = trial.suggest_categorical("family", list(spaces))
        names = {f"{family}.{name}": d for name, d in spaces[family].distributions.items()}
        return {"family": family, **{name: suggest(trial, name, d) for name, d in names.items()}}

    return space


def conditional_trial(config: dict, *, datas: dict, seed: int) -> None:
    """One trial of the family its config chose, as the project's own trials run."""
    name = config["family"]
    family = get_family(name)
    params = {key.split(".", 1)[1]: value for key, value in config.items() if key.startswith(f"{name}.")}
    data, sizes = datas[name]
    defaults = family.article_config(data.X_train.shape[1])
    run_trial(params, family=family, data=data, defaults=defaults, seed=seed, threads=1, gpu_share=0,
              sample_sizes=sizes)  # fmt: skip


def run_conditional(splits, seed: int, time_budget_s: float, out: Path) -> dict:
    """The conditional search, then its best retrained and tested once; what it found, trial by trial."""
    data = splits.search
    classes = len(set(data.y_train.tolist()))
    sizes = sample_sizes(len(data.y_train), classes, Rungs())
    datas = {name: (data, sizes if get_family(name).FIDELITY == SAMPLES else []) for name in FAMILIES}
    spaces = {name: load_space(default_space_path(name), get_family(name).PARAMETERS) for name in FAMILIES}
    run_id = f"conditional-{seed}"
    place = open_study_place(None, run_id, out)
    searcher = StudySearcher(
        place, conditional_space(spaces), sampler=BoundedTPESampler(seed=seed), run_id=run_id,
        metric=VALIDATION_ACCURACY,
    )  # fmt: skip
    for name in FAMILIES:  # the article's settings of every family first, as --family all tries them
        article = spaces[name].restrict(get_family(name).article_config(data.X_train.shape[1]))
        searcher.study.enqueue_trial({"family": name, **{f"{name}.{k}": v for k, v in article.items()}})
    cpus = int(ray.cluster_resources()["CPU"])
    scheduler = SearchASHAScheduler(time_budget_s=time_budget_s, run_id=run_id, time_attr=PROGRESS,
                                    grace_period=FIRST_RUNG, max_t=1.0, reduction_factor=3)  # fmt: skip
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(conditional_trial, datas=datas, seed=seed), {"cpu": 1}),
        tune_config=tune.TuneConfig(
            search_alg=searcher, scheduler=scheduler, metric=VALIDATION_ACCURACY, mode="max", num_samples=10_000,
            time_budget_s=time_budget_s, max_concurrent_trials=cpus, reuse_actors=False,
        ),
        run_config=tune.RunConfig(name="tune", storage_path=str(out.resolve()), verbose=0),
    )  # fmt: skip
    with attached_study(run_id, place):
        grid = tuner.fit()
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        if metrics.get(VALIDATION_ACCURACY) is None:
            continue
        rows.append({
            "family": result.config["family"], "full": metrics.get(PROGRESS, 0) >= 1.0,
            "validation_accuracy": metrics[VALIDATION_ACCURACY], "started_at": metrics.get(STARTED_AT),
            "ended_at": metrics.get(REPORTED_AT), "config": result.config,
        })  # fmt: skip
    trials = pd.DataFrame(rows)
    best = trials[trials["full"]].sort_values("validation_accuracy", ascending=False).iloc[0]
    name = best["family"]
    config = {**get_family(name).article_config(data.X_train.shape[1]),
              **{k.split(".", 1)[1]: v for k, v in best["config"].items() if k.startswith(f"{name}.")}}  # fmt: skip
    tested = retrain_and_test(name, config, splits.retrain_data(), splits.X_test, splits.y_test, seed, cpus=cpus)
    return {"trials": trials, "winner": name, "config": config, "validation": float(best["validation_accuracy"]),
            "test": tested.test_accuracy}  # fmt: skip


def run_per_family(seed: int, time_budget_s: float, max_train: int, out: Path, data_dir: str | None) -> dict:
    """``--family all`` on the same data and budget; each family's trials from its own ``trials.csv``."""
    command = [sys.executable, "-m", "search.run", "--family", "all", "--seed", str(seed), "--max-train-samples",
               str(max_train), "--time-budget", f"{time_budget_s:g}", "--quiet", "--output-dir", str(out)]  # fmt: skip
    if data_dir:
        command += ["--data-dir", str(Path(data_dir).resolve())]
    print("$ " + " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    frames = []
    for name in FAMILIES:
        table = pd.read_csv(out / name / "trials.csv")
        table["family"] = name
        table["full"] = table["status"] == "completed"
        frames.append(table[["family", "full", "validation_accuracy", "started_at", "ended_at"]])
    trials = pd.concat(frames, ignore_index=True)
    ranking = json.loads((out / "ranking.json").read_text())
    reports = {r["family"]: r for r in json.loads((out / "report.json").read_text())}
    winner = ranking["order"][0]
    return {"trials": trials, "winner": winner, "config": reports[winner]["best_config"],
            "validation": reports[winner]["validation_accuracy"], "test": reports[winner]["test_accuracy"]}  # fmt: skip


def best_by_minute(trials: pd.DataFrame, minutes: int) -> list[float | None]:
    """The best full-budget validation accuracy at the end of each minute since the search's first trial started."""
    start = trials["started_at"].min()
    full = trials[trials["full"]]
    return [
        full.loc[full["ended_at"] - start <= 60 * m, "validation_accuracy"].max() if len(full) else None
        for m in range(1, minutes + 1)
    ]


def table(found: dict[str, dict], minutes: int) -> list[str]:
    head = "| search | " + " | ".join(f"{m} min" for m in range(1, minutes + 1)) + " |"
    lines = [head, "| --- " * (minutes + 1) + "|"]
    for label, result in found.items():
        cells = [f"{v:.2%}" if v == v and v is not None else "-" for v in best_by_minute(result["trials"], minutes)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| search | trials per family (full budget / all) | winner | its validation | its test acc. |",
              "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for label, result in found.items():
        trials = result["trials"]
        counts = Counter(trials["family"])
        full = Counter(trials.loc[trials["full"], "family"])
        per_family = ", ".join(f"{f} {full.get(f, 0)}/{counts.get(f, 0)}" for f in FAMILIES)
        lines.append(f"| {label} | {per_family} | {result['winner']} | {result['validation']:.2%} "
                     f"| {result['test']:.2%} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=480, help="seconds, for each search")
    parser.add_argument("--max-train-samples", type=int, default=10_000)
    parser.add_argument("--data-dir", help="folder with MNIST's IDX files (default: the files shipped)")
    args = parser.parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs = BENCH / "runs" / f"conditional-seed{args.seed}-{stamp}"
    found = {"per family (--family all)": run_per_family(
        args.seed, args.time_budget, args.max_train_samples, runs / "per-family", args.data_dir)}  # fmt: skip
    splits = make_splits(load_dataset("mnist", args.data_dir), max_train_samples=args.max_train_samples)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ray.init(address="local", include_dashboard=False)
    found["conditional (one study)"] = run_conditional(splits, args.seed, args.time_budget, runs / "conditional")
    ray.shutdown()
    minutes = int(args.time_budget // 60) + 2
    command = " ".join(["python bench/conditional_space.py", *sys.argv[1:]])
    title = (f"`{command}` ({args.max_train_samples} MNIST training images, {args.time_budget:g} s each, seed "
             f"{args.seed}; best full-budget validation accuracy at the end of each minute)")  # fmt: skip
    lines = [title, "", *table(found, minutes)]
    text = "\n".join(lines) + "\n"
    print(text)
    (BENCH / "results" / f"conditional-space-seed{args.seed}.md").write_text(text)


if __name__ == "__main__":
    main()
