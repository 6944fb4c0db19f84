"""The model families, in one explicit registry."""

from __future__ import annotations

from search.core.errors import InputError
from search.families import cnn, keras_mlp, logistic, mlp, svc
from search.families.base import Family

FAMILIES: dict[str, Family] = {family.NAME: family for family in (logistic, svc, mlp, keras_mlp, cnn)}


def get_family(name: str) -> Family:
    """The family called ``name``; an ``InputError`` (a ValueError) lists the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise InputError(f"unknown family {name!r}; choose from {', '.join(sorted(FAMILIES))}") from None
