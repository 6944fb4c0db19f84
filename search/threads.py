"""Cap the threads a trial's numeric libraries use to the CPUs the trial holds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from search.environment import cap_threads_of_new_pools


@contextmanager
def cap_threads(threads: int) -> Iterator[None]:
    """BLAS and OpenMP pools already loaded through threadpoolctl; new ones (TensorFlow's too) through
    the environment variables of ``search.environment.thread_caps``."""
    cap_threads_of_new_pools(threads)
    with threadpool_limits(limits=threads):
        yield
