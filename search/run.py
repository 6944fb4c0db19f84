"""Command line: ``python -m search.run --family svc``.

Parse and validate everything first (exit code 2 with a one-line message on bad input, before
Ray starts and before any file is written), then search, retrain, report.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import traceback
from pathlib import Path

from search.core.data import DATASETS, DEFAULT_VALIDATION_FRACTION, Dataset, Splits, checked_splits, load_dataset
from search.core.errors import InputError
from search.core.reporter import Reporter
from search.core.settings import (
    DEFAULT_RUNGS,
    SCHEDULERS,
    Settings,
    default_of,
)
from search.core.spaces import SearchSpace, load_space
from search.families import FAMILIES, get_family
from search.machine.environment import prepare_ray_import
from search.options import family_options, resolve_settings, shared_time_budget
from search.pipeline.together import TOGETHER_FILE, FamilyFailed, read_together_file, recorded_address
from search.records.credentials import remember
from search.records.folders import remove_made, results_folder
from search.records.lock import FolderInUse, FolderNotEmpty, lock_folder
from search.records.run_copy import copying_run, fetch_run
from search.records.storage import Storage, is_uri, open_storage
from search.records.study import StudyPlace, check_study_matches, close_orphans, hide_password, open_study_place

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


def build_parser(prog: str = "python -m search.run") -> argparse.ArgumentParser:
    """The command line's options, each with its help."""
    parser = OneLineErrorParser(
        prog=prog,
        description=(
            "Search a model family's hyperparameters with Ray Tune and Optuna (TPE), retrain the "
            "best configuration on the whole training split and report its test accuracy."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--family",
        type=family_choice,
        metavar="{" + ",".join([*sorted(FAMILIES), "all"]) + "}",
        help="model family to search; several, comma-separated (svc,cnn), or 'all', are searched at once, "
        "under one --time-budget (default: the longest of theirs; on MNIST plus 75 s a further family), and ranked",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue an interrupted run in its results folder DIR, with the settings recorded there "
        "(--address, --quiet, --debug and --study-storage, for its password, apply; any other option is refused); "
        "or from its copy in a bucket, s3://bucket/prefix/<experiment> as the run printed it, fetched first into "
        "--output-dir (default: runs/<the run's folder name>)",
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
        "stratified subset (default: all of them; the retrain always uses the whole training split)",
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
        "--end-chance",
        type=float,
        metavar="P",
        help="end the search once the chance that its next trials beat the best by more than one standard error "
        "of the validation split's accuracy falls below P, judged from how trials' scores at their rungs led to "
        "their full-budget scores; a trial with no such chance left stops at its rung; 0 runs to --time-budget "
        f"or --num-samples (default: {default_of('end_chance')})",
    )
    parser.add_argument(
        "--patience",
        type=int,
        metavar="N",
        help="instead of --end-chance: end the search once N trials in a row reached their full budget without "
        "beating the best by more than one standard error of the validation split's accuracy; 0 runs to "
        "--time-budget or --num-samples",
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
        "--output-dir", metavar="DIR", help="results folder; new or empty (default: runs/<family>-<timestamp>)"
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
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no line per trial (nor the 'running:' lines); the headlines and the final table stay",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks, and the trials' own output (Ray's worker logs)"
    )
    parser.add_argument("--together", action="store_true", help=argparse.SUPPRESS)  # one family of a --family all run
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


def family_choice(text: str) -> str:
    """``--family``: one family, several comma-separated (kept in the order given, once each), or ``all``."""
    if text == "all":
        return text
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in FAMILIES]
    if unknown or not names:
        choices = ", ".join([*sorted(FAMILIES), "all"])
        raise argparse.ArgumentTypeError(f"invalid choice: {(unknown or [text])[0]!r} (choose from {choices})")
    return ",".join(names)


def families_of(choice: str) -> list[str]:
    """The families a ``--family`` value names."""
    return sorted(FAMILIES) if choice == "all" else choice.split(",")


def splits_by_family(dataset: Dataset, plans: list[Settings]) -> dict[str, Splits]:
    """Each family's splits (checked); families with the same split options share one (``--family all``)."""
    made: dict[tuple, Splits] = {}
    for settings in plans:
        options = (settings.validation_fraction, settings.max_train_samples, settings.search_train_samples)
        if options not in made:
            made[options] = checked_splits(dataset, *options)
    return {s.family: made[(s.validation_fraction, s.max_train_samples, s.search_train_samples)] for s in plans}


