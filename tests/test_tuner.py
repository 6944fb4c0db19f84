"""The search itself, on a real local Ray cluster with real Optuna and tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from search.core.settings import Rungs
from search.families import FAMILIES
from search.machine.cluster import ClusterResources, read_resources
from tests.digits_search import search_digits

NO_SCHEDULER = Rungs(scheduler="none")


def search(family, digits_splits, tmp_path, space_yaml=None, **options):
    """A quiet search on the digits: the family's own space, or ``space_yaml``."""
    return search_digits(digits_splits, tmp_path, family, space_yaml, **options)


def test_a_trial_cut_off_before_it_reported_is_known_by_its_id_from_its_folder(tmp_path):
    from ray import tune

    from search.tune.runner import outcome_of

    folder = tmp_path / "mlp_trial_1a2b3c4d_7"
    folder.mkdir()
    outcome = outcome_of(tune.Result(metrics={}, checkpoint=None, error=None, path=str(folder)))
    assert outcome.trial_id == "1a2b3c4d", "matched to its study trial, not counted twice in trials.csv"

    # its reused worker's previous trial's last metrics came with it (seen once in a loaded suite)
    previous = {"trial_id": "9f8e7d6c", "validation_accuracy": 0.91, "epochs_done": 14}
    outcome = outcome_of(tune.Result(metrics=previous, checkpoint=None, error=None, path=str(folder)))
    assert outcome.trial_id == "1a2b3c4d" and outcome.reports == 0 and outcome.last is None


def test_the_clusters_resources_are_read_once_ray_runs(ray_cluster):
    assert read_resources() == ClusterResources(cpus=2, gpus=0, largest_node_cpus=2, nodes=1, head_cpus=2)


def test_concurrency_comes_from_the_clusters_cpus_and_gpus():
    two_cpus = ClusterResources(cpus=2, gpus=0, largest_node_cpus=2)
    assert two_cpus.max_concurrent_trials(1) == 2
    assert two_cpus.max_concurrent_trials(2) == 1
    assert two_cpus.max_concurrent_trials(0.5) == 4
    assert two_cpus.max_concurrent_trials(1, requested=1) == 1
    with_gpus = ClusterResources(cpus=16, gpus=2, largest_node_cpus=8)
    assert with_gpus.max_concurrent_trials(1, gpus_per_trial=0.5) == 4
    assert with_gpus.retrain_cpus(1) == 8 and two_cpus.retrain_cpus(4) == 4


def test_trials_run_elsewhere_on_many_nodes_or_a_head_without_cpus():
    assert not ClusterResources(cpus=2, gpus=0, largest_node_cpus=2, nodes=1, head_cpus=2).trials_run_elsewhere
    assert ClusterResources(cpus=2, gpus=0, largest_node_cpus=1, nodes=2, head_cpus=1).trials_run_elsewhere
    assert ClusterResources(cpus=0, gpus=0, largest_node_cpus=0, nodes=1, head_cpus=0).trials_run_elsewhere


def test_scikit_learn_families_never_hold_a_gpu():
    resources = ClusterResources(cpus=8, gpus=2, largest_node_cpus=8)
    assert resources.gpus_per_trial(0.5, uses_gpu=False) == 0
    assert resources.gpus_per_trial(None, uses_gpu=False) == 0
    assert resources.gpus_per_trial(0.5, uses_gpu=True) == 0.5


def test_gpus_per_trial_defaults_to_one_for_gpu_families_on_a_cluster_with_gpus():
    without, with_gpus = ClusterResources(2, 0, 2), ClusterResources(16, 2, 8)
    assert without.gpus_per_trial(None, uses_gpu=True) == 0
    assert with_gpus.gpus_per_trial(None, uses_gpu=True) == 1
    assert with_gpus.gpus_per_trial(None, uses_gpu=False) == 0
    assert without.gpus_per_trial(0.25, uses_gpu=True) == 0.25


@pytest.mark.slow
def test_without_early_stopping_the_articles_settings_run_first_and_the_search_never_ends_below_them(
    ray_cluster, digits_splits, tmp_path
):
    result = search("svc", digits_splits, tmp_path, rungs=NO_SCHEDULER)
    trials = result.trials
    assert len(trials) == 4 and (trials["status"] == "completed").all()
    article = FAMILIES["svc"].article_config(64)
    first = trials.iloc[0]
    assert (first["C"], first["gamma"]) == pytest.approx((article["C"], article["gamma"]))
    assert result.validation_accuracy == trials["validation_accuracy"].max()
    assert result.validation_accuracy >= first["validation_accuracy"]
    assert set(result.best_config) == {"C", "gamma"}
    assert (tmp_path / "tune").is_dir(), "Ray Tune's results are kept under the run's folder"


@pytest.mark.slow
def test_search_is_guided_by_the_seed(ray_cluster, digits_splits, tmp_path):
    first = search("logistic", digits_splits, tmp_path / "a", max_concurrent=1)
    second = search("logistic", digits_splits, tmp_path / "b", max_concurrent=1)
    other = search("logistic", digits_splits, tmp_path / "c", max_concurrent=1, seed=1)
    assert first.trials["C"].tolist() == pytest.approx(second.trials["C"].tolist())
    assert first.trials["C"].tolist()[1:] != pytest.approx(other.trials["C"].tolist()[1:])


SMALL_NETWORKS = "epochs: {type: int, low: 2, high: 3}\nunits: {type: int, low: 16, high: 32}\n"


@pytest.mark.slow
def test_mlp_trials_report_every_epoch(ray_cluster, digits_splits, tmp_path):
    trials = search("mlp", digits_splits, tmp_path, SMALL_NETWORKS, num_samples=3, rungs=NO_SCHEDULER).trials
    assert (trials["reports"] == trials["epochs"]).all()
    assert (trials["epochs_done"] == trials["epochs"]).all()
    assert (trials["status"] == "completed").all()


