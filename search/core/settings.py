"""The resolved settings of one run: one frozen dataclass that checks itself, and each default once.

``Settings`` is built from the command line for a new run and from ``settings.json`` on
``--resume``; either way its values are checked against ``CONSTRAINTS`` when it is made.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from search.core.data import DATASETS, DEFAULT_VALIDATION_FRACTION
from search.core.errors import InputError
from search.core.kinds import Scheduler
from search.core.outlook import DEFAULT_END_CHANCE

SCHEDULERS = tuple(scheduler.value for scheduler in Scheduler)
LOCAL_EXPERIMENT_NAME = "tune"
"""Ray Tune's experiment folder inside the run folder, when the run keeps its trials there."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}


class SettingsError(InputError):
    """A setting out of its range; the message names the command-line option."""


@dataclass(frozen=True)
class Rungs:
    """How weak trials are stopped early: which scheduler, how hard it prunes, where its rungs are."""

    scheduler: str = Scheduler.ASHA.value
    """``asha`` stops weak trials at rungs of their budget; ``none`` trains every trial in full."""
    reduction_factor: int = 3
    """ASHA keeps the best 1/reduction_factor of the trials at each rung; rungs are this far apart."""
    grace_period: int = 1
    """Epochs every trial of an epoch-budget family trains before ASHA may stop it."""
    sample_rungs: int = 4
    """Subset sizes a sample-budget family trains on: n / factor**(rungs - 1), ..., n / factor, n."""

    @property
    def stop_early(self) -> bool:
        """Whether a scheduler stops weak trials (``asha``), rather than every trial training in full."""
        return self.scheduler != Scheduler.NONE


DEFAULT_RUNGS = Rungs()


@dataclass(frozen=True)
class Budget:
    """How much search a family gets by default, and how its weak trials are stopped."""

    num_samples: int
    time_budget_s: float
    search_train_samples: int | None = None
    """Rows of the search's training split each trial fits on (None: all of them)."""
    rungs: Rungs = DEFAULT_RUNGS


DIGITS_BUDGET = Budget(num_samples=20, time_budget_s=60)
"""The digits are 1,797 small images: every family trains in a second or two."""


def default_budget(mnist_budget: Budget, dataset: str) -> Budget:
    """A family's budget on MNIST, or the small one for the digits."""
    return mnist_budget if dataset == "mnist" else DIGITS_BUDGET


@dataclass(frozen=True)
class Constraint:
    """The values a setting may take: a number within bounds, or one of ``choices``; None if ``optional``."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    whole: bool = False
    choices: tuple[str, ...] | None = None
    optional: bool = False

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value``, or None."""
        if value is None:
            return None if self.optional else "must be given"
        if self.choices is not None:
            return None if value in self.choices else f"must be one of {', '.join(self.choices)} (got {value!r})"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (self.whole and value != int(value)):
            return f"must be a {'whole ' if self.whole else ''}number (got {value!r})"
        above_low = self.low is None or value > self.low or (value == self.low and self.low_inclusive)
        if self.high is not None and not (above_low and value < self.high):
            return f"must be between {self.low:g} and {self.high:g} (got {value:g})"
        if above_low:
            return None
        if not self.low_inclusive:
            return f"must be more than {self.low:g} (got {value:g})"
        return f"must be {'0 or more' if self.low == 0 else f'at least {self.low:g}'} (got {value:g})"


def at_least(low: int, optional: bool = False) -> Constraint:
    """A whole number of ``low`` or more."""
    return Constraint(low=low, whole=True, optional=optional)


CONSTRAINTS: dict[str, Constraint] = {
    "dataset": Constraint(choices=DATASETS),
    "num_samples": at_least(1),
    "time_budget_s": Constraint(low=0, low_inclusive=False),
    "search_train_samples": at_least(1, optional=True),
    "max_train_samples": at_least(1, optional=True),
    "validation_fraction": Constraint(low=0, high=0.5, low_inclusive=False),
    "max_concurrent": at_least(1, optional=True),
    "cpus_per_trial": Constraint(low=0, low_inclusive=False),
    "gpus_per_trial": Constraint(low=0, optional=True),
    "seed": at_least(0),
    "patience": at_least(0, optional=True),
    "end_chance": Constraint(low=0, high=1),
    "rungs.scheduler": Constraint(choices=SCHEDULERS),
    "rungs.reduction_factor": at_least(2),
    "rungs.grace_period": at_least(1),
    "rungs.sample_rungs": at_least(1),
}
"""Every checked setting and its range; a nested one is written ``rungs.<name>``."""


