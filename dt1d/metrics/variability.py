"""Glucose variability over time: CONGA and MODD, on a regular grid.

Glucose is in mg/dL unless ``units="mmol/L"`` (the results are in mg/dL).
A Series with a DatetimeIndex is put on its grid first; an array is taken as
a grid of ``step_min`` minutes. Gaps of at most 45 minutes between known
readings are filled linearly first, as iglu does (Broll S et al. iglu:
interpreting glucose data from continuous glucose monitors, R package), so
the values agree with iglu's; pairs with a reading in a longer gap are left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["conga", "modd"]

#: Gaps between known readings up to this long (minutes) are filled linearly.
INTER_GAP_MIN = 45.0


def _lagged_differences(glucose: Any, lag_min: float, step_min: float | None, units: str) -> np.ndarray:
    from dt1d.metrics.excursions import _interpolate_short_gaps
    from dt1d.metrics.glycaemic import _trace

    bg, step = _trace(glucose, step_min, units)
    bg = _interpolate_short_gaps(bg, int(np.floor(INTER_GAP_MIN / step + 1e-9)))
    lag = lag_min / step
    if abs(lag - round(lag)) > 1e-9 or round(lag) < 1:
        raise ValueError(f"a lag of {lag_min:g} min is not a whole number of {step:g}-minute steps")
    k = int(round(lag))
    if bg.size <= k:
        return np.empty(0)
    diffs = bg[k:] - bg[:-k]
    return diffs[~np.isnan(diffs)]


def conga(glucose: Any, hours: float = 1.0, *, step_min: float | None = None, units: str = "mg/dL") -> float:
    """Continuous overall net glycaemic action: SD (ddof=1) of g(t) - g(t - hours).

    McDonnell CM, Donath SM, Vidmar SI, Werther GA, Cameron FJ. A novel
    approach to continuous glucose analysis utilizing glycemic variation.
    Diabetes Technol Ther 2005;7(2):253-63. NaN with fewer than two pairs.
    """
    diffs = _lagged_differences(glucose, 60.0 * float(hours), step_min, units)
    if diffs.size < 2:
        return float("nan")
    return float(diffs.std(ddof=1))


def modd(glucose: Any, days: int = 1, *, step_min: float | None = None, units: str = "mg/dL") -> float:
    """Mean of daily differences: the mean absolute difference
    between each glucose value and the one 24 h before it, over the known pairs.

    Service FJ, Nelson RL. Characteristics of glycemic stability. Diabetes
    Care 1980;3(1):58-62. NaN without a pair.
    """
    diffs = _lagged_differences(glucose, 1440.0 * int(days), step_min, units)
    if diffs.size == 0:
        return float("nan")
    return float(np.mean(np.abs(diffs)))
