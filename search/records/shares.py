"""What the allocator of a several-family run tells each family's search, as small files.

They live in the run folder, ``allocation/<family>/`` (``allocation_place``), beside the family's
own folder, which its search makes and locks itself.

``share.json``: how many trials the family may run at once, how many threads its retrain may
use, the nodes its trials must keep off (the GPU nodes, whose CPUs the GPU families' trials
need), and the nice value its trials run at (the leader's first where the cores are too few).
``end-request.json``: the family is clearly behind; its search ends, with the reason given.
``search-ended.json``: the family's search has ended (by any rule) and it retrains; written by the
family's own search. The allocator writes them whole (beside, then renamed), so a search reading
them never sees half a file; a search reads them at most every ``READ_EVERY_S``. On ``--resume``
they are still there, so a family that was called off stays called off.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

SHARE_FILE = "share.json"
END_REQUEST_FILE = "end-request.json"
SEARCH_ENDED_FILE = "search-ended.json"
READ_EVERY_S = 2.0
"""Seconds between two readings of a family's share by its search (its limiter, each of its trials)."""


def allocation_place(family_folder: Path) -> Path:
    """Where the allocator's files for the family searched in ``family_folder`` are (made here)."""
    place = family_folder.parent / "allocation" / family_folder.name
    place.mkdir(parents=True, exist_ok=True)
    return place


@dataclass(frozen=True)
class Share:
    """A family's part of the cluster, as the allocator set it last."""

    trials_at_once: int
    retrain_threads: int
    avoid_nodes: tuple[str, ...] = ()
    """Ray's ids of the nodes where its trials must not run."""
    nice: int = 0
    """The nice value of its trials' threads (``search.machine.priority``)."""


def write_share(folder: Path, share: Share) -> None:
    _write_whole(folder / SHARE_FILE, dataclasses.asdict(share))


def read_share(folder: Path) -> Share | None:
    """The family's share, or None when the allocator has not set one (a family searched alone)."""
    data = _read(folder / SHARE_FILE)
    try:
        avoid = tuple(str(node) for node in data.get("avoid_nodes", ()))
        nice = min(19, max(0, int(data.get("nice", 0))))
        return Share(max(1, int(data["trials_at_once"])), max(1, int(data["retrain_threads"])), avoid, nice)
    except (TypeError, KeyError, ValueError, AttributeError):
        return None


def request_end(folder: Path, why: str) -> None:
    _write_whole(folder / END_REQUEST_FILE, {"why": why})


def end_requested(folder: Path) -> str | None:
    """Why the allocator ended this family's search, or None if it has not."""
    data = _read(folder / END_REQUEST_FILE)
    return str(data["why"]) if isinstance(data, dict) and data.get("why") else None


def mark_search_ended(folder: Path, why: str) -> None:
    _write_whole(folder / SEARCH_ENDED_FILE, {"why": why})


def search_ended(folder: Path) -> bool:
    """Whether the family's search has ended (it retrains, or has finished)."""
    return _read(folder / SEARCH_ENDED_FILE) is not None


def _write_whole(path: Path, data: dict) -> None:
    partial = path.with_name(f".{path.name}.new")
    partial.write_text(json.dumps(data) + "\n")
    os.replace(partial, path)


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
