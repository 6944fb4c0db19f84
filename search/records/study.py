"""The Optuna study on disk: every trial with its parameters, intermediate values, state and attributes.

By default the study is an Optuna journal file in the run folder (``study.journal``); ``--study-storage``
puts it in a database instead (``sqlite:///...``, ``postgresql://...``), where searches from several
drivers can share one study name. The searcher (``search/tune/searcher.py``) writes to it as trials
start, report and end, so it outlives the driver: ``optuna.load_study`` and ``optuna-dashboard`` read
it, and ``--resume`` rebuilds a search from it when Ray Tune's own state is lost or behind it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import distribution_to_json
from optuna.trial import FrozenTrial, TrialState

from search.core.errors import InputError
from search.core.kinds import TrialStatus
from search.core.trial_report import TrialReport
from search.core.trials import TrialOutcome
from search.records.credentials import hide_password, with_password

JOURNAL_FILE = "study.journal"
"""The study's journal in the run folder, when no ``--study-storage`` is given."""

RUN = "run"
"""User attribute of every trial: the run (``Settings.run_id``) whose search made it."""
TUNE_TRIAL_ID = "tune_trial_id"
"""User attribute: Ray Tune's id of the trial."""
LAST_REPORT = "last_report"
"""User attribute: the trial's last ``TrialReport`` as plain data."""
BUDGET_REACHED = "budget_reached"
"""User attribute: how far the trial got, in its family's unit (epochs or training samples)."""
TRAINING_SECONDS = "training_seconds"
ERROR = "error"
INTERRUPTED = "interrupted"
"""User attribute of a trial that was running when its driver stopped: it ran again as a new trial."""
CUT_OFF = "cut_off"
"""User attribute of a trial the search's end (the time budget) closed before it finished."""

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class StudyError(InputError):
    """A study storage that cannot be opened, or a stored study that does not match this search."""


@dataclass(frozen=True)
class StudyPlace:
    """Where a run's study is: an opened Optuna storage and the study's name in it."""

    storage: optuna.storages.BaseStorage | None
    """None: a journal that does not exist (a resumed run's, deleted)."""
    name: str
    where: str
    """For messages: the journal's path or the database URL without its password."""
    private: bool = False
    """The run folder's own journal: no other run writes to it (a database may be shared)."""

    def create(self, sampler: optuna.samplers.BaseSampler, maximize: bool = True) -> optuna.Study:
        """The study, made if the storage does not hold it yet, sampling with ``sampler`` (no pruner: Ray Tune's
        scheduler stops trials)."""
        return optuna.create_study(
            storage=self.storage,
            study_name=self.name,
            sampler=sampler,
            pruner=optuna.pruners.NopPruner(),
            direction="maximize" if maximize else "minimize",
            load_if_exists=True,
        )

    def storage_id(self, number: int) -> int:
        """The storage's id of the study's trial ``number`` (Optuna's storage API speaks in these ids)."""
        study_id = self.storage.get_study_id_from_name(self.name)
        return self.storage.get_trial_id_from_study_id_trial_number(study_id, number)

    def trial(self, study: optuna.Study, number: int) -> optuna.Trial:
        """A handle on ``study``'s trial ``number`` (running), to report to, mark and tell."""
        return optuna.Trial(study, self.storage_id(number))

    def load(self) -> optuna.Study | None:
        """The stored study, or None when the storage does not hold it yet."""
        if self.storage is None:
            return None
        try:
            return optuna.load_study(study_name=self.name, storage=self.storage)
        except KeyError:
            return None


