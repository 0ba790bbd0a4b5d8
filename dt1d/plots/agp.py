"""Ambulatory glucose profile: percentiles of glucose by time of day."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dt1d.plots._common import TARGET_HIGH_MGDL, TARGET_LOW_MGDL, _new_figure

__all__ = ["agp_percentiles", "plot_agp"]

PERCENTILES = (5, 25, 50, 75, 95)


def agp_percentiles(glucose: pd.Series, *, bin_min: int = 15) -> pd.DataFrame:
    """Glucose percentiles (5, 25, 50, 75, 95) per ``bin_min``-minute bin of the day.

    The index is the bin start in hours (0, 0.25, ...); bins without readings
    are NaN. Follows the ambulatory glucose profile of Bergenstal et al. 2013
    (J Diabetes Sci Technol 7(2):562-78). NaN readings are ignored.
    """
    if isinstance(glucose, pd.DataFrame):
        glucose = glucose["glucose"]
    if not isinstance(glucose, pd.Series) or not isinstance(glucose.index, pd.DatetimeIndex):
        raise ValueError("glucose must be a Series with a DatetimeIndex (or a record)")
    if bin_min <= 0 or 1440 % bin_min:
        raise ValueError(f"bin_min must divide a day (1440 min), got {bin_min}")
    minute = glucose.index.hour * 60 + glucose.index.minute
    bins = np.asarray(minute // bin_min)
    values = glucose.to_numpy(dtype=float, na_value=np.nan)
    n_bins = 1440 // bin_min
    out = np.full((n_bins, len(PERCENTILES)), np.nan)
    for b in range(n_bins):
        v = values[(bins == b) & ~np.isnan(values)]
        if v.size:
            out[b] = np.percentile(v, PERCENTILES)
    hours = np.arange(n_bins) * bin_min / 60.0
    return pd.DataFrame(
        out, index=pd.Index(hours, name="hour"), columns=[f"p{p}" for p in PERCENTILES]
    )


def plot_agp(
    glucose: pd.Series, *, bin_min: int = 15, title: str = "Ambulatory glucose profile"
) -> Any:
    """Ambulatory glucose profile: median, 25-75 % and 5-95 % bands by time of day."""
    table = agp_percentiles(glucose, bin_min=bin_min)
    fig = _new_figure(9.0, 4.5)
    ax = fig.subplots()
    hours = table.index.to_numpy() + bin_min / 120.0  # bin centres
    ax.fill_between(hours, table["p5"], table["p95"], color="#9ecae1", alpha=0.5, label="5-95 %")
    ax.fill_between(hours, table["p25"], table["p75"], color="#3182bd", alpha=0.5, label="25-75 %")
    ax.plot(hours, table["p50"], color="#08306b", lw=2, label="median")
    ax.axhline(TARGET_LOW_MGDL, color="#1a9850", lw=1, ls="--")
    ax.axhline(TARGET_HIGH_MGDL, color="#1a9850", lw=1, ls="--", label="target 70-180")
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 3))
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("glucose (mg/dL)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    return fig
