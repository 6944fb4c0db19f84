"""A finished run folder, read back: its settings, report, trials, test predictions and study.

Everything the report draws comes from here, so that ``python -m search.report`` can rebuild it
long after the run, from the folder alone (and the study's database, when the run used one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.trial import FrozenTrial

from search.core.errors import InputError
from search.core.fidelity import sample_sizes
from search.core.predictions import PREDICTIONS_FILE, TestPredictions, load_predictions
from search.core.settings import Rungs
from search.families import get_family
from search.families.base import SAMPLES

N_CLASSES = 10


class NotARun(InputError):
    """A folder that holds no run (or no finished search) to report on."""


@dataclass(frozen=True)
class RunRecord:
    """What a run folder holds, as the report needs it."""

    folder: Path
    recorded: dict[str, Any]
    """``settings.json`` as written: the settings, the splits' sizes, the space, the article's config."""
    report: dict[str, Any] | None
    """``report.json``; None when the run ended before its retrain (every trial failed)."""
    trials: pd.DataFrame
    """``trials.csv``."""
    predictions: TestPredictions | None
    study_trials: list[FrozenTrial] | None
    """The run's trials in its Optuna study; None when the study cannot be read (``study_problem`` says why)."""
    study_problem: str | None = None

    @property
    def family(self) -> str:
        return self.recorded["family"]

    @property
    def label(self) -> str:
        """How the run is named in a comparison: its folder's name."""
        return self.folder.name

    @property
    def rungs(self) -> Rungs:
        return Rungs(**self.recorded.get("rungs", {}))

    @property
    def budget_unit(self) -> str:
        """``epochs`` or ``training images``: what a trial's budget is counted in."""
        return "training images" if get_family(self.family).FIDELITY == SAMPLES else "epochs"

    def distributions(self) -> dict[str, BaseDistribution]:
        """The searched space, as the run recorded it."""
        return {name: json_to_distribution(text) for name, text in self.recorded.get("space", {}).items()}

    def budget_at_step(self, step: int) -> int:
        """The budget a trial had reached at its ``step``-th report (1-based)."""
        if self.budget_unit == "epochs":
            return step
        sizes = sample_sizes(self.recorded["splits"]["search_train"], N_CLASSES, self.rungs)
        return sizes[min(step, len(sizes)) - 1]

    def rung_budgets(self) -> list[int]:
        """The budgets where ASHA compared trials (none without early stopping)."""
        if not self.rungs.stop_early:
            return []
        if self.budget_unit == "training images":
            return sample_sizes(self.recorded["splits"]["search_train"], N_CLASSES, self.rungs)[:-1]
        top = int(self.trials["epochs_done"].max()) if self.trials["epochs_done"].notna().any() else 0
        budgets, budget = [], self.rungs.grace_period
        while budget < top:
            budgets.append(budget)
            budget *= self.rungs.reduction_factor
        return budgets

    def budget_reached(self) -> pd.Series:
        """Each trial's budget reached (epochs or training images), from ``trials.csv``."""
        column = "train_samples" if self.budget_unit == "training images" else "epochs_done"
        return self.trials[column]


def load_run(folder: Path) -> RunRecord:
    """The run in ``folder``; raises ``NotARun`` (one line) when it holds none."""
    folder = Path(folder)
    settings_file = folder / "settings.json"
    if not settings_file.is_file():
        hint = " (it holds runs of --family all: name one, or give the folder alone)" if family_runs(folder) else ""
        raise NotARun(f"{folder} is not a run folder: it has no settings.json{hint}")
    trials_file = folder / "trials.csv"
    if not trials_file.is_file():
        raise NotARun(f"{folder} has no trials.csv: its search has not ended (continue it with --resume {folder})")
    recorded = _read_json(settings_file)
    report_file = folder / "report.json"
    report = _read_json(report_file) if report_file.is_file() else None
    study_trials, problem = _study_trials(folder, recorded)
    return RunRecord(
        folder=folder,
        recorded=recorded,
        report=report,
        trials=pd.read_csv(trials_file),
        predictions=load_predictions(folder / PREDICTIONS_FILE),
        study_trials=study_trials,
        study_problem=problem,
    )


def family_runs(folder: Path) -> list[Path]:
    """The family folders of a ``--family all`` run, in the order they ran (empty for any other folder)."""
    if (folder / "settings.json").exists():
        return []
    return sorted((p.parent for p in folder.glob("*/settings.json")), key=lambda p: p.stat().st_mtime)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise NotARun(f"{path} cannot be read ({error})") from None


def _study_trials(folder: Path, recorded: dict[str, Any]) -> tuple[list[FrozenTrial] | None, str | None]:
    """The run's trials from its study: the journal in the folder, or the database it recorded."""
    from search.records.study import StudyError, open_study_place, trials_of_run

    run_id = recorded.get("run_id") or folder.name
    name = recorded.get("study_name") or folder.name
    try:
        place = open_study_place(recorded.get("study_storage"), name, folder, create=False)
        study = place.load()
    except StudyError as error:
        return None, str(error)
    if study is None:
        return None, f"the study {name!r} is not in {place.where}"
    return trials_of_run(study, run_id), None
