"""Cap the threads a trial's numeric libraries use to the CPUs the trial holds."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from search.machine.environment import cap_threads_of_new_pools

_held: list[int] = []
"""The caps of the ``cap_threads`` blocks now open, innermost last."""


@contextmanager
def cap_threads(threads: int) -> Iterator[None]:
    """BLAS and OpenMP pools already loaded through threadpoolctl; new ones (TensorFlow's too) through
    the environment variables of ``search.machine.environment.thread_caps``; libraries that take a thread
    count (scikit-learn-intelex's ``n_jobs``) read it from ``threads_held``; and oneDAL's own pool, which
    scikit-learn-intelex uses whole, whatever its ``n_jobs``, outside the main thread (where Ray Tune
    runs a trial)."""
    cap_threads_of_new_pools(threads)
    _held.append(threads)
    onedal_before = _cap_onedal(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        _held.pop()
        if onedal_before is not None:
            _cap_onedal(onedal_before)


def _cap_onedal(threads: int) -> int | None:
    """Set oneDAL's threads (when scikit-learn-intelex is loaded); what they were before, else None."""
    daal4py = sys.modules.get("daal4py")
    if daal4py is None:
        return None
    before = daal4py.num_threads()
    daal4py.daalinit(threads)
    return before


def threads_held() -> int:
    """The CPUs the work in hand holds: the innermost ``cap_threads``, else every core of the machine."""
    return _held[-1] if _held else os.cpu_count() or 1
