"""How numbers, durations and configs are written for people."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def format_duration(seconds: float) -> str:
    """``1234`` -> ``20m 34s``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_config(config: Mapping[str, Any]) -> str:
    """``C=7.12, gamma=0.0231``."""
    return ", ".join(f"{name}={format_value(value)}" for name, value in config.items())


def format_value(value: Any) -> str:
    """Floats to 3 significant digits, the rest as they are."""
    return f"{value:.3g}" if isinstance(value, float) else str(value)