@pytest.mark.slow
def test_a_failing_trial_is_counted_as_failed(ray_cluster, digits_splits, tmp_path):
    # batch_size 0 makes scikit-learn raise inside the trial
    space = "batch_size: {type: categorical, choices: [0, 200]}\nepochs: {type: int, low: 1, high: 2}\n"
    trials = search("mlp", digits_splits, tmp_path, space, num_samples=6).trials
    statuses = trials["status"].value_counts()
    assert statuses.get("failed", 0) >= 1 and statuses.get("completed", 0) >= 1
    failed = trials[trials["status"] == "failed"]
    assert failed["error"].str.len().min() > 0
    assert (failed["batch_size"] == 0).all()
    assert (failed["attempts"] == 1).all(), "an error of the config itself is not retried"


@pytest.mark.slow
def test_keras_trials_report_every_epoch_with_a_checkpoint(ray_cluster, digits_splits, tmp_path):
    trials = search("keras_mlp", digits_splits, tmp_path, SMALL_NETWORKS, num_samples=2, rungs=NO_SCHEDULER).trials
    assert (trials["status"] == "completed").all()
    assert (trials["reports"] == trials["epochs"]).all(), "one result row per epoch"
    checkpoints = list((tmp_path / "tune").glob("*/checkpoint_*/model.keras"))
    assert len(checkpoints) == 2, "each trial keeps its latest checkpoint"


@pytest.mark.slow
def test_asha_stops_weak_svc_trials_on_small_training_sets(ray_cluster, digits_splits, tmp_path):
    full = len(digits_splits.search.y_train)
    trials = search("svc", digits_splits, tmp_path, num_samples=16).trials
    stopped = trials[trials["status"] == "stopped_early"]
    completed = trials[trials["status"] == "completed"]
    assert len(stopped) >= 4, "ASHA stops most of the trials at a small rung"
    assert (stopped["train_samples"] < full).all() and (stopped["progress"] < 1).all()
    assert (completed["train_samples"] == full).all() and len(completed) >= 1
    assert (trials["reports"] == trials["train_samples"].map({132: 1, 396: 2, 1212: 3})).all(), "one report per size"


@pytest.mark.slow
def test_without_a_scheduler_every_svc_trial_fits_the_whole_split_once(ray_cluster, digits_splits, tmp_path):
    trials = search("svc", digits_splits, tmp_path, num_samples=6, rungs=NO_SCHEDULER).trials
    assert (trials["status"] == "completed").all()
    assert (trials["train_samples"] == len(digits_splits.search.y_train)).all()
    assert (trials["reports"] == 1).all()


@pytest.mark.slow
def test_asha_stops_mlp_trials_after_fewer_epochs(ray_cluster, digits_splits, tmp_path):
    space = (
        "epochs: {type: int, low: 9, high: 9}\nunits: {type: int, low: 8, high: 32}\n"
        "learning_rate_init: {type: float, low: 1.0e-5, high: 1.0e-2, log: true}\n"
    )
    result = search("mlp", digits_splits, tmp_path, space, num_samples=12)
    trials = result.trials
    stopped = trials[trials["status"] == "stopped_early"]
    assert len(stopped) >= 3 and (stopped["epochs_done"] < 9).all()
    assert (trials.loc[trials["status"] == "completed", "epochs_done"] == 9).all()
    completed_best = trials.loc[trials["status"] == "completed", "validation_accuracy"].max()
    assert result.validation_accuracy == completed_best, "the best config is chosen among full-budget trials"


def expected_stopping_epochs(qualities: list[float], rungs: list[int], reduction_factor: int, epochs: int) -> list[int]:
    """Asynchronous successive halving by hand: at each rung a trial goes on if its score is not below
    the (1 - 1/R) quantile of the scores recorded there before it; its own score is recorded either way."""
    recorded = {rung: [] for rung in rungs}
    stopped_at = []
    for quality in qualities:
        reached = epochs
        for rung in rungs:
            score = quality * rung / epochs
            before = recorded[rung]
            recorded[rung] = [*before, score]
            if before and score < np.percentile(before, (1 - 1 / reduction_factor) * 100):
                reached = rung
                break
        stopped_at.append(reached)
    return stopped_at


@pytest.mark.slow
def test_asha_stops_scripted_trials_at_exactly_the_rungs_successive_halving_gives(ray_cluster, digits_splits, tmp_path):
    space = "quality: {type: float, low: 0.0, high: 1.0}\nepochs: {type: int, low: 9, high: 9}\n"
    result = search_digits(
        digits_splits,
        tmp_path,
        "scripted",
        space,
        num_samples=14,
        time_budget_s=300,
        max_concurrent=1,
        rungs=Rungs(),
        end_chance=0,  # ASHA alone decides
    )
    trials = result.trials  # in the order the trials were started
    assert trials["quality"].iloc[0] == 0.5, "the article's settings come first"
    expected = expected_stopping_epochs(trials["quality"].tolist(), [1, 3, 9], reduction_factor=3, epochs=9)
    assert trials["epochs_done"].tolist() == expected
    assert (trials["reports"] == trials["epochs_done"]).all(), "a stopped trial trains no further than its rung"
    assert set(expected) >= {1, 3, 9}, "the script stops trials at both rungs and lets some finish"
    finished = trials[trials["epochs_done"] == 9]
    assert (finished["status"] == "completed").all() and (
        trials[trials["epochs_done"] < 9]["status"] == "stopped_early"
    ).all()
    assert result.validation_accuracy == pytest.approx(finished["quality"].max()), "the best full-budget trial wins"
