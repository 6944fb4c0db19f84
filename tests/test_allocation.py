"""Families searched at once: which is clearly behind, how the trial slots are shared, and a search that
the allocator calls off ends at once with the reason recorded."""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import replace

import optuna
import pytest

from search.core.allocation import (
    BEHIND_Z,
    NICE_BEHIND,
    EndedTrial,
    Standing,
    clearly_behind,
    cpu_priorities,
    difference_error,
    trial_slots,
)
from search.core.ending import BEHIND
from search.core.reporter import SILENT, Reporter
from search.core.settings import Rungs, Settings
from search.core.spaces import default_space_path
from search.machine.cluster import ClusterResources
from search.pipeline.together import allocate
from search.records.shares import (
    Share,
    allocation_place,
    end_requested,
    mark_search_ended,
    read_share,
    request_end,
    write_share,
)
from search.records.study import RUN, open_study_place
from tests.digits_search import search_digits
from tests.test_ending import RISING

VALIDATION = 5250


def test_the_noise_of_a_difference_adds_both_accuracies_variances():
    # 99.2% and 98.5% on 5,250 images: sqrt((0.992 * 0.008 + 0.985 * 0.015) / 5250) = 0.2079 points
    assert difference_error(0.992, 0.985, VALIDATION) == pytest.approx(0.002079, abs=1e-6)


def test_a_family_is_behind_only_beyond_the_noise_and_after_two_full_budget_trials():
    leader = Standing("cnn", 0.992, 3)
    standings = [
        leader,
        Standing("mlp", 0.980, 2),  # 1.2 points behind: about 5 standard errors
        Standing("keras_mlp", 0.989, 5),  # 0.3 points: within 3 standard errors
        Standing("logistic", 0.925, 1),  # far behind, but only the article's settings have run
        Standing("svc", 0.9841, 4, article=0.984),  # far behind, but no better than its article's settings yet
        Standing("svc_fresh", None, 0),
    ]
    behind = clearly_behind(standings, VALIDATION)
    assert list(behind) == ["mlp"]
    assert behind["mlp"].startswith("clearly behind cnn: its best validation accuracy 98.00% after 2 full-budget")
    gap = 0.992 - 0.980
    assert f"({gap / difference_error(0.992, 0.980, VALIDATION):.1f} standard errors)" in behind["mlp"]
    assert gap / difference_error(0.992, 0.980, VALIDATION) > BEHIND_Z
    assert clearly_behind([leader], VALIDATION) == {}, "alone, nobody is behind"


def test_slots_are_one_each_while_families_outnumber_them_and_the_rest_go_to_the_leaders():
    five = [Standing(f, None, 0, prior) for f, prior in [("logistic", 0.925), ("cnn", 0.992), ("mlp", 0.976)]]
    assert trial_slots(five, 2) == {"logistic": 1, "cnn": 1, "mlp": 1}
    assert trial_slots(five, 8) == {"cnn": 3, "mlp": 3, "logistic": 2}, "before any result, the article's order"
    scored = [Standing("cnn", 0.990, 2, 0.992), Standing("mlp", 0.991, 2, 0.976)]
    assert trial_slots(scored, 5) == {"mlp": 3, "cnn": 2}, "once scored, the best so far leads"


def test_the_family_expected_to_win_runs_first_on_the_shared_cores():
    before = [Standing("svc", None, 0, 0.946), Standing("cnn", None, 0, 0.992), Standing("mlp", None, 0, 0.976)]
    assert cpu_priorities(before) == {"svc": NICE_BEHIND, "cnn": 0, "mlp": NICE_BEHIND}, "the article's order"
    svc_first = [Standing("svc", 0.983, 1, 0.946), Standing("cnn", None, 0, 0.992)]
    assert cpu_priorities(svc_first) == {"svc": NICE_BEHIND, "cnn": 0}, "a cheaper family reporting first"
    overtaken = [Standing("svc", 0.983, 1, 0.946), Standing("cnn", 0.981, 1, 0.992)]
    assert cpu_priorities(overtaken) == {"svc": 0, "cnn": NICE_BEHIND}, "once scored, the best so far"
    assert cpu_priorities([Standing("svc", None, 0)]) == {"svc": 0}


def family_folder(run, family: str, scores: list[float]) -> Settings:
    """A family's folder as its search leaves it: ``settings.json`` and a study with these full-budget scores."""
    folder = run / family
    folder.mkdir(parents=True)
    settings = Settings(family=family, space_path=default_space_path(family), num_samples=10, time_budget_s=60,
                        output_dir=folder, study_name=f"run-{family}", run_id=f"run-{family}-1",
                        together=True)  # fmt: skip
    (folder / "settings.json").write_text(json.dumps(settings.to_dict()))
    study = open_study_place(None, settings.study, folder).create(optuna.samplers.RandomSampler(), maximize=True)
    for score in scores:
        trial = optuna.trial.create_trial(value=score, params={}, distributions={}, user_attrs={RUN: settings.run})
        study.add_trial(trial)
    return settings


