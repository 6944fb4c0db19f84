"""A finished trial's record in the driver shrinks, and keeps what Ray Tune reports of it."""

from __future__ import annotations

import gc
import tracemalloc

from ray.tune.experiment import Trial

from search.tune.compact import compact_windows


def reported(trial: Trial, results: int = 3) -> Trial:
    """``trial`` after ``results`` results shaped like our trials' (a dozen numeric keys)."""
    for step in range(1, results + 1):
        trial.update_last_result(
            {"validation_accuracy": 0.5 + step / 100, "progress": step / results, "epochs_done": step,
             "training_seconds": 0.3 * step, "started_at": 1.0, "reported_at": 2.0 + step, "done": False,
             "training_iteration": step, "time_this_iter_s": 0.3, "time_total_s": 0.3 * step,
             "time_since_restore": 0.3 * step, "iterations_since_restore": step, "node_id": "a" * 56}
        )  # fmt: skip
    return trial


def test_a_finished_trial_takes_less_than_half_the_memory_and_keeps_its_averages():
    tracemalloc.start()  # before the trials are made: it counts only what it saw allocated
    trials = [reported(Trial("sleep", config={"x": i}, stub=True)) for i in range(200)]
    analysis = [{k: dict(v) for k, v in t.run_metadata.metric_analysis.items()} for t in trials]
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for trial in trials:
        compact_windows(trial)
    gc.collect()
    saved = (before - tracemalloc.get_traced_memory()[0]) / len(trials)
    tracemalloc.stop()
    assert saved > 15_000, f"only {saved:.0f} bytes a trial saved"
    assert [t.run_metadata.metric_analysis for t in trials] == analysis
    assert trials[0].last_result["validation_accuracy"] == 0.53


def test_a_compacted_trial_still_takes_results_and_saves_its_state():
    trial = reported(Trial("sleep", config={"x": 1}, stub=True))
    compact_windows(trial)
    reported(trial, results=4)  # a trial that runs again (a resumed search) reports from its first step
    assert trial.run_metadata.metric_analysis["validation_accuracy"]["max"] == 0.54
    assert '"metric_n_steps"' in trial.get_json_state()[1]
