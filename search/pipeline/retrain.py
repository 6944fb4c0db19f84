"""Retrain the best config on the whole training split and score it once on the test split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
from scipy.stats import binomtest

from search.core.data import FitData
from search.core.formatting import format_config
from search.families import get_family
from search.families.base import no_report
from search.machine.threads import cap_threads


@dataclass(frozen=True)
class RetrainResult:
    """The retrained model and its one and only test score."""

    model: Any
    test_accuracy: float
    test_accuracy_ci95: tuple[float, float]
    test_samples: int
    seconds: float
    predictions: np.ndarray
    """The model's prediction for every test image, in the test split's order."""
    cpus: int
    """Threads (CPUs) the fit used."""
    fit_cpu_seconds: float
    """CPU time the fit used, over all its threads: up to its wall time x ``cpus`` when every core it held was busy."""


def _fit(family_name: str, config: dict[str, Any], data: FitData, seed: int, threads: int) -> tuple[Any, float]:
    """The retrain, inside a Ray task: the model, and the CPU seconds the fit used (all its threads)."""
    started = time.process_time()
    with cap_threads(threads):
        model = get_family(family_name).train(config, data, no_report, seed)
    return model, time.process_time() - started


def retrain_and_test(
    family_name: str,
    config: dict[str, Any],
    data: FitData,
    X_test: np.ndarray,
    y_test: np.ndarray,
    seed: int,
    cpus: float,
    gpus: float = 0,
    threads: int | None = None,
) -> RetrainResult:
    """Fit ``config`` on ``data`` in a Ray task holding ``cpus`` CPUs (and ``gpus``), then score it on test.

    The fit uses ``threads`` threads (default: the CPUs it holds); a family searched together with
    others holds a trial's CPUs and uses the threads its share gives.

    The fit runs as a Ray task (named in the Ray dashboard ``retrain <family> <config>``) so that on a
    cluster it lands on a worker, like the trials; the test split stays with the driver.
    """
    started = time.monotonic()
    threads = threads or max(1, int(cpus))
    fit = ray.remote(num_cpus=cpus, num_gpus=gpus)(_fit).options(name=f"retrain {family_name} {format_config(config)}")
    model, cpu_seconds = ray.get(fit.remote(family_name, config, data, seed, threads))
    predictions = np.asarray(get_family(family_name).predict(model, X_test))
    correct = int(np.sum(predictions == y_test))
    seconds = time.monotonic() - started
    interval = wilson_interval(correct, len(y_test))
    return RetrainResult(
        model, correct / len(y_test), interval, len(y_test), seconds, predictions, threads, cpu_seconds
    )


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """95% Wilson score interval for an accuracy of ``correct`` out of ``total``."""
    interval = binomtest(correct, total).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)
