"""Figures of the search: its progress, what mattered, and every trial's learning curve.

Each function returns a ``Drawn`` (a matplotlib figure and a caption) or a ``Missing`` (why there
is nothing to draw). Matplotlib's object API is used (no pyplot): no global state, no display.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from search.core.formatting import format_duration
from search.core.kinds import TrialStatus
from search.records.study import BUDGET_REACHED
from search.visual.drawn import (
    COMPLETED_COLOR,
    Drawn,
    Missing,
    scatter_scores,
    score_floor,
    set_score_axis,
    stopped_shades,
)
from search.visual.run_record import RunRecord

MIN_TRIALS_FOR_IMPORTANCE = 3
ENOUGH_AT_ONE_BUDGET = 10
"""fANOVA uses the largest budget that this many trials reached (else the one most trials reached)."""


def search_start(trials: pd.DataFrame) -> float:
    """When the run's first trial started (seconds since the epoch)."""
    return float(trials["started_at"].min())


def best_so_far(trials: pd.DataFrame, by: str) -> pd.DataFrame:
    """Trials that reached their full budget, ordered by ``by``, with the best score up to each (``best``)."""
    completed = trials["status"] == TrialStatus.COMPLETED.value
    done = trials[completed & trials["validation_accuracy"].notna()].sort_values(by)
    return done.assign(best=done["validation_accuracy"].cummax())


def progress_figure(run: RunRecord) -> Drawn | Missing:
    """Best-so-far validation accuracy against wall time and against trial number; every trial a point."""
    trials = run.trials.copy()
    if trials["validation_accuracy"].notna().sum() == 0:
        return Missing("no trial reported a validation accuracy")
    seconds = trials["ended_at"] - search_start(trials)
    unit, per = time_unit(seconds.max())
    trials["elapsed"] = seconds / per
    trials["number"] = trials["started_at"].rank(method="first")
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    time_axis, number_axis = figure.subplots(1, 2, sharey=True)
    colors, legend = trial_colors(run)
    scored = trials[trials["validation_accuracy"].notna()]
    floor = score_floor(scored["validation_accuracy"])
    point_colors = colors.loc[scored.index]
    for axis, x, label in ((time_axis, "elapsed", f"{unit} since the search began"), (number_axis, "number", "trial")):
        scatter_scores(axis, scored[x], scored["validation_accuracy"], point_colors, floor)
        best = best_so_far(trials, x)
        if len(best):
            axis.step(
                [*best[x], trials[x].max()],
                [*best["best"], best["best"].iloc[-1]],
                where="post",
                color=COMPLETED_COLOR,
                linewidth=2,
                label="best so far (completed trials)",
            )
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    for label, color in legend.items():
        number_axis.scatter([], [], color=color, s=18, label=label)
    time_axis.set_ylabel("validation accuracy")
    set_score_axis(time_axis, floor, scored["validation_accuracy"])
    number_axis.legend(loc="lower right", fontsize=8)
    failed = int((trials["status"] == TrialStatus.FAILED.value).sum())
    caption = (
        f"{len(trials)} trials in {format_duration(trials['ended_at'].max() - search_start(trials))}"
        f"{f'; {failed} failed (not drawn)' if failed else ''}. The line is the best score among trials that "
        f"reached their full budget: what the search would have returned had it stopped then."
    )
    return Drawn("search_progress", "Search progress", figure, caption)


