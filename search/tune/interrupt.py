"""Ctrl-C as a graceful, resumable stop of a Ray Tune search."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the search before it finished; Ray Tune saved its state, so it can resume."""


class CtrlC:
    """Whether Ctrl-C was pressed during the search."""

    pressed = False


@contextmanager
def stop_gracefully_on_ctrl_c() -> Iterator[CtrlC]:
    """Ctrl-C asks Ray Tune to stop and save its state, and is remembered; a second one stops at once.

    Ray Tune's own Ctrl-C handler stops the search just as gracefully but then returns as if the
    search had ended, so a driver cannot tell. Its SIGUSR1 handler does the same stop: ours records
    the Ctrl-C, then raises SIGUSR1. Tune's handler is turned off meanwhile
    (``TUNE_DISABLE_SIGINT_HANDLER``), and the variable is restored afterwards.
    """
    ctrl_c = CtrlC()
    if threading.current_thread() is not threading.main_thread():
        yield ctrl_c
        return

    def on_ctrl_c(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, signal.SIG_IGN, None):
            raise KeyboardInterrupt  # Tune's handler is not there (yet): stop at once
        ctrl_c.pressed = True
        os.kill(os.getpid(), signal.SIGUSR1)

    previous_handler = signal.signal(signal.SIGINT, on_ctrl_c)
    previous_variable = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield ctrl_c
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        if previous_variable is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous_variable
