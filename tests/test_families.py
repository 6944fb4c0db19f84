"""The family contract, run the same way over every family in the registry (no Ray here)."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

from search.families import FAMILIES, get_family
from search.families.base import no_report
from search.families.keras_model import import_keras


def quick_config(family) -> dict:
    """The article's settings, with at most 3 epochs so that the tests stay fast."""
    config = family.article_config(64)
    if "epochs" in config:
        config["epochs"] = min(config["epochs"], 3)
    return config


class Reports(list):
    """A ``report`` that keeps the ``TrialReport``s it is given (and ignores checkpoints)."""

    def __call__(self, trial_report, checkpoint=None):
        self.append(trial_report)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown family 'xgboost'; choose from cnn, keras_mlp, logistic, mlp, svc"):
        get_family("xgboost")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_trains_and_reports_validation_accuracy(name, digits_splits):
    family = FAMILIES[name]
    assert set(family.article_config(64)) <= family.PARAMETERS
    config = quick_config(family)
    reports = Reports()
    model = family.train(config, digits_splits.search, reports, seed=0)
    assert reports, "a trial must report at least once"
    assert reports[-1].progress == 1.0 and reports[-1].reached_full_budget
    assert [r.progress for r in reports] == sorted(r.progress for r in reports)
    assert reports[-1].validation_accuracy > 0.6  # chance is 0.1
    predictions = family.predict(model, digits_splits.search.X_val)
    assert reports[-1].validation_accuracy == pytest.approx(np.mean(predictions == digits_splits.search.y_val))


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_is_reproducible_given_the_seed(name, digits_splits):
    family = FAMILIES[name]
    config = quick_config(family)
    first, second = Reports(), Reports()
    family.train(config, digits_splits.search, first, seed=3)
    family.train(config, digits_splits.search, second, seed=3)
    assert first == second


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_retrained_model_saves_and_loads_to_the_same_predictions(name, digits_splits, tmp_path):
    family = FAMILIES[name]
    model = family.train(quick_config(family), digits_splits.retrain_data(), no_report, seed=0)
    path = tmp_path / family.MODEL_FILE
    family.save(model, path)
    loaded = family.load(path)
    assert np.array_equal(family.predict(loaded, digits_splits.X_test), family.predict(model, digits_splits.X_test))


def test_every_family_says_what_its_budget_is_counted_in():
    assert {name: family.FIDELITY for name, family in FAMILIES.items()} == {
        "logistic": "samples", "svc": "samples", "mlp": "epochs", "keras_mlp": "epochs", "cnn": "epochs",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(n for n, f in FAMILIES.items() if f.FIDELITY == "epochs"))
def test_iterative_families_report_after_every_epoch(name, digits_splits):
    family = FAMILIES[name]
    reports = Reports()
    config = {**family.article_config(64), "epochs": 4}
    family.train(config, digits_splits.search, reports, seed=0)
    assert [r.progress for r in reports] == [0.25, 0.5, 0.75, 1.0]
    assert [r.epochs_done for r in reports] == [1, 2, 3, 4], "ASHA's rungs are counted in epochs"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_no_report_without_a_validation_split(name, digits_splits):
    family = FAMILIES[name]
    reports = Reports()
    family.train(quick_config(family), digits_splits.retrain_data(), reports, seed=0)
    assert reports == []


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
@pytest.mark.parametrize("name", ["keras_mlp", "cnn"])
def test_keras_family_carries_on_from_a_checkpoint(name, schedule, digits_splits, tmp_path):
    family = FAMILIES[name]
    config = {**family.article_config(64), "epochs": 3, "lr_schedule": schedule}
    checkpoints = []

    def keep_checkpoint(trial_report, checkpoint=None):
        copy = tmp_path / f"epoch{len(checkpoints) + 1}"
        shutil.copytree(checkpoint, copy)
        checkpoints.append(copy)

    family.train(config, digits_splits.search, keep_checkpoint, seed=0)
    assert len(checkpoints) == 3
    resumed = Reports()
    family.train(config, digits_splits.search, resumed, seed=0, restore_from=checkpoints[0])
    assert [r.progress for r in resumed] == [pytest.approx(2 / 3), 1.0], "it carries on after epoch 1"


