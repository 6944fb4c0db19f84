"""Several user attributes on a running Optuna trial in one write of its study's journal.

Optuna's ``Trial.set_user_attr`` writes one attribute at a time, and a journal file makes each write an
append under Optuna's file lock with an fsync: the seven attributes a trial gets as it ends were seven of
the journal's fifteen appends a trial (issue 27). The journal's format has no record for several
attributes, but one append may hold several records: ``set_user_attrs`` writes one
``SET_TRIAL_USER_ATTR`` record an attribute, all in one append, and then reads the journal back as
``JournalStorage.set_trial_user_attr`` does, so the study and the trial see them as if set one by one.

It relies on ``JournalStorage``'s private ``_backend``, ``_replay_result``, ``_thread_lock`` and
``_sync_with_backend`` and on ``Trial``'s ``_trial_id`` and ``_cached_frozen_trial`` (the same in Optuna
4.0 and 5.1, tested on both); where one is missing, and for other storages, the attributes are set one
by one.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.storages.journal import JournalStorage
from optuna.storages.journal._storage import JournalOperation

_PRIVATE_NAMES = ("_backend", "_replay_result", "_thread_lock", "_sync_with_backend")


def set_user_attrs(trial: optuna.Trial, attributes: dict[str, Any]) -> None:
    """Set ``attributes`` on ``trial`` (running), in one journal append where its study is a journal."""
    storage = trial.storage
    if not attributes or not _appends_several(storage, trial):
        for key, value in attributes.items():
            trial.set_user_attr(key, value)
        return
    # refused before anything is written: after a record refused on replay, the rest would raise on later reads
    storage.check_trial_is_updatable(trial._trial_id, storage.get_trial(trial._trial_id).state)
    worker = storage._replay_result.worker_id
    records = [
        {"op_code": JournalOperation.SET_TRIAL_USER_ATTR, "worker_id": worker, "trial_id": trial._trial_id}
        | {"user_attr": {key: value}}
        for key, value in attributes.items()
    ]
    with storage._thread_lock:
        storage._backend.append_logs(records)
        storage._sync_with_backend()
    trial._cached_frozen_trial.user_attrs.update(attributes)


def _appends_several(storage: Any, trial: optuna.Trial) -> bool:
    return (
        isinstance(storage, JournalStorage)
        and all(hasattr(storage, name) for name in _PRIVATE_NAMES)
        and hasattr(storage._replay_result, "worker_id")
        and hasattr(trial, "_trial_id")
        and hasattr(trial, "_cached_frozen_trial")
    )
