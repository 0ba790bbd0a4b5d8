"""Reader for Dexcom Clarity CSV exports (G6 and G7; mg/dL or mmol/L).

The layout of the CSV that Dexcom Clarity exports (one table, one row per
event; the columns as read by cgmquantify, cgmanalysis and iglu's
``read_raw_data``):

``Index, Timestamp (YYYY-MM-DDThh:mm:ss), Event Type, Event Subtype,
Patient Info, Device Info, Source Device ID, Glucose Value (mg/dL),
Insulin Value (u), Carb Value (grams), Duration (hh:mm:ss)``, and in newer
exports ``Glucose Rate of Change (mg/dL/min), Transmitter Time (Long
Integer), Transmitter ID``. mmol/L exports write ``(mmol/L)`` in the glucose
(and rate) header; that header is the only place the unit is read from.

The rows before the readings have no time: ``FirstName``, ``LastName``,
``DateOfBirth``, ``Device`` and ``Alert`` settings (whose glucose column holds
alert thresholds, not readings); they are skipped. Timed rows:

- ``EGV``: a sensor reading. ``Low`` and ``High`` (below 40 / above 400
  mg/dL, the sensor's reporting limits, also in mmol/L exports) become
  40 and 400 mg/dL with ``glucose_flag`` -1 / +1 (0 for a reading inside the
  limits; per step -1 when any reading was ``Low``, else +1 when any was ``High``);
- ``Insulin``: ``Fast-Acting`` into ``insulin``, ``Long-Acting`` into
  ``long_acting_insulin`` (U, never added into ``insulin``);
- ``Carbs``: grams into ``carbs``;
- ``Exercise``: ``exercise`` (minutes of exercise in the step, from the
  start over ``Duration``) and ``exercise_intensity`` (1 light, 2 medium,
  3 heavy; the highest in the step);
- ``Calibration``: meter glucose into ``calibration_glucose`` (mg/dL);
- ``Health`` and any other timed event type: counted per step in
  ``health_events`` / ``other_events`` (a warning names unknown types).

Exact duplicate rows (equal in every field read, ``Index`` aside) are kept once,
with a warning. Times are naive local times; ``tz=`` places them in a time
zone (see :mod:`dt1d.data.readers._localtime` for the DST rule).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.readers._common import (
    ReaderError,
    _check_tz,
    _finish,
    _Grid,
    _parse_numbers,
    _quote,
    _step_ns,
    _to_utc_ns,
)
from dt1d.data.readers._csvtable import _categories, _exact_duplicates, _numbers, _read_table, _Rows
from dt1d.data.readers._localtime import _localize_rows, _warn_if_clock_jumps
from dt1d.data.schema import MGDL_PER_MMOLL

logger = logging.getLogger(__name__)

__all__ = ["LOW_MGDL", "HIGH_MGDL", "read_dexcom_clarity"]

#: Glucose given for a ``Low`` reading (the sensor reports nothing below it) [mg/dL].
LOW_MGDL = 40.0
#: Glucose given for a ``High`` reading (the sensor reports nothing above it) [mg/dL].
HIGH_MGDL = 400.0

_TIME = "Timestamp (YYYY-MM-DDThh:mm:ss)"
_EVENT = "Event Type"
_SUBTYPE = "Event Subtype"
_INSULIN = "Insulin Value (u)"
_CARBS = "Carb Value (grams)"
_DURATION = "Duration (hh:mm:ss)"
_INDEX = "Index"
_GLUCOSE = re.compile(r"^Glucose Value \((?P<unit>[^)]*)\)$", re.IGNORECASE)
_RATE = re.compile(r"^Glucose Rate of Change \((?P<unit>[^)]*)\)$", re.IGNORECASE)
_UNITS = {"mg/dl": "mg/dL", "mmol/l": "mmol/L"}
_NOT_READ = {
    "Patient Info",
    "Device Info",
    "Source Device ID",
    "Transmitter Time (Long Integer)",
    "Transmitter ID",
}
_METADATA = {"firstname", "lastname", "dateofbirth", "device", "alert"}
_INSULIN_KINDS = {"fast-acting": "insulin", "long-acting": "long_acting_insulin"}
_INTENSITY = {"light": 1.0, "medium": 2.0, "heavy": 3.0}
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")
_NS_PER_MIN = 60_000_000_000


def _layout(path: Path, columns: list[str]) -> tuple[str, str, str]:
    """(time column, glucose column, unit) of a Clarity header, or an error naming what is wrong."""
    time_cols = [c for c in columns if c.lower().startswith("timestamp")]
    glucose_cols = [c for c in columns if _GLUCOSE.match(c)]
    missing = [c for c in (_EVENT, _SUBTYPE, _INSULIN, _CARBS) if c not in columns]
    if not time_cols or not glucose_cols or missing:
        from dt1d.data.readers._registry import looks_like

        lacks = ([] if time_cols else [_TIME]) + ([] if glucose_cols else ["Glucose Value (mg/dL)"])
        raise ReaderError(
            path,
            f"is not a Dexcom Clarity export: its header lacks {lacks + missing} "
            f"(header is {_quote(columns, 300)}){looks_like(path, 'dexcom_clarity')}",
            record="line 1",
            field=(lacks + missing)[0],
        )
    units = {_UNITS.get(_GLUCOSE.match(c).group("unit").strip().lower()) for c in glucose_cols}
    if None in units:
        bad = next(
            c
            for c in glucose_cols
            if _UNITS.get(_GLUCOSE.match(c).group("unit").strip().lower()) is None
        )
        raise ReaderError(
            path,
            f"glucose unit in {bad!r} is unknown (expected mg/dL or mmol/L)",
            record="line 1",
            field=bad,
        )
    if len(glucose_cols) > 1 or len(units) > 1:
        raise ReaderError(
            path,
            f"has several glucose columns {glucose_cols}: mg/dL and mmol/L mixed?",
            record="line 1",
            field=glucose_cols[1],
            fix="export again in one unit",
        )
    known = {_EVENT, _SUBTYPE, _INSULIN, _CARBS, _DURATION, _INDEX, *_NOT_READ}
    unknown = [
        c
        for c in columns
        if c not in known and c not in time_cols and c not in glucose_cols and not _RATE.match(c)
    ]
    if unknown:
        logger.warning(
            "%s: columns %s are not part of the Clarity layout and are not read", path, unknown
        )
    return time_cols[0], glucose_cols[0], units.pop()


def _parse_clock(text: pd.Series, path: Path, labels: _Rows, field: str) -> np.ndarray:
    """Clarity times (``YYYY-MM-DDThh:mm:ss``, or with a space / without seconds) as naive int64 ns."""
    parsed = pd.to_datetime(text, format=_TIME_FORMATS[0], errors="coerce")
    todo = parsed.isna().to_numpy()
    if todo.any():  # the other spellings (spaces, no seconds) on the few rows that need them
        parsed = parsed.astype("datetime64[us]")
        text = text.str.strip()
        for fmt in _TIME_FORMATS:
            got = pd.to_datetime(text[todo], format=fmt, errors="coerce")
            parsed[todo] = got
            todo = parsed.isna().to_numpy()
            if not todo.any():
                break
    if todo.any():
        i = int(np.flatnonzero(todo)[0])
        raise ReaderError(
            path,
            f"time {_quote(text.iloc[i])} is not a Clarity time",
            record=labels[i],
            field=field,
            fix="Clarity writes times as YYYY-MM-DDThh:mm:ss: export again rather than "
            "saving the file from a spreadsheet",
        )
    return _to_utc_ns(pd.DatetimeIndex(parsed), path, labels, field)


def _minutes(text: pd.Series, path: Path, labels: _Rows) -> np.ndarray:
    """``hh:mm:ss`` durations in minutes (NaN when blank)."""
    out = np.full(len(text), np.nan)
    for i, value in enumerate(text):
        if not value:
            continue
        parts = value.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            h, m, s = (int(p) for p in parts)
            if min(h, m, s) < 0 or m > 59 or s > 59:
                raise ValueError
        except ValueError:
            raise ReaderError(
                path, f"duration {_quote(value)} is not hh:mm:ss", record=labels[i], field=_DURATION
            ) from None
        out[i] = h * 60 + m + s / 60
    return out


def _exercise(
    grid: _Grid, start_ns: np.ndarray, minutes: np.ndarray, intensity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Minutes of exercise per step (overlapping sessions add) and the highest intensity in it.

    The minutes are exact: the number of sessions running is a step function
    of time, so its integral is piecewise linear between session starts and
    ends, interpolated at the step edges and differenced.
    """
    length = np.nan_to_num(minutes)
    end_ns = start_ns + np.round(length * _NS_PER_MIN).astype(np.int64)
    knots = np.concatenate([start_ns, end_ns])
    change = np.concatenate([np.ones(start_ns.size), -np.ones(end_ns.size)])
    order = np.argsort(knots, kind="stable")
    knots, change = knots[order], change[order]
    running = np.cumsum(change)[:-1]  # sessions running between consecutive knots
    origin = grid.start_ns
    at = (knots - origin) / _NS_PER_MIN
    area = np.concatenate([[0.0], np.cumsum(running * np.diff(at))])
    edges = (grid.edges_ns - origin) / _NS_PER_MIN
    spent = np.maximum(np.round(np.diff(np.interp(edges, at, area)), 12), 0.0)
    level = np.zeros(grid.n)
    first = grid.slot(start_ns)
    last = np.minimum(np.where(end_ns > start_ns, grid.slot(end_ns - 1), first), grid.n - 1)
    for a, b, grade in zip(first, last, np.nan_to_num(intensity), strict=True):
        level[a : b + 1] = np.maximum(level[a : b + 1], grade)
    return spent, level


