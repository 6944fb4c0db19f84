"""A trial's user attributes written together: one journal append, read back by any reader as if set one by one."""

from __future__ import annotations

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from search.records.attributes import set_user_attrs

ATTRIBUTES = {"run": "run-1", "node": "10.0.0.2", "seconds": 1.5, "last_report": {"epochs_done": 3, "score": 0.9}}


class CountedAppends(JournalFileBackend):
    """Optuna's journal file, counting its appends (each takes the file lock and an fsync)."""

    appends = 0

    def append_logs(self, logs):
        self.appends += 1
        super().append_logs(logs)


def journal_study(path, backend=None) -> optuna.Study:
    storage = JournalStorage(backend or JournalFileBackend(str(path)))
    return optuna.create_study(study_name="s", storage=storage, load_if_exists=True)


def test_several_attributes_take_one_append_and_a_fresh_reader_sees_each_of_them(tmp_path):
    backend = CountedAppends(str(tmp_path / "study.journal"))
    study = journal_study(None, backend)
    trial = study.ask()
    before = backend.appends

    set_user_attrs(trial, ATTRIBUTES)

    assert backend.appends == before + 1
    assert trial.user_attrs == ATTRIBUTES, "the live trial"
    study.tell(trial, 0.5)
    assert study.trials[0].user_attrs == ATTRIBUTES, "the study that wrote them"
    reread = journal_study(tmp_path / "study.journal")
    assert reread.trials[0].user_attrs == ATTRIBUTES and reread.trials[0].value == 0.5, "another reader of the file"


def test_a_finished_trial_refuses_them_as_it_refuses_one(tmp_path):
    study = journal_study(tmp_path / "study.journal")
    trial = study.ask()
    study.tell(trial, 0.5)
    with pytest.raises(RuntimeError, match="finished"):
        trial.set_user_attr("run", "run-1")
    with pytest.raises(RuntimeError, match="finished"):
        set_user_attrs(trial, ATTRIBUTES)
    assert study.trials[0].user_attrs == {} and journal_study(tmp_path / "study.journal").trials[0].user_attrs == {}


def test_other_storages_get_them_one_by_one(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}")
    trial = study.ask()
    set_user_attrs(trial, ATTRIBUTES)
    study.tell(trial, 0.5)
    assert study.trials[0].user_attrs == ATTRIBUTES
