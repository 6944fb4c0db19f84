"""Ray's messages to every driver (a node that died) go to the Ray session's logs, not the terminal."""

from __future__ import annotations

import io
import sys
import threading

from search.machine import notices


def test_what_rays_message_thread_prints_goes_to_the_sessions_log_and_the_rest_to_the_terminal(tmp_path, monkeypatch):
    (tmp_path / "logs").mkdir()
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stdout", terminal)
    notices.set_ray_messages_aside(str(tmp_path))
    notices.set_ray_messages_aside(str(tmp_path))  # once: a second call wraps nothing more
    message = "(raylet) The node with node id: 8f3a and address: 10.0.0.2 has been marked dead\n"
    ray_thread = threading.Thread(target=print, args=(message,), kwargs={"end": ""}, name=notices.RAY_MESSAGE_THREAD)
    ray_thread.start()
    ray_thread.join()
    progress = "  [ 1m 02s] a trial's worker or node died; it runs again from the start (no checkpoint)"
    print(progress, flush=True)
    assert terminal.getvalue() == progress + "\n"
    assert (tmp_path / "logs" / notices.DRIVER_MESSAGES).read_text() == message
