"""Cap the threads a trial's numeric libraries use to the CPUs the trial holds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def cap_threads(threads: int) -> Iterator[None]:
    """BLAS and OpenMP through threadpoolctl, TensorFlow through its environment variables.

    TensorFlow reads ``TF_NUM_INTRAOP_THREADS`` and ``TF_NUM_INTEROP_THREADS`` once, when its
    runtime starts in a worker; every trial of a search holds the same CPUs, so a reused worker
    keeps the right cap.
    """
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(min(2, threads))
    with threadpool_limits(limits=threads):
        yield
