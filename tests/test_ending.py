"""When a search ends: converged (the outlook rule, or the plateau rule with --patience), its trial cap,
its time budget; a trial with no chance of a gain left stops at its rung; and no trial starts a rung it
could not finish before the time budget runs out."""

from __future__ import annotations

import json

import pytest
from ray.tune.schedulers import TrialScheduler

from search.core.ending import CONVERGED, TIME_BUDGET, TRIAL_CAP, why_search_ended
from search.core.outlook import HORIZON, MIN_FULL_BUDGET, Outlook
from search.core.plateau import Plateau, standard_error
from search.core.settings import Rungs
from search.core.trial_report import TrialReport
from search.core.trials import TrialOutcome
from search.tune import deadline
from search.tune.deadline import closed_to_new_trials, new_trial_can_finish
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


def test_the_search_says_why_it_ended():
    trials = [outcome(0.90 + 0.01 * t, t) for t in range(4)] + [outcome(0.99, 9, progress=0.5)]
    ended = why_search_ended(trials, converged="converged: because", num_samples=5, time_budget_s=600)
    assert ended.reason == CONVERGED and ended.why == "converged: because", "the end rule's reason comes first"
    capped = why_search_ended(trials, converged=None, num_samples=5, time_budget_s=600)
    assert capped.reason == TRIAL_CAP and "all 5 trials" in capped.why
    timed = why_search_ended(trials, converged=None, num_samples=50, time_budget_s=600)
    assert timed.reason == TIME_BUDGET and "10m" in timed.why


def full_trial(outlook: Outlook, trial_id: str, rungs: dict[int, float], final: float) -> None:
    for budget, score in rungs.items():
        outlook.report(trial_id, budget, score, full=False)
    outlook.report(trial_id, 27, final, full=True)
    outlook.end(trial_id)


def stopped_trial(outlook: Outlook, trial_id: str, rungs: dict[int, float]) -> None:
    for budget, score in rungs.items():
        outlook.report(trial_id, budget, score, full=False)
    outlook.end(trial_id)


def test_a_rungs_score_and_its_learnt_step_give_a_trials_chance_of_a_gain():
    outlook = Outlook(VALIDATION)
    for n, final in enumerate((0.980, 0.979, 0.9795)):  # full budget is 1 point above rung 9, give or take 0.05
        full_trial(outlook, f"f{n}", {9: final - 0.010 + 0.0005 * (n - 1)}, final)
    assert outlook.anchor == 0.980 and outlook.mark == pytest.approx(0.980 + SE, abs=1e-4)
    assert outlook.chance(9, 0.970) < 0.02, "98.0% at full budget is no gain over 98.0%"
    assert outlook.chance(9, 0.975) > 0.99, "98.5% is a gain beyond one standard error (0.19 points)"
    assert 0.2 < outlook.chance(9, 0.9719) < 0.8, "right at the mark: a coin toss"
    assert outlook.chance(3, 0.95) is None, "no full-budget trial told the step from rung 3 yet"

    outlook.report("weak", 9, 0.965, full=False)
    assert not outlook.promising("weak"), "it stops at its rung rather than confirm a loss at full budget"
    outlook.report("strong", 9, 0.9735, full=False)
    assert outlook.promising("strong")


def test_the_steps_of_weak_trials_that_reached_their_full_budget_do_not_blur_the_top():
    outlook = Outlook(VALIDATION)
    for n, final in enumerate((0.980, 0.979, 0.9795)):
        full_trial(outlook, f"f{n}", {9: final - 0.010 + 0.0005 * (n - 1)}, final)
    for n, (rung, final) in enumerate(((0.90, 0.95), (0.93, 0.92), (0.91, 0.94))):  # let through early
        full_trial(outlook, f"weak{n}", {9: rung}, final)
    assert outlook.chance(9, 0.970) < 0.02, "judged by the steps of the trials at the top of the rung"


def test_the_search_ends_once_the_last_trials_leave_little_chance_of_a_gain():
    outlook = Outlook(VALIDATION)
    for n in range(MIN_FULL_BUDGET):
        full_trial(outlook, f"f{n}", {3: 0.95, 9: 0.97}, 0.98)
    assert not outlook.reached, f"too few trials looked back on ({HORIZON} needed)"
    for n in range(HORIZON - MIN_FULL_BUDGET + 1):  # until the first trial, a gain, is no longer among them
        assert not outlook.reached
        stopped_trial(outlook, f"s{n}", {3: 0.93})  # 2 points below the best at its rung
    assert outlook.reached
    why = outlook.explain()
    assert f"the next {HORIZON} trials beat 98.00%" in why and "below 5%" in why, why