def learning_curves_figure(run: RunRecord) -> Drawn | Missing:
    """Every trial's validation accuracy at each budget it reached, with ASHA's rungs marked."""
    if run.study_trials is None:
        return Missing(f"the study cannot be read: {run.study_problem}")
    curves = [t for t in run.study_trials if t.intermediate_values]
    if not curves:
        return Missing("no trial in the study reported an intermediate value")
    figure = Figure(figsize=(11, 4.5), layout="constrained")
    axis = figure.subplots()
    points = {t.number: curve_points(run, t) for t in curves}
    full = max(budget for curve in points.values() for budget, _ in curve)
    for curve in points.values():
        reached_full = curve[-1][0] >= full
        axis.plot(
            *zip(*curve, strict=True),
            marker="o",
            markersize=3,
            linewidth=1,
            color=COMPLETED_COLOR if reached_full else "0.6",
            alpha=0.9 if reached_full else 0.5,
            zorder=2,
        )
    best = max(curves, key=lambda t: (t.state.name == "COMPLETE", t.value or 0, len(points[t.number])))
    axis.plot(
        *zip(*points[best.number], strict=True),
        color="#d62728",
        linewidth=2.5,
        marker="o",
        zorder=3,
        label=f"best trial (#{best.number})",
    )
    for rung in run.rung_budgets():
        axis.axvline(rung, color="#ff7f0e", linestyle="--", linewidth=1, zorder=1)
    if run.rung_budgets():
        axis.plot([], [], color="#ff7f0e", linestyle="--", label="ASHA rung")
    axis.plot([], [], color=COMPLETED_COLOR, label="reached the full budget")
    axis.plot([], [], color="0.6", label="stopped early")
    if run.budget_unit == "training images":
        budgets = sorted({budget for curve in points.values() for budget, _ in curve})
        axis.set_xscale("log")
        axis.set_xticks(budgets, [f"{b:,}" for b in budgets])
        axis.minorticks_off()
    axis.set_xlabel(run.budget_unit)
    axis.set_ylabel("validation accuracy")
    axis.grid(alpha=0.3)
    last_scores = pd.Series([curve[-1][1] for curve in points.values()])
    set_score_axis(axis, score_floor(last_scores), last_scores)
    axis.legend(loc="lower right", fontsize=8)
    after = "after each epoch" if run.budget_unit == "epochs" else "at each training-set size"
    caption = f"{len(curves)} trials: validation accuracy {after} they reached; the best trial in red."
    return Drawn("learning_curves", "Learning curves", figure, caption)


def importance_figure(run: RunRecord) -> Drawn | Missing:
    """Optuna's fANOVA importances of the searched parameters, at one budget many trials reached."""
    if run.study_trials is None:
        return Missing(f"the study cannot be read: {run.study_problem}")
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    step = _common_step(run.study_trials)
    if step is None:
        return Missing(f"fewer than {MIN_TRIALS_FOR_IMPORTANCE} trials reported at any one budget")
    at_step = [t for t in run.study_trials if step in t.intermediate_values and t.params]
    if len({tuple(sorted(t.params.items())) for t in at_step}) < 2:
        return Missing("every trial tried the same configuration")
    if len({t.intermediate_values[step] for t in at_step}) < 2:
        return Missing(f"every trial scored the same at {run.budget_at_step(step):,} {run.budget_unit}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    study.add_trials(
        optuna.trial.create_trial(params=t.params, distributions=t.distributions, value=t.intermediate_values[step])
        for t in at_step
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importances = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    names = list(importances)[::-1]
    figure = Figure(figsize=(7, 0.45 * len(names) + 1.4), layout="constrained")
    axis = figure.subplots()
    axis.barh(names, [importances[n] for n in names], color=COMPLETED_COLOR)
    for y, name in enumerate(names):
        axis.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=9)
    axis.set_xlabel("share of the score's variance (fANOVA)")
    axis.set_xlim(0, 1.1)
    budget = run.budget_at_step(step)
    caption = (
        f"How much of the variance of the validation score each parameter explains (Optuna's fANOVA), over the "
        f"{len(at_step)} trials that reached {budget:,} {run.budget_unit}, scored there."
    )
    return Drawn("importances", "What mattered: parameter importances", figure, caption)


def slices_figure(run: RunRecord) -> Drawn | Missing:
    """Each trial's last validation score against each searched parameter, colored by the budget it reached."""
    distributions = run.distributions()
    scored = run.trials[run.trials["validation_accuracy"].notna()]
    names = [n for n in distributions if n in scored.columns and scored[n].nunique() > 1]
    if not names:
        return Missing("no searched parameter took more than one value")
    columns = min(3, len(names))
    rows = int(np.ceil(len(names) / columns))
    figure = Figure(figsize=(4 * columns, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, sharey=True, squeeze=False)).ravel()
    point_colors = trial_colors(run)[0].loc[scored.index]
    floor = score_floor(scored["validation_accuracy"])
    for axis, name in zip(axes, names, strict=False):  # axes beyond the names stay hidden
        _slice(axis, scored, name, distributions[name], point_colors, floor)
    set_score_axis(axes[0], floor, scored["validation_accuracy"])
    for axis in axes[len(names) :]:
        axis.set_visible(False)
    for row in range(rows):
        axes[row * columns].set_ylabel("validation accuracy")
    caption = (
        "Each trial's last validation accuracy against each searched parameter; color is the budget it reached "
        "(blue: completed; orange: stopped early, darker at a later rung), as in Search progress."
    )
    return Drawn("slices", "What mattered: the score over each parameter", figure, caption)


