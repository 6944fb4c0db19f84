"""The progress lines a user watches while a search runs."""

from __future__ import annotations

from types import SimpleNamespace

from search.core.reporter import Reporter
from search.tune.progress import ProgressPrinter


def test_a_quiet_search_says_how_far_its_running_trials_have_got(capsys):
    printer = ProgressPrinter("validation_accuracy", ["epochs"], 4, Reporter(), heartbeat_s=0)
    first, second = SimpleNamespace(trial_id="a", config={"epochs": 10}), SimpleNamespace(trial_id="b", config={})
    printer.on_step_end(0, [])
    assert capsys.readouterr().out == "", "nothing to say before any trial has reported"
    printer.on_trial_result(0, [], first, {"validation_accuracy": 0.981, "progress": 0.3, "epochs_done": 3})
    printer.on_trial_result(0, [], second, {"validation_accuracy": 0.975, "progress": 0.1, "epochs_done": 1})
    printer.on_step_end(1, [])
    line = capsys.readouterr().out
    assert "running: epoch 3 at 98.10%; epoch 1 at 97.50%" in line and "| best -" in line
    printer.on_trial_result(0, [], first, {"validation_accuracy": 0.99, "progress": 1.0, "epochs_done": 10})
    printer.on_trial_complete(2, [], first)
    printer.on_step_end(3, [])
    lines = capsys.readouterr().out.splitlines()
    assert "trial   1/4: validation 99.00%" in lines[0]
    assert "running: epoch 1 at 97.50%  | best 99.00%" in lines[1], "a finished trial leaves the running line"


def test_the_running_line_waits_for_a_quiet_spell(capsys):
    printer = ProgressPrinter("validation_accuracy", [], 1, Reporter())  # the default: 2 minutes
    trial = SimpleNamespace(trial_id="a", config={})
    printer.on_trial_result(0, [], trial, {"validation_accuracy": 0.9, "progress": 0.5, "epochs_done": 1})
    printer.on_step_end(1, [])
    assert capsys.readouterr().out == ""


def test_quiet_keeps_the_trial_lines_back_but_not_the_headlines(capsys):
    reporter = Reporter(quiet=True)
    printer = ProgressPrinter("validation_accuracy", [], 1, reporter, heartbeat_s=0)
    trial = SimpleNamespace(trial_id="a", config={})
    printer.on_trial_result(0, [], trial, {"validation_accuracy": 0.9, "progress": 1.0, "epochs_done": 1})
    printer.on_trial_complete(1, [], trial)
    reporter.say("== svc: the search ended")
    assert capsys.readouterr().out == "== svc: the search ended\n"


def test_best_counts_only_trials_that_reached_their_full_budget_as_the_final_choice_does(capsys):
    printer = ProgressPrinter("validation_accuracy", [], 3, Reporter())
    stopped, full = SimpleNamespace(trial_id="a", config={}), SimpleNamespace(trial_id="b", config={})
    printer.on_trial_result(0, [], stopped, {"validation_accuracy": 0.99, "progress": 0.1, "train_samples": 1750})
    printer.on_trial_complete(1, [], stopped)
    printer.on_trial_result(1, [], full, {"validation_accuracy": 0.97, "progress": 1.0, "train_samples": 47250})
    printer.on_trial_complete(2, [], full)
    first, second = capsys.readouterr().out.splitlines()
    assert "validation 99.00% (stopped at 1750 images)" in first and first.endswith("| best -")
    assert second.endswith("| best 97.00%"), "a low rung's score is not the search's best"


def test_a_resumed_search_counts_on_and_speaks_as_the_resuming_command_asks(capsys):
    import pickle

    from search.tune.progress import resumed_progress

    first = ProgressPrinter("validation_accuracy", [], 12, Reporter(), run_id="run-1")  # the first command's
    saved = pickle.dumps(first)  # in tuner.pkl
    trial = SimpleNamespace(trial_id="a", config={})
    with resumed_progress("run-1", Reporter(), ended=9, best=0.97):
        printer = pickle.loads(saved)  # Tuner.restore
    printer.on_trial_result(0, [], trial, {"validation_accuracy": 0.95, "progress": 1.0, "epochs_done": 5})
    printer.on_trial_complete(1, [], trial)
    line = capsys.readouterr().out
    assert "trial  10/12: validation 95.00%" in line and line.rstrip().endswith("| best 97.00%")
    assert "[     0s]" in line, "timed from this command's start"

    with resumed_progress("run-1", Reporter(quiet=True), ended=9, best=0.97):
        quiet = pickle.loads(saved)  # --resume DIR --quiet
    quiet.on_trial_result(0, [], trial, {"validation_accuracy": 0.95, "progress": 1.0, "epochs_done": 5})
    quiet.on_trial_complete(1, [], trial)
    assert capsys.readouterr().out == ""


def test_a_trial_whose_node_died_runs_again_from_its_checkpoint_or_from_the_start(capsys):
    """A Keras trial has a checkpoint to go on from; a scikit-learn trial has none, and the line says so."""
    printer = ProgressPrinter("validation_accuracy", [], 2, Reporter())
    keras = SimpleNamespace(trial_id="a", config={}, checkpoint=object())
    svc = SimpleNamespace(trial_id="b", config={}, checkpoint=None)
    printer.on_trial_recover(0, [], keras)
    printer.on_trial_recover(0, [], svc)
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith("a trial's worker or node died; it runs again from its last checkpoint")
    assert second.endswith("a trial's worker or node died; it runs again from the start (no checkpoint)")
