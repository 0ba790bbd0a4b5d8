"""Reader for the ReplayBG-style CSV: ``t, glucose, cho, bolus, basal`` with rates per minute.

The layout of the example data of ReplayBG (Cappon et al., py_replay_bg):
``t`` as ``DD-Mon-YYYY HH:MM:SS`` (English month abbreviations), ``glucose``
in mg/dL (empty when missing), ``cho`` in g/min, ``bolus`` and ``basal`` in
U/min. Each row's rates hold for the whole row (one grid step), so the
amount in a row is rate x step. Label columns (``bolus_label``,
``cho_label``) are not part of the record.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from dt1d.data.readers._common import (
    ReaderError,
    _check_times,
    _finish,
    _parse_numbers,
    _quote,
    _stamp_ns,
)

__all__ = ["read_replaybg"]

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_REQUIRED = ("t", "glucose", "cho", "bolus", "basal")


def _parse_t(text: str, path: Path, record: str) -> int:
    """Parse ``DD-Mon-YYYY HH:MM:SS`` (locale-free month names) into naive int64 ns."""
    try:
        date, clock = text.strip().split(" ")
        day, month, year = date.split("-")
        hour, minute, second = (int(x) for x in clock.split(":"))
        stamp = pd.Timestamp(int(year), _MONTHS[month.lower()], int(day), hour, minute, second)
    except (ValueError, KeyError, OverflowError) as exc:
        raise ReaderError(
            path, f"time {_quote(text)} is not DD-Mon-YYYY HH:MM:SS", record=record, field="t"
        ) from exc
    return _stamp_ns(stamp, path, record, "t")


def _read_one(path: Path) -> pd.DataFrame:
    """One ReplayBG CSV as a frame of rates on its own times (not yet a record)."""
    reader = None
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column name
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            rows = list(reader)
    except csv.Error as exc:  # a field over the csv module's limit (128 KiB), a NUL byte...
        line = f"line {reader.line_num}" if reader is not None else None
        raise ReaderError(path, f"is not a readable CSV: {exc}", record=line) from exc
    except OSError as exc:
        raise ReaderError(path, f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ReaderError(path, f"is not UTF-8 text: {exc}") from exc
    if not rows:
        raise ReaderError(path, "is empty; expected a header t,glucose,cho,bolus,basal")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise ReaderError(
            path,
            f"header lacks column(s) {missing} (header is {header})",
            record="line 1",
            field=missing[0],
        )
    data = rows[1:]
    if not data:
        raise ReaderError(path, "has a header but no data rows")
    labels = [f"row {i + 1} (line {i + 2})" for i in range(len(data))]
    width = len(header)
    for i, row in enumerate(data):
        if len(row) != width:
            raise ReaderError(
                path, f"has {len(row)} fields, the header has {width}", record=labels[i]
            )
    col = {name: header.index(name) for name in _REQUIRED}
    ns = np.array([_parse_t(r[col["t"]], path, labels[i]) for i, r in enumerate(data)], np.int64)
    _check_times([ns], path, [labels], ["t"])
    times = pd.DatetimeIndex(pd.to_datetime(ns, unit="ns"))
    frame = pd.DataFrame(
        {
            name: _parse_numbers([r[col[name]] for r in data], path, name, labels)
            for name in ("glucose", "cho", "bolus", "basal")
        },
        index=times,
    )
    for name in ("cho", "bolus", "basal"):
        blank = np.isnan(frame[name].to_numpy())
        if blank.any():
            raise ReaderError(
                path,
                "rate is missing",
                record=labels[int(np.flatnonzero(blank)[0])],
                field=name,
                fix="write 0 for no carbs/insulin",
            )
    frame["_label"] = labels
    frame["_path"] = str(path)
    return frame


def read_replaybg(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """Read a ReplayBG-style CSV (or several consecutive ones) into a validated record.

    Rates become amounts per row: carbs (g) = cho (g/min) x step (min),
    bolus and basal (U) = rate (U/min) x step, insulin = bolus + basal. The
    rows must be on a regular grid, in time order, without duplicates; a
    list of paths (e.g. one file per day) is joined in the given order.
    """
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    if not paths:
        raise ValueError("no path given")
    parts = [_read_one(p) for p in paths]
    _check_times(
        [part.index.as_unit("ns").asi8 for part in parts],
        labels=[part["_label"].tolist() for part in parts],
        fields=["t"] * len(parts),
        paths=paths,
    )
    frame = pd.concat(parts)
    ns = frame.index.as_unit("ns").asi8
    diffs = np.diff(ns)
    where = paths[0] if len(paths) == 1 else ", ".join(str(p) for p in paths)
    if diffs.size and (diffs <= 0).any():
        i = int(np.flatnonzero(diffs <= 0)[0]) + 1
        kind = "repeats" if diffs[i - 1] == 0 else "goes back from"
        raise ReaderError(
            frame["_path"].iloc[i],
            f"time {frame.index[i]} {kind} the row before it",
            record=frame["_label"].iloc[i],
            field="t",
            fix="keep one row per time, in time order",
        )
    if diffs.size:
        values, counts = np.unique(diffs, return_counts=True)
        step_ns = int(values[np.argmax(counts)])
        if (diffs != step_ns).any():
            i = int(np.flatnonzero(diffs != step_ns)[0]) + 1
            raise ReaderError(
                frame["_path"].iloc[i],
                f"time {frame.index[i]} is off the {pd.Timedelta(step_ns, unit='ns')} grid "
                "(a gap or an uneven step before it)",
                record=frame["_label"].iloc[i],
                field="t",
                fix="ReplayBG files hold one row per step; fill gaps with empty glucose and 0 rates",
            )
    else:
        step_ns = int(pd.Timedelta("5min").value)
    step_min = step_ns / 60e9
    record = pd.DataFrame(
        {
            "glucose": frame["glucose"].to_numpy(),
            "carbs": frame["cho"].to_numpy() * step_min,
            "bolus": frame["bolus"].to_numpy() * step_min,
            "basal": frame["basal"].to_numpy() * step_min,
        },
        index=pd.DatetimeIndex(frame.index, name="time"),
    )
    record["insulin"] = record["bolus"] + record["basal"]
    return _finish(record, where, step_ns=step_ns)
