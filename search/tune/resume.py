"""How an interrupted search goes on: from Ray Tune's saved state when it is whole, else from the study.

Ray Tune's state (``experiment_state-*.json``, the searcher's pickle, ``tuner.pkl``) is whole when it
can be read and knows every trial that the study on disk records (a finished one as finished). Then
``Tuner.restore`` goes on where the search stopped, unfinished trials from their last checkpoint.
Otherwise (deleted, truncated, emptied, or behind the study because the driver was killed between two
of Ray Tune's periodic saves) the search is rebuilt from the study: the finished trials are kept, the
sampler learns from them, and the trials that were running run again as new ones. With neither,
nothing can go on: one line, exit code 2.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field

from optuna.trial import FrozenTrial, TrialState

from search.core.errors import InputError
from search.records.storage import Storage
from search.records.study import TUNE_TRIAL_ID, StudyPlace, finished_by_themselves, trials_of_run
from search.tune.searcher import is_saved_state

FINISHED_IN_TUNE = ("TERMINATED", "ERROR")


class ResumeError(InputError):
    """Neither Ray Tune's state nor the study holds what a resumed search needs."""


@dataclass(frozen=True)
class ResumePlan:
    """Restore Ray Tune's state (``problem`` None), or rebuild from the study's trials."""

    problem: str | None
    """What is wrong with Ray Tune's state; None when it is whole."""
    kept: list[FrozenTrial] = field(default_factory=list)
    """The run's trials the study records as finished."""
    running: list[FrozenTrial] = field(default_factory=list)
    """The run's trials that were running when the driver stopped."""

    @property
    def restore(self) -> bool:
        return self.problem is None


def plan_resume(storage: Storage, experiment_name: str, place: StudyPlace, run_id: str) -> ResumePlan:
    """Whether Ray Tune's state can be restored; if not, what the study keeps. Raises ``ResumeError``."""
    experiment = storage.experiment_path(experiment_name)
    try:
        study = place.load()
    except Exception as error:  # noqa: BLE001 - a damaged journal or database raises anything
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ResumeError(
            f"cannot resume: the study {place.name!r} in {place.where} cannot be read ({first})"
        ) from None
    trials = [] if study is None else trials_of_run(study, run_id)
    kept = finished_by_themselves(trials)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    problem = tune_state_problem(storage, experiment, _tune_ids(kept), _tune_ids(running))
    cannot = f"cannot resume: Ray Tune's state in {experiment} is {problem}, and " if problem else "cannot resume: "
    study_named = f"the study {place.name!r} in {place.where}"
    if study is None:  # Ray Tune's searcher writes to the study: it cannot go on without it
        raise ResumeError(f"{cannot}{study_named} is missing")
    if problem is None:
        return ResumePlan(None, kept)
    if not trials:
        raise ResumeError(f"{cannot}{study_named} holds no trial of this run")
    return ResumePlan(problem, kept, running)


def _tune_ids(trials: list[FrozenTrial]) -> set[str]:
    return {t.user_attrs.get(TUNE_TRIAL_ID) for t in trials}


def tune_state_problem(
    storage: Storage, experiment: str, finished_ids: set[str], running_ids: frozenset[str] | set[str] = frozenset()
) -> str | None:
    """What is wrong with the Ray Tune state in ``experiment``, or None when it is whole and up to date.

    Ray Tune saves its state every so often; the study records each trial as it starts and ends. The
    state is behind when a trial the study saw finish is not finished in it, or when a trial the study
    saw start is not in it at all.
    """
    import pyarrow.fs

    filesystem = storage.filesystem or pyarrow.fs.LocalFileSystem()
    try:
        listing = filesystem.get_file_info(pyarrow.fs.FileSelector(experiment, allow_not_found=True))
    except OSError as error:
        return f"unreadable ({error})"
    names = {info.base_name: info.path for info in listing if info.type == pyarrow.fs.FileType.File}
    states = sorted(n for n in names if n.startswith("experiment_state-") and n.endswith(".json"))
    if not states:
        return "missing"
    if "tuner.pkl" not in names:
        return "damaged (tuner.pkl is missing)"
    try:
        saved = json.loads(_read(filesystem, names[states[-1]]))
        statuses = {}
        for trial_state, _metadata in saved["trial_data"]:
            trial = json.loads(trial_state)
            statuses[trial["trial_id"]] = trial["status"]
    except (ValueError, KeyError, TypeError) as error:
        return f"damaged ({states[-1]} cannot be read: {type(error).__name__})"
    searchers = sorted(n for n in names if n.startswith("searcher-state-") and n.endswith(".pkl"))
    if not searchers:
        return "damaged (the searcher's state is missing)"
    try:
        if not is_saved_state(pickle.loads(_read(filesystem, names[searchers[-1]]))):
            raise ValueError("not a searcher's state")
    except Exception as error:  # noqa: BLE001 - unpickling a damaged file raises anything
        return f"damaged ({searchers[-1]} cannot be read: {type(error).__name__})"
    behind = [i for i in finished_ids if statuses.get(i) not in FINISHED_IN_TUNE]
    if behind:
        return f"behind the study ({len(behind)} finished trials missing: the driver stopped before it saved)"
    unknown = [i for i in running_ids if i not in statuses]
    if unknown:
        return f"behind the study ({len(unknown)} started trials missing: the driver stopped before it saved)"
    return None


def _read(filesystem, path: str) -> bytes:
    with filesystem.open_input_stream(path) as stream:
        return stream.read()