def read_dexcom_clarity(
    path: str | os.PathLike[str], *, tz: str | None = None, step: Any = "5min"
) -> pd.DataFrame:
    """Read a Dexcom Clarity CSV export (G6 or G7, mg/dL or mmol/L) into a validated record.

    Returns glucose (mg/dL, mean per step), ``glucose_flag`` (-1 ``Low``,
    +1 ``High``, 0 otherwise), ``carbs`` (g), ``insulin`` (fast-acting U) and
    ``long_acting_insulin`` (U) per step of ``step``, plus ``exercise``,
    ``exercise_intensity``, ``calibration_glucose``, ``health_events`` and
    ``other_events`` when the file has such events. The index is naive local
    time, or in ``tz`` when given (DST changes handled, see the module docs).
    Raises :class:`ReaderError` naming the file, row and column of a bad cell.
    """
    source = Path(path)
    try:
        step_ns = _step_ns(step)
    except ValueError as exc:
        raise ReaderError(source, str(exc), field="step") from None
    tz = _check_tz(tz, source)
    layout: list[tuple[str, str, str]] = []

    def choose(header: list[str]) -> list[str]:
        layout.append(_layout(source, header))
        wanted = (layout[0][0], _EVENT, _SUBTYPE, layout[0][1], _INSULIN, _CARBS, _DURATION)
        return [c for c in wanted if c in header]

    loaded = _read_table(source, what="a Dexcom Clarity CSV export", title_lines=0, choose=choose)
    table = loaded.frame
    time_col, glucose_col, unit = layout[0]
    ids = (lambda line: loaded.cell(line, _INDEX)) if _INDEX in loaded.header else None
    every = _Rows(np.arange(len(table)), loaded.first_line, ids)

    codes, names = _categories(table[_EVENT], lower=True)

    def of_kind(*wanted: str) -> np.ndarray:
        return np.isin(names, list(wanted))[codes]

    metadata = of_kind(*_METADATA)
    timed = (table[time_col] != "").to_numpy()
    untimed_event = ~timed & ~metadata & ~of_kind("")
    if untimed_event.any():
        i = int(np.flatnonzero(untimed_event)[0])
        raise ReaderError(
            source,
            f"{table[_EVENT].iloc[i].strip()!r} row has no time",
            record=every[i],
            field=time_col,
        )
    keep = np.flatnonzero(timed & ~metadata)
    if keep.size == 0:
        raise ReaderError(source, "has no timed rows (no readings or events)", field=time_col)
    labels = every.subset(keep)
    kinds = names[codes[keep]]
    blank_kind = kinds == ""
    if blank_kind.any():
        raise ReaderError(
            source,
            "event type is missing",
            record=labels[int(np.flatnonzero(blank_kind)[0])],
            field=_EVENT,
        )
    naive_ns = _parse_clock(table[time_col].iloc[keep], source, labels, time_col)
    dup = _exact_duplicates(table, keep, naive_ns)
    if dup.any():
        logger.warning(
            "%s: %d exact duplicate rows (the first is %s) are read once",
            source,
            int(dup.sum()),
            labels[int(np.flatnonzero(dup)[0])],
        )
        keep, naive_ns, kinds = keep[~dup], naive_ns[~dup], kinds[~dup]
        labels = every.subset(keep)
    if tz is None:
        _warn_if_clock_jumps(
            naive_ns[kinds == "egv"], logger, source, every.subset(keep[kinds == "egv"])
        )
        times_ns = naive_ns
    else:
        times_ns = _localize_rows(naive_ns, tz, source, labels, time_col, pd.factorize(kinds)[0])

    kind_codes, kind_names = pd.factorize(kinds)

    def part(name: str) -> np.ndarray:
        found = np.flatnonzero(kind_names == name)
        return np.flatnonzero(kind_codes == found[0]) if found.size else np.zeros(0, dtype=np.int64)

    scale = MGDL_PER_MMOLL if unit == "mmol/L" else 1.0
    egv = part("egv")
    egv_labels = every.subset(keep[egv])
    gtext = table[glucose_col].iloc[keep[egv]]
    mgdl = _numbers(
        gtext,
        source,
        glucose_col,
        egv_labels,
        special={"low": -1.0, "high": -2.0},
        allow_missing=False,
    )
    low, high = mgdl == -1.0, mgdl == -2.0
    mgdl *= scale
    mgdl[low], mgdl[high] = LOW_MGDL, HIGH_MGDL

    cal = part("calibration")
    cal_mgdl = scale * _parse_numbers(
        table[glucose_col].iloc[keep[cal]].str.strip(),
        source,
        glucose_col,
        every.subset(keep[cal]),
        allow_missing=False,
    )

    ins = part("insulin")
    ins_labels = every.subset(keep[ins])
    subtype = table[_SUBTYPE].iloc[keep[ins]].str.strip().str.lower().to_numpy()
    unknown = ~np.isin(subtype, list(_INSULIN_KINDS))
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise ReaderError(
            source,
            f"insulin type {_quote(table[_SUBTYPE].iloc[keep[ins[i]]])} is neither Fast-Acting nor Long-Acting",
            record=ins_labels[i],
            field=_SUBTYPE,
        )
    units_u = _parse_numbers(
        table[_INSULIN].iloc[keep[ins]], source, _INSULIN, ins_labels, allow_missing=False
    )
    is_long = subtype == "long-acting"

    carb = part("carbs")
    grams = _parse_numbers(
        table[_CARBS].iloc[keep[carb]],
        source,
        _CARBS,
        every.subset(keep[carb]),
        allow_missing=False,
    )

    ex = part("exercise")
    ex_labels = every.subset(keep[ex])
    ex_min = (
        _minutes(table[_DURATION].iloc[keep[ex]].str.strip(), source, ex_labels)
        if _DURATION in table.columns
        else np.full(ex.size, np.nan)
    )
    if np.isnan(ex_min).any():
        logger.warning(
            "%s: %s: exercise has no duration: counted with 0 minutes",
            source,
            ex_labels[int(np.flatnonzero(np.isnan(ex_min))[0])],
        )
    grade = np.array(
        [_INTENSITY.get(s, np.nan) for s in table[_SUBTYPE].iloc[keep[ex]].str.strip().str.lower()],
        dtype=float,
    )

    health = part("health")
    known = {"egv", "calibration", "insulin", "carbs", "exercise", "health"}
    other = np.flatnonzero(~np.isin(kind_names, list(known))[kind_codes])
    if other.size:
        logger.warning(
            "%s: event types %s are not read; counted per step in 'other_events'",
            source,
            sorted(set(table[_EVENT].iloc[keep[other]].str.strip())),
        )

    groups_ns = [times_ns[g] for g in (egv, cal, ins, carb, ex, health, other)]
    group_labels = [every.subset(keep[g]) for g in (egv, cal, ins, carb, ex, health, other)]
    if egv.size == 0:
        raise ReaderError(source, "has no EGV (sensor glucose) rows", field=glucose_col)
    grid = _Grid(
        groups_ns, step_ns, path=source, labels=group_labels, fields=[time_col] * len(groups_ns)
    )
    egv_ns, cal_ns, ins_ns, carb_ns, ex_ns, health_ns, other_ns = groups_ns
    low_steps = grid.sum_of(egv_ns[low], np.ones(int(low.sum()))) > 0
    high_steps = grid.sum_of(egv_ns[high], np.ones(int(high.sum()))) > 0
    columns: dict[str, np.ndarray] = {
        "glucose": grid.mean_of(egv_ns, mgdl),
        "glucose_flag": np.where(low_steps, -1.0, np.where(high_steps, 1.0, 0.0)),
        "carbs": grid.sum_of(carb_ns, grams),
        "insulin": grid.sum_of(ins_ns[~is_long], units_u[~is_long]),
        "long_acting_insulin": grid.sum_of(ins_ns[is_long], units_u[is_long]),
    }
    if ex.size:
        columns["exercise"], columns["exercise_intensity"] = _exercise(grid, ex_ns, ex_min, grade)
    if cal.size:
        columns["calibration_glucose"] = grid.mean_of(cal_ns, cal_mgdl)
    if health.size:
        columns["health_events"] = grid.sum_of(health_ns, np.ones(health.size))
    if other.size:
        columns["other_events"] = grid.sum_of(other_ns, np.ones(other.size))
    record = _finish(pd.DataFrame(columns, index=grid.index(tz)), source, step_ns=step_ns)
    record.attrs["units_in_file"] = unit
    return record
