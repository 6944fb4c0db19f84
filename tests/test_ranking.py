"""Which family wins: ranked by validation accuracy, the runner-up's difference on test, McNemar's test."""

from __future__ import annotations

import numpy as np
import pytest

from search.core.ranking import mcnemar, rank_families


def predictions(only_first: int, only_second: int, both: int = 20, neither: int = 5):
    """Test labels and two models' predictions with the given counts of (dis)agreement in being right."""
    y_true = np.zeros(only_first + only_second + both + neither, dtype=int)
    first, second = y_true.copy(), y_true.copy()
    first[only_first : only_first + only_second] = 1  # wrong where only the second is right
    second[:only_first] = 1
    first[-neither:] = second[-neither:] = 1
    return y_true, first, second


def test_mcnemar_counts_the_images_only_one_model_gets_right_and_gives_the_exact_p_value():
    # 1 against 6: two-sided exact binomial p = 2 * P(X <= 1 | n=7, 1/2) = 2 * (1 + 7) / 2**7 = 0.125
    result = mcnemar(*predictions(only_first=1, only_second=6))
    assert (result.only_first, result.only_second) == (1, 6)
    assert result.p_value == pytest.approx(0.125)
    # 10 against 0: 2 / 2**10
    assert mcnemar(*predictions(10, 0)).p_value == pytest.approx(2 / 1024)
    assert mcnemar(*predictions(0, 0)).p_value == 1.0, "two models that agree on every image"
    assert mcnemar(*predictions(4, 4)).p_value == 1.0


def report(family: str, validation: float, test: float) -> dict:
    return {"family": family, "validation_accuracy": validation, "test_accuracy": test}


def test_the_winner_is_chosen_on_validation_and_compared_with_the_runner_up_on_test():
    y_true, svc, cnn = predictions(only_first=3, only_second=30)
    reports = [report("svc", 0.985, 0.9858), report("logistic", 0.92, 0.925), report("cnn", 0.99, 0.9943)]
    ranking = rank_families(reports, {"svc": (y_true, svc), "cnn": (y_true, cnn)})
    assert ranking.order == ["cnn", "svc", "logistic"] and ranking.winner == "cnn" and ranking.runner_up == "svc"
    assert ranking.test_difference == pytest.approx(0.0085)
    assert (ranking.comparison.only_first, ranking.comparison.only_second) == (30, 3), "the winner's first"
    assert ranking.significant and ranking.comparison.p_value < 1e-5
    assert ranking.sentence().startswith("winner by validation accuracy: cnn (99.43% test); runner-up svc")
    assert "0.85 points lower" in ranking.sentence() and "significant at 5%" in ranking.sentence()

    higher_on_test = rank_families([report("a", 0.99, 0.97), report("b", 0.98, 0.99)], {})
    assert higher_on_test.winner == "a", "the test split chooses nothing"
    assert "2.00 points higher" in higher_on_test.sentence() and higher_on_test.comparison is None


def test_the_allocation_table_gives_each_familys_trial_seconds_by_resource_kind_and_why_it_ended(tmp_path):
    import pandas as pd

    from search.report import allocation_table
    from search.visual.run_record import RunRecord

    def run(family: str, gpus: float, seconds: list[float], why: str) -> RunRecord:
        report = {"gpus_per_trial": gpus, "search_seconds": 600, "search_ended": {"reason": "behind", "why": why}}
        return RunRecord(tmp_path / family, {"family": family, "cpus_per_trial": 0.5}, report,
                         pd.DataFrame({"seconds": seconds}), None, None)  # fmt: skip

    rows = allocation_table([run("svc", 0, [100, 50.4], "converged: the chance fell"),
                             run("cnn", 1, [300, None], "clearly behind x")])  # fmt: skip
    assert rows[1] == ["svc", "0.5 CPUs", "2", "150", "", "10.0 min", "converged: the chance fell"]
    assert rows[2] == ["cnn", "0.5 CPUs, 1 GPUs", "2", "", "300", "10.0 min", "clearly behind x"]
