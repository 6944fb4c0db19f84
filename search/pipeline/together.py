"""Several families searched at once on one Ray cluster, under one time budget.

Each family's search is a run of its own, in a process of its own (``python -m search.run --family F
--together``, in the family's subfolder) joined to this driver's Ray cluster: its own study, ASHA on
its own rungs, its own end rule, Ctrl-C and ``--resume`` as for one family. Above them this driver
is the allocator (``search.core.allocation``): every ``ALLOCATE_S`` it reads each family's study,
sets how many trials each runs at once (``share.json``), and ends the search of a family clearly
behind the leader (``end-request.json``: ``search.records.shares``). Their output reaches the
terminal line by line, each line marked with its family. Once every family has retrained its best,
the families are ranked (``search.core.ranking``) and the combined report written.

``families.json`` in the run folder records the families and each one's options, so that
``--resume`` of the run folder goes on with every family that had not finished.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from search.core.allocation import (
    NICE_BEHIND,
    EndedTrial,
    Standing,
    clearly_behind,
    cpu_priorities,
    trial_slots,
)
from search.core.errors import InputError
from search.core.formatting import format_duration
from search.core.reporter import Reporter
from search.core.settings import Settings
from search.families import get_family
from search.machine.cluster import ClusterResources
from search.records.run_copy import TOGETHER_FILE, RunCopy, copy_place, resume_uri
from search.records.shares import (
    Share,
    allocation_place,
    end_requested,
    read_share,
    request_end,
    search_ended,
    write_share,
)
from search.records.storage import Storage
from search.tune.interrupt import SearchInterrupted

ALLOCATE_S = 5.0
"""Seconds between two looks of the allocator at the families' studies."""
INTERRUPTED_CODES = (128 + signal.SIGINT, 128 + signal.SIGTERM)


class FamilyFailed(RuntimeError):
    """A family's search failed; the others finished and were ranked."""


@dataclass
class FamilyProcess:
    """One family's search, running in its own process."""

    family: str
    folder: Path
    process: subprocess.Popen
    relays: list[threading.Thread]

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def trial_cpus_together(cpus_per_trial: float, cluster_cpus: float, families: int) -> float:
    """CPUs each trial holds when ``families`` search at once: at most an equal part of the cluster, so that
    every family's trials fit at once (their threads share the cores while families outnumber them)."""
    return round(min(cpus_per_trial, max(cluster_cpus, 1) / families), 3)


def write_together_file(
    output_dir: Path, families: dict[str, list[str]], time_budget_s: float, address: str | None, storage: Storage
) -> None:
    """Record the run's families and each one's command-line options (no password: ``--resume`` asks again),
    the cluster it joined (``--address``; None: its own local Ray) and, with a bucket for ``--storage-path``,
    the name of the run's folder there."""
    record = {"families": families, "time_budget_s": time_budget_s, "address": address, "started": time.time()}
    if storage.filesystem is not None:
        record["experiment_name"] = f"{output_dir.name}-{uuid.uuid4().hex[:8]}"
    (output_dir / TOGETHER_FILE).write_text(json.dumps(record, indent=2) + "\n")


def together_copy(output_dir: Path, storage: Storage, storage_path: str | None) -> tuple[RunCopy | None, str]:
    """The run folder's copy in the bucket (every family's folder in it) and the URI ``--resume`` takes to go
    on from there; (None, "") without a bucket. Its journals are looked at every ``ALLOCATE_S``."""
    try:
        name = json.loads((output_dir / TOGETHER_FILE).read_text()).get("experiment_name")
    except (OSError, ValueError, AttributeError):
        name = None
    if storage.filesystem is None or not name:
        return None, ""
    copy = RunCopy(storage, copy_place(storage, name), output_dir, every_s=ALLOCATE_S)
    return copy, resume_uri(storage_path, name)


def read_together_file(output_dir: Path) -> dict[str, list[str]]:
    """The families of a several-family run and their options; ``InputError`` when the file is damaged."""
    try:
        families = json.loads((output_dir / TOGETHER_FILE).read_text())["families"]
        if not isinstance(families, dict) or not all(isinstance(v, list) for v in families.values()):
            raise ValueError("no families")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"--resume {output_dir}: {TOGETHER_FILE} is damaged ({error})") from None
    return families


def recorded_address(output_dir: Path) -> str | None:
    """The ``--address`` a several-family run was started with (None: its own local Ray)."""
    try:
        return json.loads((output_dir / TOGETHER_FILE).read_text()).get("address")
    except (OSError, ValueError, AttributeError):
        return None


