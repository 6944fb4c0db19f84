"""The searcher: Optuna's public ask / report / tell behind Ray Tune's ``Searcher``, the study on disk."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from search.records.study import RUN, TUNE_TRIAL_ID, open_study_place
from search.tune.searcher import StudySearcher, attached_study, is_saved_state
from tests.digits_search import search_digits

RECORDED = json.loads((Path(__file__).parent / "data" / "suggestion_order.json").read_text())
SCRIPTED_SPACE = "quality: {type: float, low: 0.1, high: 0.95}\nepochs: {type: int, low: 1, high: 9}\n"
SPACE = {"x": FloatDistribution(0, 1)}


def searcher_on(tmp_path: Path, space=None, run_id: str = "run") -> StudySearcher:
    place = open_study_place(None, "test", tmp_path)
    sampler = optuna.samplers.TPESampler(seed=0)
    return StudySearcher(place, space or SPACE, sampler=sampler, run_id=run_id, metric="validation_accuracy")


def test_optuna_hears_a_stopped_trial_as_pruned_and_a_finished_one_as_complete(tmp_path):
    searcher = searcher_on(tmp_path)
    for trial_id, progress in (("stopped", 1 / 3), ("finished", 1.0)):
        searcher.suggest(trial_id)
        result = {"validation_accuracy": 0.9, "training_iteration": 1, "progress": progress}
        searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
    searcher.suggest("cut")  # stopped by the scheduler on the result it never saw as a result
    searcher.on_trial_complete("cut", {"validation_accuracy": 0.7, "training_iteration": 2, "progress": 0.5})
    searcher.suggest("broken")
    searcher.on_trial_complete("broken", None, error=True)
    trials = optuna.load_study(study_name="test", storage=searcher.place.storage).trials
    assert [t.state for t in trials] == [TrialState.PRUNED, TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]
    assert trials[0].intermediate_values == {1: 0.9}, "Optuna keeps how far the stopped trial got"
    assert trials[2].intermediate_values == {2: 0.7}, "the result that stopped it is its last intermediate value"
    assert trials[1].value == 0.9 and trials[1].user_attrs[RUN] == "run"
    assert [t.user_attrs[TUNE_TRIAL_ID] for t in trials] == ["stopped", "finished", "cut", "broken"]


def test_the_saved_state_holds_no_storage_and_a_restored_searcher_goes_on_with_its_trials(tmp_path):
    searcher = searcher_on(tmp_path)
    searcher.suggest("a")
    searcher.on_trial_result("a", {"validation_accuracy": 0.5, "training_iteration": 1})
    saved = tmp_path / "searcher-state.pkl"
    searcher.save(str(saved))
    pickled = saved.read_bytes() + pickle.dumps(searcher)
    assert str(tmp_path).encode() not in pickled, "no path (nor password) of the study goes into Ray Tune's files"
    assert is_saved_state(pickle.loads(saved.read_bytes()))
    with pytest.raises(RuntimeError, match="not attached"):
        pickle.loads(pickle.dumps(searcher))
    place = open_study_place(None, "test", tmp_path)
    with attached_study("run", place):
        restored = pickle.loads(pickle.dumps(searcher))
        restored.restore(str(saved))
    restored.on_trial_result("a", {"validation_accuracy": 0.8, "training_iteration": 2})
    restored.on_trial_complete("a", {"validation_accuracy": 0.8, "training_iteration": 2, "progress": 1.0})
    (trial,) = place.load().trials
    assert trial.state == TrialState.COMPLETE and trial.intermediate_values == {1: 0.5, 2: 0.8}


def test_a_define_by_run_space_chooses_first_and_asks_what_follows_from_it(tmp_path):
    def space(trial: optuna.Trial) -> dict:
        family = trial.suggest_categorical("family", ["a", "b"])
        name = f"{family}_size"
        return {"family": family, name: trial.suggest_int(name, 1, 9)}

    searcher = searcher_on(tmp_path, space)
    configs = [searcher.suggest(str(i)) for i in range(6)]
    assert {c["family"] for c in configs} == {"a", "b"}
    assert all(set(c) == {"family", f"{c['family']}_size"} for c in configs)
    distributions = searcher.study.trials[0].distributions
    assert isinstance(distributions[f"{configs[0]['family']}_size"], IntDistribution)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["scripted", "logistic"])
def test_one_trial_at_a_time_suggests_what_rays_optuna_search_suggested(ray_cluster, digits_splits, tmp_path, family):
    """Against the configs, states and scores recorded with the subclass of Ray's OptunaSearch it replaced."""
    space = SCRIPTED_SPACE if family == "scripted" else None
    options = dict(num_samples=24, time_budget_s=600, max_concurrent=1, patience=0)
    search_digits(digits_splits, tmp_path, family, space, **options)
    study = open_study_place(None, "test", tmp_path).load()
    trials = sorted(study.trials, key=lambda t: t.number)
    now = [{"params": t.params, "state": t.state.name, "value": t.value} for t in trials]
    assert now == RECORDED[family]
