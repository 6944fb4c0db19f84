"""How many trials run at once: fixed by ``--max-concurrent``, or growing with the cluster.

Ray Tune starts one trial at a time with a searcher unless it is wrapped in a ``ConcurrencyLimiter``;
the limit also sets how many trials wait for resources at once (``TUNE_MAX_PENDING_TRIALS_PG``
follows it), and waiting trials are the demand an autoscaler answers with new nodes.

With no ``--max-concurrent`` the limit follows what the cluster holds, read again while the search
runs, plus one trial that waits for the next free slot. The waiting trial matters when a node
joins: Ray Tune hands a freed worker to the first waiting trial and cancels the worker that trial
had asked for, so with a single waiting trial the new node's worker would be cancelled each time a
trial ends elsewhere before it starts, and a search of short trials would never use the new node.

A family searched together with others runs as many trials at once as the allocator gives it
(``share.json`` in its folder: ``search.records.shares``), read again while the search runs, and
each of its trials keeps off the nodes the share names (``trial_resources``).

A limiter restored by ``Tuner.restore`` may count trials that Ray Tune's restored state does not hold:
its own state and the trials' are separate files, which a driver killed while copying them to a bucket
can leave from different moments. Counting them, it would suggest nothing, and Ray Tune, with no trial
left to run, waits for a suggestion 600 s at a time, without end. So each limiter forgets, at its first
suggestion after a restore, the trials it counted then that Ray Tune does not hold unfinished
(``TuneHolds``, a callback, sees them as each of Ray Tune's steps begins).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.tune import Callback, PlacementGroupFactory
from ray.tune.search import ConcurrencyLimiter, Searcher

from search.core.reporter import Reporter
from search.machine.cluster import TrialPlacement
from search.records.shares import READ_EVERY_S, read_share

RECHECK_S = 2.0
"""Seconds between two readings of the cluster's size."""
WAITING = 1
"""Trials beyond what the cluster holds, waiting for a free slot (see above)."""
NODE_ID_LABEL = "ray.io/node-id"
"""The label Ray gives every node: its id."""


def limit_concurrency(
    searcher: Searcher,
    placement: TrialPlacement,
    reporter: Reporter,
    shared_in: Path | None = None,
    holds: TuneHolds | None = None,
) -> ConcurrencyLimiter:
    """``searcher`` limited to ``placement.concurrent`` trials at once, a limit that may grow with the cluster;
    with ``shared_in`` (the family's folder in a several-family run), the limit the allocator sets there.
    ``holds``: the callback that tells a restored limiter which trials Ray Tune holds (see the module)."""
    if shared_in is not None:
        limiter = SharedLimiter(searcher, shared_in, placement.concurrent)
    elif not placement.grows_with_cluster:
        limiter = FixedLimiter(searcher, max_concurrent=placement.concurrent)
    else:
        limiter = ClusterSizedLimiter(searcher, placement, reporter)
    limiter.holds = holds
    return limiter


class TuneHolds(Callback):
    """The trials Ray Tune holds unfinished, as each of its steps begins (None before the first)."""

    def __init__(self) -> None:
        self.unfinished: set[str] | None = None

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        self.unfinished = {trial.trial_id for trial in trials if not trial.is_finished()}


class ForgetsLostTrials(ConcurrencyLimiter):
    """A ``ConcurrencyLimiter`` that, once restored, stops counting trials Ray Tune does not hold (see the module)."""

    holds: TuneHolds | None = None
    _restored: frozenset[str] = frozenset()

    def get_state(self) -> dict:
        state = super().get_state()
        for name in ("holds", "_restored"):
            state.pop(name, None)
        return state

    def set_state(self, state: dict) -> None:
        super().set_state({k: v for k, v in state.items() if k not in ("holds", "_restored")})
        self._restored = frozenset(self.live_trials)

    def suggest(self, trial_id: str):
        if self._restored and self.holds is not None and self.holds.unfinished is not None:
            for lost in self._restored - self.holds.unfinished:
                if lost in self.live_trials:
                    self.live_trials.remove(lost)
                    self.num_unfinished_live_trials -= 1
            self._restored = frozenset()
        return super().suggest(trial_id)


class FixedLimiter(ForgetsLostTrials):
    """At most ``max_concurrent`` trials at once (``--max-concurrent``, or a cluster that does not grow)."""


class ClusterSizedLimiter(ForgetsLostTrials):
    """A ``ConcurrencyLimiter`` whose limit grows to what the cluster holds when nodes join."""

    def __init__(self, searcher: Searcher, placement: TrialPlacement, reporter: Reporter) -> None:
        super().__init__(searcher, max_concurrent=placement.concurrent + WAITING)
        self.fits = placement.concurrent
        self.cpus_per_trial = placement.cpus
        self.gpus_per_trial = placement.gpus
        self.reporter = reporter
        self._checked = time.time()

    def suggest(self, trial_id: str):
        """The searcher's next config, after raising the limit if the cluster has grown."""
        now = time.time()
        if now - self._checked >= RECHECK_S:
            self._checked = now
            self._follow_the_cluster()
        return super().suggest(trial_id)

    def _follow_the_cluster(self) -> None:
        from search.machine.cluster import read_resources

        resources = read_resources()
        fits = resources.max_concurrent_trials(self.cpus_per_trial, self.gpus_per_trial)
        if fits > self.fits:
            self.reporter.progress(
                f"  the cluster grew to {resources.nodes} nodes, {resources.cpus:g} CPUs, {resources.gpus:g} GPUs: "
                f"{fits} trials at once"
            )
            self.fits = fits
            self.max_concurrent = fits + WAITING


class SharedLimiter(ForgetsLostTrials):
    """A ``ConcurrencyLimiter`` whose limit is the allocator's, for a family searched together with others."""

    def __init__(self, searcher: Searcher, folder: Path, fallback: int) -> None:
        share = read_share(folder)
        super().__init__(searcher, max_concurrent=share.trials_at_once if share else fallback)
        self.folder = str(folder)
        self._checked = time.time()

    def suggest(self, trial_id: str):
        """The searcher's next config, if the family's share (read again every ``READ_EVERY_S``) has room."""
        now = time.time()
        if now - self._checked >= READ_EVERY_S:
            self._checked = now
            share = read_share(Path(self.folder))
            if share is not None:
                self.max_concurrent = share.trials_at_once
        return super().suggest(trial_id)


def trial_resources(placement: TrialPlacement, shared_in: Path | None = None):
    """What each trial holds, for ``tune.with_resources``: ``placement``'s CPUs and GPUs; with ``shared_in``
    (the family's folder in a several-family run), on a node the allocator's share does not rule out."""
    if shared_in is None:
        return {"cpu": placement.cpus, "gpu": placement.gpus}
    return SharedResources(placement.cpus, placement.gpus, str(shared_in))


class SharedResources:
    """A trial's resources, asked for when Ray Tune starts it: off the nodes the family's share names
    (a CPU family keeps off the GPU nodes while a GPU family searches: their CPUs are the GPU trials')."""

    def __init__(self, cpus: float, gpus: float, folder: str) -> None:
        self.cpus, self.gpus, self.folder = cpus, gpus, folder

    def __call__(self, config: dict) -> PlacementGroupFactory:
        bundle = {"CPU": self.cpus, "GPU": self.gpus}
        share = read_share(Path(self.folder))
        if share is None or not share.avoid_nodes:
            return PlacementGroupFactory([bundle])
        avoid = {NODE_ID_LABEL: f"!in({','.join(share.avoid_nodes)})"}
        return PlacementGroupFactory([bundle], bundle_label_selector=[avoid])
