"""The allocator's CPU priority reaches the OS: a thread lowered by ``run_at_nice`` yields its core."""

from __future__ import annotations

import os
import subprocess
import sys

SPIN_AND_NICE = """
import sys, threading, time
from search.machine.priority import run_at_nice
cpu = {}
def spin():
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        pass
    cpu["seconds"] = time.thread_time()
spinner = threading.Thread(target=spin)
spinner.start()
run_at_nice(int(sys.argv[1]))  # after the spinning thread started: it is lowered too
spinner.join()
print(cpu["seconds"])
"""


def test_a_process_run_at_nice_10_gets_a_small_share_of_a_core_it_shares_with_one_at_0():
    core = min(os.sched_getaffinity(0))
    pinned = {"preexec_fn": lambda: os.sched_setaffinity(0, {core}), "stdout": subprocess.PIPE, "text": True}
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN_AND_NICE, str(nice)], **pinned) for nice in (0, 10)]
    first, behind = (float(spinner.communicate(timeout=60)[0]) for spinner in spinners)
    assert behind < 0.3 * first, (first, behind)