def plan_new_run(args: argparse.Namespace, attempt: int = 1) -> tuple[Path, list[Settings]]:
    """The results folder and each family's settings, from the command line."""
    if args.family is None:
        raise BadInput("choose a --family (or --resume a run)")
    families = families_of(args.family)
    if args.space and len(families) > 1:
        raise BadInput(f"--space names one family's space; it cannot be used with --family {args.family}")
    output_dir = results_folder(args.output_dir, args.family.replace(",", "-"), attempt)
    if len(families) == 1:
        return output_dir, [resolve_settings(args, families[0], output_dir)]
    return output_dir, together_plans(args, families, output_dir)


def together_plans(args: argparse.Namespace, families: list[str], output_dir: Path) -> list[Settings]:
    """Each family's settings when they are searched at once: one time budget for all."""
    shared = argparse.Namespace(**{**vars(args), "together": True})
    shared.time_budget = f"{shared_time_budget(args, families):g}"
    return [resolve_settings(shared, f, output_dir / f) for f in families]


def lock_run(args: argparse.Namespace, output_dir: Path, plans: list[Settings], new: bool, together: bool = False):
    """Lock the results folder (and each family's, unless they are searched ``together``: each family's own
    search locks its folder) for this run; a default folder taken meanwhile moves on.

    Returns the folder, the plans (with the folder that was free) and the folders it made. The
    locks are held until the process ends.
    """
    for attempt in range(2, 100):
        folders = list(dict.fromkeys([output_dir, *([] if together else [s.output_dir for s in plans])]))
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


RESUME_OPTIONS = ("resume", "address", "quiet", "debug", "study_storage")
"""What ``--resume`` takes from its command line; the rest comes from the run's ``settings.json``."""


def refuse_unused_options(args: argparse.Namespace) -> None:
    """``--resume`` with an option it would not use is bad input, not silently a different run; a run fetched
    from a bucket takes ``--output-dir`` too."""
    defaults = vars(build_parser().parse_args([]))
    used = RESUME_OPTIONS + (("output_dir",) if is_uri(args.resume) else ())
    unused = [name for name, value in vars(args).items() if name not in used and value != defaults[name]]
    if unused:
        named = ", ".join("--" + name.replace("_", "-") for name in unused)
        raise BadInput(
            f"--resume goes on with the settings recorded in the run's settings.json; {named} cannot change them "
            "(only --address, --quiet, --debug and --study-storage, for its password, apply)"
        )


def check_same_database(url: str, settings: Settings) -> None:
    """``--study-storage`` given again to ``--resume``: the recorded database, with the password it needs."""
    if remember(url) != settings.study_storage:
        raise BadInput(
            f"--study-storage {hide_password(url)}: this run's study is in {settings.study_storage or 'its journal'}; "
            "give that database's URL again (with its password), or nothing"
        )


def plan_resumed_run(folder: str) -> tuple[Path, list[Settings]]:
    """The settings recorded in an interrupted run's folder."""
    path = Path(folder).resolve()
    if (path / TOGETHER_FILE).is_file():
        return path, resumed_together_plans(path)
    if not (path / "settings.json").is_file():
        raise BadInput(f"--resume {path}: no settings.json there; it is not a run's results folder")
    if (path / "report.json").is_file():
        raise BadInput(f"--resume {path}: that run already finished (report.json is there)")
    return path, [recorded_settings(path)]


def recorded_settings(path: Path) -> Settings:
    """The settings a run recorded in its folder's ``settings.json``."""
    try:
        recorded = json.loads((path / "settings.json").read_text())
        return Settings.from_dict({**recorded, "output_dir": str(path)})
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # JSON, missing or wrong fields, ranges
        raise BadInput(f"--resume {path}: settings.json is damaged ({error})") from None


def resumed_together_plans(path: Path) -> list[Settings]:
    """A several-family run's families: those that started as their ``settings.json`` says, the others
    from the options recorded in ``families.json``."""
    if (path / "report.json").is_file():
        raise BadInput(f"--resume {path}: that run already finished (report.json is there)")
    plans = []
    for family, options in read_together_file(path).items():
        folder = path / family
        if (folder / "settings.json").is_file():
            plans.append(recorded_settings(folder))
        else:
            args = build_parser().parse_args([*options, "--family", family, "--together"])
            plans.append(resolve_settings(args, family, folder))
    return plans


