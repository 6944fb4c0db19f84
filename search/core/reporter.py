"""Where a run's lines go: one reporter object, handed down, so that nothing below the command line prints.

The command line makes a ``Reporter`` for the terminal; tests and library calls pass ``SILENT``.
"""

from __future__ import annotations

import sys
from typing import TextIO


class Reporter:
    """Lines for the person running the search: headlines always, a line per trial unless ``quiet``."""

    def __init__(self, quiet: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.quiet = quiet
        self._out = out
        self._err = err

    def say(self, line: str) -> None:
        """A headline of the run (what it searches, why it ended, where the report is)."""
        print(line, file=self._out or sys.stdout, flush=True)

    def progress(self, line: str) -> None:
        """A line about the trials (one ended, the running ones, the cluster grew); none when ``quiet``."""
        if not self.quiet:
            self.say(line)

    def warn(self, line: str) -> None:
        """Something the user should know that does not stop the run."""
        print(f"warning: {line}", file=self._err or sys.stderr, flush=True)


class SilentReporter(Reporter):
    """Says nothing: for tests and library calls."""

    def say(self, line: str) -> None:
        pass

    def warn(self, line: str) -> None:
        pass


SILENT = SilentReporter(quiet=True)
