"""The space parser: the shipped files, good files and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from search.core.spaces import SpaceError, default_space_path, load_space, spaces_dir
from search.families import FAMILIES

PARAMETERS = frozenset({"C", "gamma", "units", "batch_size"})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_every_family_has_a_space_file_and_no_file_lacks_a_family():
    assert sorted(p.stem for p in spaces_dir().glob("*.yaml")) == sorted(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shipped_space_loads_and_holds_the_article_settings(family):
    module = FAMILIES[family]
    space = load_space(default_space_path(family), module.PARAMETERS, module.ALLOWED)
    assert space.distributions
    assert space.contains(module.article_config(784)), "the article's settings must be the first trial"


def test_svc_space_holds_the_known_good_region():
    space = load_space(default_space_path("svc"), FAMILIES["svc"].PARAMETERS)
    assert space.contains({"C": 5.0, "gamma": 0.01}) and space.contains({"C": 10.0, "gamma": 0.05})
    assert space.distributions["C"].log and space.distributions["gamma"].log


def test_good_file_becomes_optuna_distributions(tmp_path):
    path = write(
        tmp_path,
        "C: {type: float, low: 1e-2, high: 100.0, log: true}\n"
        "units: {type: int, low: 32, high: 512, step: 32}\n"
        "batch_size: {type: categorical, choices: [64, 128]}\n",
    )
    space = load_space(path, PARAMETERS)
    assert space.distributions["C"] == FloatDistribution(0.01, 100.0, log=True)
    assert space.distributions["units"] == IntDistribution(32, 512, step=32)
    assert space.distributions["batch_size"] == CategoricalDistribution([64, 128])
    assert space.restrict({"C": 1.0, "units": 64, "batch_size": 64, "other": 1}) == {
        "C": 1.0,
        "units": 64,
        "batch_size": 64,
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("C: {type: normal, low: 1, high: 2}", r"parameter 'C': unknown type 'normal'"),
        ("C: {type: float, low: 5.0, high: 1.0}", r"parameter 'C': .*low.*high.*\(low=5\.0"),
        ("C: {type: float, low: 0.0, high: 1.0, log: true}", r"parameter 'C': .*log"),
        ("C: {type: float, low: 1.0, high: 2.0, log: true, step: 1}", r"parameter 'C': .*`step` is not supported"),
        ("units: {type: int, low: 1, high: 4, step: 0}", r"parameter 'units': .*step"),
        ("batch_size: {type: categorical, choices: []}", r"non-empty list of choices"),
        ("C: {type: float, low: 1, high: 2, scale: log}", r"unknown key scale"),
        ("kernel: {type: categorical, choices: [rbf]}", r"parameter 'kernel': not a parameter of this family"),
        ("C: {type: float, high: 2}", r"missing 'low'"),
        ("C: {type: float, low: one, high: 2}", r"low must be a number"),
        ("units: {type: int, low: 1.5, high: 4}", r"whole number"),
        ("C: [1, 2]", r"expected a mapping"),
        ("", r"found no parameters"),
        ("C: {type: float, low: 1, high: 2", r"not valid YAML"),
    ],
)
def test_bad_file_is_rejected_with_the_reason(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        load_space(path, PARAMETERS)
    assert str(path) in str(error.value)


def test_a_value_off_the_spaces_step_is_not_in_it(tmp_path):
    space = load_space(write(tmp_path, "units: {type: int, low: 32, high: 512, step: 32}\n"), PARAMETERS)
    assert space.contains({"units": 96}) and not space.contains({"units": 100})
    space = load_space(write(tmp_path, "C: {type: float, low: 0.1, high: 1.0, step: 0.1}\n"), PARAMETERS)
    assert space.contains({"C": 0.3}) and not space.contains({"C": 0.25})


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="cannot read space file"):
        load_space(tmp_path / "nope.yaml", PARAMETERS)


@pytest.mark.parametrize(
    ("family", "line", "message"),
    [
        ("logistic", "C: {type: float, low: -1, high: 2}", "'C' ranges over [-1, 2], but LogisticRegression's C"),
        ("svc", "gamma: {type: float, low: -0.1, high: 0.1}", "SVC's gamma takes a float in the range [0.0, inf)"),
        ("mlp", "batch_size: {type: categorical, choices: [0, 64]}", "MLPClassifier's batch_size"),
        ("keras_mlp", "dropout: {type: float, low: 0.0, high: 1.0}", "dropout takes a float in the range [0.0, 1.0)"),
        ("cnn", "lr_schedule: {type: categorical, choices: [constant, step]}", "('step' is not)"),
    ],
)  # fmt: skip
def test_a_range_the_model_rejects_is_refused_naming_the_file_the_parameter_and_the_allowed_range(
    tmp_path, family, line, message
):
    path = write(tmp_path, line + "\n")
    module = FAMILIES[family]
    with pytest.raises(SpaceError) as refused:
        load_space(path, module.PARAMETERS, module.ALLOWED)
    assert str(refused.value).startswith(str(path)) and message in str(refused.value)
    assert "\n" not in str(refused.value)
