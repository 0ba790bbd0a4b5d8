"""Clarke and Parkes error grid plots."""

from __future__ import annotations

from typing import Any

import numpy as np

from dt1d.data import MGDL_PER_MMOLL
from dt1d.metrics import (
    PARKES_BOUNDARIES,
    ZONES,
    clarke_zones,
    parkes_zones,
    zone_fractions,
)
from dt1d.plots._common import ZONE_COLOURS, _new_figure

__all__ = ["plot_clarke_grid", "plot_parkes_grid"]



def _clarke_segments(limit: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Zone boundary segments ((x0, x1), (y0, y1)) of the Clarke grid up to ``limit`` mg/dL."""
    return [
        ((0, 175 / 3), (70, 70)),  # A upper, flat part
        ((175 / 3, limit / 1.2), (70, limit)),  # A upper, +20 %
        ((70, limit), (56, 0.8 * limit)),  # A lower, -20 %
        ((70, 70), (0, 56)),
        ((70, 70), (84, limit)),  # D left, right edge
        ((0, 70), (180, 180)),  # E upper left
        ((70, limit - 110), (180, limit)),  # C upper
        ((130, 180), (0, 70)),  # C lower
        ((180, 180), (0, 70)),  # E lower right
        ((180, limit), (70, 70)),
        ((240, 240), (70, 180)),  # D right
        ((240, limit), (180, 180)),
    ]


def _grid_axes(reference, prediction, zones, limit, scale, units, title):
    """Scatter coloured by zone, diagonal, labels and a legend with zone percentages."""
    fig = _new_figure(7.5, 6.0)
    ax = fig.subplots()
    ref = np.asarray(reference, dtype=float).ravel() / scale
    pred = np.asarray(prediction, dtype=float).ravel() / scale
    zones = np.asarray(zones).ravel()
    fractions = zone_fractions(zones)
    for z in ZONES:
        mask = zones == z
        pct = 0.0 if np.isnan(fractions[z]) else 100 * fractions[z]
        ax.scatter(
            ref[mask],
            pred[mask],
            s=8,
            color=ZONE_COLOURS[z],
            edgecolors="none",
            label=f"{z}: {pct:.1f} %",
        )
    ax.plot([0, limit / scale], [0, limit / scale], color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, limit / scale)
    ax.set_ylim(0, limit / scale)
    ax.set_aspect("equal")
    ax.set_xlabel(f"reference glucose ({units})")
    ax.set_ylabel(f"predicted glucose ({units})")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", title="zone")
    return fig, ax


def plot_clarke_grid(
    reference: Any, prediction: Any, *, units: str = "mg/dL", title: str = "Clarke error grid"
) -> Any:
    """Clarke error grid with each pair coloured by its zone; returns the Figure."""
    scale = MGDL_PER_MMOLL if units == "mmol/L" else 1.0
    zones = clarke_zones(reference, prediction, units=units)
    limit = 400.0
    fig, ax = _grid_axes(
        np.asarray(reference, float) * scale,
        np.asarray(prediction, float) * scale,
        zones,
        limit,
        scale,
        units,
        title,
    )
    for xs, ys in _clarke_segments(limit):
        ax.plot(np.array(xs) / scale, np.array(ys) / scale, color="black", lw=1)
    for z, (x, y) in {
        "A": (320, 290),
        "B": (260, 360),
        "C": (130, 330),
        "D": (30, 140),
        "E": (30, 330),
    }.items():
        ax.text(x / scale, y / scale, z, fontsize=14, fontweight="bold")
    ax.text(330 / scale, 200 / scale, "B", fontsize=14, fontweight="bold")
    ax.text(310 / scale, 40 / scale, "E", fontsize=14, fontweight="bold")
    ax.text(150 / scale, 10 / scale, "C", fontsize=14, fontweight="bold")
    ax.text(320 / scale, 110 / scale, "D", fontsize=14, fontweight="bold")
    return fig


def plot_parkes_grid(
    reference: Any,
    prediction: Any,
    diabetes_type: int = 1,
    *,
    units: str = "mg/dL",
    title: str | None = None,
) -> Any:
    """Parkes (consensus) error grid for type 1 or 2 diabetes, pairs coloured by zone."""
    scale = MGDL_PER_MMOLL if units == "mmol/L" else 1.0
    zones = parkes_zones(reference, prediction, diabetes_type, units=units)
    limit = 550.0
    fig, ax = _grid_axes(
        np.asarray(reference, float) * scale,
        np.asarray(prediction, float) * scale,
        zones,
        limit,
        scale,
        units,
        title or f"Parkes error grid (type {diabetes_type} diabetes)",
    )
    for name, vertices in PARKES_BOUNDARIES[diabetes_type].items():
        xy = np.array(vertices, dtype=float) / scale
        ax.plot(xy[:, 0], xy[:, 1], color="black", lw=1)
        ax.annotate(
            name[0],
            xy[-1],
            textcoords="offset points",
            xytext=(-12, -12) if name.endswith("upper") else (-12, 4),
            fontsize=12,
            fontweight="bold",
        )
    return fig
