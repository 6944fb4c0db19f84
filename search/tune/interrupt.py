"""Ctrl-C and SIGTERM as a graceful, resumable stop of a Ray Tune search."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C, and what `kill`, `ray job stop`, systemd and cluster schedulers send."""
GRACE_S = 6.0
"""Seconds Ray Tune gets to stop and save after a stop signal (it takes about 2 s, on a busy machine too).
A signal sent to the whole process group (as systemd and Slurm stop a job) also reaches the local Ray's
helpers, and Ray Tune would then wait a minute for Ray before failing."""
TOGETHER_GRACE_S = 30.0
"""The same for one family of several searched at once: the signal never reaches their shared Ray, but
five searches stopping and saving on the same cores take longer than one."""


class SearchInterrupted(KeyboardInterrupt):
    """A stop signal ended the search before it finished; Ray Tune saved its state, so it can resume."""

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + self.signum


class Stop:
    """Which stop signal came during the search, if any."""

    signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None


def stop_on_sigterm() -> None:
    """Outside the search too (Ray's start, the retrain), SIGTERM ends the run as Ctrl-C does.

    It raises ``SearchInterrupted`` (exit code 143, the ``--resume`` hint) instead of killing the
    driver outright; a second SIGTERM kills at once. The search installs its own handler meanwhile.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SearchInterrupted("stopped by SIGTERM", signum)

    signal.signal(signal.SIGTERM, on_sigterm)


@contextmanager
def stop_gracefully_on_signals(hint: str = "", grace_s: float = GRACE_S) -> Iterator[Stop]:
    """Ctrl-C or SIGTERM asks Ray Tune to stop and save its state, and is remembered; a second stops at once.

    Ray Tune's own Ctrl-C handler stops the search just as gracefully but then returns as if the
    search had ended, so a driver cannot tell; and SIGTERM would kill the driver with nothing saved.
    Tune's SIGUSR1 handler does the graceful stop: ours records the signal, then raises SIGUSR1.
    Tune's SIGINT handler is turned off meanwhile (``TUNE_DISABLE_SIGINT_HANDLER``), and the variable
    and the previous handlers are restored afterwards. If the stop takes longer than ``grace_s`` (the
    local Ray was hit by the signal too, or the machine is too busy), the driver says so, with ``hint``, and
    exits with the signal's code: the study holds every finished trial, and ``--resume`` rebuilds the search
    from it. A failure of Ray Tune after a stop signal (a call to the Ray the signal ended) is that stop too.
    """
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_stop_signal(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise SearchInterrupted("stopped before the search started", signum)  # Tune's handler is not there
        stop.signum = signum
        deadline = threading.Timer(grace_s, give_up, args=(signum,))
        deadline.daemon = True
        deadlines.append(deadline)
        deadline.start()
        os.kill(os.getpid(), signal.SIGUSR1)

    def give_up(signum: int) -> None:
        name = signal.Signals(signum).name
        message = f"search stopped by {name}; Ray Tune could not save its state within {grace_s:g} s (the signal "
        message += f"reached the local Ray too, or the machine is busy); the study keeps every finished trial; {hint}"
        print("\n" + message, flush=True, file=sys.stderr)
        os._exit(128 + signum)

    deadlines: list[threading.Timer] = []
    previous_handlers = {signum: signal.signal(signum, on_stop_signal) for signum in STOP_SIGNALS}
    previous_variable = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield stop
    except Exception as error:
        if not stop.requested:
            raise
        # The signal reached the local Ray too, and a call to it failed before the deadline ("RPC error: CANCELLED")
        name = signal.Signals(stop.signum).name
        message = f"search stopped by {name}; the signal reached the local Ray too, so Ray Tune could not save its "
        raise SearchInterrupted(message + "state; the study keeps every finished trial", stop.signum) from error
    finally:
        for deadline in deadlines:  # Ray Tune stopped in time
            deadline.cancel()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if previous_variable is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_variable
