"""The family contract, run the same way over every family in the registry (no Ray here)."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from search.families import FAMILIES, get_family
from search.families.base import no_report


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown family 'xgboost'; choose from logistic, mlp, svc"):
        get_family("xgboost")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_trains_and_reports_validation_accuracy(name, digits_splits):
    family = FAMILIES[name]
    config = family.article_config(digits_splits.search.X_train.shape[1])
    assert set(config) <= family.PARAMETERS
    reports = []
    model = family.train(config, digits_splits.search, reports.append, seed=0)
    assert reports, "a trial must report at least once"
    assert all(set(r) == {"validation_accuracy", "progress"} for r in reports)
    assert reports[-1]["progress"] == 1.0
    assert [r["progress"] for r in reports] == sorted(r["progress"] for r in reports)
    assert reports[-1]["validation_accuracy"] > 0.85
    predictions = family.predict(model, digits_splits.search.X_val)
    assert reports[-1]["validation_accuracy"] == pytest.approx(np.mean(predictions == digits_splits.search.y_val))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_is_reproducible_given_the_seed(name, digits_splits):
    family = FAMILIES[name]
    config = family.article_config(64)
    first, second = [], []
    family.train(config, digits_splits.search, first.append, seed=3)
    family.train(config, digits_splits.search, second.append, seed=3)
    assert first == second


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_retrained_model_saves_and_loads_to_the_same_predictions(name, digits_splits, tmp_path):
    family = FAMILIES[name]
    model = family.train(family.article_config(64), digits_splits.retrain_data(), no_report, seed=0)
    path = tmp_path / family.MODEL_FILE
    family.save(model, path)
    loaded = joblib.load(path)
    assert np.array_equal(family.predict(loaded, digits_splits.X_test), family.predict(model, digits_splits.X_test))


def test_mlp_reports_after_every_epoch(digits_splits):
    family = FAMILIES["mlp"]
    reports = []
    config = {**family.article_config(64), "epochs": 4}
    family.train(config, digits_splits.search, reports.append, seed=0)
    assert [r["progress"] for r in reports] == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_no_report_without_a_validation_split(name, digits_splits):
    family = FAMILIES[name]
    reports = []
    family.train(family.article_config(64), digits_splits.retrain_data(), reports.append, seed=0)
    assert reports == []
