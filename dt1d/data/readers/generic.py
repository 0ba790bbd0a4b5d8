"""Generic tabular readers (CSV, Parquet) with a column mapping and units.

A file holds one row per event or per time step, with a time column and any
of glucose, carbs, insulin, bolus and basal. Amount columns are added into
the grid step holding their time; rate columns (``"U/h"``, ``"g/min"``, ...)
hold from their row until the next row with a value in that column (the
last one until the end of the record) and are integrated over each step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.readers._common import (
    ReaderError,
    _check_tz,
    _finish,
    _Grid,
    _localize,
    _parse_numbers,
    _parse_times,
    _step_ns,
    _to_utc_ns,
)

__all__ = ["read_csv", "read_parquet", "read_frame"]

_FIELDS = ("time", "glucose", "carbs", "insulin", "bolus", "basal", "patient_id")
_CARB_UNITS = {"g": None, "g/min": 1.0, "g/h": 1.0 / 60.0}
_INSULIN_UNITS = {"U": None, "U/min": 1.0, "U/h": 1.0 / 60.0}


def _unit_factor(field: str, unit: str) -> float | None:
    """None for an amount unit, else the factor turning the rate into per-minute."""
    table = _CARB_UNITS if field == "carbs" else _INSULIN_UNITS
    if unit not in table:
        raise ValueError(f"{field}_unit must be one of {sorted(table)}, got {unit!r}")
    return table[unit]


def _rate_intervals(
    times_ns: np.ndarray,
    rates: np.ndarray,
    end_ns: int,
    path: Any,
    field: str,
    labels: Sequence[Any],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intervals [t_i, t_next) of a rate column, from the rows that have a value."""
    known = ~np.isnan(rates)
    t, r = times_ns[known], rates[known]
    lab = [labels[i] for i in np.flatnonzero(known)]
    if t.size == 0:
        return t, t, r
    same = np.flatnonzero(np.diff(t) == 0)
    for i in same:
        if r[i] != r[i + 1]:
            raise ReaderError(
                path,
                f"two different rates ({r[i]:g} and {r[i + 1]:g}) at the same time",
                record=lab[i + 1],
                field=field,
                fix="keep one rate per time",
            )
    keep = np.r_[np.diff(t) != 0, True]
    t, r = t[keep], r[keep]
    ends = np.r_[t[1:], max(end_ns, int(t[-1]))]
    return t, ends, r


def _one_patient(
    table: pd.DataFrame,
    labels: list[str],
    mapping: Mapping[str, str],
    *,
    path: Any,
    units: str,
    factors: Mapping[str, float | None],
    time_format: str | None,
    tz: str | None,
    step_ns: int,
    keep: Sequence[str],
) -> pd.DataFrame:
    """Grid one patient's rows (in file order) into a record."""
    time_col = mapping["time"]
    raw_times = table[time_col]
    if pd.api.types.is_datetime64_any_dtype(raw_times.dtype):
        times = pd.DatetimeIndex(raw_times)
    else:
        times = _parse_times(raw_times.to_numpy(), path, time_col, labels, fmt=time_format)
    times = _localize(times, tz, path, time_col, labels)
    out_tz = tz if tz is not None else times.tz
    ns = _to_utc_ns(times, path, labels, time_col)
    order = np.argsort(ns, kind="stable")
    ns = ns[order]
    labels = [labels[i] for i in order]
    table = table.iloc[order]
    grid = _Grid([ns], step_ns, path=path, labels=[labels], fields=[time_col])
    end_ns = int(grid.edges_ns[-1])
    columns: dict[str, np.ndarray] = {}
    if "glucose" in mapping:
        g = _parse_numbers(table[mapping["glucose"]].to_numpy(), path, mapping["glucose"], labels)
        columns["glucose"] = grid.mean_of(ns, g)
    for field in ("carbs", "insulin", "bolus", "basal"):
        if field not in mapping:
            continue
        name = mapping[field]
        values = _parse_numbers(table[name].to_numpy(), path, name, labels)
        factor = factors[field]
        if factor is None:
            columns[field] = grid.sum_of(ns, values)
        else:
            starts, ends, rates = _rate_intervals(ns, values, end_ns, path, name, labels)
            columns[field] = grid.integrate(starts, ends, rates * factor)
    if "insulin" not in columns and ("bolus" in columns or "basal" in columns):
        columns["insulin"] = columns.get("bolus", 0.0) + columns.get("basal", 0.0)
    for name in keep:
        extra = _parse_numbers(table[name].to_numpy(), path, name, labels, non_negative=False)
        columns[name] = grid.mean_of(ns, extra)
    return pd.DataFrame(columns, index=grid.index(out_tz))


