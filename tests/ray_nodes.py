"""Real multi-node Ray clusters on this one machine, for the cluster tests.

The head starts with ``ray start --head``; each worker node with ``ray start --address``, inside its
own mount namespace (``unshare --mount``) where a private tmpfs covers ``hidden``: the folder that
holds the runs' results folders. A worker node then cannot see the driver's files there, as on a
separate machine, while it still sees the checkout and the virtual environment.

Every node's dashboard agent listens on a port of its own: Ray's default, 52365, is held by any
other Ray on the machine (the test session's own ``ray.init``), and a head whose agent cannot
listen takes no jobs ("No available agent to submit job").
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

RAY = str(Path(sys.executable).parent / "ray")
OBJECT_STORE_BYTES = 200 * 1024**2
FAST_NODE_DEATH = {
    # a dead node is noticed in about 3 s instead of Ray's 15 to 30 s
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Node:
    """A ``ray start --block`` process (and its process group)."""

    process: subprocess.Popen
    node_id: str
    started_at: float

    def raylet_pid(self) -> int:
        """The node's raylet: a process of its group running ``raylet``."""
        for pid in _process_group(self.process.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "raylet":
                    return pid
            except OSError:
                continue
        raise RuntimeError("the node has no raylet")

    def kill(self) -> None:
        """Every process of the node, at once (SIGKILL), as when its machine dies."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@dataclass
class RayCluster:
    """A head node and the worker nodes added to it; ``env`` holds what every node and driver needs."""

    hidden: Path
    env: dict[str, str]
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp")))
    """The nodes' ``--temp-dir``s: a short path, as Ray's sockets there allow at most 107 bytes."""
    port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start_head(self, cpus: int = 1, gpus: int = 0) -> Node:
        command = [
            RAY, "start", "--head", "--block", f"--port={self.port}", "--node-ip-address=127.0.0.1",
            f"--num-cpus={cpus}", f"--num-gpus={gpus}", "--include-dashboard=true", "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}", f"--object-store-memory={OBJECT_STORE_BYTES}",
            f"--temp-dir={self.root / 'head'}", f"--dashboard-agent-listen-port={free_port()}", "--disable-usage-stats",
        ]  # fmt: skip
        return self._start(command)

    def add_worker(self, cpus: int = 1, gpus: int = 0, hide: bool = True) -> Node:
        """A worker node that cannot see ``hidden`` (with ``hide=False``, one that sees every file, as
        a machine that mounts the same NFS would)."""
        temp = self.root / f"worker{len(self.nodes)}"
        start = (
            f"{RAY} start --block --address={self.address} "
            f"--node-ip-address=127.0.0.1 --num-cpus={cpus} --num-gpus={gpus} "
            f"--object-store-memory={OBJECT_STORE_BYTES} --temp-dir={temp} --dashboard-agent-listen-port={free_port()} "
            "--disable-usage-stats"
        )
        if not hide:
            return self._start(start.split())
        hidden_start = f"mount -t tmpfs -o size=1m tmpfs {self.hidden} && exec {start}"
        return self._start(["unshare", "--mount", "--propagation", "private", "bash", "-c", hidden_start])

    def _start(self, command: list[str]) -> Node:
        known = set(self.node_ids())
        started = time.time()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        output = []
        for line in process.stdout:
            output.append(line)
            if "Ray runtime started" in line:
                break
        else:
            raise RuntimeError("ray start failed:\n" + "".join(output))
        _drain(process)
        new = wait_for(lambda: set(self.node_ids()) - known, timeout=60)
        node = Node(process, new.pop(), started)
        self.nodes.append(node)
        return node

    def node_ids(self) -> list[str]:
        """The alive nodes, as the head's state API lists them (``ray list nodes``)."""
        result = subprocess.run(
            [RAY, "list", "nodes", f"--address={self.dashboard}", "--filter", "state=ALIVE", "--format=json"],
            capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            return []
        return [node["node_id"] for node in json.loads(result.stdout)]

    def remove(self, node: Node) -> None:
        """Kill ``node`` and wait until the head counts it dead."""
        node.kill()
        self.nodes.remove(node)
        wait_for(lambda: node.node_id not in self.node_ids(), timeout=60)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        self.nodes.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for(condition, timeout: float, every: float = 0.5):
    """``condition()``'s first truthy value within ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"not within {timeout:g} s")


def _drain(process: subprocess.Popen) -> None:
    """Read the rest of the node's output in the background, so that it never blocks on a full pipe."""
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()


def _process_group(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return pids
