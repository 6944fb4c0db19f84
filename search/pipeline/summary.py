"""The run's figures as numbers: report.json, report.md's table, trials.csv and best_config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from search.core.formatting import format_config, format_duration
from search.core.kinds import TrialStatus
from search.core.settings import Settings
from search.core.trials import SearchResult, most_trials_at_once
from search.pipeline.retrain import RetrainResult


def build_report(
    settings: Settings,
    baseline: float | None,
    search: SearchResult,
    retrain: RetrainResult,
    cluster_cpus: float,
    confusion: np.ndarray,
) -> dict[str, Any]:
    """The keys of ``report.json``; ``confusion`` is the test split's confusion matrix (rows: true digit)."""
    counts = search.trials["status"].value_counts()
    return {
        "family": settings.family,
        "dataset": settings.dataset,
        "best_config": search.best_config,
        "validation_accuracy": search.validation_accuracy,
        "test_accuracy": retrain.test_accuracy,
        "test_accuracy_ci95": list(retrain.test_accuracy_ci95),
        "test_samples": retrain.test_samples,
        "baseline_test_accuracy": baseline,
        "trials": {
            "total": len(search.trials),
            **{status.value: int(counts.get(status.value, 0)) for status in TrialStatus},
            "retried": int((search.trials["attempts"] > 1).sum()),
        },
        "most_trials_at_once": most_trials_at_once(search.trials),
        "trials_per_node": {str(node): int(n) for node, n in search.trials["node"].value_counts().items()},
        "scheduler": settings.rungs.scheduler,
        "search_seconds": round(search.seconds, 1),
        "search_ended": None if search.ended is None else search.ended.to_dict(),
        "training_core_share": None if search.training_core_share is None else round(search.training_core_share, 3),
        "retrain_seconds": round(retrain.seconds, 1),
        "cluster_cpus": cluster_cpus,
        "cpus_per_trial": settings.cpus_per_trial,
        "retrain_cpus": retrain.cpus,
        "retrain_fit_cpu_seconds": round(retrain.fit_cpu_seconds, 1),
        "confusion_matrix": confusion.tolist(),
    }


SUMMARY_COLUMNS = (
    "family",
    "dataset",
    "best hyperparameters",
    "validation acc.",
    "test acc. (95% CI)",
    "article's test acc.",
    "trials (done / stopped / failed)",
    "search time",
    "retrain time",
)


def summary_cells(report: dict[str, Any]) -> list[str]:
    """A run's figures as the cells of ``SUMMARY_COLUMNS``, formatted for people."""
    low, high = report["test_accuracy_ci95"]
    trials = report["trials"]
    baseline = report["baseline_test_accuracy"]
    return [
        report["family"],
        report["dataset"],
        format_config(report["best_config"]),
        f"{report['validation_accuracy']:.2%}",
        f"{report['test_accuracy']:.2%} ({low:.2%} - {high:.2%})",
        "n/a" if baseline is None else format(baseline, ".1%"),
        f"{trials['total']} ({trials['completed']} / {trials['stopped_early']} / {trials['failed']})",
        format_duration(report["search_seconds"]),
        format_duration(report["retrain_seconds"]),
    ]


def summary_table(reports: list[dict[str, Any]]) -> str:
    """A Markdown table with one row per family."""
    rows = [SUMMARY_COLUMNS, ["---"] * len(SUMMARY_COLUMNS), *(summary_cells(r) for r in reports)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def write_run_files(run_dir: Path, report: dict[str, Any], trials: pd.DataFrame) -> None:
    """``report.json``, ``report.md``, ``trials.csv`` and ``best_config.json`` in ``run_dir``."""
    write_json(run_dir / "report.json", report)
    write_json(run_dir / "best_config.json", report["best_config"])
    trials.to_csv(run_dir / "trials.csv", index=False)
    (run_dir / "report.md").write_text(summary_table([report]) + "\n")


def write_json(path: Path, data: Any) -> None:
    """Indented JSON; numpy scalars become plain numbers."""
    path.write_text(json.dumps(data, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
