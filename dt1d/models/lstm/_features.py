"""Per-step input features of the LSTM, computed once per record (NumPy only, no torch).

Feature columns, in order: glucose (last reading carried forward), insulin,
carbs, missing-glucose indicator, time of day as sin and cos. The first three
are standardised with statistics learned in ``fit``; the others are already
in [-1, 1].
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from dt1d.models.lstm._windows import fill_glucose, segment_starts, valid_window_ends

__all__ = ["FEATURE_NAMES", "RecordArrays", "record_arrays", "feature_stats", "normalised_features"]

FEATURE_NAMES = ("glucose", "insulin", "carbs", "glucose_missing", "time_of_day_sin", "time_of_day_cos")
N_FEATURES = len(FEATURE_NAMES)
_SECONDS_PER_DAY = 86400.0


class RecordArrays(NamedTuple):
    """A record turned into arrays: raw features, usable windows, last glucose."""

    raw: np.ndarray  # (n, N_FEATURES) float64, unnormalised; glucose NaN where unusable
    valid: np.ndarray  # (n,) bool: the window ending at this row is usable
    last_glucose: np.ndarray  # (n,) float64 mg/dL, last reading at or before t (NaN if none)
    starts: np.ndarray  # (n,) bool: first row of a segment (patient or grid run)
    time_ns: np.ndarray  # (n,) int64, for time-ordered splits
    patient_codes: np.ndarray  # (n,) int64


def _time_ns(index: pd.DatetimeIndex) -> np.ndarray:
    """Index times as int64 nanoseconds (UTC for tz-aware), whatever the index resolution."""
    idx = index.tz_convert(None) if index.tz is not None else index
    return idx.as_unit("ns").asi8


def _time_of_day_s(index: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since local midnight (the index's own time zone when it has one)."""
    since_midnight = index - index.normalize()
    return np.asarray(since_midnight.total_seconds(), dtype=np.float64)


def record_arrays(
    X: pd.DataFrame, *, step_ns: int, lookback_steps: int, max_gap_steps: int
) -> RecordArrays:
    """Turn a validated record (one patient or a contiguous cohort) into feature arrays."""
    from dt1d.data.schema import refuse_long_acting

    refuse_long_acting(X, "lstm")
    n = len(X)
    time_ns = _time_ns(X.index)
    if "patient_id" in X.columns:
        codes = pd.factorize(X["patient_id"], sort=False)[0].astype(np.int64)
    else:
        codes = np.zeros(n, dtype=np.int64)
    starts = segment_starts(codes, time_ns, step_ns)
    fill = fill_glucose(X["glucose"].to_numpy(dtype=np.float64, na_value=np.nan), starts, max_gap_steps)
    valid = valid_window_ends(starts, fill.bad, fill.missing, lookback_steps)

    raw = np.empty((n, N_FEATURES), dtype=np.float64)
    raw[:, 0] = np.where(fill.bad, np.nan, fill.filled)
    raw[:, 1] = X["insulin"].to_numpy(dtype=np.float64, na_value=0.0)
    raw[:, 2] = X["carbs"].to_numpy(dtype=np.float64, na_value=0.0)
    raw[:, 3] = fill.missing
    angle = (2.0 * np.pi / _SECONDS_PER_DAY) * _time_of_day_s(X.index)
    raw[:, 4] = np.sin(angle)
    raw[:, 5] = np.cos(angle)
    return RecordArrays(raw, valid, fill.filled, starts, time_ns, codes)


def feature_stats(raw: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature over ``rows`` (identity for the bounded ones)."""
    mean = np.zeros(N_FEATURES)
    std = np.ones(N_FEATURES)
    sub = raw[rows, :3]
    mean[:3] = np.nanmean(sub, axis=0)
    sd = np.nanstd(sub, axis=0)
    std[:3] = np.where(np.isfinite(sd) & (sd > 1e-8), sd, 1.0)
    mean[:3] = np.where(np.isfinite(mean[:3]), mean[:3], 0.0)
    return mean, std


def normalised_features(raw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(raw - mean) / std`` as contiguous float32, unusable glucose set to 0."""
    out = ((raw - mean) / std).astype(np.float32)
    np.nan_to_num(out, copy=False, nan=0.0)
    return out