def main(argv: list[str] | None = None, prog: str = "python -m search.run") -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exit:  # --help (0), or a bad option: argparse printed its line (2)
        return int(exit.code or 0)
    resume = args.resume is not None
    made: list[Path] = []
    fetched: Path | None = None
    try:
        if resume:
            refuse_unused_options(args)
        if resume and is_uri(args.resume):
            fetched = fetch_run(args.resume, args.output_dir)
            args.resume = str(fetched)
        output_dir, plans = plan_resumed_run(args.resume) if resume else plan_new_run(args)
        together = (output_dir / TOGETHER_FILE).is_file() if resume else len(plans) > 1
        one_of_together = not together and plans[0].together  # a family's search, started by a together run
        if resume and args.study_storage:
            check_same_database(args.study_storage, plans[0])
        spaces = {s.family: load_family_space(s) for s in plans}
        storages = {s.family: open_storage(s.storage_path, s.output_dir) for s in plans}
        dataset = load_dataset(plans[0].dataset, plans[0].data_dir)
        splits = splits_by_family(dataset, plans)
        studies = open_studies([s for s in plans if s.study_storage], spaces, resume)  # before any folder is made
        locked_dir, plans, made = lock_run(args, output_dir, plans, new=not resume, together=together)
        if locked_dir != output_dir:  # another run took the default folder this second: the plans moved
            output_dir = locked_dir
            storages = {s.family: open_storage(s.storage_path, s.output_dir) for s in plans}
            studies = open_studies([s for s in plans if s.study_storage], spaces, resume)
        if together:
            address = args.address or (recorded_address(output_dir) if resume else None)
        else:
            address = args.address or plans[0].address
        prepare_ray_import(address or os.environ.get("RAY_ADDRESS"))  # before ray is first imported
        from search.tune.resume import plan_resume

        own = [] if together else plans  # families searched at once open their studies themselves
        studies.update(open_studies([s for s in own if not s.study_storage], spaces, resume))  # journals
        for settings in own if resume else []:
            close_orphans(studies[settings.family], settings.run)
        resumes = {
            s.family: plan_resume(storages[s.family], s.experiment_name, studies[s.family], s.run) if resume else None
            for s in own
        }
    except InputError as error:
        if fetched is not None:  # fetched from the bucket just now: the bucket still holds it
            shutil.rmtree(fetched, ignore_errors=True)
        return refuse(error, made)

    reporter = Reporter(quiet=args.quiet)
    try:
        from search.machine.cluster import LoopbackDown, check_cluster_fits, start_ray  # imports ray when called
        from search.tune.interrupt import stop_on_sigterm

        try:
            resources = start_ray(address, worker_logs=args.debug, announce=not one_of_together)
        except Exception as error:  # noqa: BLE001 - Ray raises many kinds; nothing of the run has started
            if args.debug:
                traceback.print_exc()
            address = address or os.environ.get("RAY_ADDRESS")
            where = f"could not join the Ray cluster at {address}" if address else "could not start a local Ray"
            hint = "" if isinstance(error, LoopbackDown) else ray_log_hint()  # Ray did not start: no log of it
            print(f"error: {where}: {failure_line(error)}{hint}", file=sys.stderr)
            if not resume:
                remove_made(made)  # a new run's folder, as if it had never started
            return EXIT_FAILED
        stop_on_sigterm()  # after ray.init, whose own handler would exit with code 15
        try:
            for settings in plans:
                check_cluster_fits(settings, get_family(settings.family), resources, reporter)
        except InputError as error:
            return refuse(error, made)
        from search.pipeline.family_run import finish, run_family

        if together:
            storage = storages[plans[0].family]  # the families' --storage-path is one
            print("\n" + search_together(args, output_dir, plans, splits, resources, storage, reporter))
            print(f"\nresults: {output_dir}")
            return 0
        reports = [
            run_family(
                s,
                spaces[s.family],
                splits[s.family],
                dataset,
                resources,
                storages[s.family],
                studies[s.family],
                reporter=reporter,
                resume=resumes[s.family],
            )
            for s in plans
        ]
    except FamilyFailed as error:  # the others finished: their table and ranking, then the failure
        if error.reports:
            print("\n" + finish(output_dir, error.reports, reporter))
        print(f"error: {error} (partial results in {output_dir})", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt as error:  # a SearchInterrupted too (Ctrl-C or SIGTERM)
        print(f"\n{error or 'interrupted'}; continue it with --resume {output_dir}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - one line for the user, the traceback with --debug
        if args.debug:
            traceback.print_exc()
        hint = "" if args.debug else "; --debug shows the traceback"
        print(f"error: {failure_line(error)} (partial results in {output_dir}{hint})", file=sys.stderr)
        return EXIT_FAILED

    if one_of_together:  # that run prints the table of them all
        return 0
    print("\n" + finish(output_dir, reports, reporter))
    print(f"\nresults: {output_dir}")
    return 0


def search_together(
    args, output_dir: Path, plans: list[Settings], splits: dict, resources, storage: Storage, reporter
) -> str:
    """The families of ``plans`` searched at once (``search.pipeline.together``); the table of their results.

    With a bucket for ``--storage-path``, the whole run folder (every family's) is copied there as it goes."""
    import ray

    from search.pipeline.family_run import finish
    from search.pipeline.together import (
        describe_together,
        run_together,
        together_copy,
        trial_cpus_together,
        write_together_file,
    )

    if args.resume is None:
        cpus = trial_cpus_together(args.cpus_per_trial or default_of("cpus_per_trial"), resources.cpus, len(plans))
        given = {"time_budget": f"{plans[0].time_budget_s:g}", "cpus_per_trial": f"{cpus:g}"}
        options = {s.family: family_options(build_parser(), args, **given) for s in plans}
        write_together_file(output_dir, options, plans[0].time_budget_s, args.address, storage)
    else:
        options = read_together_file(output_dir)
        cpus = plans[0].cpus_per_trial
    reporter.say(describe_together(plans, plans[0].time_budget_s, resources.cpus, cpus))
    copy, where = together_copy(output_dir, storage, plans[0].storage_path)
    if copy is not None:
        reporter.say(f"== the run folder is copied to {copy.place} as trials end; elsewhere: --resume {where}")
    passed = [flag for flag, on in (("--quiet", args.quiet), ("--debug", args.debug)) if on]
    passed += ["--study-storage", args.study_storage] if args.study_storage else []
    validation_size = min(len(splits[s.family].search.y_val) for s in plans)
    address = ray.get_runtime_context().gcs_address
    with copying_run(str(output_dir), copy):
        reports = run_together(output_dir, options, plans, resources, address, reporter, validation_size, passed)
        return finish(output_dir, reports, reporter)


def ray_log_hint() -> str:
    """Where Ray's own logs of its start are: the session folder under ``RAY_TMPDIR`` (``/tmp/ray``)."""
    folder = Path(os.environ.get("RAY_TMPDIR") or "/tmp") / "ray" / "session_latest" / "logs"
    return f" (Ray's logs: {folder})" if folder.parent.exists() else ""


def failure_line(error: BaseException) -> str:
    """What failed, in one line: the message's first line, or, where the message is a whole traceback
    (Ray wraps a worker's so), its last; the exception's name where the message is empty."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].startswith("Traceback (most recent call last)"):
        return lines[-1]
    return lines[0]


def refuse(error: InputError, made: list[Path]) -> int:
    """Bad input: one line, exit code 2, and the folders this run made (holding only its lock and empty
    study) removed again, as if it had never started."""
    print(f"error: {error}", file=sys.stderr)
    remove_made(made)
    return EXIT_BAD_INPUT


def load_family_space(settings: Settings) -> SearchSpace:
    """The space file of ``settings``, checked against the parameters its family takes and their ranges."""
    family = get_family(settings.family)
    return load_space(settings.space_path, family.PARAMETERS, family.ALLOWED)


def cli(prog: str = "mnist-search") -> None:
    """The installed command (``mnist-search``, ``python -m search``): runs ``main`` and exits with its code."""
    from search.machine.reaper import exit_watched

    exit_watched(main(prog=prog))


if __name__ == "__main__":
    cli("python -m search.run")
