"""The resolved settings of one run: one frozen dataclass, built from the command line."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Budget:
    """How much search a family gets by default: trials at most, and seconds at most."""

    num_samples: int
    time_budget_s: float
    search_train_samples: int | None = None
    """Rows of the search's training split each trial fits on (None: all of them)."""
    scheduler: str = "asha"
    """``asha`` stops weak trials at rungs of their budget; ``none`` trains every trial in full."""
    grace_period: int = 1
    """Epochs every trial trains before ASHA may stop it (epoch-budget families)."""


DIGITS_BUDGET = Budget(num_samples=20, time_budget_s=60)
"""The digits are 1,797 small images: every family trains in a second or two."""


def default_budget(mnist_budget: Budget, dataset: str) -> Budget:
    """A family's budget on MNIST, or the small one for the digits."""
    return mnist_budget if dataset == "mnist" else DIGITS_BUDGET


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved and validated."""

    family: str
    dataset: str
    data_dir: str | None
    space_path: Path
    num_samples: int
    time_budget_s: float
    search_train_samples: int | None
    max_train_samples: int | None
    validation_fraction: float
    max_concurrent: int | None
    cpus_per_trial: float
    seed: int
    output_dir: Path
    address: str | None
    gpus_per_trial: float | None = None
    """None: 1 for a family that trains on GPUs when the cluster has them, else 0."""
    scheduler: str = "asha"
    """``asha`` stops weak trials at rungs of their budget; ``none`` trains every trial in full."""
    reduction_factor: int = 3
    grace_period: int = 1
    sample_rungs: int = 4

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``settings.json``."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> Settings:
        """The settings recorded in a run's ``settings.json``."""
        names = {field.name for field in dataclasses.fields(cls)}
        values = {k: v for k, v in recorded.items() if k in names}
        return cls(**{**values, "space_path": Path(values["space_path"]), "output_dir": Path(values["output_dir"])})


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``90``, ``90s``, ``30m`` or ``2h``."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"cannot read time budget {text!r}; write seconds (600), minutes (30m) or hours (2h)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"time budget must be more than 0 seconds (got {text!r})")
    return seconds
