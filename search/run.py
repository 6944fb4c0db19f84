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
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from search.cluster import ClusterResources
from search.data import DATASETS, DEFAULT_VALIDATION_FRACTION, Splits, load_dataset, make_splits
from search.errors import InputError
from search.families import FAMILIES, get_family
from search.lock import LOCK_FILE, FolderInUse, FolderNotEmpty, holds_only_lock, lock_folder
from search.reporter import Reporter
from search.settings import (
    DEFAULT_RUNGS,
    SCHEDULERS,
    Settings,
    SettingsError,
    default_budget,
    default_of,
    parse_duration,
)
from search.spaces import SearchSpace, default_space_path, load_space
from search.storage import is_uri, open_storage
from search.study import JOURNAL_FILE, StudyPlace, check_study_matches, open_study_place
from search.tune.resume import plan_resume

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


class BadInput(InputError):
    """A combination of options the run cannot start with."""


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
        default=default_of("dataset"),
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
        metavar="F",
        help="share of the training split held out for validation during the search "
        f"(default: {DEFAULT_VALIDATION_FRACTION:g})",
    )
    parser.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        help="asha stops weak trials early: at rungs of epochs (mlp, keras_mlp, cnn) or of training-set "
        f"size (svc, logistic); none trains every trial on its full budget (default: {rung_default('scheduler')})",
    )
    parser.add_argument(
        "--reduction-factor",
        type=int,
        metavar="R",
        help="ASHA keeps the best 1/R of the trials at each rung, and rungs are R times apart "
        f"(default: {rung_default('reduction_factor')})",
    )
    parser.add_argument(
        "--grace-period",
        type=int,
        metavar="EPOCHS",
        help="epochs every trial of mlp, keras_mlp and cnn trains before ASHA may stop it "
        f"(default: {rung_default('grace_period')})",
    )
    parser.add_argument(
        "--sample-rungs",
        type=int,
        metavar="K",
        help="training-set sizes an svc or logistic trial fits on, each R times the last and ending with the "
        f"whole search training split: 4 gives 1/27, 1/9, 1/3, all (default: {rung_default('sample_rungs')})",
    )
    parser.add_argument(
        "--patience",
        type=int,
        metavar="N",
        help="end the search once N trials in a row reached their full budget without beating the best by more "
        "than one standard error of the validation split's accuracy; 0 runs to --time-budget or --num-samples "
        f"(default: {default_of('patience')})",
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
        metavar="N",
        help="CPUs each trial holds; its BLAS/OpenMP threads are capped to it "
        f"(default: {default_of('cpus_per_trial'):g})",
    )
    parser.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="N",
        help="GPUs each trial holds, fractions allowed so that trials share a GPU (default: 1 for the "
        "Keras families when the cluster has GPUs, else 0)",
    )
    parser.add_argument(
        "--seed", type=int, help=f"seed of the Optuna sampler and of model training (default: {default_of('seed')})"
    )
    parser.add_argument(
        "--output-dir", metavar="DIR", help="results folder; must not exist yet (default: runs/<family>-<timestamp>)"
    )
    parser.add_argument(
        "--storage-path",
        metavar="PATH",
        help="where Ray Tune keeps trial results and checkpoints: on a cluster, a folder every node mounts (NFS) "
        "or a bucket (s3://bucket/prefix, gs://...; an S3-compatible server: "
        "s3://bucket/prefix?endpoint_override=http://host:9000) (default: $SEARCH_STORAGE_PATH, else the "
        "results folder)",
    )
    parser.add_argument(
        "--study-storage",
        metavar="URL",
        help="keep the Optuna study in this database (sqlite:///path.db, postgresql://user:password@host/db) "
        "instead of a journal file in the results folder; searches on one --study-name share their trials",
    )
    parser.add_argument(
        "--study-name",
        metavar="NAME",
        help="the Optuna study's name; an existing study of the same space is continued, its trials warm-start "
        "the sampler (default: the results folder's name; with --family all, NAME-<family>)",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="join a running Ray cluster ('auto' or host:port); without it a local Ray starts, with its dashboard",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress table from Ray Tune, only the final report")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks, and the trials' own output (Ray's worker logs)"
    )
    return parser