def test_a_search_still_gaining_does_not_end():
    outlook = Outlook(VALIDATION)
    for n in range(MIN_FULL_BUDGET + HORIZON):
        final = 0.90 + 0.005 * n  # each beats the last by more than one standard error
        full_trial(outlook, f"f{n}", {9: final - 0.01}, final)
        assert not outlook.reached
    assert outlook.chance_ahead() == 1.0


def test_a_few_trials_near_the_mark_keep_the_search_going():
    outlook = Outlook(VALIDATION)
    for n in range(MIN_FULL_BUDGET):
        full_trial(outlook, f"f{n}", {9: 0.97 + 0.0002 * n}, 0.98 + 0.0002 * n)
    for n in range(HORIZON - 1):
        stopped_trial(outlook, f"s{n}", {9: 0.95})
    stopped_trial(outlook, "close", {9: 0.9718})  # about even odds to have beaten the mark
    assert not outlook.reached, f"one coin toss in {HORIZON} trials: about a 4% chance per trial ahead"


def test_a_rung_whose_trials_let_through_came_to_nothing_counts_its_chances_for_less():
    """svc on MNIST: three trials at full budget teach each rung's step, uncertainly; the trials a rung then
    lets through at a fair chance all come to nothing at the next rung. The same small chances at that rung
    end the search then, and kept it going before."""

    def with_three_at_full_budget() -> Outlook:
        outlook = Outlook(VALIDATION)
        for n, at_rung in enumerate((0.945, 0.95, 0.955)):
            full_trial(outlook, f"f{n}", {3: at_rung, 9: 0.97}, 0.98)
        return outlook

    unchecked, checked = with_three_at_full_budget(), with_three_at_full_budget()
    assert 0.2 < checked.chance(3, 0.947) < 0.4 and 0.01 < checked.chance(3, 0.934) < 0.03
    for n in range(20):  # let through at about 28% each; at rung 9 each is 2 points short
        stopped_trial(checked, f"through{n}", {3: 0.947, 9: 0.95})
    assert checked.chance(3, 0.934) < unchecked.chance(3, 0.934) / 5
    for outlook in (unchecked, checked):
        for n in range(HORIZON):
            stopped_trial(outlook, f"s{n}", {3: 0.934})
    assert not unchecked.reached and unchecked.chance_ahead() > 0.2, "15 trials at about 2% each"
    assert checked.reached, checked.chance_ahead()


def test_an_end_chance_of_zero_never_ends_the_search_nor_stops_a_trial():
    outlook = Outlook(VALIDATION, end_chance=0)
    for n in range(MIN_FULL_BUDGET):
        full_trial(outlook, f"f{n}", {9: 0.97}, 0.98)
    for n in range(3 * HORIZON):
        outlook.report(f"s{n}", 9, 0.5, full=False)
        assert outlook.promising(f"s{n}")
        outlook.end(f"s{n}")
    assert not outlook.reached


