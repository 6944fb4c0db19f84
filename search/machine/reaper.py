"""No Ray process of a run outlives it: a watchdog ends the local Ray when its driver dies, however it dies.

A local Ray's processes are the driver's children and theirs. Most die with the driver, but Ray's
dashboard and runtime-env agents wait for their raylet (and were measured alive 30 s after a SIGKILL
of the driver). The watchdog is a small process of its own session that holds the read end of a
pipe whose write end only the driver holds: when the driver ends, the pipe closes. Meanwhile it
notes the driver's descendants every second; once the pipe closes, it gives them ``GRACE_S`` to end
on their own (a normal exit's ``ray.shutdown``), then kills those still alive that are the same
processes (same start time), so a reused PID is never hit.

Run as ``python -m search.machine.reaper <driver pid>``; ``watch_driver()`` starts it.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import psutil

GRACE_S = 2.0
"""Seconds the driver's processes get to end on their own after the driver has gone."""
LOOK_S = 1.0
"""Seconds between two looks at the driver's descendants."""


def exit_watched(code: int) -> None:
    """End this process with ``code``; at once when the watchdog will end its local Ray.

    Ray's own teardown at exit (``ray.shutdown``, then the interpreter's) took 3 s after every run; the
    watchdog ends the same processes ``GRACE_S`` after the driver has gone, as it does when the driver
    is killed. Everything the run keeps is written and closed by then; only standard output and error
    wait in buffers. A driver of another cluster has no watchdog and exits as usual.
    """
    if getattr(watch_driver, "write_end", None) is None:
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def watch_driver() -> subprocess.Popen:
    """Start the watchdog for this process; it ends by itself after this process ends."""
    read_end, write_end = os.pipe()  # not inherited by the processes Ray starts (PEP 446)
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "search.machine.reaper", str(os.getpid())],
        stdin=read_end,
        start_new_session=True,  # Ctrl-C in the terminal goes to the driver's group, not to the watchdog
    )
    os.close(read_end)
    watch_driver.write_end = write_end  # held open, unused, for the life of the driver
    return watchdog


def descendants(pid: int) -> dict[int, float]:
    """PID and start time of every process below ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return {}
    found = {}
    for child in children:
        try:
            found[child.pid] = child.create_time()
        except psutil.Error:
            continue
    return found


def reap(known: dict[int, float]) -> list[int]:
    """Kill the processes of ``known`` still alive after ``GRACE_S`` (same PID, same start time)."""
    deadline = time.monotonic() + GRACE_S
    alive = []
    while True:
        alive = _same_processes(known)
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            pass
    return [p.pid for p in alive]


def _same_processes(known: dict[int, float]) -> list[psutil.Process]:
    same = []
    for pid, started in known.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == started and process.status() != psutil.STATUS_ZOMBIE:
                same.append(process)
        except psutil.Error:
            continue
    return same


def main(driver: int) -> None:
    """Watch ``driver`` until standard input (the pipe) closes, then reap what it left."""
    known: dict[int, float] = {}
    while True:
        known.update(descendants(driver))
        known.pop(os.getpid(), None)
        ready, _, _ = select.select([sys.stdin], [], [], LOOK_S)
        if ready and not os.read(sys.stdin.fileno(), 1):  # end of file: the driver is gone
            break
    reap(known)


if __name__ == "__main__":
    main(int(sys.argv[1]))
