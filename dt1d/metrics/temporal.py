"""Time lag and temporal gain of a glucose forecast.

A forecast that reacts late looks like the measured trace shifted to the
right. The time lag is the shift that makes the forecast best match the
measurement (maximal cross-correlation); the temporal gain is how much of the
horizon is left after that lag (Sparacino et al. 2007; Gani et al. 2009).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dt1d.metrics._arrays import _as_float_array

__all__ = ["time_lag", "temporal_gain"]

_MIN_PAIRS = 3


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the pairs where neither is NaN; NaN if undefined."""
    keep = ~(np.isnan(a) | np.isnan(b))
    if keep.sum() < _MIN_PAIRS:
        return float("nan")
    a, b = a[keep], b[keep]
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    if denom == 0.0:
        return float("nan")
    return float((a * b).sum() / denom)


def time_lag(
    reference: Any,
    prediction: Any,
    *,
    step_min: float = 5.0,
    max_lag_min: float = 120.0,
) -> float:
    """Delay in minutes of a forecast behind the measured glucose (0 = no delay).

    ``reference[i]`` and ``prediction[i]`` are the measured and forecast
    glucose of the same instant, on a regular grid of ``step_min`` minutes
    (NaN where unknown). The lag is the shift k * step_min, 0 <= k * step_min <=
    max_lag_min, maximising corr(reference[t], prediction[t + k]) over the
    pairs where both are known (ties go to the smaller shift). Returns NaN when
    no shift has at least 3 pairs with non-constant values.
    """
    ref = _as_float_array(reference, "reference").ravel()
    pred = _as_float_array(prediction, "prediction").ravel()
    if ref.shape != pred.shape:
        raise ValueError(f"reference has shape {ref.shape} but prediction has shape {pred.shape}")
    if not step_min > 0:
        raise ValueError(f"step_min must be positive, got {step_min!r}")
    if not max_lag_min >= 0:
        raise ValueError(f"max_lag_min must be >= 0, got {max_lag_min!r}")
    n = ref.size
    max_k = min(int(np.floor(max_lag_min / step_min + 1e-9)), max(n - 1, 0))
    best_k, best_corr = None, -np.inf
    for k in range(max_k + 1):
        corr = _correlation(ref[: n - k], pred[k:])
        if not np.isnan(corr) and corr > best_corr + 1e-12:
            best_k, best_corr = k, corr
    if best_k is None:
        return float("nan")
    return float(best_k * step_min)


def temporal_gain(
    reference: Any,
    prediction: Any,
    horizon_min: float,
    *,
    step_min: float = 5.0,
    max_lag_min: float | None = None,
) -> float:
    """Temporal gain in minutes: the horizon minus the forecast's time lag.

    A gain equal to the horizon means the forecast anticipates the glucose by
    the full horizon; 0 means it is no better in time than the last reading.
    The lag is searched up to ``max_lag_min`` (default: the horizon plus one hour).
    """
    if max_lag_min is None:
        max_lag_min = float(horizon_min) + 60.0
    lag = time_lag(reference, prediction, step_min=step_min, max_lag_min=max_lag_min)
    return float(horizon_min) - lag
