"""Each trial's end brings the run's copy in the bucket up to date (``search.records.run_copy``)."""

from __future__ import annotations

from typing import Any

from ray.tune import Callback

from search.records.run_copy import trial_ended


class KeepRunCopyCurrent(Callback):
    """Tells the run's copy (if it has one) that a trial ended, after the searcher told the study."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trial_ended(self.run_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trial_ended(self.run_id)
