"""How long a process's threads waited for a CPU that other processes held: Linux's run delay.

A trial that shares its cores with other trials (several families searched at once on a few cores)
takes longer than its work needs; the time it was ready to run but waited for a CPU tells the two
apart. Linux counts it per thread (``/proc/<pid>/task/<tid>/schedstat``: the second field, in
nanoseconds); elsewhere it is not known (None).
"""

from __future__ import annotations

import os

TASKS = "/proc/self/task"


def cpu_wait_seconds() -> float | None:
    """Seconds this process's threads (those alive now) have waited, ready to run, for a CPU; None off Linux."""
    waited = 0
    try:
        for task in os.scandir(TASKS):
            try:
                with open(os.path.join(task.path, "schedstat")) as stats:
                    waited += int(stats.read().split()[1])
            except FileNotFoundError:  # the thread ended meanwhile
                continue
    except (OSError, ValueError, IndexError):
        return None
    return waited / 1e9
