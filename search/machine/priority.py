"""The CPU priority of this process's threads: their nice value (Linux, macOS; nothing elsewhere).

Where more threads want the cores than there are, the OS gives each a share of CPU time that falls
with its nice value (at nice 10 about a tenth of a thread at 0); where there are cores to spare,
every thread runs at full speed whatever its nice value. A process may raise its own nice value but
may lower it only with the privilege to (``CAP_SYS_NICE``, root): a worker whose priority was lowered
keeps it until it ends, and ``run_at_nice`` says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TASKS = Path("/proc/self/task")
"""One entry per thread of this process, on Linux (where the nice value is each thread's own)."""


def run_at_nice(nice: int) -> bool:
    """Give every thread of this process the nice value ``nice`` (threads started later inherit it from the
    thread that starts them); False where the OS refused a thread (lowering without the privilege)."""
    if not hasattr(os, "setpriority"):
        return False
    applied = True
    for thread in _threads():
        try:
            if os.getpriority(os.PRIO_PROCESS, thread) != nice:
                os.setpriority(os.PRIO_PROCESS, thread, nice)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
        except OSError:  # PermissionError: a lower value than it has, without the privilege
            applied = False
    return applied


def _threads() -> list[int]:
    """This process's threads as ``setpriority`` names them: each thread on Linux, the process elsewhere."""
    if sys.platform.startswith("linux") and TASKS.is_dir():
        return [int(entry.name) for entry in TASKS.iterdir() if entry.name.isdigit()]
    return [0]
