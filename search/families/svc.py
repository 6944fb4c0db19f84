"""Support vector classifier with an RBF kernel: scikit-learn's ``SVC``, fitted by scikit-learn-intelex.

scikit-learn-intelex (Intel's oneDAL behind scikit-learn's API) fits the same one-vs-one model as
libsvm, on every core the fit holds (``search.machine.threads.threads_held``) instead of one, and predicts
with vectorised kernels. On MNIST's 52,500 training images and two cores it fits in 32 s instead of
217 and predicts the 17,500 test images in 7 s instead of 75, and the two models' predictions agree
on every test image (``bench/svc_agreement.py``). Where it has no wheel (it is built for x86-64
only), scikit-learn's own ``SVC`` fits the same model on one core.

It predicts in float64: on MNIST's float32 pixels its kernels lose precision for some settings
(C=17.5, gamma=0.0165 fitted on the 47,250 search images scored 97.56% on validation from float32,
98.10% from float64, 98.25% with libsvm; C=72.4, gamma=0.0331: 97.60%, 98.30%, 98.30%), which
misled the search. Fitting is the same from either type, so the fit stays in float32 (1.7 times
faster than float64).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.svm import SVC

from search.core.data import FitData
from search.core.settings import Budget
from search.families.allowed import model_ranges
from search.families.base import SAMPLES, Report
from search.families.sklearn_model import MODEL_FILE as MODEL_FILE
from search.families.sklearn_model import fit_once
from search.families.sklearn_model import load as load
from search.families.sklearn_model import predict as predict
from search.families.sklearn_model import save as save
from search.machine.threads import threads_held

try:
    from sklearnex.svm import SVC as _IntelexSVC
except ImportError:  # no wheel for this machine: libsvm, one core
    IntelexSVC = None
else:

    class IntelexSVC(_IntelexSVC):
        """scikit-learn-intelex's SVC, predicting (and scoring) its input as float64."""

        def predict(self, X):
            return super().predict(np.asarray(X, dtype=np.float64))

        def decision_function(self, X):
            return super().decision_function(np.asarray(X, dtype=np.float64))


NAME = "svc"
PARAMETERS = frozenset({"C", "gamma"})
ALLOWED = model_ranges(SVC, "C", "gamma")
BASELINE_TEST_ACCURACY = 0.946
KERNEL_CACHE_MB = 1000
FIDELITY = SAMPLES
USES_GPU = False
CHECKPOINTS = False
REUSES_ACTORS = True
MNIST_BUDGET = Budget(num_samples=500, time_budget_s=15 * 60)


def article_config(n_features: int) -> dict[str, Any]:
    """``SVC(kernel='rbf', gamma='auto', C=2)``: gamma 'auto' is 1 / n_features."""
    return {"C": 2.0, "gamma": 1.0 / n_features}


def build(config: Mapping[str, Any], seed: int, threads: int = 1) -> SVC:
    """The estimator for ``config``, fitting and predicting on ``threads`` cores where it can."""
    settings = {"C": float(config["C"]), "gamma": float(config["gamma"]), "cache_size": KERNEL_CACHE_MB}
    if IntelexSVC is None:
        return SVC(kernel="rbf", random_state=seed, **settings)
    return IntelexSVC(kernel="rbf", random_state=seed, n_jobs=threads, **settings)


def train(config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None) -> SVC:
    """Fit once on the training split, on the CPUs the fit holds, and report validation accuracy."""
    return fit_once(build(config, seed, threads_held()), data, report)
