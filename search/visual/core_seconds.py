"""Where the time went: the run's core-seconds, by what the cores were doing.

The whole is wall time x the cluster's CPUs, over the search and the retrain. A trial holds
``cpus_per_trial`` cores for its wall time: the part inside the family's training (its fits and
the validation scoring after each epoch or rung: ``training_seconds``) counts as training, the rest
(the worker's start-up, reporting to Ray Tune, saving checkpoints) as overhead. Cores no trial held
are idle; during the retrain, all but the retrain's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from search.formatting import format_duration
from search.visual.drawn import COMPLETED_COLOR, Drawn, Missing
from search.visual.run_record import RunRecord

STATUS_NAMES = {"completed": "completed trials", "stopped_early": "trials stopped early", "failed": "failed trials"}


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
    training = np.minimum(trials["training_seconds"].fillna(0), wall)
    parts = []
    for status, name in STATUS_NAMES.items():
        rows = trials["status"] == status
        if status == "failed":
            parts.append(CoreSeconds(name, float(wall[rows].sum()) * cpus_per_trial, False))
            continue
        parts.append(CoreSeconds(f"{name}: fits and scoring", float(training[rows].sum()) * cpus_per_trial, True))
        parts.append(
            CoreSeconds(f"{name}: start-up, reporting", float((wall - training)[rows].sum()) * cpus_per_trial, False)
        )
    cluster = float(report["cluster_cpus"])
    held = float(wall.sum()) * cpus_per_trial
    parts.append(CoreSeconds("idle during the search", max(0.0, report["search_seconds"] * cluster - held), False))
    retrain_cpus = float(report["retrain_cpus"])
    parts.append(CoreSeconds("retrain (fit and test)", report["retrain_seconds"] * retrain_cpus, True))
    parts.append(
        CoreSeconds("idle during the retrain", report["retrain_seconds"] * max(0.0, cluster - retrain_cpus), False)
    )
    return parts


def training_share(parts: list[CoreSeconds]) -> float:
    """The share of all core-seconds spent fitting models, the retrain included."""
    total = sum(p.core_seconds for p in parts)
    return sum(p.core_seconds for p in parts if p.training) / total if total else 0.0


def core_seconds_figure(run: RunRecord) -> Drawn | Missing:
    """A bar per activity, in core-seconds, training in the completed trials' color."""
    if run.report is None:
        return Missing("the run ended before its retrain (it has no report.json)")
    parts = core_seconds(run)
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
        f"retrain); {training_share(parts):.0%} of them in fits and their validation scoring (blue), the retrain "
        "included."
    )
    return Drawn("core_seconds", "Where the time went", figure, caption)


def _amount(core_seconds: float) -> str:
    """``7.4s`` below a minute, ``20m 34s`` above."""
    return f"{core_seconds:.1f}s" if core_seconds < 60 else format_duration(core_seconds)