def rung_default(name: str) -> str:
    """A rung option's default for the help: ``1``, then each family whose MNIST budget differs (``3 for cnn``)."""
    default = getattr(DEFAULT_RUNGS, name)
    exceptions = [
        f"{getattr(family.MNIST_BUDGET.rungs, name)} for {family.NAME} on MNIST"
        for family in FAMILIES.values()
        if getattr(family.MNIST_BUDGET.rungs, name) != default
    ]
    return "; ".join([str(default), *exceptions])


def resolve_settings(
    args: argparse.Namespace, family: str, output_dir: Path = Path("."), one_of_several: bool = False
) -> Settings:
    """Settings for one family: the family's default budget where the command line is silent.

    ``Settings`` checks every value itself; an option the command line left out (None) takes the
    family's budget or the setting's own default. The run is named in its study by the results
    folder's name; a family ``one_of_several`` (``--family all``) adds its own name, to the study's too.
    """
    suffix = f"-{family}" if one_of_several else ""
    label = (output_dir.parent.name if one_of_several else output_dir.name) + suffix
    budget = default_budget(get_family(family).MNIST_BUDGET, args.dataset)
    rungs = replace(
        budget.rungs,
        **given(
            scheduler=args.scheduler,
            reduction_factor=args.reduction_factor,
            grace_period=args.grace_period,
            sample_rungs=args.sample_rungs,
        ),
    )
    try:
        time_budget_s = parse_duration(args.time_budget) if args.time_budget is not None else budget.time_budget_s
    except SettingsError as error:
        raise SettingsError(f"--time-budget: {error}") from None
    return Settings(
        family=family,
        space_path=Path(args.space).resolve() if args.space else default_space_path(family),
        num_samples=budget.num_samples if args.num_samples is None else args.num_samples,
        time_budget_s=time_budget_s,
        output_dir=output_dir,
        dataset=args.dataset,
        data_dir=_absolute(args.data_dir or os.environ.get("SEARCH_DATA_DIR")),
        search_train_samples=budget.search_train_samples
        if args.search_train_samples is None
        else args.search_train_samples,
        rungs=rungs,
        **given(
            max_train_samples=args.max_train_samples,
            validation_fraction=args.validation_fraction,
            max_concurrent=args.max_concurrent,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            seed=args.seed,
            patience=args.patience,
            address=args.address,
        ),
        **storage_settings(args.storage_path or os.environ.get("SEARCH_STORAGE_PATH"), output_dir),
        study_storage=args.study_storage,
        study_name=args.study_name + suffix if args.study_name else label,
        run_id=f"{label}-{uuid.uuid4().hex[:8]}",
    )


def storage_settings(storage_path: str | None, output_dir: Path) -> dict[str, Any]:
    """Where Ray Tune keeps the run: a shared place gets a folder of its own per run, the run folder ``tune/``."""
    if not storage_path:
        return {}
    if not is_uri(storage_path):
        storage_path = str(Path(storage_path).resolve())
    return {"storage_path": storage_path, "experiment_name": f"{output_dir.name}-{uuid.uuid4().hex[:8]}"}


def given(**options: Any) -> dict[str, Any]:
    """The options the command line gave (not None)."""
    return {name: value for name, value in options.items() if value is not None}


def _absolute(path: str | None) -> str | None:
    """Paths are recorded absolute, so that ``--resume`` works from any folder."""
    return str(Path(path).resolve()) if path else None


def choose_output_dir(args: argparse.Namespace, attempt: int = 1) -> Path:
    """The results folder: ``--output-dir`` (which must not hold anything yet) or a new one.

    The default is ``runs/<family>-<time>``, with ``-2``, ``-3`` ... on later ``attempt``s, when
    another run took that folder in the same second.
    """
    if args.output_dir:
        path = Path(args.output_dir)
        # a folder with a lock is checked once it is locked: a run that holds it is then named as such
        if not holds_only_lock(path) and not (path / LOCK_FILE).exists():
            raise BadInput(f"--output-dir {path} already exists and is not empty; choose a new folder")
        return path.resolve()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"-{attempt}" if attempt > 1 else ""
    return (Path("runs") / f"{args.family}-{stamp}{suffix}").resolve()


