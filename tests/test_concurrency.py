"""A limiter restored from Ray Tune's saved state counts only the trials Ray Tune still holds."""

from __future__ import annotations

from ray.tune.search import Searcher
from ray.tune.search.search_generator import SearchGenerator

from search.core.reporter import SILENT
from search.machine.cluster import TrialPlacement
from search.tune.concurrency import TuneHolds, limit_concurrency


class Counting(Searcher):
    """Suggests ``{"n": k}`` for the k-th trial, forever."""

    def __init__(self) -> None:
        super().__init__(metric="score", mode="max")
        self.asked = 0

    def suggest(self, trial_id: str):
        self.asked += 1
        return {"n": self.asked}

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        pass

    def save(self, checkpoint_path: str) -> None:
        open(checkpoint_path, "w").close()

    def restore(self, checkpoint_path: str) -> None:
        pass


class Trial:
    def __init__(self, trial_id: str, finished: bool) -> None:
        self.trial_id, self.finished = trial_id, finished

    def is_finished(self) -> bool:
        return self.finished


def limited(holds: TuneHolds):
    placement = TrialPlacement(cpus=1, gpus=0, concurrent=2, grows_with_cluster=False)
    return SearchGenerator(limit_concurrency(Counting(), placement, SILENT, holds=holds))


def test_a_restored_limiter_forgets_the_trials_ray_tune_no_longer_holds_and_suggests_again(tmp_path):
    """Its state saved while two trials ran (the limit), restored beside trials that Ray Tune's own state holds as
    finished (the two files from different moments, as a driver killed while copying them to a bucket leaves
    them): it suggests again, instead of nothing, for which Ray Tune would wait without end."""
    before = limited(TuneHolds())
    assert before.searcher.suggest("a") and before.searcher.suggest("b")
    assert before.searcher.suggest("c") is None, "two at once"
    before.save_to_dir(str(tmp_path), session_str="first")

    holds = TuneHolds()
    after = limited(holds)
    after.restore_from_dir(str(tmp_path))
    assert after.searcher.live_trials == {"a", "b"}
    holds.on_step_begin(0, [Trial("a", finished=True), Trial("b", finished=False)])
    assert after.searcher.suggest("d") == {"n": 1}, "a finished: one place free"
    assert after.searcher.suggest("e") is None, "b, still held by Ray Tune, and d: two at once"
    after.searcher.on_trial_complete("d")
    assert after.searcher.suggest("f") == {"n": 2}, "forgotten once only: d's place is free again, b's is not"
