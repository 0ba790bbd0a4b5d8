"""Tidy tables of forecast accuracy: one row per horizon, and per patient for a cohort."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data import horizons_of
from dt1d.metrics.accuracy import grmse, mae, mard, me, rmse
from dt1d.metrics.error_grids import ZONES, clarke_zones, parkes_zones, zone_fractions
from dt1d.metrics.temporal import time_lag

__all__ = ["forecast_accuracy_table", "ACCURACY_COLUMNS"]

#: Columns of :func:`forecast_accuracy_table` after the optional ``patient_id``.
ACCURACY_COLUMNS: tuple[str, ...] = (
    "horizon_min",
    "n",
    "rmse",
    "mae",
    "me",
    "mard",
    "grmse",
    *(f"clarke_{z}" for z in ZONES),
    *(f"parkes_{z}" for z in ZONES),
    "time_lag_min",
    "temporal_gain_min",
)


def _as_matrix(values: Any, name: str) -> np.ndarray:
    """Return a 2-D float array (n, k) from a Series, DataFrame or array."""
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D (one horizon) or 2-D (rows x horizons), got {arr.ndim}-D"
        )
    return arr


def _step_minutes(index: Any, groups: np.ndarray | None) -> float | None:
    """The most common step between consecutive times of the same patient, in minutes."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return None
    diffs = np.diff(index.as_unit("ns").asi8)
    if groups is not None:
        diffs = diffs[groups[1:] == groups[:-1]]
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        return None
    values, counts = np.unique(diffs, return_counts=True)
    return float(values[np.argmax(counts)] / 6e10)


def forecast_accuracy_table(
    y_true: Any,
    y_pred: Any,
    *,
    patient_id: Any = None,
    horizons: Sequence[int] | None = None,
    diabetes_type: int = 1,
    step_min: float | None = None,
) -> pd.DataFrame:
    """Accuracy of a forecast per horizon (and per patient): errors, grid zones, time lag.

    ``y_true`` is the target from ``dt1d.data.make_target`` (a Series named
    like "30min" or a DataFrame with one column per horizon) or an array;
    ``y_pred`` is the model's prediction with the same shape, one row per row
    of the record. ``patient_id`` (array-like, one per row) splits a cohort;
    rows of a patient must be in time order. Horizons come from ``y_true``'s
    names, or ``horizons`` for plain arrays. Zone columns are fractions of
    the scored pairs; ``time_lag_min`` uses the grid step of ``y_true``'s
    DatetimeIndex (or ``step_min``, default 5). Glucose in mg/dL.
    """
    truth = _as_matrix(y_true, "y_true")
    pred = _as_matrix(y_pred, "y_pred")
    if truth.shape != pred.shape:
        raise ValueError(
            f"y_true has shape {truth.shape} but y_pred has shape {pred.shape}; "
            "predict one value per row and horizon of the record"
        )
    if horizons is None:
        if isinstance(y_true, (pd.Series, pd.DataFrame)):
            horizons = horizons_of(y_true)
        else:
            raise ValueError(
                "y_true is a plain array: pass horizons=[...] (minutes, one per column), "
                "or a target built by dt1d.data.make_target"
            )
    horizons = [int(h) for h in horizons]
    if len(horizons) != truth.shape[1]:
        raise ValueError(f"{len(horizons)} horizons given for {truth.shape[1]} column(s) of y_true")

    groups = None
    if patient_id is not None:
        ids = np.asarray(patient_id.to_numpy() if hasattr(patient_id, "to_numpy") else patient_id)
        if ids.shape != (truth.shape[0],):
            raise ValueError(f"patient_id has shape {ids.shape}; expected ({truth.shape[0]},)")
        codes, uniques = pd.factorize(ids, sort=False)
        groups = codes
    if step_min is None:
        step_min = _step_minutes(getattr(y_true, "index", None), groups) or 5.0

    if groups is None:
        blocks = [(None, np.arange(truth.shape[0]))]
    else:
        blocks = [(uniques[c], np.flatnonzero(groups == c)) for c in range(len(uniques))]

    rows = []
    for pid, rows_of in blocks:
        for j, h in enumerate(horizons):
            ref, hat = truth[rows_of, j], pred[rows_of, j]
            scored = ~(np.isnan(ref) | np.isnan(hat))
            row: dict[str, Any] = {} if groups is None else {"patient_id": pid}
            row["horizon_min"] = h
            row["n"] = int(scored.sum())
            row["rmse"] = rmse(ref, hat)
            row["mae"] = mae(ref, hat)
            row["me"] = me(ref, hat)
            row["mard"] = mard(ref, hat)
            row["grmse"] = grmse(ref, hat)
            for z, v in zone_fractions(clarke_zones(ref, hat)).items():
                row[f"clarke_{z}"] = v
            for z, v in zone_fractions(parkes_zones(ref, hat, diabetes_type)).items():
                row[f"parkes_{z}"] = v
            lag = time_lag(ref, hat, step_min=step_min, max_lag_min=h + 60.0)
            row["time_lag_min"] = lag
            row["temporal_gain_min"] = h - lag
            rows.append(row)
    columns = ([] if groups is None else ["patient_id"]) + list(ACCURACY_COLUMNS)
    return pd.DataFrame(rows, columns=columns)