def plan_new_run(args: argparse.Namespace, attempt: int = 1) -> tuple[Path, list[Settings]]:
    """The results folder and each family's settings, from the command line."""
    if args.family is None:
        raise BadInput("choose a --family (or --resume a run)")
    families = sorted(FAMILIES) if args.family == "all" else [args.family]
    if args.space and len(families) > 1:
        raise BadInput("--space names one family's space; it cannot be used with --family all")
    output_dir = choose_output_dir(args, attempt)
    if len(families) == 1:
        return output_dir, [resolve_settings(args, families[0], output_dir)]
    plans = [resolve_settings(args, f, output_dir / f, one_of_several=True) for f in families]
    return output_dir, plans


def lock_run(args: argparse.Namespace, output_dir: Path, plans: list[Settings], new: bool):
    """Lock the results folder (and each family's) for this run; a default folder taken meanwhile moves on.

    Returns the folder, the plans (with the folder that was free) and the folders it made. The
    locks are held until the process ends.
    """
    for attempt in range(2, 100):
        folders = list(dict.fromkeys([output_dir, *(s.output_dir for s in plans)]))
        made = [path for path in folders if not path.exists()]
        try:
            for path in folders:
                lock_folder(path, new=new)  # its descriptor stays open, so the lock holds, until the process ends
            return output_dir, plans, made
        except (FolderInUse, FolderNotEmpty):
            if not new or args.output_dir:
                raise
            output_dir, plans = plan_new_run(args, attempt)
    raise BadInput("could not find a free results folder under runs/; pass --output-dir")


def open_studies(plans: list[Settings], spaces: dict, resume: bool) -> dict[str, StudyPlace]:
    """Each family's study, opened; a stored study of another space is refused (exit code 2)."""
    places = {}
    for settings in plans:
        place = open_study_place(settings.study_storage, settings.study, settings.output_dir, create=not resume)
        earlier = check_study_matches(place, settings.family, spaces[settings.family].distributions)
        if earlier and not resume:
            print(
                f"== {settings.family}: study {place.name!r} in {place.where} holds {earlier} trials; "
                "the search warm-starts from them",
                flush=True,
            )
        places[settings.family] = place
    return places


def plan_resumed_run(folder: str) -> tuple[Path, list[Settings]]:
    """The settings recorded in an interrupted run's folder."""
    path = Path(folder).resolve()
    if not (path / "settings.json").is_file():
        hint = " (for --family all, resume each family's subfolder)" if any(path.glob("*/settings.json")) else ""
        raise BadInput(f"--resume {path}: no settings.json there; it is not a run's results folder{hint}")
    if (path / "report.json").is_file():
        raise BadInput(f"--resume {path}: that run already finished (report.json is there)")
    try:
        recorded = json.loads((path / "settings.json").read_text())
        settings = Settings.from_dict({**recorded, "output_dir": str(path)})
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # JSON, missing or wrong fields, ranges
        raise BadInput(f"--resume {path}: settings.json is damaged ({error})") from None
    return path, [settings]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help (0), or a bad option: argparse printed its line (2)
        return int(exit.code or 0)
    resume = args.resume is not None
    made: list[Path] = []
    try:
        output_dir, plans = plan_resumed_run(args.resume) if resume else plan_new_run(args)
        spaces = {s.family: load_family_space(s) for s in plans}
        storages = {s.family: open_storage(s.storage_path, s.output_dir) for s in plans}
        dataset = load_dataset(plans[0].dataset, plans[0].data_dir)
        splits = splits_by_family(dataset, plans)
        studies = open_studies([s for s in plans if s.study_storage], spaces, resume)  # before any folder is made
        locked_dir, plans, made = lock_run(args, output_dir, plans, new=not resume)
        if locked_dir != output_dir:  # another run took the default folder this second: the plans moved
            output_dir = locked_dir
            storages = {s.family: open_storage(s.storage_path, s.output_dir) for s in plans}
            studies = open_studies([s for s in plans if s.study_storage], spaces, resume)
        studies.update(open_studies([s for s in plans if not s.study_storage], spaces, resume))  # journals
        resumes = {
            s.family: plan_resume(storages[s.family], s.experiment_name, studies[s.family], s.run) if resume else None
            for s in plans
        }
    except InputError as error:
        return refuse(error, made)

    try:
        from search.cluster import start_ray  # imports ray only when called
        from search.tune.interrupt import stop_on_sigterm

        resources = start_ray(args.address or plans[0].address, worker_logs=args.debug)  # before ray is imported
        stop_on_sigterm()  # after ray.init, whose own handler would exit with code 15
        try:
            check_cluster_fits(plans, resources)
        except InputError as error:
            return refuse(error, made)
        from search.pipeline import run_family

        reports = [
            run_family(
                s,
                spaces[s.family],
                splits[s.family],
                dataset,
                resources,
                storages[s.family],
                studies[s.family],
                reporter=Reporter(quiet=args.quiet),
                resume=resumes[s.family],
            )
            for s in plans
        ]
    except KeyboardInterrupt as error:  # a SearchInterrupted too (Ctrl-C or SIGTERM)
        print(f"\n{error or 'interrupted'}; continue it with --resume {output_dir}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - one line for the user, the traceback with --debug
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}".splitlines()[0] + f" (partial results in {output_dir})", file=sys.stderr)
        return EXIT_FAILED

    from search.report import write_report_or_warn
    from search.summary import summary_table, write_json

    table = summary_table(reports)
    if len(reports) > 1:
        (output_dir / "report.md").write_text(table + "\n")
        write_json(output_dir / "report.json", reports)
        write_report_or_warn(output_dir, Reporter(), combined=True)
    print("\n" + table)
    print(f"\nresults: {output_dir}")
    return 0