def test_the_allocator_ends_the_search_of_the_family_behind_and_gives_its_slots_to_the_leader(tmp_path):
    leader = family_folder(tmp_path, "cnn", [0.990, 0.993])
    behind = family_folder(tmp_path, "mlp", [0.975, 0.979])
    fresh = family_folder(tmp_path, "svc", [])
    plans = [leader, behind, fresh]
    cluster = ClusterResources(cpus=4, gpus=0, largest_node_cpus=4)
    allocate(plans, plans, cluster, cpu_slots=4, validation_size=VALIDATION, reporter=SILENT)

    why = end_requested(allocation_place(behind.output_dir))
    assert why is not None and why.startswith("clearly behind cnn: its best validation accuracy 97.90%")
    assert end_requested(allocation_place(leader.output_dir)) is None
    assert end_requested(allocation_place(fresh.output_dir)) is None, "no result yet: not behind"
    shares = {s.family: read_share(allocation_place(s.output_dir)).trials_at_once for s in plans}
    assert shares == {"cnn": 2, "svc": 2, "mlp": 1}, "mlp's slot went to the two still searching"


def test_the_leader_runs_first_and_a_family_retraining_leaves_its_slots_and_priority(tmp_path):
    """2 CPUs, cnn (no result yet, the article's 99.2%) and svc (98.3% validation) searching: one trial each,
    cnn's first, and the terminal says so; once cnn's search has ended (it retrains), svc has both slots
    and runs first."""
    plans = [family_folder(tmp_path, "svc", [0.983]), family_folder(tmp_path, "cnn", [])]
    out = io.StringIO()
    reporter = Reporter(out=out)
    cluster = ClusterResources(cpus=2, gpus=0, largest_node_cpus=2)
    settings = [replace(s, dataset="mnist") for s in plans]
    allocate(settings, settings, cluster, cpu_slots=2, validation_size=VALIDATION, reporter=reporter)
    shares = {s.family: read_share(allocation_place(s.output_dir)) for s in plans}
    assert shares == {"svc": Share(1, 1, nice=NICE_BEHIND), "cnn": Share(1, 1, nice=0)}
    assert out.getvalue().splitlines() == [
        "== cnn: expected to lead (the article's 99.2%): its trials run first where the families' trials "
        f"outnumber the cores (the others' at nice {NICE_BEHIND})"
    ]
    allocate(settings, settings, cluster, cpu_slots=2, validation_size=VALIDATION, reporter=reporter)
    assert len(out.getvalue().splitlines()) == 1, "said once, while the leader stays"

    mark_search_ended(allocation_place(plans[1].output_dir), "its time budget")
    allocate(settings, settings, cluster, cpu_slots=2, validation_size=VALIDATION, reporter=reporter)
    assert read_share(allocation_place(plans[0].output_dir)) == Share(2, 1, nice=0)
    assert read_share(allocation_place(plans[1].output_dir)).nice == 0, "its retrain is not held back"


def test_on_a_mixed_cluster_cpu_families_leave_the_gpu_nodes_cpus_to_the_gpu_trials(tmp_path):
    """2 CPU nodes of 4 CPUs and a GPU node of 2 CPUs and 4 GPUs: logistic and svc share the 8 CPUs of the
    nodes without GPUs; cnn runs as many trials as the GPU node's CPUs hold (2), not as its GPUs (4)."""
    plans = [family_folder(tmp_path, family, []) for family in ("logistic", "svc", "cnn")]
    plans = [replace(s, gpus_per_trial=1.0 if s.family == "cnn" else 0.0, cpus_per_trial=1.0) for s in plans]
    cluster = ClusterResources(cpus=10, gpus=4, largest_node_cpus=4, nodes=3, gpu_node_cpus=2, gpu_nodes=("g1",))
    allocate(plans, plans, cluster, cpu_slots=10, validation_size=VALIDATION, reporter=SILENT)

    shares = {s.family: read_share(allocation_place(s.output_dir)) for s in plans}
    assert {family: share.trials_at_once for family, share in shares.items()} == {"logistic": 4, "svc": 4, "cnn": 2}
    assert {family: share.avoid_nodes for family, share in shares.items()} == {
        "logistic": ("g1",),
        "svc": ("g1",),
        "cnn": (),
    }, "the CPU families' trials keep off the GPU node"

    allocate(plans, plans[:2], cluster, cpu_slots=10, validation_size=VALIDATION, reporter=SILENT)  # cnn finished
    logistic = read_share(allocation_place(plans[0].output_dir))
    assert logistic.trials_at_once == 5 and logistic.retrain_threads == 5, "all 10 CPUs, the GPU node's too"
    assert logistic.nice == NICE_BEHIND, "svc, the article's 94.6% against 92.5%, runs first"


