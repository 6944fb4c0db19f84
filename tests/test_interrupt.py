"""A stop signal during the search: Ray Tune's graceful stop, and what the driver says when Ray fails meanwhile."""

from __future__ import annotations

import os
import signal

import pytest

from search.tune.interrupt import SearchInterrupted, stop_gracefully_on_signals


@pytest.fixture
def tune_stop_handler():
    """Ray Tune's SIGUSR1 handler stands in: it asks the search to stop and returns."""
    asked = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: asked.append(signum))
    yield asked
    signal.signal(signal.SIGUSR1, previous)


def test_a_ray_failure_after_sigterm_is_that_stop_with_its_exit_code(tune_stop_handler):
    """The signal sent to the whole process group also ended the local Ray: Tune's next call to it fails."""
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SearchInterrupted) as caught:
        with stop_gracefully_on_signals("continue it with --resume run"):
            os.kill(os.getpid(), signal.SIGTERM)
            raise RuntimeError("RPC error: CANCELLED")
    assert caught.value.exit_code == 143
    assert tune_stop_handler == [signal.SIGUSR1]
    assert "SIGTERM" in str(caught.value) and "keeps every finished trial" in str(caught.value)
    assert signal.getsignal(signal.SIGTERM) is before, "the handler from before is back"


def test_a_failure_with_no_stop_signal_is_not_taken_for_one(tune_stop_handler):
    with pytest.raises(RuntimeError, match="RPC error"):
        with stop_gracefully_on_signals():
            raise RuntimeError("RPC error: CANCELLED")
    assert tune_stop_handler == []
