"""Glycaemic excursions: MAGE and extended hypoglycaemia events, on a regular grid.

Glucose is in mg/dL unless ``units="mmol/L"`` (MAGE is returned in mg/dL).
A Series with a DatetimeIndex is put on its grid first; an array is taken as
a grid of ``step_min`` minutes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["mage", "extended_hypo_events", "EXTENDED_HYPO_MIN", "EXTENDED_HYPO_EXIT_MIN"]

#: Consensus extended hypoglycaemia: at least this many consecutive minutes below 70 mg/dL.
EXTENDED_HYPO_MIN = 120.0
#: ... ending after this many consecutive minutes at or above 70 mg/dL.
EXTENDED_HYPO_EXIT_MIN = 15.0

#: Gaps up to this long (minutes) are filled by linear interpolation before MAGE.
_MAGE_INTER_GAP_MIN = 45.0
#: Gaps longer than this (minutes) split the trace into segments for MAGE.
_MAGE_MAX_GAP_MIN = 180.0


def _interpolate_short_gaps(bg: np.ndarray, max_steps: int) -> np.ndarray:
    """Fill NaNs linearly between known readings at most ``max_steps`` grid steps apart."""
    out = bg.copy()
    missing = np.isnan(bg)
    known = np.flatnonzero(~missing)
    if known.size < 2 or not missing.any():
        return out
    positions = np.arange(bg.size)
    # for every position, the known readings before and after it
    after = np.searchsorted(known, positions)
    inside = missing & (after > 0) & (after < known.size)
    left = known[np.clip(after - 1, 0, known.size - 1)]
    right = known[np.clip(after, 0, known.size - 1)]
    fill = inside & (right - left <= max_steps)
    out[fill] = np.interp(positions[fill], known, bg[known])
    return out


def _segments(bg: np.ndarray, max_steps: int) -> list[np.ndarray]:
    """Split where known readings are more than ``max_steps`` steps apart; trim NaN ends."""
    known = np.flatnonzero(~np.isnan(bg))
    if known.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(known) > max_steps)
    starts = np.concatenate(([known[0]], known[cuts + 1]))
    ends = np.concatenate((known[cuts], [known[-1]]))
    return [bg[s : e + 1] for s, e in zip(starts, ends, strict=True)]


def _extrema(gl: np.ndarray, short_ma: int, long_ma: int) -> np.ndarray | None:
    """Peaks and nadirs between crossings of the short and long moving averages."""
    series = pd.Series(gl)
    ma_short = series.rolling(short_ma, min_periods=1).mean().to_numpy(copy=True)
    ma_long = series.rolling(long_ma, min_periods=1).mean().to_numpy(copy=True)
    n = gl.size
    ma_short[:short_ma] = ma_short[-1] if short_ma > n else ma_short[short_ma - 1]
    ma_long[:long_ma] = ma_long[-1] if long_ma > n else ma_long[long_ma - 1]
    delta = ma_short - ma_long
    first_is_max = delta[0] > 0
    delta = np.where(delta == 0, np.nan, delta)
    cross_ids = [0]
    cross_max = [bool(first_is_max)]
    known_g = ~np.isnan(gl)
    known_d = ~np.isnan(delta)
    # where both readings and both deltas are known, a sign change is a crossing;
    # elsewhere (next to a gap) a known delta is compared with the last crossing's
    plain = known_g[1:] & known_g[:-1] & known_d[1:] & known_d[:-1]
    with np.errstate(invalid="ignore"):
        flips = plain & (delta[1:] * delta[:-1] < 0)
    candidates = np.flatnonzero(flips | (~plain & known_d[1:])) + 1
    d = delta.tolist()
    for i, simple in zip(candidates.tolist(), plain[candidates - 1].tolist(), strict=True):
        prev = d[i - 1] if simple else d[cross_ids[-1]]
        if simple or d[i] * prev < 0:
            cross_ids.append(i)
            cross_max.append(d[i] > prev)
    cross_ids.append(n - 1)
    cross_max.append(bool(delta[-1] > 0))
    missing = np.isnan(gl)
    high = np.where(missing, -np.inf, gl)  # argmax of these is nanargmax of gl
    low = np.where(missing, np.inf, gl)
    known_before = np.concatenate(([0], np.cumsum(~missing)))
    values = []
    left = cross_ids[0]
    for k in range(len(cross_ids) - 1):
        right = cross_ids[k + 1] + 1
        if known_before[right] == known_before[left]:
            return None
        pos = int(np.argmax(high[left:right]) if cross_max[k] else np.argmin(low[left:right]))
        values.append(gl[left + pos])
        left = left + pos
    return np.asarray(values, dtype=float)


def _excursions(minmax: np.ndarray, sd: float, up: bool) -> list[tuple[float, int, int]]:
    """Countable rises (``up``) or falls as (height, first turning point, last turning point)."""
    m = (minmax if up else -minmax).tolist()
    n = len(m)
    found: list[tuple[float, int, int]] = []
    j = prev = 0
    while j < n:
        # the lowest turning point since ``prev`` (the first of equals) and the rise from it
        low = min(range(prev, j + 1), key=m.__getitem__)
        if m[j] - m[low] > sd:
            k = j
            while k < n:
                if m[k] >= m[j]:
                    j = k
                if m[k] - m[j] < -sd or k == n - 1:
                    found.append((float(m[j] - m[low]), low, j))
                    prev = k if up else j
                    j = k
                    break
                k += 1
        else:
            j += 1
    return found


def _mage_segment(gl: np.ndarray, short_ma: int, long_ma: int) -> tuple[float, float, bool] | None:
    """(MAGE+, MAGE-, whether the first excursion is a rise) of one segment, or None."""
    known = gl[~np.isnan(gl)]
    if gl.size < 7 or gl.size < short_ma or known.size < 2 or np.std(known, ddof=1) < 1:
        return None
    minmax = _extrema(gl, short_ma, long_ma)
    if minmax is None:
        return None
    sd = float(np.std(known, ddof=1))
    rises = _excursions(minmax, sd, up=True)
    falls = _excursions(minmax, sd, up=False)
    if not rises and not falls:
        return None
    plus = float(np.mean([h for h, _, _ in rises])) if rises else float("nan")
    minus = float(np.mean([h for h, _, _ in falls])) if falls else float("nan")
    # a rise comes first when its peak is at or before the peak where the first fall starts
    rise_first = bool(rises) and (not falls or rises[0][2] <= falls[0][1])
    return plus, minus, rise_first


def mage(
    glucose: Any,
    *,
    method: str = "ma",
    short_ma: int = 5,
    long_ma: int = 32,
    step_min: float | None = None,
    units: str = "mg/dL",
) -> float:
    """Mean amplitude of glycaemic excursions (mg/dL).

    ``method="ma"`` (default): the moving-average algorithm of Fernandes NJ
    et al. Open-source algorithm to calculate mean amplitude of glycemic
    excursions using short and long moving averages. J Diabetes Sci Technol
    2022;16(2):576-7, as iglu's ``mage_ma`` (its default): peaks and nadirs
    are the extremes of glucose between the crossings of a short
    (``short_ma`` readings) and a long (``long_ma``) moving average; an
    excursion counts when it exceeds one SD (ddof=1) of the segment; MAGE is
    the mean of the mean rise (MAGE+) and the mean fall (MAGE-).
    ``method="service"``: as Service FJ et al. Mean amplitude of glycemic
    excursions, a measure of diabetic instability. Diabetes 1970;19:644-55,
    only the direction of the first countable excursion is averaged (iglu's
    ``direction="service"``).

    The trace is put on a 5-minute grid (other grid steps are refused); gaps up to
    45 minutes are filled linearly, gaps over 180 minutes split it into
    segments, whose MAGEs are averaged weighted by their duration (as iglu).
    NaN when no excursion exceeds one SD.
    """
    from dt1d.metrics.glycaemic import _trace

    if method not in ("ma", "service"):
        raise ValueError(f"method must be 'ma' or 'service', got {method!r}")
    if not 0 < short_ma < long_ma:
        raise ValueError(f"need 0 < short_ma < long_ma, got short_ma={short_ma}, long_ma={long_ma}")
    bg, step = _trace(glucose, step_min, units)
    if not np.isclose(step, 5.0):
        raise ValueError(f"MAGE's moving averages are defined on 5-minute readings; the grid step is {step:g} min")
    bg = _interpolate_short_gaps(bg, int(round(_MAGE_INTER_GAP_MIN / step)))
    values, weights = [], []
    for seg in _segments(bg, int(round(_MAGE_MAX_GAP_MIN / step))):
        result = _mage_segment(seg, short_ma, long_ma)
        if result is None:
            continue
        plus, minus, rise_first = result
        picked = [plus, minus] if method == "ma" else [plus if rise_first else minus]
        for v in picked:
            if not np.isnan(v):
                values.append(v)
                weights.append(float(seg.size - 1))
    if not values:
        return float("nan")
    w = np.asarray(weights)
    if w.sum() == 0:
        return float(np.mean(values))
    return float(np.sum(np.asarray(values) * w) / w.sum())


def extended_hypo_events(
    glucose: Any, *, step_min: float | None = None, units: str = "mg/dL"
) -> list[tuple[int, int]]:
    """Extended hypoglycaemia events, as (start, end) grid positions.

    Consensus definition (Battelino T et al. Continuous glucose monitoring and
    metrics for clinical trials: an international consensus statement. Lancet
    Diabetes Endocrinol 2023;11(1):42-57; Danne T et al. Diabetes Care
    2017;40(12):1631-40): an event begins when glucose is below 70 mg/dL
    (3.9 mmol/L) for at least 120 consecutive minutes and ends once it has
    been at or above 70 mg/dL for at least 15 consecutive minutes. Gaps follow
    the rule of :func:`dt1d.metrics.glucose_events`: a missing reading breaks a
    run; a gap of more than 45 minutes ends an open event.
    """
    from dt1d.metrics.glycaemic import glucose_events

    return glucose_events(
        glucose,
        70.0,
        below=True,
        step_min=step_min,
        units=units,
        min_duration_min=EXTENDED_HYPO_MIN,
        exit_duration_min=EXTENDED_HYPO_EXIT_MIN,
    )
