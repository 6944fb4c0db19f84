"""Ray Tune saves its experiment state as soon as a trial ends, not only every so often.

Ray Tune snapshots its state (every trial's status, the searcher) at most every 10 s or more, so a
driver killed between two snapshots would, on ``--resume``, run again trials that had finished.
Here the scheduler, which Ray Tune tells of every trial's end, asks for a snapshot at the start of
the next step of Tune's loop, once the ended trial's status and the searcher's tell are settled.
A snapshot is a small JSON file and the searcher's pickle; the study itself is already on disk.
"""

from __future__ import annotations

from typing import Any

CONTROLLER = "_tune_controller"
"""Ray Tune hands schedulers a wrapper of its controller that keeps the controller here (Ray 2.60);
``tests/test_nothing_lost.py`` fails loudly if a Ray release moves it."""


class SavesWhenTrialsEnd:
    """A scheduler mixin: after any trial ends, Ray Tune saves its experiment state at the next step."""

    _trial_ended = False

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        super().on_trial_complete(tune_controller, trial, result)
        self._trial_ended = True

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_error(tune_controller, trial)
        self._trial_ended = True

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        super().on_trial_remove(tune_controller, trial)
        self._trial_ended = True

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        """Called at the start of every step: save first if a trial ended in the last one."""
        if self._trial_ended:
            self._trial_ended = False
            getattr(tune_controller, CONTROLLER, tune_controller).checkpoint(force=True)
        return super().choose_trial_to_run(tune_controller)
