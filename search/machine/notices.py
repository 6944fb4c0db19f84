"""What of Ray's own output reaches the terminal: the search says what matters in its own words.

Two kinds are kept off it. Records of Ray's loggers that the search words itself (``RAY_NOTICES``: the
dashboard's token, a stop signal and how to resume). And the messages Ray's cluster sends every driver,
which Ray's driver prints to ``sys.stdout`` from a thread of its own whatever ``log_to_driver`` says: a
node that died ("(raylet) Raylet is terminated. Termination is unexpected ...", with the last 20 lines
of its log), which the search's progress line already tells ("a trial's worker or node died; it runs
again ..."). Those go to ``DRIVER_MESSAGES`` in the Ray session's log folder instead, where Ray's other
logs are. (Ray's driver would hold some back, to fold repeats together, and print them from the main
thread as it shuts down: ``RAY_DEDUP_LOGS=0``, in ``search.machine.environment``, has the thread print
them as they come.)
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TextIO

RAY_NOTICES = {
    "ray._private.authentication.authentication_token_setup": ("Token authentication is enabled",),
    "ray.tune.tune": ("Experiment has been interrupted", "Stop signal received"),
}
"""Ray's notices that the search says in its own words: the dashboard's token (on the dashboard's line),
that a stop signal came and how to resume (``--resume``, not ``Tuner.restore``)."""


class _DropNotice(logging.Filter):
    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.starts)


def drop_ray_notices() -> None:
    """Keep ``RAY_NOTICES`` off the terminal (each logger's other records pass)."""
    for name, starts in RAY_NOTICES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropNotice) for f in logger.filters):
            logger.addFilter(_DropNotice(starts))


RAY_MESSAGE_THREAD = "ray_listen_error_messages"
"""The thread of Ray's driver that prints the cluster's messages (``ray._private.worker.connect``)."""
DRIVER_MESSAGES = "search_driver_messages.log"
"""In the Ray session's ``logs`` folder: the cluster's messages to this driver."""


class _MessagesAside:
    """A text stream whose writes from Ray's message thread go to a file instead (or nowhere, without one)."""

    def __init__(self, stream: TextIO, path: str | None) -> None:
        self.stream, self.path = stream, path

    def write(self, text: str) -> int:
        if threading.current_thread().name != RAY_MESSAGE_THREAD:
            return self.stream.write(text)
        if self.path is not None:
            try:
                with open(self.path, "a", encoding="utf-8") as file:
                    file.write(text)
            except OSError:
                pass
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def set_ray_messages_aside(session_dir: str | None) -> None:
    """From now on, what Ray's message thread prints goes to the session's ``DRIVER_MESSAGES`` (once)."""
    if isinstance(sys.stdout, _MessagesAside):
        return
    logs = os.path.join(session_dir, "logs") if session_dir else None
    path = os.path.join(logs, DRIVER_MESSAGES) if logs and os.path.isdir(logs) else None
    sys.stdout = _MessagesAside(sys.stdout, path)
