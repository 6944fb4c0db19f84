"""Cap the threads a trial's numeric libraries use to the CPUs the trial holds."""

from __future__ import annotations

import os
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
    count (scikit-learn-intelex's ``n_jobs``) read it from ``threads_held``."""
    cap_threads_of_new_pools(threads)
    _held.append(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        _held.pop()


def threads_held() -> int:
    """The CPUs the work in hand holds: the innermost ``cap_threads``, else every core of the machine."""
    return _held[-1] if _held else os.cpu_count() or 1