@pytest.mark.slow
def test_a_search_the_allocator_calls_off_ends_at_once_with_the_reason(ray_cluster, digits_splits, tmp_path):
    """A family still improving (each trial better than the last) would run to its cap of 18 trials; the
    allocator's end request, once 3 trials have reached their full budget, ends it within seconds. Its
    trials ran at the nice value of its share (not the leader: lower priority)."""
    folder = tmp_path / "run" / "scripted"
    folder.mkdir(parents=True)
    place = allocation_place(folder)

    def call_off_after_three() -> None:
        journal = open_study_place(None, "test", folder)
        for _ in range(600):
            study = journal.load()
            complete = study and [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
            if complete and len(complete) >= 3:
                request_end(place, "clearly behind cnn: a scripted reason")
                return
            time.sleep(0.1)

    caller = threading.Thread(target=call_off_after_three, daemon=True)
    caller.start()
    write_share(place, Share(trials_at_once=1, retrain_threads=1, nice=7))  # behind the leader
    notes = tmp_path / "nice"
    notes.mkdir()
    slow_rising = RISING + "pause: {type: categorical, choices: [0.5]}\n"  # 18 trials take 9 s: the call comes first
    slow_rising += f"note_nice_in: {{type: categorical, choices: ['{notes}']}}\n"
    result = search_digits(digits_splits, folder, "scripted", slow_rising, num_samples=18, time_budget_s=300,
                           max_concurrent=1, rungs=Rungs(grace_period=1, reduction_factor=3),
                           together=True)  # fmt: skip
    caller.join(timeout=5)
    assert result.ended.reason == BEHIND, result.ended.why
    assert result.ended.why == "clearly behind cnn: a scripted reason"
    assert 3 <= len(result.trials) < 18
    noted = {path.name: int(path.read_text()) for path in notes.iterdir()}
    assert noted and set(noted.values()) == {7}, f"every trial trains at its share's nice value: {noted}"


def cheap_family(best_at_rung: float) -> Standing:
    """keras_mlp-like: 4 full-budget trials near 98.5% (each 3.45 points above its first epoch's score),
    then 15 trials stopped after their first epoch, the best of them at ``best_at_rung``."""
    full = [EndedTrial(((1, rung),), final) for rung, final in [(0.950, 0.9845), (0.952, 0.986), (0.948, 0.9825),
                                                                (0.951, 0.985)]]  # fmt: skip
    stopped = [EndedTrial(((1, score),)) for score in [best_at_rung, 0.945, 0.940] * 5]
    return Standing("keras_mlp", 0.986, 4, ended=tuple(full + stopped))


def test_a_family_unlikely_to_overtake_the_leader_is_behind_before_the_gap_reaches_three_standard_errors():
    """keras_mlp's best, 98.60%, trails cnn's 99.00% by 1.9 standard errors: not clearly behind. But its trials
    after one epoch, plus the 3.45 points its full-budget trials gained after that epoch, reach 98.55% at most:
    its next 15 trials have almost no chance to beat 99.00%, and its search ends."""
    leader = Standing("cnn", 0.990, 3)
    behind = clearly_behind([leader, cheap_family(0.951)], VALIDATION)
    assert (0.990 - 0.986) / difference_error(0.990, 0.986, VALIDATION) < BEHIND_Z
    assert behind["keras_mlp"].startswith("unlikely to overtake cnn: the chance that its next 15 trials beat 99.00%")
    assert "; its best 98.60% after 4 full-budget trials" in behind["keras_mlp"]

    close = Standing("cnn", 0.9865, 3)  # within reach of keras_mlp's trials: some reach 95.3% after one epoch
    assert cheap_family(0.953).chance_to_overtake(0.9865, VALIDATION) > 0.05
    assert clearly_behind([close, cheap_family(0.953)], VALIDATION) == {}
    assert clearly_behind([leader, replace(cheap_family(0.951), end_chance=0)], VALIDATION) == {}, "--end-chance 0"
    few = replace(cheap_family(0.951), ended=cheap_family(0.951).ended[:10])
    assert few.chance_to_overtake(0.990, VALIDATION) is None, "too few trials ended to tell"