def option_name(setting: str) -> str:
    """The command-line option of a setting: ``rungs.grace_period`` -> ``--grace-period``."""
    return "--" + setting.rsplit(".", 1)[-1].removesuffix("_s").replace("_", "-")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved and checked (``CONSTRAINTS``) when it is made."""

    family: str
    space_path: Path
    num_samples: int
    time_budget_s: float
    output_dir: Path
    dataset: str = "mnist"
    data_dir: str | None = None
    """None: the MNIST files shipped with the package."""
    search_train_samples: int | None = None
    max_train_samples: int | None = None
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    max_concurrent: int | None = None
    """None: as many trials as the cluster's CPUs (and GPUs) hold."""
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None
    """None: 1 for a family that trains on GPUs when the cluster has them, else 0."""
    seed: int = 0
    address: str | None = None
    storage_path: str | None = None
    """Where Ray Tune keeps trial results and checkpoints (``search/records/storage.py``); None: the run folder."""
    experiment_name: str = LOCAL_EXPERIMENT_NAME
    """The experiment's folder inside the storage; unique per run when the storage is shared."""
    study_storage: str | None = None
    """The Optuna study's database URL (``search/records/study.py``); None: a journal file in the run folder."""
    study_name: str | None = None
    """The study's name in its storage; None (runs recorded before it was one): the run folder's name."""
    run_id: str | None = None
    """Marks this run's trials in the study, which other runs may share; None: the run folder's name."""
    rungs: Rungs = DEFAULT_RUNGS
    end_chance: float = DEFAULT_END_CHANCE
    """The search ends once the chance that its next trials gain beyond the validation noise falls below this
    (``search.core.outlook``; 0: never)."""
    together: bool = False
    """Searched at the same time as other families (``search.pipeline.together``): the allocator's files in
    ``output_dir`` set its trials at once and may end its search (``search.records.shares``)."""
    patience: int | None = None
    """Instead of ``end_chance``: full-budget trials in a row without a gain beyond the validation noise that
    end the search (``search.core.plateau``; 0: never). None: the ``end_chance`` rule."""

    def __post_init__(self) -> None:
        for setting, constraint in CONSTRAINTS.items():
            value = self
            for part in setting.split("."):
                value = getattr(value, part)
            problem = constraint.problem(value)
            if problem:
                raise SettingsError(f"{option_name(setting)} {problem}")

    @property
    def study(self) -> str:
        """The study's name in its storage."""
        return self.study_name or self.output_dir.name

    @property
    def run(self) -> str:
        """The mark of this run's trials in the study."""
        return self.run_id or self.output_dir.name

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``settings.json``."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> Settings:
        """The settings recorded in a run's ``settings.json``, checked as a new run's are."""
        names = {f.name for f in dataclasses.fields(cls)} - {"rungs"}
        values = {k: v for k, v in recorded.items() if k in names}
        # runs recorded before the rungs were one value kept their fields at the top level
        rungs = recorded.get("rungs") or {
            f.name: recorded[f.name] for f in dataclasses.fields(Rungs) if f.name in recorded
        }
        paths = {"space_path": Path(values["space_path"]), "output_dir": Path(values["output_dir"])}
        return cls(**{**values, **paths}, rungs=Rungs(**rungs))


def default_of(name: str) -> Any:
    """The default of a ``Settings`` field, for the command line's help."""
    return Settings.__dataclass_fields__[name].default


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``90``, ``90s``, ``30m`` or ``2h``."""
    match = _DURATION.match(str(text))
    if not match:
        raise SettingsError(f"cannot read time budget {text!r}; write seconds (600), minutes (30m) or hours (2h)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise SettingsError(f"time budget must be more than 0 seconds (got {text!r})")
    return seconds
