"""Start a local Ray, or join a running cluster; say where its dashboard is and what it holds."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from search.core.errors import InputError
from search.core.reporter import Reporter
from search.machine.environment import AUTH_TOKEN_FILE, prepare_ray_import
from search.machine.notices import drop_ray_notices, set_ray_messages_aside

if TYPE_CHECKING:
    from search.core.settings import Settings
    from search.families.base import Family

LOCAL_OBJECT_STORE_BYTES = 2 * 1024**3
HEAD_RESOURCE = "node:__internal_head__"
"""The resource only the head node has."""


@dataclass(frozen=True)
class TrialPlacement:
    """What each trial holds and how many run at once."""

    cpus: float
    gpus: float
    concurrent: int
    grows_with_cluster: bool
    """Whether more trials run at once as nodes join (no ``--max-concurrent`` was given)."""


@dataclass(frozen=True)
class ClusterResources:
    """What the cluster holds, read once after Ray starts and passed down as a value."""

    cpus: float
    gpus: float
    largest_node_cpus: float
    nodes: int = 1
    head_cpus: float | None = None
    """CPUs of the head node; 0 on a cluster whose head runs drivers only (trials run on other nodes)."""
    local: bool = True
    """Whether it is the driver's own local Ray (else a running cluster it joined, which may grow)."""
    gpu_node_cpus: float = 0.0
    """CPUs of the nodes that have GPUs: a trial on a GPU needs one of them too."""
    gpu_nodes: tuple[str, ...] = ()
    """Ray's ids of the nodes that have GPUs."""

    @property
    def cpus_without_gpus(self) -> float:
        """CPUs of the nodes that have no GPU."""
        return self.cpus - self.gpu_node_cpus

    def gpu_trials_at_once(self, cpus_per_trial: float, gpus_per_trial: float) -> int:
        """Trials at once that the GPU nodes hold, their CPUs as well as their GPUs."""
        return max(1, int(min(self.gpus // gpus_per_trial, self.gpu_node_cpus // cpus_per_trial)))

    @property
    def trials_run_elsewhere(self) -> bool:
        """Whether trials may run on another machine than the driver's."""
        return self.nodes > 1 or self.head_cpus == 0

    def max_concurrent_trials(
        self, cpus_per_trial: float, gpus_per_trial: float = 0, requested: int | None = None
    ) -> int:
        """Trials at once: as many as the CPUs (and GPUs) hold, unless ``requested`` says otherwise."""
        if requested is not None:
            return requested
        fits = self.cpus // cpus_per_trial
        if gpus_per_trial > 0:
            fits = min(fits, self.gpus // gpus_per_trial)
        return max(1, int(fits))

    def gpus_per_trial(self, requested: float | None, uses_gpu: bool) -> float:
        """``requested``, or 1 when the cluster has GPUs; always 0 for a family that cannot use one."""
        if not uses_gpu:
            return 0.0
        if requested is not None:
            return requested
        return 1.0 if self.gpus > 0 else 0.0

    def placement(
        self, cpus_per_trial: float, gpus_per_trial: float | None, max_concurrent: int | None, uses_gpu: bool
    ) -> TrialPlacement:
        """Each trial's CPUs and GPUs, and trials at once, from a run's settings (None: the cluster decides)."""
        gpus = self.gpus_per_trial(gpus_per_trial, uses_gpu)
        concurrent = self.max_concurrent_trials(cpus_per_trial, gpus, max_concurrent)
        return TrialPlacement(cpus_per_trial, gpus, concurrent, grows_with_cluster=max_concurrent is None)

    def retrain_cpus(self, cpus_per_trial: float) -> int:
        """The retrain runs alone: it takes the CPUs of the biggest node, at least a trial's."""
        return max(math.ceil(cpus_per_trial), int(self.largest_node_cpus) or 1)


def start_ray(address: str | None, worker_logs: bool = False, announce: bool = True) -> ClusterResources:
    """Join the cluster at ``address``, or start a local Ray with its dashboard; print its URL and size.

    The trials' own output (TensorFlow's start-up lines, Ray's worker teardown) reaches the terminal
    only with ``worker_logs``: the search prints its own progress, failed trials' tracebacks go to
    the run folder, and every worker's log stays in the Ray dashboard and the session's log folder.

    With no ``address``, ``RAY_ADDRESS`` names the cluster when it is set: ``ray job submit`` sets it
    for the job's driver, and ``ray.init(address="local")`` would ignore it.
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    prepare_ray_import(address)  # takes effect only if ray is not imported yet: the command line calls it first
    drop_ray_notices()
    import ray

    if address:
        context = ray.init(address=address, logging_level=logging.WARNING, log_to_driver=worker_logs)
    else:
        from search.machine.reaper import watch_driver

        check_loopback()  # else ray.init waits for its own processes forever

        watch_driver()  # the local Ray's processes end with this driver, however it ends
        context = ray.init(
            address="local",
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            logging_level=logging.WARNING,
            log_to_driver=worker_logs,
        )
    if not worker_logs:
        set_ray_messages_aside(context.address_info.get("session_dir"))
    resources = replace(read_resources(), local=not address)
    if not announce:
        return resources
    where = f"cluster at {address}" if address else "local Ray"
    nodes = f"{resources.nodes} nodes, " if resources.nodes > 1 else ""
    print(f"{where}: {nodes}{resources.cpus:g} CPUs, {resources.gpus:g} GPUs", flush=True)
    if context.dashboard_url:
        token = os.environ.get("RAY_AUTH_MODE") != "disabled" and AUTH_TOKEN_FILE.exists()
        hint = " (it asks for the token `ray get-auth-token` prints)" if token else ""
        print(f"Ray dashboard: http://{context.dashboard_url}{hint}", flush=True)
    return resources


class LoopbackDown(OSError):
    """This machine's loopback network takes no connections: a local Ray's processes cannot reach each other."""


def check_loopback(host: str = "127.0.0.1", timeout_s: float = 2.0) -> None:
    """Raise ``LoopbackDown`` when nothing can connect to a socket listening on ``host`` (a network namespace
    whose ``lo`` is down, as ``unshare --net`` makes one): a local Ray would start its processes there and
    then wait for them forever."""
    import socket

    try:
        with socket.socket() as server:
            server.bind((host, 0))
            server.listen(1)
            with socket.create_connection(server.getsockname(), timeout=timeout_s):
                pass
    except OSError as error:
        raise LoopbackDown(
            f"this machine's loopback network takes no connections on {host} ({error.strerror or error}), and "
            "Ray's processes talk over it: bring it up (`ip link set lo up`)"
        ) from None


def read_resources() -> ClusterResources:
    """The running Ray cluster's CPUs and GPUs, and the CPUs of its biggest live node."""
    import ray

    total = ray.cluster_resources()
    alive = [node for node in ray.nodes() if node.get("Alive")]
    node_cpus = [node["Resources"].get("CPU", 0) for node in alive]
    head_cpus = [node["Resources"].get("CPU", 0) for node in alive if HEAD_RESOURCE in node["Resources"]]
    with_gpus = [node for node in alive if node["Resources"].get("GPU", 0) > 0]
    return ClusterResources(
        total.get("CPU", 0),
        total.get("GPU", 0),
        max(node_cpus, default=0),
        len(alive),
        next(iter(head_cpus), None),
        gpu_node_cpus=sum(node["Resources"].get("CPU", 0) for node in with_gpus),
        gpu_nodes=tuple(node["NodeID"] for node in with_gpus),
    )


def check_cluster_fits(settings: Settings, family: Family, resources: ClusterResources, reporter: Reporter) -> None:
    """The cluster can run ``settings``' search of ``family``: the GPUs asked for, and shared storage for
    checkpoints on other nodes. Raises ``InputError``.

    A cluster that was joined may still grow (an autoscaler adds GPU nodes when trials ask for
    them), so there too few GPUs is a warning; on the local Ray it is bad input.
    """
    wanted = settings.gpus_per_trial or 0
    if family.USES_GPU and wanted > resources.gpus:
        problem = f"--gpus-per-trial {wanted:g}, but the cluster has {resources.gpus:g} GPUs"
        if resources.local:
            raise InputError(problem)
        reporter.warn(f"{problem} now; {settings.family} trials wait for a node with GPUs")
    if family.CHECKPOINTS and resources.trials_run_elsewhere and settings.storage_path is None:
        where = f"has {resources.nodes} nodes" if resources.nodes > 1 else "runs trials on other nodes"
        raise InputError(
            f"{settings.family} trials save checkpoints, and this cluster {where}: pass "
            "--storage-path with a folder every node mounts (NFS) or a bucket (s3://bucket/prefix)"
        )