def read_frame(
    table: pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    units: str = "mg/dL",
    carbs_unit: str = "g",
    insulin_unit: str = "U",
    bolus_unit: str = "U",
    basal_unit: str = "U",
    time_format: str | None = None,
    tz: str | None = None,
    step: Any = "5min",
    keep: Sequence[str] = (),
    source: Any = None,
) -> pd.DataFrame:
    """Turn a table of timed rows into a validated record (the core of read_csv/read_parquet).

    ``columns`` maps dt1d names (time, glucose, carbs, insulin, bolus, basal,
    patient_id) to the table's column names; names absent from the mapping
    are looked up as is. ``units`` is the glucose unit (mg/dL or mmol/L);
    ``*_unit`` say whether a column is an amount ("g", "U") or a rate
    ("g/min", "g/h", "U/min", "U/h"). ``tz`` places naive times in a time zone
    (DST fall-back hours are told apart by file order) or converts
    offset-aware ones. ``keep`` names extra numeric columns to average per step.
    Rows may be unsorted; readings in one step are averaged, amounts added.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a DataFrame, got {type(table).__name__}")
    mapping: dict[str, str] = {}
    given = dict(columns or {})
    unknown = sorted(set(given) - set(_FIELDS))
    if unknown:
        raise ValueError(f"columns has unknown key(s) {unknown}; keys are {list(_FIELDS)}")
    for field in _FIELDS:
        name = given.get(field, field)
        if name in table.columns:
            mapping[field] = name
        elif field in given:
            raise ReaderError(
                source,
                f"column {name!r} (mapped to {field!r}) is not in the file; columns are {[str(c) for c in table.columns]}",
                field=name,
            )
    if "time" not in mapping:
        raise ReaderError(
            source,
            f"no time column (columns are {[str(c) for c in table.columns]})",
            field="time",
            fix="map it: columns={'time': 'your time column'}",
        )
    if "glucose" not in mapping:
        raise ReaderError(
            source,
            f"no glucose column (columns are {[str(c) for c in table.columns]})",
            field="glucose",
            fix="map it: columns={'glucose': 'your CGM column'}",
        )
    for name in keep:
        if name not in table.columns:
            raise ReaderError(source, f"column {name!r} to keep is not in the file", field=name)
    factors = {
        "carbs": _unit_factor("carbs", carbs_unit),
        "insulin": _unit_factor("insulin", insulin_unit),
        "bolus": _unit_factor("bolus", bolus_unit),
        "basal": _unit_factor("basal", basal_unit),
    }
    step_ns = _step_ns(step)
    _check_tz(tz, source)
    if len(table) == 0:
        raise ReaderError(source, "has no data rows")
    labels = [f"row {i + 1}" for i in range(len(table))]
    kwargs = dict(
        path=source,
        units=units,
        factors=factors,
        time_format=time_format,
        tz=tz,
        step_ns=step_ns,
        keep=tuple(keep),
    )
    if "patient_id" in mapping:
        ids = table[mapping["patient_id"]]
        if ids.isna().any():
            i = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise ReaderError(
                source, "patient id is missing", record=labels[i], field=mapping["patient_id"]
            )
        parts = []
        for pid in pd.unique(ids):
            rows = np.flatnonzero((ids == pid).to_numpy())
            part = _one_patient(table.iloc[rows], [labels[i] for i in rows], mapping, **kwargs)
            part.insert(0, "patient_id", pid)
            parts.append(part)
        record = pd.concat(parts)
    else:
        record = _one_patient(table, labels, mapping, **kwargs)
    return _finish(record, source, units=units, step_ns=step_ns)


def read_csv(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    units: str = "mg/dL",
    carbs_unit: str = "g",
    insulin_unit: str = "U",
    bolus_unit: str = "U",
    basal_unit: str = "U",
    time_format: str | None = None,
    tz: str | None = None,
    step: Any = "5min",
    keep: Sequence[str] = (),
    sep: str = ",",
) -> pd.DataFrame:
    """Read a CSV of timed rows into a validated record; see :func:`read_frame` for options.

    Errors name the file, the data row (``row 1`` is the first line after
    the header) and the column.
    """
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise ReaderError(path, "does not exist") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ReaderError(path, f"is not a readable CSV: {exc}") from exc
    return read_frame(
        table,
        columns=columns,
        units=units,
        carbs_unit=carbs_unit,
        insulin_unit=insulin_unit,
        bolus_unit=bolus_unit,
        basal_unit=basal_unit,
        time_format=time_format,
        tz=tz,
        step=step,
        keep=keep,
        source=os.fspath(path),
    )


def read_parquet(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    units: str = "mg/dL",
    carbs_unit: str = "g",
    insulin_unit: str = "U",
    bolus_unit: str = "U",
    basal_unit: str = "U",
    time_format: str | None = None,
    tz: str | None = None,
    step: Any = "5min",
    keep: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a Parquet table of timed rows into a validated record (needs pyarrow)."""
    try:
        table = pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise ReaderError(path, "does not exist") from exc
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading Parquet needs pyarrow: pip install 'dt1d[parquet]'") from exc
    except Exception as exc:  # pyarrow raises its own error types for damaged files
        raise ReaderError(path, f"is not a readable Parquet file: {exc}") from exc
    return read_frame(
        table,
        columns=columns,
        units=units,
        carbs_unit=carbs_unit,
        insulin_unit=insulin_unit,
        bolus_unit=bolus_unit,
        basal_unit=basal_unit,
        time_format=time_format,
        tz=tz,
        step=step,
        keep=keep,
        source=os.fspath(path),
    )
