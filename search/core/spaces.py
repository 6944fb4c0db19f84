"""Read a search space from YAML, validate it, and turn it into Optuna distributions.

A space file maps each parameter to Optuna's short form::

    C:          {type: float, low: 0.1, high: 100.0, log: true}
    n_layers:   {type: int, low: 1, high: 3}
    batch_size: {type: categorical, choices: [64, 128, 256]}

Parameters the file leaves out keep the article's value. The file's shape (types, keys, numbers)
is checked here; the ranges are checked by Optuna's own distributions, whose messages are re-raised
naming the file and the parameter. Every problem is a ``SpaceError`` (a ``ValueError``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from search.core.errors import InputError

SPACES_PACKAGE = "search.space_files"
"""The checkout's ``spaces/`` folder, installed inside the package (``pyproject.toml``)."""


class SpaceError(InputError):
    """A space file that cannot be read or used; the message names the file and the parameter."""


_ALLOWED_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


@dataclass(frozen=True)
class SearchSpace:
    """A validated space: Optuna distributions by parameter name, and the file they came from."""

    distributions: dict[str, BaseDistribution]
    path: Path

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether every parameter of the space has a value in ``config`` that the space allows."""
        for name, distribution in self.distributions.items():
            if name not in config:
                return False
            value = config[name]
            if isinstance(distribution, CategoricalDistribution):
                if value not in distribution.choices:
                    return False
            elif not distribution.low <= value <= distribution.high:
                return False
            elif distribution.step is not None and not _on_step(value, distribution.low, distribution.step):
                return False
        return True

    def restrict(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The part of ``config`` that the space searches."""
        return {name: config[name] for name in self.distributions if name in config}

    def describe(self) -> dict[str, Any]:
        """The space as plain data, for the run's recorded settings."""
        from optuna.distributions import distribution_to_json

        return {name: distribution_to_json(d) for name, d in self.distributions.items()}


def spaces_dir() -> Path:
    """Where the shipped spaces are: ``spaces/`` in a checkout, ``search/space_files/`` once installed."""
    return Path(str(files(SPACES_PACKAGE)))


def default_space_path(family: str) -> Path:
    """The family's shipped space, ``spaces/<family>.yaml``."""
    return spaces_dir() / f"{family}.yaml"


def load_space(path: str | Path, parameters: frozenset[str], allowed: Mapping[str, Any] | None = None) -> SearchSpace:
    """Read and validate the space at ``path``; ``parameters`` are those the family takes, ``allowed``
    the values they may take (``search.families.allowed``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise SpaceError(f"{path}: cannot read space file ({error.strerror or error})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise SpaceError(f"{path}: not valid YAML{where}") from None
    space = parse_space(raw, parameters, path)
    check_allowed(space, allowed or {})
    return space


def check_allowed(space: SearchSpace, allowed: Mapping[str, Any]) -> None:
    """Every value each distribution can give must be one its parameter takes (both ends of a range)."""
    for name, distribution in space.distributions.items():
        rule = allowed.get(name)
        if rule is None:
            continue
        if isinstance(distribution, CategoricalDistribution):
            values, shown = list(distribution.choices), f"choices {list(distribution.choices)}"
        else:
            values, shown = [distribution.low, distribution.high], f"[{distribution.low:g}, {distribution.high:g}]"
        refused = [value for value in values if not rule.allows(value)]
        if refused:
            raise SpaceError(
                f"{space.path}: parameter {name!r} ranges over {shown}, but {rule} ({refused[0]!r} is not)"
            )


def parse_space(raw: Any, parameters: frozenset[str], path: Path) -> SearchSpace:
    """Validate the parsed YAML ``raw`` and build the distributions."""
    if not isinstance(raw, dict) or not raw:
        raise SpaceError(f"{path}: a space file maps parameter names to distributions; found no parameters")
    distributions = {}
    for name, spec in raw.items():
        where = f"{path}: parameter {name!r}"
        if name not in parameters:
            raise SpaceError(f"{where}: not a parameter of this family (it takes {', '.join(sorted(parameters))})")
        distributions[name] = _distribution(spec, where)
    return SearchSpace(distributions, path)


def _distribution(spec: Any, where: str) -> BaseDistribution:
    if not isinstance(spec, dict):
        raise SpaceError(f"{where}: expected a mapping like {{type: float, low: ..., high: ...}}, got {spec!r}")
    kind = spec.get("type")
    if kind not in _ALLOWED_KEYS:
        raise SpaceError(f"{where}: unknown type {kind!r}; use float, int or categorical")
    unknown = set(spec) - _ALLOWED_KEYS[kind]
    if unknown:
        raise SpaceError(
            f"{where}: unknown key {', '.join(sorted(map(str, unknown)))} for type {kind} "
            f"(allowed: {', '.join(sorted(_ALLOWED_KEYS[kind]))})"
        )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise SpaceError(f"{where}: categorical needs a non-empty list of choices (got {choices!r})")
        return CategoricalDistribution(choices)

    number = int if kind == "int" else float
    low = _number(spec, "low", number, where)
    high = _number(spec, "high", number, where)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(f"{where}: log must be true or false (got {log!r})")
    options: dict[str, Any] = {"log": log}
    if "step" in spec:
        options["step"] = _number(spec, "step", number, where)
    try:
        if kind == "int":
            return IntDistribution(low, high, **options)
        return FloatDistribution(low, high, **options)
    except ValueError as error:  # Optuna's own check of the range, the scale and the step
        raise SpaceError(f"{where}: {error}") from None


def _on_step(value: float, low: float, step: float) -> bool:
    """Whether ``value`` is ``low`` plus a whole number of ``step``s (to float precision)."""
    steps = (value - low) / step
    return math.isclose(steps, round(steps), abs_tol=1e-8)


def _number(spec: dict, key: str, number: type, where: str) -> int | float:
    if key not in spec:
        raise SpaceError(f"{where}: missing {key!r}")
    value = spec[key]
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise SpaceError(f"{where}: {key} must be a number (got {value!r})") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpaceError(f"{where}: {key} must be a finite number (got {value!r})")
    if number is int:
        if value != int(value):
            raise SpaceError(f"{where}: {key} must be a whole number for type int (got {value!r})")
        return int(value)
    return float(value)