class Trial:
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def test_a_resumed_search_learns_again_from_the_trials_its_study_holds_as_finished(tmp_path):
    import pickle

    from optuna.trial import TrialState

    from search.records.study import RUN, TUNE_TRIAL_ID, open_study_place
    from search.tune.searcher import attached_study
    from search.tune.stopper import EndRuleStopper

    sizes = [100, 300, 900]
    live = EndRuleStopper("run-1", "validation_accuracy", "train_samples", VALIDATION, end_chance=0.05,
                          patience=None, rungs=sizes[:-1], step_budgets=sizes)  # fmt: skip
    place = open_study_place(None, "run", tmp_path)
    study = place.create(optuna_sampler())
    at_full = [[0.90, 0.94, 0.975], [0.91, 0.95, 0.98], [0.89, 0.93, 0.97]]
    for number, scores in enumerate(at_full + [[0.80]] * HORIZON):  # then 15 trials far below, stopped at 100
        trial = study.ask()
        trial.set_user_attr(RUN, "run-1")
        trial.set_user_attr(TUNE_TRIAL_ID, f"t{number}")
        for step, score in enumerate(scores, start=1):
            result = {"validation_accuracy": score, "progress": sizes[step - 1] / sizes[-1]}
            live(f"t{number}", {**result, "train_samples": sizes[step - 1]})
            if step < len(sizes):  # as our searcher: a full-budget score is the trial's value, not an intermediate
                trial.report(score, step)
        live.trial_ended(f"t{number}")
        full = len(scores) == len(sizes)
        study.tell(trial, scores[-1] if full else None, state=TrialState.COMPLETE if full else TrialState.PRUNED)
        if number == 0:
            saved = pickle.dumps(live)  # Ray Tune's last periodic save of its state, after the first trial
    assert live.stop_all(), "15 hopeless trials after three at their full budget: converged"

    with attached_study("run-1", place):
        restored = pickle.loads(saved)  # what Tuner.restore brings back
        assert restored.stop_all(), "knows what the study knows, not what Ray Tune's last save knew"
    assert restored.outlook.chances == live.outlook.chances and restored.outlook.steps == live.outlook.steps
    assert restored.outlook.explain() == live.outlook.explain()


def optuna_sampler():
    import optuna

    return optuna.samplers.RandomSampler(seed=0)


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


def test_with_a_budget_in_epochs_a_trial_is_judged_by_its_own_pace_not_by_slower_networks():
    """MNIST seed 1: a cnn trial at 19 s an epoch was stopped at epoch 2 of 10 with 324 s left, by the median of
    two slower networks' seconds from a fifth of their budget to the end (200 and 470 s)."""
    for paced_by_itself, expected in [(False, TrialScheduler.STOP), (True, TrialScheduler.CONTINUE)]:
        scheduler = SearchFIFOScheduler(time_budget_s=2000, paced_by_itself=paced_by_itself)
        for name, seconds_at_a_fifth, total in [("article", 60.0, 260.0), ("wide", 130.0, 600.0)]:
            scheduler.on_trial_result(None, Trial(name), {"progress": 0.2, "time_total_s": seconds_at_a_fifth})
            scheduler.on_trial_result(None, Trial(name), {"progress": 1.0, "time_total_s": total})
        quick = Trial("quick")
        scheduler.seconds_left()
        scheduler._budget_left = 324.0  # noqa: SLF001 - as the budget stood when the trial reported
        scheduler.on_trial_result(None, quick, {"progress": 0.1, "time_total_s": 20.0})
        decision = scheduler.on_trial_result(None, quick, {"progress": 0.2, "time_total_s": 39.0})
        assert decision == expected, f"paced by itself: {paced_by_itself} (it needs 8 x 19 = 152 s of the 324 left)"


