"""The contract every model family follows.

The search calls a family in this order:

1. ``PARAMETERS`` when a space file is loaded: every parameter in the file must be one of them.
2. ``article_config(n_features)`` once per search: the article's hand-picked settings, in the
   space's parameter names, evaluated as the first trial.
3. ``train(config, data, report, seed, ...)`` once per trial, inside a Ray worker: fit on
   ``data.X_train``, and after each unit of budget (an epoch, or once for a model that is not
   trained iteratively) call ``report`` with a ``TrialReport``.
4. ``train`` once more after the search, on the whole training split with no validation split,
   then ``save`` the model and score it on the test split.

A family knows nothing of Ray: ``report`` is a plain callable, so the same code runs in a test,
in a trial and in the final retrain.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from search.core.data import FitData
from search.core.kinds import BudgetUnit
from search.core.settings import Budget
from search.core.trial_report import TrialReport

EPOCHS, SAMPLES = BudgetUnit.EPOCHS, BudgetUnit.SAMPLES
"""The budget units, for the families' ``FIDELITY`` (``search.core.kinds.BudgetUnit``)."""


class Report(Protocol):
    """What a family calls after each unit of budget.

    ``report`` is built with ``TrialReport.after_epoch`` or ``TrialReport.after_fit``, so it says how
    far into its budget the trial was. An iterative family may pass ``checkpoint``, a folder from
    which ``train(..., restore_from=folder)`` carries on; the folder is only valid during the call.
    """

    def __call__(self, report: TrialReport, checkpoint: Path | None = None) -> None: ...


def no_report(report: TrialReport, checkpoint: Path | None = None) -> None:
    """A ``report`` that drops what it is given (the final retrain has no validation split)."""


class Family(Protocol):
    """A model family: builds a model from a config, trains it and reports validation accuracy."""

    NAME: str
    PARAMETERS: frozenset[str]
    ALLOWED: Mapping[str, Any]
    """The values its parameters may take (``search.families.allowed``): a space reaching past them is refused."""
    BASELINE_TEST_ACCURACY: float
    """The article's untuned test accuracy for this family on MNIST."""
    MODEL_FILE: str
    """File name of the saved retrained model."""
    FIDELITY: str
    """What a trial's budget is counted in: ``EPOCHS`` or ``SAMPLES``."""
    USES_GPU: bool
    """Whether its trials take a GPU when the cluster has one."""
    CHECKPOINTS: bool
    """Whether its trials save checkpoints (then a cluster of many nodes needs shared storage)."""
    REUSES_ACTORS: bool
    """Whether Ray Tune hands a trial's worker to the next trial (saving a process start and imports)."""
    MNIST_BUDGET: Budget
    """The default budget on MNIST, sized so that search and retrain fit in 30 minutes on 2 cores."""

    def article_config(self, n_features: int) -> dict[str, Any]:
        """The article's settings, expressed in this family's parameter names."""
        ...

    def train(
        self, config: Mapping[str, Any], data: FitData, report: Report, seed: int, restore_from: Path | None = None
    ) -> Any:
        """Fit on ``data``; after each unit of budget, report validation accuracy. Returns the model.

        With no validation split in ``data`` (the final retrain), ``report`` is not called. A family
        that checkpoints carries on from ``restore_from``; the others start afresh.
        """
        ...

    def predict(self, model: Any, X: np.ndarray) -> np.ndarray:
        """Class labels for ``X``."""
        ...

    def save(self, model: Any, path: Path) -> None:
        """Write the model to ``path``."""
        ...

    def load(self, path: Path) -> Any:
        """Read a model written by ``save``."""
        ...
