"""The command line's options into each family's ``Settings``: the family's budget where an option is left out."""

from __future__ import annotations

import argparse
import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from search.core.settings import LOCAL_EXPERIMENT_NAME, Settings, SettingsError, default_budget, parse_duration
from search.core.spaces import default_space_path
from search.families import get_family
from search.records.credentials import remember
from search.records.storage import is_uri


def resolve_settings(
    args: argparse.Namespace, family: str, output_dir: Path = Path("."), one_of_several: bool = False
) -> Settings:
    """Settings for one family: the family's default budget where the command line is silent.

    ``Settings`` checks every value itself; an option the command line left out (None) takes the
    family's budget or the setting's own default. The run is named in its study by the results
    folder's name; a family ``one_of_several`` (``--family all``) adds its own name, to the study's too.
    """
    together = bool(getattr(args, "together", False))
    one_of_several = one_of_several or together
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
            end_chance=args.end_chance,
            patience=args.patience,
            address=args.address,
        ),
        **storage_settings(args.storage_path or os.environ.get("SEARCH_STORAGE_PATH"), output_dir, together, family),
        study_storage=remember(args.study_storage) if args.study_storage else None,
        study_name=args.study_name + suffix if args.study_name else label,
        together=together,
        run_id=f"{label}-{uuid.uuid4().hex[:8]}",
    )


SHARED_EXTRA_S = 75.0
"""Seconds added to the shared budget on MNIST for each family beyond the first: while they search, each
takes a share of the cores from the leader (``--family all``: 30 minutes, keras_mlp's own, plus 5; on 2
cores the leader's retrain, 4 to 7 minutes, and the start still end within 45)."""


def shared_time_budget(args: argparse.Namespace, families: list[str]) -> float:
    """One time budget for families searched at once: ``--time-budget``, else the longest of their own (on
    MNIST, plus ``SHARED_EXTRA_S`` for each further family)."""
    if args.time_budget is not None:
        try:
            return parse_duration(args.time_budget)
        except SettingsError as error:
            raise SettingsError(f"--time-budget: {error}") from None
    own = max(default_budget(get_family(f).MNIST_BUDGET, args.dataset).time_budget_s for f in families)
    return own + SHARED_EXTRA_S * (len(families) - 1) if args.dataset == "mnist" else own


FAMILY_OWN = ("family", "output_dir", "resume", "address", "quiet", "debug", "together", "study_storage")
"""Options a family searched together with others does not take from the run's command line: its own
family and folder, the cluster the run started, what each command gives anew (``--quiet``, ``--debug``,
the study database's URL with its password)."""


def family_options(parser: argparse.ArgumentParser, args: argparse.Namespace, **replaced: Any) -> list[str]:
    """The command-line options a family's own search takes from ``args`` (all but ``FAMILY_OWN``),
    with ``replaced`` values (``time_budget="600"``) instead of the given ones."""
    defaults = vars(parser.parse_args([]))
    values = {**vars(args), **replaced}
    options: list[str] = []
    for action in parser._actions:  # noqa: SLF001 - argparse offers no public list of its options
        name = action.dest
        if name in FAMILY_OWN or name not in values or not action.option_strings:
            continue
        value = values[name]
        if value is None or (value == defaults.get(name) and name not in replaced):
            continue
        if action.nargs == 0:
            options += [action.option_strings[-1]] if value else []
        else:
            options += [action.option_strings[-1], str(value)]
    return options


def storage_settings(storage_path: str | None, output_dir: Path, together: bool, family: str) -> dict[str, Any]:
    """Where Ray Tune keeps the run: a shared place gets a folder of its own per run, the run folder ``tune/``.

    The experiment's name is unique among the searches that share one Ray cluster: Ray Tune stages a driver's
    files in ``<session>/artifacts/<start second>/<experiment name>``, so two families searched at once
    (``together``) under one name, started in the same second, would write each other's trials and state.
    """
    if not storage_path:
        return {"experiment_name": f"{LOCAL_EXPERIMENT_NAME}-{family}"} if together else {}
    if not is_uri(storage_path):
        storage_path = str(Path(storage_path).resolve())
    return {"storage_path": storage_path, "experiment_name": f"{output_dir.name}-{uuid.uuid4().hex[:8]}"}


def given(**options: Any) -> dict[str, Any]:
    """The options the command line gave (not None)."""
    return {name: value for name, value in options.items() if value is not None}


def _absolute(path: str | None) -> str | None:
    """Paths are recorded absolute, so that ``--resume`` works from any folder."""
    return str(Path(path).resolve()) if path else None