def refuse(error: InputError, made: list[Path]) -> int:
    """Bad input: one line, exit code 2, and the folders this run made (holding only its lock and empty
    study) removed again, as if it had never started."""
    print(f"error: {error}", file=sys.stderr)
    for folder in reversed(made):
        for name in (LOCK_FILE, JOURNAL_FILE):
            (folder / name).unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return EXIT_BAD_INPUT


def load_family_space(settings: Settings) -> SearchSpace:
    """The space file of ``settings``, checked against the parameters its family takes and their ranges."""
    family = get_family(settings.family)
    return load_space(settings.space_path, family.PARAMETERS, family.ALLOWED)


def check_cluster_fits(plans: list[Settings], resources: ClusterResources) -> None:
    """The cluster can run every plan: the GPUs asked for, and shared storage for checkpoints on other nodes.

    A cluster that was joined may still grow (an autoscaler adds GPU nodes when trials ask for
    them), so there too few GPUs is a warning; on the local Ray it is bad input.
    """
    for settings in plans:
        family = get_family(settings.family)
        wanted = settings.gpus_per_trial or 0
        if family.USES_GPU and wanted > resources.gpus:
            problem = f"--gpus-per-trial {wanted:g}, but the cluster has {resources.gpus:g} GPUs"
            if resources.local:
                raise BadInput(problem)
            print(f"warning: {problem} now; {settings.family} trials wait for a node with GPUs", file=sys.stderr)
        if family.CHECKPOINTS and resources.trials_run_elsewhere and settings.storage_path is None:
            where = f"has {resources.nodes} nodes" if resources.nodes > 1 else "runs trials on other nodes"
            raise BadInput(
                f"{settings.family} trials save checkpoints, and this cluster {where}: pass "
                "--storage-path with a folder every node mounts (NFS) or a bucket (s3://bucket/prefix)"
            )


def splits_by_family(dataset, plans: list[Settings]) -> dict[str, Splits]:
    """Each family's splits; families with the same split options share one (``--family all``)."""
    made: dict[tuple, Splits] = {}
    by_family = {}
    for settings in plans:
        options = (settings.validation_fraction, settings.max_train_samples, settings.search_train_samples)
        if options not in made:
            try:
                made[options] = make_splits(
                    dataset,
                    validation_fraction=settings.validation_fraction,
                    max_train_samples=settings.max_train_samples,
                    search_train_samples=settings.search_train_samples,
                )
            except ValueError as error:  # scikit-learn's stratified split: too few rows for every class
                raise BadInput(
                    f"cannot split the {dataset.name} data with --max-train-samples {settings.max_train_samples}, "
                    f"--validation-fraction {settings.validation_fraction:g} and --search-train-samples "
                    f"{settings.search_train_samples}: {error}"
                ) from None
            validation_size = len(made[options].search.y_val)
            if validation_size < 10:
                raise BadInput(f"the validation split has only {validation_size} images; use more training samples")
        by_family[settings.family] = made[options]
    return by_family


if __name__ == "__main__":
    sys.exit(main())
