"""TPE with a bounded view of the past (search/core/bounded_tpe.py), on real Optuna studies."""

from __future__ import annotations

import pickle

import optuna
import pytest
from optuna.trial import TrialState

from search.core.bounded_tpe import BEST, BoundedTPESampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run_study(sampler: optuna.samplers.BaseSampler, trials: int) -> optuna.Study:
    """A maximised study of two parameters in which every third trial is pruned after a few steps."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for number in range(trials):
        trial = study.ask()
        x, y = trial.suggest_float("x", -1, 1), trial.suggest_int("y", 0, 8)
        score = 1 - (x - 0.3) ** 2 - 0.01 * (y - 5) ** 2
        if number % 3 == 2:
            for step in range(1 + number % 4):
                trial.report(score - 0.1 / (step + 1), step)
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, score)
    return study


def test_a_study_no_larger_than_the_window_is_sampled_exactly_as_tpe_samples_it():
    plain = run_study(optuna.samplers.TPESampler(seed=3), 60)
    bounded = run_study(BoundedTPESampler(seed=3, window=1000), 60)
    assert [t.params for t in bounded.trials] == [t.params for t in plain.trials]


def test_a_larger_study_shows_tpe_its_best_trials_and_the_most_recent_ones_only():
    sampler = BoundedTPESampler(seed=0, window=40)
    study = run_study(sampler, 300)
    finished = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    seen = sampler._kept.bound(finished)
    assert len(seen) <= 40 + 2 * BEST < len(finished)
    numbers = {t.number for t in seen}
    assert {t.number for t in finished[-40:]} <= numbers, "the most recent trials"
    complete = sorted((t for t in finished if t.state == TrialState.COMPLETE), key=lambda t: (-t.value, t.number))
    assert {t.number for t in complete[:BEST]} <= numbers, "TPE's good group is the whole study's"
    pruned = [t for t in finished if t.state == TrialState.PRUNED]
    furthest = max(max(t.intermediate_values) for t in pruned)
    best_pruned = max((t for t in pruned if max(t.intermediate_values) == furthest),
                      key=lambda t: t.intermediate_values[furthest])  # fmt: skip
    assert best_pruned.number in numbers, "the pruned trial TPE ranks first"
    assert [t.number for t in seen] == sorted(numbers), "in trial order, as the study lists them"


def test_the_bounded_search_still_finds_the_optimum():
    study = run_study(BoundedTPESampler(seed=1, window=30), 200)
    assert study.best_params["x"] == pytest.approx(0.3, abs=0.05)
    assert study.best_params["y"] == 5


def test_a_pickled_sampler_carries_no_trials_and_goes_on_sampling():
    sampler = BoundedTPESampler(seed=2, window=20)
    study = run_study(sampler, 120)
    restored = pickle.loads(pickle.dumps(sampler))
    assert restored._kept is None and restored.window == 20
    small = BoundedTPESampler(seed=2, window=20)
    run_study(small, 12)
    assert len(pickle.dumps(sampler)) < len(pickle.dumps(small)) + 1000, "the saved state does not grow with the study"
    study.sampler = restored
    study.optimize(lambda trial: -((trial.suggest_float("x", -1, 1) - 0.3) ** 2) + trial.suggest_int("y", 0, 8), 5)
    assert len(study.trials) == 125