def test_once_not_even_the_quickest_trial_could_finish_in_the_time_left_no_trial_starts(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(deadline.time, "time", lambda: now[0])
    scheduler = SearchFIFOScheduler(time_budget_s=300, run_id="closing")
    scheduler.on_trial_add(None, Trial("a"))  # the budget counts from here
    assert new_trial_can_finish("closing"), "no trial has finished: nothing tells how long one takes"
    now[0] += 100
    scheduler.on_trial_result(None, Trial("a"), {"progress": 1.0, "time_total_s": 100.0})
    now[0] += 80
    assert new_trial_can_finish("closing"), "120 s left, and a trial took 100"
    now[0] += 40
    assert not new_trial_can_finish("closing"), "80 s left: not even the quickest trial so far would finish"
    SearchFIFOScheduler(time_budget_s=300, run_id="closing")  # the run searched again in this process
    assert new_trial_can_finish("closing"), "a new search asks its own scheduler, not the last one's"
    assert closed_to_new_trials("closing") == (
        "no trial started after 3m 40s: the quickest to reach its full budget took 1m 40s, more than the 1m 20s left"
    )
    ended = why_search_ended([], converged=None, num_samples=9, time_budget_s=300, no_time_left="no trial started")
    assert ended.reason == TIME_BUDGET and ended.why == "its time budget: 5m 00s (--time-budget); no trial started"


def test_a_trial_that_waited_for_busy_cpus_counts_only_its_own_running_time(monkeypatch):
    """A trial of a family searched beside four others took 11 minutes on a fifth of the cores; 6 of them it
    waited for a CPU. With 6 minutes left and the cores its own now, a trial can still finish."""
    now = [1000.0]
    monkeypatch.setattr(deadline.time, "time", lambda: now[0])
    scheduler = SearchFIFOScheduler(time_budget_s=1020, run_id="shared")
    scheduler.on_trial_add(None, Trial("a"))
    now[0] += 660
    scheduler.on_trial_result(None, Trial("a"), {"progress": 1.0, "time_total_s": 660.0, "cpu_wait_seconds": 360.0})
    now[0] += 30
    assert new_trial_can_finish("shared"), "5.5 minutes left; the quickest needed 5 minutes of its own"
    now[0] += 60
    assert not new_trial_can_finish("shared")
    assert closed_to_new_trials("shared") == (
        "no trial started after 12m 30s: the quickest to reach its full budget took 5m 00s, more than the 4m 30s left"
    )


CONSTANT = "quality: {type: categorical, choices: [0.9]}\nepochs: {type: int, low: 1, high: 1}\n"
FLAT = "quality: {type: categorical, choices: [0.9]}\nepochs: {type: int, low: 9, high: 9}\n"
RISING = "rise: {type: categorical, choices: [0.06]}\nquality: {type: categorical, choices: [0.9]}\n" + (
    "epochs: {type: int, low: 9, high: 9}\n"
)
TIMED = FLAT.replace("low: 9, high: 9", "low: 3, high: 3") + "pause: {type: categorical, choices: [6.0]}\n"


@pytest.mark.slow
def test_a_search_whose_next_trials_cannot_gain_ends_early_and_stops_trials_at_their_rungs(
    ray_cluster, digits_splits, tmp_path
):
    """Every trial scores 90% after 9 epochs (10% per epoch): once three reached their full budget, the
    rest cannot gain; they stop at their rungs, and the search ends long before its cap of 60."""
    result = search_digits(digits_splits, tmp_path, "scripted", FLAT, num_samples=60, time_budget_s=300,
                           max_concurrent=1, rungs=Rungs(grace_period=1, reduction_factor=3))  # fmt: skip
    assert result.ended.reason == CONVERGED, result.ended.why
    assert HORIZON < len(result.trials) < 30, len(result.trials)
    assert "chance that the next 15 trials beat 90.00%" in result.ended.why
    full = result.trials[result.trials["status"] == "completed"]
    assert len(full) < len(result.trials) / 2, "the trials after the first few stopped at a rung"
    json.dumps(result.ended.to_dict())


@pytest.mark.slow
def test_a_search_still_improving_runs_to_its_cap(ray_cluster, digits_splits, tmp_path):
    """Each trial scores 6 points more than the one before (``rise``): every one is a gain (until the 17th
    scores 100%), none is stopped by the end rule, and the search runs all of its 18 trials."""
    result = search_digits(digits_splits, tmp_path, "scripted", RISING, num_samples=18, time_budget_s=300,
                           max_concurrent=1, rungs=Rungs(grace_period=1, reduction_factor=3))  # fmt: skip
    assert result.ended.reason == TRIAL_CAP, result.ended.why
    assert len(result.trials) == 18


@pytest.mark.slow
def test_with_patience_a_search_that_stops_improving_ends_after_that_many_trials(ray_cluster, digits_splits, tmp_path):
    result = search_digits(
        digits_splits, tmp_path, "scripted", CONSTANT, num_samples=40, time_budget_s=120, max_concurrent=1, patience=3
    )
    assert result.ended.reason == CONVERGED, result.ended.why
    assert 4 <= len(result.trials) <= 6, "the first trial, three without a gain, and those already started"
    assert "3 trials in a row" in result.ended.why


@pytest.mark.slow
def test_no_trial_starts_that_could_not_finish_before_the_time_budget_ends(ray_cluster, digits_splits, tmp_path):
    """Each trial takes 6 s, one at a time, under a 13 s budget: once less time is left than a trial took (and
    its start), no trial starts, and the search ends with the last one that could finish, not cutting one off."""
    result = search_digits(digits_splits, tmp_path, "scripted", TIMED, num_samples=20, time_budget_s=13,
                           max_concurrent=1, patience=0)  # fmt: skip
    assert set(result.trials["status"]) == {"completed"}, result.trials[["status", "seconds"]]
    assert result.ended.reason == TIME_BUDGET and "no trial started after" in result.ended.why, result.ended.why
