"""Where the time went: the run's core-seconds, by what the cores were doing.

The whole is wall time x the cluster's CPUs, over the search and the retrain. A trial's share is
the time inside its family's training (its fits and the validation scoring after each epoch or
rung: ``training_seconds``) x the CPUs it holds. What no trial spent training (workers starting,
Ray Tune scheduling and saving, cores with nothing to run) is the search's overhead. The retrain
counts the CPU time its fit used (a fit may use fewer cores than it holds: scikit-learn's own SVC uses one); the rest
of its wall time x the CPUs is idle cores and the test's predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from search.core.formatting import format_duration
from search.core.kinds import TrialStatus
from search.visual.drawn import COMPLETED_COLOR, Drawn, Missing
from search.visual.run_record import RunRecord

STATUS_NAMES = {
    TrialStatus.COMPLETED.value: "completed trials",
    TrialStatus.STOPPED_EARLY.value: "trials stopped early",
    TrialStatus.FAILED.value: "failed trials",
}


@dataclass(frozen=True)
class CoreSeconds:
    """One slice of the run's core-seconds."""

    what: str
    core_seconds: float
    training: bool
    """Whether these cores were fitting models (the retrain counts)."""


def core_seconds(run: RunRecord) -> list[CoreSeconds] | None:
    """The run's core-seconds by activity; None when its report lacks the cluster's size (older runs)."""
    report = run.report
    if report is None or report.get("cluster_cpus") is None:
        return None
    cpus_per_trial = float(report["cpus_per_trial"])
    trials = run.trials
    wall = trials["seconds"].fillna(0).clip(lower=0)
    training = trials["training_seconds"].fillna(0).clip(lower=0)
    parts = []
    for status, name in STATUS_NAMES.items():
        rows = trials["status"] == status
        spent = (wall if status == TrialStatus.FAILED else training)[rows].sum()  # a failed trial's time is all lost
        parts.append(CoreSeconds(name, float(spent) * cpus_per_trial, status != TrialStatus.FAILED))
    cluster = float(report["cluster_cpus"])
    in_trials = sum(p.core_seconds for p in parts)
    overhead = max(0.0, report["search_seconds"] * cluster - in_trials)
    parts.append(CoreSeconds("search overhead (start-up, scheduling, idle)", overhead, False))
    retrain_whole = report["retrain_seconds"] * cluster
    busy = report.get("retrain_fit_cpu_seconds", report["retrain_seconds"] * float(report["retrain_cpus"]))
    busy = min(busy, retrain_whole)
    parts.append(CoreSeconds("retrain: cores fitting", busy, True))
    parts.append(CoreSeconds("retrain: cores idle, and the test", retrain_whole - busy, False))
    return parts


def training_share(parts: list[CoreSeconds]) -> float:
    """The share of all core-seconds spent fitting models, the retrain included."""
    total = sum(p.core_seconds for p in parts)
    return sum(p.core_seconds for p in parts if p.training) / total if total else 0.0


def core_seconds_table(parts: list[CoreSeconds] | None) -> list[list[str]]:
    """The core-seconds as table rows (header first); none when there are none."""
    if not parts:
        return []
    total = sum(p.core_seconds for p in parts) or 1.0
    return [["activity", "core-seconds", "share"]] + [
        [p.what, f"{p.core_seconds:,.0f}", f"{p.core_seconds / total:.1%}"] for p in parts
    ]


def core_seconds_figure(run: RunRecord, parts: list[CoreSeconds] | None) -> Drawn | Missing:
    """A bar per activity of ``parts`` (``core_seconds(run)``), in core-seconds, training in the completed
    trials' color."""
    if run.report is None:
        return Missing("the run ended before its retrain (it has no report.json)")
    if parts is None:
        return Missing("report.json lacks the cluster's CPUs (a run from before the report had them)")
    total = sum(p.core_seconds for p in parts)
    figure = Figure(figsize=(9, 0.42 * len(parts) + 1.3), layout="constrained")
    axis = figure.subplots()
    names = [p.what for p in parts][::-1]
    values = [p.core_seconds for p in parts][::-1]
    colors = [COMPLETED_COLOR if p.training else "0.65" for p in parts][::-1]
    axis.barh(names, values, color=colors)
    for y, value in enumerate(values):
        axis.text(value, y, f" {_amount(value)} ({value / total:.0%})" if total else "", va="center", fontsize=9)
    axis.set_xlim(0, max(values) * 1.35 if max(values) > 0 else 1)
    axis.set_xlabel("core-seconds")
    caption = (
        f"{_amount(total)} core-seconds in all ({run.report['cluster_cpus']:g} CPUs x the search and the "
        f"retrain); {training_share(parts):.0%} of them in fits and their validation scoring (blue), the retrain's "
        "fit included."
    )
    return Drawn("core_seconds", "Where the time went", figure, caption)


def _amount(core_seconds: float) -> str:
    """``7.4s`` below a minute, ``20m 34s`` above."""
    return f"{core_seconds:.1f}s" if core_seconds < 60 else format_duration(core_seconds)