def run_together(
    output_dir: Path,
    options: dict[str, list[str]],
    plans: list[Settings],
    resources: ClusterResources,
    address: str,
    reporter: Reporter,
    validation_size: int,
    passed: list[str],
) -> list[dict[str, Any]]:
    """Search every family of ``plans`` at once, each as a process started with ``options[family]`` (a new
    run) or ``--resume`` (a family that had started), plus ``passed``; returns the reports in the plans'
    order. Raises ``SearchInterrupted`` after a stop signal (every family stopped and saved), and
    ``FamilyFailed`` when a family failed (the reports of the others are on the exception)."""
    done = {s.family: report_of(s.output_dir) for s in plans}
    todo = [s for s in plans if done[s.family] is None]
    cpu_slots = max(1, int(resources.cpus))
    allocate(plans, todo, resources, cpu_slots, validation_size, reporter, first=True)
    children = [start_family(s, options[s.family], address, passed) for s in todo]
    stop = forward_stop_signals(children)
    try:
        while any(child.running for child in children):
            time.sleep(ALLOCATE_S)
            running = [s for s in todo if next(c for c in children if c.family == s.family).running]
            allocate(plans, running, resources, cpu_slots, validation_size, reporter)
        for child in children:
            for relay in child.relays:
                relay.join(timeout=5)
    finally:
        stop.restore()
    codes = {child.family: child.process.returncode for child in children}
    interrupted = [f for f, code in codes.items() if code in INTERRUPTED_CODES]
    if stop.signum is not None or interrupted:
        signum = stop.signum or codes[interrupted[0]] - 128
        raise SearchInterrupted(f"stopped by {signal.Signals(signum).name}", signum)
    reports = [report_of(s.output_dir) for s in plans]
    failed = [f for f, code in codes.items() if code != 0]
    if failed:
        error = FamilyFailed(f"the search of {', '.join(failed)} failed (its lines above say why)")
        error.reports = [r for r in reports if r is not None]
        raise error
    return reports


