"""What a figure function returns, and the drawing conventions every figure shares."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

COMPLETED_COLOR = "#1f4e9c"
"""Trials that reached their full budget, and best-so-far lines."""
DPI = 100


@dataclass(frozen=True)
class Drawn:
    """A figure, the file name it is saved under (``<name>.png``), its title and a caption."""

    name: str
    title: str
    figure: Figure
    caption: str

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


@dataclass(frozen=True)
class Missing:
    """A figure that could not be drawn, and why (the report says so in its place)."""

    why: str


def stopped_shades(count: int) -> list[str]:
    """``count`` oranges, light to dark: the rungs where trials were stopped, lowest first."""
    return [_hex(rgba) for rgba in colormaps["Oranges"](np.linspace(0.35, 0.85, max(count, 1)))][:count]


def score_floor(scores: pd.Series) -> float:
    """The lowest accuracy an axis shows: a little below the lower quartile, so the good region is readable.

    Scores below it are drawn on it, as downward triangles (``scatter_scores``).
    """
    scores = scores.dropna()
    if scores.empty:
        return 0.0
    top, low = float(scores.max()), float(scores.quantile(0.25))
    low = min(low, top - 0.01)
    return max(0.0, low - 0.1 * (top - low))


def set_score_axis(axis, floor: float, scores: pd.Series) -> None:
    """The accuracy axis from ``floor`` to just above the best score."""
    top = float(scores.dropna().max()) if scores.notna().any() else 1.0
    axis.set_ylim(floor - 0.003, min(1.0 + 1e-3, top + 0.12 * (top - floor) + 0.002))


def scatter_scores(axis, x, scores, colors, floor: float, **style) -> None:
    """Points at their scores; those below ``floor`` on it, as downward triangles."""
    x, scores, colors = np.asarray(x, dtype=object), np.asarray(scores, dtype=float), np.asarray(colors, dtype=object)
    low = scores < floor
    axis.scatter(list(x[~low]), scores[~low], c=list(colors[~low]), s=18, alpha=0.85, **style)
    if low.any():
        axis.scatter(list(x[low]), np.full(low.sum(), floor), c=list(colors[low]), s=22, marker="v", alpha=0.85)


def _hex(rgba) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])