def time_unit(longest_seconds: float) -> tuple[str, float]:
    """Minutes for a search of two minutes or more, else seconds; and the seconds in one unit."""
    return ("minutes", 60.0) if longest_seconds >= 120 else ("seconds", 1.0)


def trial_colors(run: RunRecord) -> tuple[pd.Series, dict[str, str]]:
    """A color per trial (blue: completed; orange by the rung where it was stopped), and the legend."""
    completed = run.trials["status"] == TrialStatus.COMPLETED.value
    budgets = run.budget_reached()
    stopped = sorted(budgets[~completed].dropna().unique())
    colors = pd.Series("0.5", index=run.trials.index, dtype=object)
    legend = {}
    for budget, shade in zip(stopped, stopped_shades(len(stopped)), strict=True):
        colors[~completed & (budgets == budget)] = shade
        legend[f"stopped at {budget:,.0f} {run.budget_unit}"] = shade
    colors[completed] = COMPLETED_COLOR
    legend["completed"] = COMPLETED_COLOR
    return colors, legend


def comparison_figure(runs: Sequence[RunRecord]) -> Drawn | Missing:
    """Several runs' best-so-far validation accuracy on one time axis (minutes since each search began)."""
    figure = Figure(figsize=(10, 4.8), layout="constrained")
    axis = figure.subplots()
    elapsed = {run.label: run.trials["ended_at"] - search_start(run.trials) for run in runs}
    unit, per = time_unit(max(float(e.max()) for e in elapsed.values()))
    drawn = []
    for run in runs:
        trials = run.trials.assign(elapsed=elapsed[run.label] / per)
        best = best_so_far(trials, "elapsed")
        if best.empty:
            continue
        end = trials["elapsed"].max()
        label = run.label if run.label == run.family else f"{run.label} ({run.family})"
        axis.step(
            [*best["elapsed"], end],
            [*best["best"], best["best"].iloc[-1]],
            where="post",
            linewidth=2,
            label=label,
            marker="o",
            markevery=[len(best)],
            markersize=5,
        )
        drawn.append(best["best"])
    if not drawn:
        return Missing("no run has a trial that reached its full budget")
    axis.set_xlabel(f"{unit} since the search began")
    axis.set_ylabel("best validation accuracy so far")
    axis.grid(alpha=0.3)
    every_best = pd.concat(drawn)
    top = float(every_best.max())
    set_score_axis(axis, max(float(every_best.min()) - 0.005, top - 0.1), every_best)
    axis.legend(loc="lower right", fontsize=8)
    caption = "Best validation accuracy among trials that reached their full budget, as each search went on."
    return Drawn("best_so_far", "Best so far, run by run", figure, caption)


def curve_points(run: RunRecord, trial) -> list[tuple[int, float]]:
    """(budget, validation accuracy) after each report of a study trial, its final score included.

    Optuna holds a completed trial's last score as its value, not as an intermediate value.
    """
    points = {run.budget_at_step(step): value for step, value in trial.intermediate_values.items()}
    reached = trial.user_attrs.get(BUDGET_REACHED)
    if trial.value is not None and reached is not None:
        points.setdefault(int(reached), trial.value)
    return sorted(points.items())


def _common_step(trials) -> int | None:
    """The largest step at least ``ENOUGH_AT_ONE_BUDGET`` trials reported at, else the most reported one."""
    counts: dict[int, int] = {}
    for trial in trials:
        if trial.params:
            for step in trial.intermediate_values:
                counts[step] = counts.get(step, 0) + 1
    if not counts or max(counts.values()) < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    enough = [step for step, n in counts.items() if n >= ENOUGH_AT_ONE_BUDGET]
    if enough:
        return max(enough)
    return max(counts, key=lambda step: (counts[step], step))


def _slice(axis, scored: pd.DataFrame, name: str, distribution, colors, floor: float) -> None:
    values = scored[name]
    if isinstance(distribution, CategoricalDistribution):
        choices = [str(c) for c in distribution.choices]
        positions = values.astype(str).map({c: i for i, c in enumerate(choices)})
        jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(values))
        scatter_scores(axis, positions + jitter, scored["validation_accuracy"], colors, floor)
        axis.set_xticks(range(len(choices)), choices, rotation=30 if len(choices) > 3 else 0)
    else:
        scatter_scores(axis, values.astype(float), scored["validation_accuracy"], colors, floor)
        if isinstance(distribution, (FloatDistribution, IntDistribution)) and distribution.log:
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.xaxis.set_minor_formatter(NullFormatter())
        elif isinstance(distribution, IntDistribution):
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel(name)
    axis.grid(alpha=0.3)
