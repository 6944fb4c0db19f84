"""Command line: ``python -m search.run --family svc``.

Parse and validate everything first (exit code 2 with a one-line message on bad input, before
Ray starts and before any file is written), then search, retrain, report.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from search.data import DATASETS, DataError, Splits, load_dataset, make_splits
from search.families import FAMILIES, get_family
from search.fidelity import DEFAULT_RUNGS, SCHEDULERS
from search.settings import Settings, default_budget, parse_duration
from search.spaces import default_space_path, load_space

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

EPILOG = """\
examples:
  python -m search.run --family logistic --dataset digits
  python -m search.run --family svc
  python -m search.run --family svc --max-train-samples 5000 --time-budget 2m
  python -m search.run --family all --time-budget 10m --address auto
"""


class BadInput(ValueError):
    """Input the run cannot start with; the message is shown to the user as it is."""


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad option gets one line (not the whole usage) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The command line's options, each with its help."""
    parser = OneLineErrorParser(
        prog="python -m search.run",
        description=(
            "Search a model family's hyperparameters with Ray Tune and Optuna (TPE), retrain the "
            "best configuration on the whole training split and report its test accuracy."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--family",
        choices=[*sorted(FAMILIES), "all"],
        help="model family to search; 'all' searches every family in turn",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue an interrupted run in its results folder DIR, with the settings recorded there "
        "(other options are ignored)",
    )
    parser.add_argument(
        "--dataset",
        default="mnist",
        choices=DATASETS,
        help="mnist (70,000 images, the article's data) or digits (scikit-learn's "
        "1,797 8x8 images, offline and instant); default: mnist",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder with MNIST's four original IDX files, gzipped or not (default: "
        "$SEARCH_DATA_DIR, else the files shipped with the project)",
    )
    parser.add_argument("--space", metavar="FILE", help="search space YAML file (default: spaces/<family>.yaml)")
    parser.add_argument(
        "--num-samples", type=int, metavar="N", help="most trials to run (default: the family's budget)"
    )
    parser.add_argument(
        "--time-budget",
        metavar="DURATION",
        help="wall-clock limit of the search: seconds, or 30m, 2h (default: the family's budget)",
    )
    parser.add_argument(
        "--search-train-samples",
        type=int,
        metavar="N",
        help="rows of the search's training split each trial fits on, a fixed "
        "stratified subset (default: the family's budget; the retrain always "
        "uses the whole training split)",
    )
    parser.add_argument(
        "--max-train-samples",
        type=int,
        metavar="N",
        help="use a stratified subset of N training images for search and retrain "
        "alike, for quick runs; the test split never changes",
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="share of the training split held out for validation during the search (default: 0.1)",
    )
    parser.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        help="asha stops weak trials early: at rungs of epochs (mlp, keras_mlp, cnn) or of training-set "
        "size (svc, logistic); none trains every trial on its full budget (default: asha; none for cnn "
        "on MNIST)",
    )
    parser.add_argument(
        "--reduction-factor",
        type=int,
        default=DEFAULT_RUNGS.reduction_factor,
        metavar="R",
        help="ASHA keeps the best 1/R of the trials at each rung, and rungs are R times apart (default: 3)",
    )
    parser.add_argument(
        "--grace-period",
        type=int,
        metavar="EPOCHS",
        help="epochs every trial of mlp, keras_mlp and cnn trains before ASHA may stop it "
        "(default: 1; 3 for cnn on MNIST)",
    )
    parser.add_argument(
        "--sample-rungs",
        type=int,
        default=DEFAULT_RUNGS.sample_rungs,
        metavar="K",
        help="training-set sizes an svc or logistic trial fits on, each R times the last and ending with the "
        "whole search training split: 4 gives 1/27, 1/9, 1/3, all (default: 4)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help="trials at once (default: the cluster's CPUs / --cpus-per-trial)",
    )
    parser.add_argument(
        "--cpus-per-trial",
        type=float,
        default=1.0,
        metavar="N",
        help="CPUs each trial holds; its BLAS/OpenMP threads are capped to it (default: 1)",
    )
    parser.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="N",
        help="GPUs each trial holds, fractions allowed so that trials share a GPU (default: 1 for the "
        "Keras families when the cluster has GPUs, else 0)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the Optuna sampler and of model training (default: 0)"
    )
    parser.add_argument(
        "--output-dir", metavar="DIR", help="results folder; must not exist yet (default: runs/<family>-<timestamp>)"
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="join a running Ray cluster ('auto' or host:port); without it a local Ray starts, with its dashboard",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress table from Ray Tune, only the final report")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def resolve_settings(args: argparse.Namespace, family: str) -> Settings:
    """Settings for one family: the family's default budget where the command line is silent."""
    budget = default_budget(get_family(family).MNIST_BUDGET, args.dataset)
    if args.num_samples is not None and args.num_samples < 1:
        raise BadInput(f"--num-samples must be at least 1 (got {args.num_samples})")
    for option, value in (
        ("--search-train-samples", args.search_train_samples),
        ("--max-train-samples", args.max_train_samples),
        ("--max-concurrent", args.max_concurrent),
    ):
        if value is not None and value < 1:
            raise BadInput(f"{option} must be at least 1 (got {value})")
    if args.reduction_factor < 2:
        raise BadInput(f"--reduction-factor must be at least 2 (got {args.reduction_factor})")
    for option, value in (("--grace-period", args.grace_period), ("--sample-rungs", args.sample_rungs)):
        if value is not None and value < 1:
            raise BadInput(f"{option} must be at least 1 (got {value})")
    if not 0.0 < args.validation_fraction < 0.5:
        raise BadInput(f"--validation-fraction must be between 0 and 0.5 (got {args.validation_fraction})")
    if args.cpus_per_trial <= 0:
        raise BadInput(f"--cpus-per-trial must be more than 0 (got {args.cpus_per_trial})")
    if args.gpus_per_trial is not None and args.gpus_per_trial < 0:
        raise BadInput(f"--gpus-per-trial must be 0 or more (got {args.gpus_per_trial})")
    try:
        time_budget_s = parse_duration(args.time_budget) if args.time_budget is not None else budget.time_budget_s
    except ValueError as error:
        raise BadInput(f"--time-budget: {error}") from None
    return Settings(
        family=family,
        dataset=args.dataset,
        data_dir=_absolute(args.data_dir or os.environ.get("SEARCH_DATA_DIR")),
        space_path=Path(args.space).resolve() if args.space else default_space_path(family),
        num_samples=args.num_samples or budget.num_samples,
        time_budget_s=time_budget_s,
        search_train_samples=args.search_train_samples or budget.search_train_samples,
        max_train_samples=args.max_train_samples,
        validation_fraction=args.validation_fraction,
        max_concurrent=args.max_concurrent,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        seed=args.seed,
        output_dir=Path("."),  # set by the caller, once the families are known
        address=args.address,
        scheduler=args.scheduler or budget.scheduler,
        reduction_factor=args.reduction_factor,
        grace_period=args.grace_period or budget.grace_period,
        sample_rungs=args.sample_rungs,
    )


def _absolute(path: str | None) -> str | None:
    """Paths are recorded absolute, so that ``--resume`` works from any folder."""
    return str(Path(path).resolve()) if path else None


def choose_output_dir(args: argparse.Namespace) -> Path:
    """The results folder: ``--output-dir`` (which must not hold anything yet) or a new one."""
    if args.output_dir:
        path = Path(args.output_dir)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise BadInput(f"--output-dir {path} already exists and is not empty; choose a new folder")
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{args.family}-{stamp}"


def plan_new_run(args: argparse.Namespace) -> tuple[Path, list[Settings]]:
    """The results folder and each family's settings, from the command line."""
    if args.family is None:
        raise BadInput("choose a --family (or --resume a run)")
    families = sorted(FAMILIES) if args.family == "all" else [args.family]
    if args.space and len(families) > 1:
        raise BadInput("--space names one family's space; it cannot be used with --family all")
    output_dir = choose_output_dir(args)
    plans = []
    for family in families:
        folder = output_dir / family if len(families) > 1 else output_dir
        plans.append(replace(resolve_settings(args, family), output_dir=folder))
    return output_dir, plans


def plan_resumed_run(folder: str) -> tuple[Path, list[Settings]]:
    """The settings recorded in an interrupted run's folder."""
    path = Path(folder)
    if not (path / "settings.json").is_file():
        hint = " (for --family all, resume each family's subfolder)" if any(path.glob("*/settings.json")) else ""
        raise BadInput(f"--resume {path}: no settings.json there; it is not a run's results folder{hint}")
    if (path / "report.json").is_file():
        raise BadInput(f"--resume {path}: that run already finished (report.json is there)")
    try:
        settings = Settings.from_dict(json.loads((path / "settings.json").read_text()))
    except (ValueError, TypeError, KeyError) as error:
        raise BadInput(f"--resume {path}: settings.json is damaged ({error})") from None
    return path, [replace(settings, output_dir=path)]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    resume = args.resume is not None
    try:
        output_dir, plans = plan_resumed_run(args.resume) if resume else plan_new_run(args)
        spaces = {s.family: load_space(s.space_path, get_family(s.family).PARAMETERS) for s in plans}
        dataset = load_dataset(plans[0].dataset, plans[0].data_dir)
        splits = splits_by_family(dataset, plans)
    except (BadInput, DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        from search.cluster import start_ray

        cluster_gpus = start_ray(args.address or plans[0].address)  # before anything imports ray
        wanted = max(s.gpus_per_trial or 0 for s in plans)
        if wanted > cluster_gpus:
            print(f"error: --gpus-per-trial {wanted:g}, but the cluster has {cluster_gpus:g} GPUs", file=sys.stderr)
            return EXIT_BAD_INPUT
        from search.pipeline import run_family

        reports = [
            run_family(s, spaces[s.family], splits[s.family], dataset, quiet=args.quiet, resume=resume) for s in plans
        ]
    except KeyboardInterrupt as error:  # a SearchInterrupted too
        print(f"\n{error or 'interrupted'}; continue it with --resume {output_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - one line for the user, the traceback with --debug
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}".splitlines()[0] + f" (partial results in {output_dir})", file=sys.stderr)
        return EXIT_FAILED

    from search.report import summary_table, write_json

    table = summary_table(reports)
    if len(reports) > 1:
        (output_dir / "report.md").write_text(table + "\n")
        write_json(output_dir / "report.json", reports)
    print("\n" + table)
    print(f"\nresults: {output_dir}")
    return 0


def splits_by_family(dataset, plans: list[Settings]) -> dict[str, Splits]:
    """Each family's splits; families with the same split options share one (``--family all``)."""
    made: dict[tuple, Splits] = {}
    by_family = {}
    for settings in plans:
        options = (settings.validation_fraction, settings.max_train_samples, settings.search_train_samples)
        if options not in made:
            made[options] = make_splits(
                dataset,
                validation_fraction=settings.validation_fraction,
                max_train_samples=settings.max_train_samples,
                search_train_samples=settings.search_train_samples,
            )
            validation_size = len(made[options].search.y_val)
            if validation_size < 10:
                raise BadInput(f"the validation split has only {validation_size} images; use more training samples")
        by_family[settings.family] = made[options]
    return by_family


if __name__ == "__main__":
    sys.exit(main())