def test_cosine_schedule_decays_the_learning_rate_to_zero_by_the_last_epoch(digits_splits):
    from search.families.keras_model import import_keras, learning_rate

    keras = import_keras()
    config = {"learning_rate": 1e-3, "lr_schedule": "cosine", "epochs": 4, "batch_size": 100}
    schedule = learning_rate(keras, config, n_rows=1_000)  # 10 steps an epoch, 40 in all
    assert float(schedule(0)) == pytest.approx(1e-3)
    assert float(schedule(20)) == pytest.approx(5e-4)
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-9)
    assert learning_rate(keras, {**config, "lr_schedule": "constant"}, n_rows=1_000) == 1e-3


def test_cnn_augmentation_shifts_training_images_only(digits_splits, tmp_path):
    family = FAMILIES["cnn"]
    plain_config = {**quick_config(family), "epochs": 2}
    config = {**plain_config, "augment_shift": 0.15}
    plain, shifted, again = Reports(), Reports(), Reports()
    family.train(plain_config, digits_splits.search, plain, seed=0)
    model = family.train(config, digits_splits.search, shifted, seed=0)
    family.train(config, digits_splits.search, again, seed=0)
    assert shifted != plain, "the shifts change what the network learns"
    assert shifted == again, "and are reproducible given the seed"
    predictions = family.predict(model, digits_splits.X_test)
    keras = import_keras()
    unshifted = keras.Sequential(
        [keras.Input(model.input_shape[1:])]
        + [layer for layer in model.layers if not isinstance(layer, keras.layers.RandomTranslation)]
    )
    assert len(unshifted.layers) == len(model.layers) - 1, "the shifting layer is there, and left out here"
    assert np.array_equal(family.predict(unshifted, digits_splits.X_test), predictions), "no shifts when predicting"
    family.save(model, tmp_path / family.MODEL_FILE)
    assert np.array_equal(family.predict(family.load(tmp_path / family.MODEL_FILE), digits_splits.X_test), predictions)


def test_svc_fits_on_every_core_the_work_holds_and_predicts_what_libsvm_predicts(digits_splits):
    from sklearn.svm import SVC
    from sklearnex.svm import SVC as IntelexSVC

    from search.families import svc
    from search.machine.threads import cap_threads

    config = {"C": 5.0, "gamma": 0.02}
    with cap_threads(2):
        model = svc.train(config, digits_splits.retrain_data(), no_report, seed=0)
    assert isinstance(model, IntelexSVC) and model.n_jobs == 2, "scikit-learn-intelex, on the 2 CPUs the fit holds"
    libsvm = SVC(kernel="rbf", **config).fit(digits_splits.X_train, digits_splits.y_train)
    assert np.array_equal(model.predict(digits_splits.X_test), libsvm.predict(digits_splits.X_test))


def test_svc_in_a_trials_thread_uses_only_the_cores_it_holds(digits_splits):
    """Ray Tune runs a trial's function outside the main thread, where scikit-learn-intelex ignores
    ``n_jobs`` and would use every core: two trials at once would each take the whole machine."""
    from search.families import svc
    from search.machine.threads import cap_threads

    data = digits_splits.retrain_data()
    X, y = np.tile(data.X_train, (3, 1)), np.tile(data.y_train, 3)  # long enough to measure its CPU time
    used = {}

    def trial() -> None:
        with cap_threads(1):
            wall, cpu = time.monotonic(), time.process_time()
            for _ in range(5):
                svc.build({"C": 5.0, "gamma": 0.02}, seed=0, threads=1).fit(X, y)
            used["cores"] = (time.process_time() - cpu) / (time.monotonic() - wall)

    thread = threading.Thread(target=trial)
    thread.start()
    thread.join()
    assert used["cores"] < 1.3, f"the fit kept {used['cores']:.1f} cores busy on average, holding 1"


def test_svc_on_mnist_pixels_predicts_what_libsvm_predicts():
    """scikit-learn-intelex's kernels on float32 input lost precision for some settings (here 5 of 2,000
    validation images differed): the family predicts from float64."""
    from sklearn.svm import SVC

    from search.core.data import load_dataset, make_splits
    from search.families import svc

    split = make_splits(load_dataset("mnist", None)).search
    X, y, X_val = split.X_train[:3000], split.y_train[:3000], split.X_val[:2000]
    assert X.dtype == np.float32
    config = {"C": 17.5045, "gamma": 0.0165}
    model = svc.build(config, seed=0, threads=1).fit(X, y)
    libsvm = SVC(kernel="rbf", **config).fit(X, y)
    assert np.sum(svc.predict(model, X_val) != libsvm.predict(X_val)) == 0