def allocate(
    plans: list[Settings],
    searching: list[Settings],
    resources: ClusterResources,
    cpu_slots: int,
    validation_size: int,
    reporter: Reporter,
    first: bool = False,
) -> None:
    """One look at the families: end the searches of those clearly behind, share the trial slots out."""
    standings = {s.family: standing_of(s) for s in plans}
    if not first:
        for family, why in clearly_behind(list(standings.values()), validation_size).items():
            folder = allocation_place(next(s.output_dir for s in plans if s.family == family))
            if any(s.family == family for s in searching) and end_requested(folder) is None:
                request_end(folder, why)
                reporter.say(f"== {family}: ending its search, {why}")
    live = [s for s in searching if still_searching(s.output_dir)]
    on_gpus = [s for s in live if get_family(s.family).USES_GPU and resources.gpus > 0]
    on_cpus = [s for s in live if s not in on_gpus]
    if on_gpus:  # the GPU nodes' CPUs are for the GPU trials: other trials there would leave the GPUs idle
        cpu_slots = max(1, int(resources.cpus_without_gpus))  # and their trials keep off those nodes
    slots = trial_slots([standings[s.family] for s in on_cpus], cpu_slots)
    nice = cpu_priorities([standings[s.family] for s in on_cpus])
    retrain_threads = max(1, cpu_slots // max(1, len(searching)))
    for settings in searching:
        folder = allocation_place(settings.output_dir)
        if settings in on_gpus:
            at_once = resources.gpu_trials_at_once(settings.cpus_per_trial, settings.gpus_per_trial or 1)
            share = Share(at_once, retrain_threads)
        else:
            avoid = resources.gpu_nodes if on_gpus else ()
            share = Share(slots.get(settings.family, 1), retrain_threads, avoid, nice.get(settings.family, 0))
        previous = read_share(folder)
        newly_leading = share.nice == 0 and (previous is None or previous.nice != 0)
        if newly_leading and settings in on_cpus and len(on_cpus) > 1:
            reporter.say(f"== {settings.family}: {leading(standings[settings.family])}")
        write_share(folder, share)


def still_searching(family_folder: Path) -> bool:
    """Neither called off by the allocator nor ended by its own rules (retraining, or finished)."""
    folder = allocation_place(family_folder)
    return end_requested(folder) is None and not search_ended(folder)


def leading(standing: Standing) -> str:
    """Why the family's trials now run first on the shared cores, in a sentence."""
    why = (
        f"its best validation accuracy {standing.best:.2%} leads"
        if standing.best is not None
        else f"expected to lead (the article's {standing.prior:.1%})"
        if standing.prior
        else "first of the families without a result"
    )
    return (
        f"{why}: its trials run first where the families' trials outnumber the cores "
        f"(the others' at nice {NICE_BEHIND})"
    )


def standing_of(settings: Settings) -> Standing:
    """Where a family's search stands, from its study (nothing yet when its search has not started)."""
    from search.records.study import open_study_place, trials_of_run

    family = get_family(settings.family)
    prior = family.BASELINE_TEST_ACCURACY if settings.dataset == "mnist" else 0.0
    recorded = read_settings(settings.output_dir)
    if recorded is None:
        return Standing(settings.family, None, 0, prior)
    try:
        place = open_study_place(recorded.study_storage, recorded.study, recorded.output_dir, create=False)
        study = place.load()
    except Exception:  # noqa: BLE001 - a study being written or not there yet: look again next time
        study = None
    if study is None:
        return Standing(settings.family, None, 0, prior)
    import optuna

    trials = sorted(trials_of_run(study, recorded.run), key=lambda t: t.number)
    full = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    enqueued = [t for t in trials if "fixed_params" in t.system_attrs]  # the article's settings come first
    article = enqueued[0].value if enqueued and enqueued[0] in full else None
    best = max((t.value for t in full), default=None)
    ended = tuple(ended_trial(t) for t in trials if t in full or t.state == optuna.trial.TrialState.PRUNED)
    return Standing(settings.family, best, len(full), prior, article, ended, recorded.end_chance)


def ended_trial(trial) -> EndedTrial:
    """An Optuna trial that ended, as the allocator's outlook reads it (its reports keyed by step)."""
    from optuna.trial import TrialState

    steps = tuple(sorted(trial.intermediate_values.items()))
    if trial.state != TrialState.COMPLETE:  # stopped at a rung
        return EndedTrial(steps)
    return EndedTrial(steps[:-1], trial.value)  # its last report is its full budget's


def read_settings(folder: Path) -> Settings | None:
    try:
        recorded = json.loads((folder / "settings.json").read_text())
        return Settings.from_dict({**recorded, "output_dir": str(folder)})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def report_of(folder: Path) -> dict[str, Any] | None:
    """A family's report, once it has finished (None before)."""
    try:
        return json.loads((folder / "report.json").read_text())
    except (OSError, ValueError):
        return None


def start_family(settings: Settings, options: list[str], address: str, passed: list[str]) -> FamilyProcess:
    """Start one family's search in a process of its own session (a Ctrl-C reaches it through this driver,
    once), its output relayed line by line."""
    folder = settings.output_dir
    if (folder / "settings.json").is_file():
        argv = ["--resume", str(folder)]
    else:
        argv = [*options, "--family", settings.family, "--output-dir", str(folder), "--together"]
    argv += ["--address", address, *passed]
    process = subprocess.Popen(
        [sys.executable, "-m", "search.run", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    relays = [
        relay_lines(settings.family, process.stdout, sys.stdout, "--debug" in passed),
        relay_lines(settings.family, process.stderr, sys.stderr, "--debug" in passed),
    ]
    return FamilyProcess(settings.family, folder, process, relays)


_PRINTING = threading.Lock()
NATIVE_NOISE = re.compile(
    r"^([IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl::InitializeLog|"
    r"To enable the following instructions: )"
)
"""TensorFlow's native start-up lines (oneDNN, CUDA drivers looked for, CPU instructions), which a driver
that loads a Keras model prints on its standard error and no variable silences; shown with ``--debug``."""


def relay_lines(family: str, source: IO[str], target: IO[str], debug: bool) -> threading.Thread:
    """Copy ``source`` to ``target`` line by line, each line marked with ``family`` unless it names it."""

    def relay() -> None:
        for line in source:
            text = line.rstrip("\n")
            if not debug and NATIVE_NOISE.match(text):
                continue
            marked = text if text.startswith(f"== {family}:") or not text.strip() else f"[{family}] {text}"
            with _PRINTING:
                print(marked, file=target, flush=True)

    thread = threading.Thread(target=relay, name=f"relay {family}", daemon=True)
    thread.start()
    return thread


class StopForwarder:
    """Ctrl-C or SIGTERM to this driver: each family's search is told once, stops and saves; remembered."""

    signum: int | None = None

    def __init__(self, children: list[FamilyProcess]) -> None:
        self.children = children
        self.previous = {}
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self.forward) for s in (signal.SIGINT, signal.SIGTERM)}

    def forward(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        for child in self.children:
            if child.running:
                child.process.send_signal(signum if first else signal.SIGKILL)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def forward_stop_signals(children: list[FamilyProcess]) -> StopForwarder:
    return StopForwarder(children)


def describe_together(plans: list[Settings], time_budget_s: float, cpus: float, trial_cpus: float) -> str:
    """One line: what the run searches at once, under which budget."""
    names = ", ".join(s.family for s in plans)
    return (
        f"== searching {names} at once, {format_duration(time_budget_s)} in all on {cpus:g} CPUs; each trial "
        f"holds {trial_cpus:g} CPUs; a family clearly behind the leader, or unlikely to overtake it, ends its "
        "search early"
    )
