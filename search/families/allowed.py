"""The values each family's parameters may take, so that a space that reaches past them is refused up front.

A scikit-learn family takes the ranges from the model's own declared constraints
(``_parameter_constraints``, which scikit-learn checks at ``fit``); the others declare theirs with the
same ``Interval`` and ``StrOptions`` types. ``search.core.spaces.check_allowed`` compares a space with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from sklearn.utils._param_validation import Interval, StrOptions, make_constraint


@dataclass(frozen=True)
class Allowed:
    """The values one parameter may take, and whose rule it is (for the message)."""

    constraint: Interval | StrOptions
    owner: str

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is allowed; a number is checked by its bounds (the families cast it)."""
        if isinstance(self.constraint, Interval):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            bounds = self.constraint
            return Interval(Real, bounds.left, bounds.right, closed=bounds.closed).is_satisfied_by(value)
        return self.constraint.is_satisfied_by(value)

    def __str__(self) -> str:
        return f"{self.owner} takes {self.constraint}"


def model_range(estimator: type, name: str) -> Allowed:
    """The numeric range scikit-learn declares for ``estimator``'s parameter ``name``."""
    constraints = [make_constraint(c) for c in estimator._parameter_constraints[name]]
    interval = next(c for c in constraints if isinstance(c, Interval))
    return Allowed(interval, f"{estimator.__name__}'s {name}")


def whole_number(low: int = 1) -> Interval:
    """``low`` or more, a whole number."""
    return Interval(Integral, low, None, closed="left")


def model_ranges(estimator: type, *names: str) -> dict[str, Allowed]:
    """``model_range`` of each parameter in ``names``."""
    return {name: model_range(estimator, name) for name in names}


def declared(family: str, **constraints: Interval | StrOptions) -> dict[str, Allowed]:
    """The ranges a family declares for its own parameters."""
    return {name: Allowed(constraint, f"{family}'s {name}") for name, constraint in constraints.items()}


def positive_number() -> Interval:
    """More than 0."""
    return Interval(Real, 0, None, closed="neither")


def share() -> Interval:
    """A share of something, 0 included and 1 not (dropout)."""
    return Interval(Real, 0, 1, closed="left")