def open_study_place(url: str | None, name: str, run_dir: Path, create: bool = True) -> StudyPlace:
    """The study's storage, opened: the journal in ``run_dir`` when ``url`` is None, else the database at ``url``.

    Without ``create`` (a resumed run), a missing journal is not made: the place holds no study.

    Raises ``StudyError`` (one line) when the database cannot be reached or its driver is missing, or
    when the journal cannot be read.
    """
    if url is None:
        from optuna.storages import JournalStorage

        from search.records.journal import RunJournal

        path = run_dir / JOURNAL_FILE
        if not create and not path.exists():
            return StudyPlace(None, name, str(path), private=True)
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            return StudyPlace(JournalStorage(RunJournal(str(path))), name, str(path), private=True)
        except Exception as error:  # noqa: BLE001 - a damaged journal raises whatever its first bad line causes
            raise StudyError(f"the study journal {path} is damaged ({_first_line(error)})") from None
    shown = hide_password(url)
    if not re.match(r"^[a-z0-9+]+://", url):
        raise StudyError(f"--study-storage {shown}: write a database URL (sqlite:///path.db, postgresql://...)")
    try:
        storage = optuna.storages.RDBStorage(_with_installed_driver(with_password(url)), skip_table_creation=False)
    except Exception as error:  # noqa: BLE001 - SQLAlchemy raises its own OperationalError, ArgumentError ...
        if "password" in str(error) and "@" in url and with_password(url) == url:
            raise StudyError(
                f"--study-storage {shown}: the database asks for a password, which no run folder keeps; give it "
                "with PGPASSWORD or ~/.pgpass, or with --study-storage again"
            ) from None
        raise StudyError(f"--study-storage {shown}: cannot open it ({_first_line(error)})") from None
    return StudyPlace(storage, name, shown)


