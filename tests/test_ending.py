"""When a search ends: converged (the plateau rule), its trial cap, its time budget; and no trial starts
a rung it could not finish before the time budget runs out."""

from __future__ import annotations

import json

import pytest
from ray.tune.schedulers import TrialScheduler

from search.core.ending import CONVERGED, TIME_BUDGET, TRIAL_CAP, why_search_ended
from search.core.plateau import Plateau, standard_error
from search.core.trial_report import TrialReport
from search.core.trials import TrialOutcome
from search.tune.schedulers import SearchFIFOScheduler
from tests.digits_search import search_digits

VALIDATION = 5250
SE = standard_error(0.98, VALIDATION)  # about 0.19 points


def test_the_noise_is_the_binomial_standard_error_of_the_validation_split():
    assert standard_error(0.983, 5250) == pytest.approx(0.00178, abs=1e-5)
    assert standard_error(1.0, 400) == 1 / 400, "a perfect score still has one image's worth of noise"


def test_gains_within_the_noise_do_not_reset_the_count_and_the_search_converges_after_patience():
    plateau = Plateau(VALIDATION, patience=3)
    plateau.observe(0.98)
    for score in (0.9805, 0.981, 0.9795):  # each below 98% + one standard error
        assert not plateau.reached
        plateau.observe(score)
    assert plateau.reached and plateau.best == 0.981
    assert "3 trials in a row" in plateau.explain() and "98.00%" in plateau.explain()


def test_a_gain_beyond_the_noise_starts_the_count_again_and_small_gains_add_up():
    plateau = Plateau(VALIDATION, patience=3)
    for score in (0.95, 0.98, 0.9805):
        plateau.observe(score)
    assert plateau.since_gain == 1, "95% -> 98% is a real gain; 98.05% is not"
    plateau.observe(0.98 + 1.01 * SE)  # small gains add up to more than the noise of the last real gain
    assert plateau.since_gain == 0 and plateau.anchor == pytest.approx(0.98 + 1.01 * SE)


def test_patience_zero_never_ends_the_search():
    plateau = Plateau(VALIDATION, patience=0)
    for _ in range(50):
        plateau.observe(0.9)
    assert not plateau.reached


def outcome(score: float, ended_at: float, progress: float = 1.0) -> TrialOutcome:
    return TrialOutcome(f"t{ended_at}", {}, TrialReport(score, progress), reports=1, ended_at=ended_at)


def test_the_trials_say_why_the_search_ended():
    plateau = [outcome(0.98, t) for t in range(4)]
    ended = why_search_ended(plateau, validation_size=VALIDATION, patience=3, num_samples=100, time_budget_s=600)
    assert ended.reason == CONVERGED
    rising = [outcome(0.90 + 0.01 * t, t) for t in range(4)] + [outcome(0.99, 9, progress=0.5)]
    capped = why_search_ended(rising, validation_size=VALIDATION, patience=3, num_samples=5, time_budget_s=600)
    assert capped.reason == TRIAL_CAP and "all 5 trials" in capped.why
    timed = why_search_ended(rising, validation_size=VALIDATION, patience=3, num_samples=50, time_budget_s=600)
    assert timed.reason == TIME_BUDGET and "10m" in timed.why and "0 of 3" in timed.why


class Trial:
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def test_a_trial_that_could_not_finish_before_the_time_budget_ends_stops_at_its_rung():
    scheduler = SearchFIFOScheduler(time_budget_s=80)
    first, second, third = Trial("a"), Trial("b"), Trial("c")
    assert (
        scheduler.on_trial_result(None, second, {"progress": 0.25, "time_total_s": 40.0}) == TrialScheduler.CONTINUE
    ), "a first report pays for starting up: no pace to judge by yet"
    assert scheduler.on_trial_result(None, second, {"progress": 0.5, "time_total_s": 90.0}) == TrialScheduler.STOP, (
        "at 200 s per budget since its first report it needs 100 s more: it stops rather than be cut off unused"
    )
    scheduler.on_trial_result(None, first, {"progress": 0.25, "time_total_s": 10.0})
    assert scheduler.on_trial_result(None, first, {"progress": 0.5, "time_total_s": 15.0}) == TrialScheduler.CONTINUE
    # once a trial went from a quarter to the end, its time judges the others at a quarter
    scheduler.on_trial_result(None, first, {"progress": 1.0, "time_total_s": 95.0})
    assert scheduler.seconds_to_finish(0.25, 5.0) == 85.0
    assert scheduler.on_trial_result(None, third, {"progress": 0.25, "time_total_s": 5.0}) == TrialScheduler.STOP, (
        "trials took 85 s from a quarter to the end, more than is left"
    )


CONSTANT = "quality: {type: categorical, choices: [0.9]}\nepochs: {type: int, low: 1, high: 1}\n"


@pytest.mark.slow
def test_a_search_that_stops_improving_ends_before_its_trial_cap(ray_cluster, digits_splits, tmp_path):
    result = search_digits(
        digits_splits, tmp_path, "scripted", CONSTANT, num_samples=40, time_budget_s=120, max_concurrent=1, patience=3
    )
    assert result.ended.reason == CONVERGED, result.ended.why
    assert 4 <= len(result.trials) <= 6, "the first trial, three without a gain, and those already started"
    assert "3 trials in a row" in result.ended.why
    json.dumps(result.ended.to_dict())
