"""Prediction targets: future glucose aligned with the record, one column per horizon."""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from dt1d.data.schema import (
    GLUCOSE,
    DataValidationError,
    _most_common,
    _patient_codes,
    _require_frame,
    _step_label,
    _time_values,
    _within_patient_diffs,
)

_HORIZON_NAME = re.compile(r"^([1-9][0-9]*)min$")


def horizon_name(horizon_min: int) -> str:
    """Column name of a horizon in minutes: 30 -> "30min"."""
    return f"{horizon_min}min"


def _as_horizon(value: object) -> int:
    """Return a horizon as a positive int of minutes, or raise naming the bad value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise DataValidationError(
            f"horizon {value!r} is not a positive whole number of minutes",
            code="bad_horizon", fix="pass e.g. horizon=30 or horizon=[30, 60]",
        )
    return int(value)


def _check_record(df: pd.DataFrame) -> tuple[np.ndarray | None, pd.Timedelta | None]:
    """Check what make_target needs; return the patient codes and the grid step (None if unknown).

    Needs a DataFrame with ``glucose`` and a DatetimeIndex increasing within each patient.
    """
    _require_frame(df)
    if GLUCOSE not in df.columns:
        raise DataValidationError(
            "no 'glucose' column", code="missing_column", column=GLUCOSE,
            fix="pass a record checked by dt1d.data.validate",
        )
    if not isinstance(df.index, pd.DatetimeIndex):
        raise DataValidationError(
            f"index is a {type(df.index).__name__}, not a DatetimeIndex",
            code="not_datetime_index", fix="pass a record checked by dt1d.data.validate",
        )
    codes = _patient_codes(df)
    diffs, _ = _within_patient_diffs(df, codes)
    if (diffs <= np.timedelta64(0, "ns")).any():
        raise DataValidationError(
            "times are not strictly increasing within each patient",
            code="not_increasing", column="time",
            fix="pass a record checked by dt1d.data.validate",
        )
    # No step when every patient has a single row: then every target is unknown anyway.
    return codes, (pd.Timedelta(_most_common(diffs)) if diffs.size else None)


def make_target(df: pd.DataFrame, horizon: int | Sequence[int] = 30) -> pd.Series | pd.DataFrame:
    """Return future glucose ``y[t] = glucose(t + horizon minutes)`` aligned with ``df``.

    An int horizon gives a Series named like ``"30min"``; a sequence gives a
    DataFrame with one such column per horizon. ``y`` is NaN where the future
    reading is missing or beyond the record, and never reads another patient's
    rows. Horizons must be positive multiples of the record's grid step.
    """
    single = isinstance(horizon, numbers.Integral) and not isinstance(horizon, bool)
    if single:
        horizons = [_as_horizon(horizon)]
    elif isinstance(horizon, Sequence) and not isinstance(horizon, str):
        horizons = [_as_horizon(h) for h in horizon]
        if not horizons:
            raise DataValidationError(
                "no horizons given", code="bad_horizon", fix="pass e.g. horizon=[30, 60]"
            )
        if len(set(horizons)) != len(horizons):
            raise DataValidationError(
                f"repeated horizons in {horizons}", code="bad_horizon",
                fix="list each horizon once",
            )
    else:
        horizons = [_as_horizon(horizon)]  # raises with the value named
    codes, step = _check_record(df)
    if step is not None:
        for h in horizons:
            if pd.Timedelta(minutes=h) % step != pd.Timedelta(0):
                raise DataValidationError(
                    f"horizon {h} min is not a multiple of the record's {_step_label(step)} step",
                    code="bad_horizon",
                    fix=f"use a multiple of {step.total_seconds() / 60:g} minutes",
                )

    times = _time_values(df.index)
    keys = np.zeros(len(df), dtype=np.int64) if codes is None else codes.astype(np.int64)
    glucose = df[GLUCOSE].to_numpy(dtype=np.float64, na_value=np.nan)
    known = pd.Series(glucose, index=pd.MultiIndex.from_arrays([keys, times]))
    columns = {}
    for h in horizons:
        future = pd.MultiIndex.from_arrays([keys, times + np.timedelta64(h, "m")])
        columns[horizon_name(h)] = known.reindex(future).to_numpy()
    if single:
        return pd.Series(columns[horizon_name(horizons[0])], index=df.index,
                         name=horizon_name(horizons[0]))
    return pd.DataFrame(columns, index=df.index)


def horizons_of(y: pd.Series | pd.DataFrame) -> list[int]:
    """Return the horizons in minutes of a target made by `make_target` ("30min" -> 30)."""
    if isinstance(y, pd.Series):
        names = [y.name]
    elif isinstance(y, pd.DataFrame):
        names = list(y.columns)
    else:
        raise DataValidationError(
            f"expected a Series or DataFrame from make_target, got {type(y).__name__}",
            code="bad_target", fix="build targets with dt1d.data.make_target(df, horizon)",
        )
    horizons = []
    for name in names:
        match = _HORIZON_NAME.match(name) if isinstance(name, str) else None
        if match is None:
            raise DataValidationError(
                f"target name {name!r} is not a horizon like '30min'",
                code="bad_target",
                fix="name targets '<minutes>min' or build them with dt1d.data.make_target",
            )
        horizons.append(int(match.group(1)))
    return horizons