def _with_installed_driver(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed (psycopg 3 unless psycopg2 is)."""
    if not url.startswith("postgresql://"):
        return url
    try:
        import psycopg2  # noqa: F401 - SQLAlchemy's default for postgresql://
    except ImportError:
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def space_record(family: str, distributions: dict[str, Any]) -> dict[str, Any]:
    """What a study records of the search that made it, to refuse a search of another space."""
    return {"family": family, "space": {name: distribution_to_json(d) for name, d in distributions.items()}}


def check_study_matches(place: StudyPlace, family: str, distributions: dict[str, Any]) -> int:
    """Trials the stored study already holds (0 when it is new); raises ``StudyError`` if it is another search's.

    A study made by this tool records its family and space; any other study is compared through the
    distributions of its trials.
    """
    study = place.load()
    if study is None:
        return 0
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise StudyError(f"study {place.name!r} in {place.where} minimises its objective; this search maximises")
    ours = space_record(family, distributions)
    theirs = {key: study.user_attrs[key] for key in ours if key in study.user_attrs}
    if not theirs:
        for trial in study.get_trials(deepcopy=False):
            theirs = {"family": family, "space": {n: distribution_to_json(d) for n, d in trial.distributions.items()}}
            break
    for key in ("family", "space"):
        if key in theirs and theirs[key] != ours[key]:
            raise StudyError(
                f"study {place.name!r} in {place.where} was made by a search of another {key} "
                f"({_difference(theirs[key], ours[key])}); choose another --study-name"
            )
    return len(study.trials)


def _difference(theirs: Any, ours: Any) -> str:
    if not isinstance(theirs, dict):
        return f"{theirs}, not {ours}"
    names = sorted(set(theirs) | set(ours))
    changed = [n for n in names if theirs.get(n) != ours.get(n)]
    name = changed[0]
    return f"{name}: stored {theirs.get(name, 'absent')}, here {ours.get(name, 'absent')}"


def mark_study(study: optuna.Study, family: str, distributions: dict[str, Any]) -> None:
    """Record the family and space on a study this search uses, if it has not got them."""
    for key, value in space_record(family, distributions).items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)


def trials_of_run(study: optuna.Study, run_id: str) -> list[FrozenTrial]:
    """The study's trials that the run ``run_id`` made."""
    return [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get(RUN) == run_id]


def finished_by_themselves(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that ended on their own (not closed because their driver stopped)."""
    return [t for t in trials if t.state in FINISHED and INTERRUPTED not in t.user_attrs]


def set_user_attrs(trial: optuna.Trial, attributes: dict[str, Any]) -> None:
    """Set each of ``attributes`` on the running ``trial``: Optuna's public call, one journal append each
    (cheap in the run folder's journal, ``search.records.journal``)."""
    for key, value in attributes.items():
        trial.set_user_attr(key, value)


def close_orphans(place: StudyPlace, run_id: str) -> int:
    """Close the trials a stopped driver asked the study for but had not yet marked as its own; returns how many.

    The searcher marks a trial with its run right after ``Study.ask``; a driver killed between the two
    leaves a RUNNING trial that no run claims and no resume would close. In the run folder's own
    journal it can only be this run's: it is marked so, ``INTERRUPTED``, and told FAIL (it never
    started). In a shared database it may be another driver's trial of this very moment: left alone.
    """
    study = place.load() if place.private else None
    if study is None:
        return 0
    orphans = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) if RUN not in t.user_attrs]
    for trial in orphans:
        handle = place.trial(study, trial.number)
        set_user_attrs(handle, {RUN: run_id, INTERRUPTED: "asked for by its driver, which stopped before it started"})
        study.tell(handle, state=TrialState.FAIL)
    return len(orphans)


def close_running(
    place: StudyPlace, run_id: str, mark: str, why: str, outcomes: dict[str, TrialOutcome] | None = None
) -> list[FrozenTrial]:
    """Close the run's trials still RUNNING in the study; returns those it marked ``mark`` (with ``why``).

    A trial Ray Tune saw reach its full budget (in ``outcomes``, by Ray Tune's id) is told COMPLETE
    with its score: the search ended before the searcher was told. The others are marked and told
    PRUNED when they reported a score, else FAIL.
    """
    study = place.load()
    if study is None:  # a run recorded before the study was kept on disk
        return []
    closed = []
    for trial in trials_of_run(study, run_id):
        if trial.state != TrialState.RUNNING:
            continue
        outcome = (outcomes or {}).get(trial.user_attrs.get(TUNE_TRIAL_ID))
        attributes = {} if outcome is None else outcome_attributes(outcome)
        handle = place.trial(study, trial.number)
        if outcome is not None and outcome.status == TrialStatus.COMPLETED:
            set_user_attrs(handle, attributes)
            study.tell(handle, outcome.last.validation_accuracy, state=TrialState.COMPLETE)
            continue
        set_user_attrs(handle, {**attributes, mark: why})
        if outcome is not None and outcome.last is not None and not trial.intermediate_values:
            handle.report(outcome.last.validation_accuracy, outcome.reports)
        reported = bool(trial.intermediate_values) or (outcome is not None and outcome.last is not None)
        study.tell(handle, state=TrialState.PRUNED if reported else TrialState.FAIL)
        closed.append(trial)
    return closed


def outcome_attributes(outcome: TrialOutcome) -> dict[str, Any]:
    """The user attributes of a trial that ended as ``outcome`` says."""
    attributes = {
        ERROR: outcome.error,
        "node": outcome.node,
        "started_at": outcome.started_at,
        "ended_at": outcome.ended_at,
        "seconds": outcome.seconds,
    }
    if outcome.last is not None:
        attributes[LAST_REPORT] = outcome.last.to_metrics()
        attributes[BUDGET_REACHED] = outcome.last.epochs_done or outcome.last.train_samples
        attributes[TRAINING_SECONDS] = outcome.last.training_seconds
    return {key: value for key, value in attributes.items() if value is not None}


def outcome_from_trial(trial: FrozenTrial) -> TrialOutcome:
    """A trial as the study recorded it, as plain data for ``trials.csv``."""
    attrs = trial.user_attrs
    last = attrs.get(LAST_REPORT)
    return TrialOutcome(
        trial_id=attrs.get(TUNE_TRIAL_ID, f"study-{trial.number}"),
        config=dict(trial.params),
        last=TrialReport(**last) if last else None,
        reports=attrs.get("reports", len(trial.intermediate_values)),
        seconds=attrs.get("seconds"),
        error=attrs.get(ERROR)
        or (None if trial.state != TrialState.FAIL or CUT_OFF in attrs else TrialStatus.FAILED.value),
        node=attrs.get("node"),
        started_at=attrs.get("started_at"),
        ended_at=attrs.get("ended_at"),
    )


def search_seconds_used(trials: list[FrozenTrial]) -> float:
    """Wall time between the first trial's start and the last one's end."""
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    if not starts or not ends:
        return 0.0
    return max(0.0, (max(ends) - min(starts)).total_seconds())
