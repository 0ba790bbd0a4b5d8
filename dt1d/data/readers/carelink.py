"""Reader for Medtronic CareLink CSV exports (MiniMed pumps and Guardian sensors).

Layout (CareLink "Data Export (CSV)", as read by the Tidepool uploader's
CareLink parser and the aidR R package; see ``docs/readers.md``):

- a preamble of metadata lines (patient, device, serial number, CGM), skipped;
- sections, each opened by a marker line whose first field starts with
  ``-------`` (``-------,MiniMed 780G MMT-1886,Pump,NG...,-------``; a
  ``Sensor`` section; on SmartGuard pumps an ``Aggregated Auto Insulin Data``
  section), then its own header line ``Index,Date,Time,...``, then rows,
  usually newest first;
- US exports are comma-separated with ``YYYY/MM/DD`` dates; other locales use
  ``;`` with decimal commas and other date orders.

Columns read (matched by name, so order and extra columns do not matter):
``Sensor Glucose (mg/dL)`` or ``(mmol/L)``; ``BG Reading`` (kept as
``bg_reading``, mg/dL); ``Basal Rate (U/h)`` (the rate from that row until the
next one); ``Temp Basal Amount`` / ``Type`` (``Percent`` of the basal rate or
an ``Insulin Rate`` in U/h) / ``Duration (h:mm:ss)``; ``Suspend`` (a
``*SUSPEND*`` state stops basal until ``NORMAL_PUMPING`` or a ``*RESUME*``
state); ``Bolus Type``, ``Bolus Volume Delivered (U)`` and ``Bolus Duration
(h:mm:ss)`` (``Normal`` and ``Dual (normal part)`` at their time; ``Square``
and ``Dual (square part)`` spread over their duration, shortened in
proportion when less was delivered than selected); ``BWZ Carb Input
(grams)``. Rows repeated across sections (same time and same values) are read
once. The daily totals of the aggregated auto-insulin section cannot be
placed in time: they are kept as ``auto_insulin_daily`` (U, at the day's
first step), never added into ``insulin``. Other columns with values are
kept as ``carelink_<name>`` columns (numbers: mean per step; text: the step's
distinct values joined by ``"; "``). Pump clock changes (``New Device Time``)
are kept that way too, not applied to the times.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.readers._common import (
    ReaderError,
    _check_times,
    _check_tz,
    _finish,
    _Grid,
    _quote,
    _step_ns,
    _to_utc_ns,
)
from dt1d.data.schema import MGDL_PER_MMOLL

logger = logging.getLogger(__name__)

__all__ = ["read_carelink"]

_NS_PER_MIN = 60_000_000_000
_MARKER = "-------"
#: Temp basals and square-wave boluses longer than this are refused (pumps allow 24 h / 8 h).
MAX_DURATION_MIN = 3 * 24 * 60
#: A glucose value above this in a mmol/L column is taken for mg/dL: the file is refused.
_MMOLL_MAX = 50.0
#: Date layouts tried, in order; the first under which every date of the file parses wins
#: (day-first and month-first slashes: the one that parses every date, else ``dayfirst``).
_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%m/%d/%y",
)
_DAYFIRST = {"%d/%m/%Y": True, "%m/%d/%Y": False, "%d/%m/%y": True, "%m/%d/%y": False}

_SG = re.compile(r"^Sensor Glucose \((mg/dL|mmol/L)\)$", re.I)
_BG = re.compile(r"^BG Reading \((mg/dL|mmol/L)\)$", re.I)
_BASAL = re.compile(r"^Basal Rate \(U/h\)$", re.I)
_TEMP_AMOUNT = re.compile(r"^Temp Basal Amount( \(.*\))?$", re.I)
_TEMP_TYPE = re.compile(r"^Temp Basal Type$", re.I)
_TEMP_DURATION = re.compile(r"^Temp Basal Duration \((h+:mm:ss|m|min)\)$", re.I)
_BOLUS_TYPE = re.compile(r"^Bolus Type$", re.I)
_BOLUS_SELECTED = re.compile(r"^Bolus Volume Selected \(U\)$", re.I)
_BOLUS_DELIVERED = re.compile(r"^Bolus Volume Delivered \(U\)$", re.I)
_BOLUS_DURATION = re.compile(r"^Bolus Duration \((h+:mm:ss|m|min)\)$", re.I)
_BOLUS_SOURCE = re.compile(r"^Bolus Source$", re.I)
_CARBS = re.compile(r"^BWZ Carb Input \((grams|g|exchanges)\)$", re.I)
_SUSPEND = re.compile(r"^Suspend$", re.I)
_ISIG = re.compile(r"^ISIG Value$", re.I)
_MAPPED = (
    _SG,
    _BG,
    _BASAL,
    _TEMP_AMOUNT,
    _TEMP_TYPE,
    _TEMP_DURATION,
    _BOLUS_TYPE,
    _BOLUS_SELECTED,
    _BOLUS_DELIVERED,
    _BOLUS_DURATION,
    _BOLUS_SOURCE,
    _CARBS,
    _SUSPEND,
    _ISIG,
    re.compile(r"^(Index|Date|Time)$", re.I),
)


@dataclass
class _Section:
    """One section of the export: its kind, header and rows (with their file line numbers)."""

    kind: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)


@dataclass
class _Table:
    """All rows of the file in one table of text cells (a column per header name)."""

    cells: dict[str, list[str]]
    labels: list[str]
    kinds: list[str]

    def column(self, pattern: re.Pattern[str]) -> list[tuple[str, list[str]]]:
        """(name, cells) of every column whose name matches ``pattern``."""
        return [(name, v) for name, v in self.cells.items() if pattern.match(name)]


# -- text to rows --------------------------------------------------------------------------------
def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReaderError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if b"\x00" in raw[:4096]:
        raise ReaderError(path, "is a binary file, not a CareLink CSV export")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # older exports from Windows


def _is_header(fields: Sequence[str]) -> bool:
    if not fields or fields[0].strip().strip('"').lower() not in ("index", "date"):
        return False
    names = {f.strip().lower() for f in fields}
    return "date" in names and "time" in names


def _delimiter(text: str, path: Path) -> str:
    for line in text.splitlines():
        for sep in (",", ";", "\t"):
            fields = [f.strip().strip('"') for f in line.split(sep)]
            if len(fields) > 2 and _is_header(fields):
                return sep
    from dt1d.data.readers._registry import looks_like

    raise ReaderError(
        path,
        "has no CareLink section header (a line starting 'Index,Date,Time')"
        + looks_like(path, "carelink"),
        fix="export the data from CareLink as CSV, unchanged",
    )


def _sections(text: str, path: Path, sep: str) -> tuple[list[_Section], str | None]:
    """The sections of the file and the device named in the first section marker."""
    reader = csv.reader(io.StringIO(text), delimiter=sep, strict=True)
    sections: list[_Section] = []
    kind, device = "pump", None
    current: _Section | None = None
    try:
        for fields in reader:
            line = reader.line_num
            first = fields[0].strip() if fields else ""
            if first.startswith(_MARKER):
                marker = " ".join(f.strip() for f in fields).lower()
                if "aggregated auto insulin" in marker:
                    kind = "auto_insulin"
                elif "sensor" in marker:
                    kind = "sensor"
                else:
                    kind = "pump"
                named = [
                    f.strip() for f in fields[1:] if f.strip() and not f.strip().startswith(_MARKER)
                ]
                if device is None and named:
                    device = named[0]
                current = None
                continue
            if fields and _is_header(fields):
                current = _Section(kind, [f.strip() for f in fields])
                sections.append(current)
                continue
            if current is None or not any(f.strip() for f in fields):
                continue  # the preamble, blank lines
            if len(fields) > len(current.header):
                raise ReaderError(
                    path,
                    f"has {len(fields)} fields where its section header has {len(current.header)}",
                    record=f"line {line}",
                    fix="export the file again: the layout of this row was changed",
                )
            current.rows.append(fields + [""] * (len(current.header) - len(fields)))
            current.lines.append(line)
            current.widths.append(len(fields))
    except csv.Error as exc:
        raise ReaderError(
            path,
            f"is not valid CSV: {exc}",
            record=f"line {reader.line_num}",
            fix="the file may be truncated",
        ) from None
    last = sections[-1] if sections else None
    if (
        last is not None
        and last.rows
        and not text.endswith(("\n", "\r"))
        and last.widths[-1] < len(last.header)
    ):
        raise ReaderError(
            path,
            f"ends in the middle of a row ({last.widths[-1]} of {len(last.header)} fields)",
            record=f"line {last.lines[-1]}",
            fix="the file is truncated: export it again",
        )
    return sections, device


def _table(sections: list[_Section], path: Path) -> _Table:
    """One table of every row, rows repeated across sections (same time and values) read once."""
    names: list[str] = []
    for sec in sections:
        for name in sec.header:
            if name and name not in names:
                names.append(name)
    frames = []
    for sec in sections:
        keep = [i for i, name in enumerate(sec.header) if name]
        frame = pd.DataFrame(
            [[row[i] for i in keep] for row in sec.rows],
            columns=[sec.header[i] for i in keep],
            dtype=object,
        )
        frame = frame.loc[:, ~frame.columns.duplicated()].reindex(columns=names, fill_value="")
        frame["_line"] = sec.lines
        frame["_kind"] = sec.kind
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    for name in names:
        table[name] = table[name].astype(str).str.strip()
    # the same time and values in every column but Index (auto-insulin totals kept apart)
    table["_auto"] = table["_kind"].eq("auto_insulin")
    repeated = table.duplicated(
        subset=[n for n in names if n.lower() != "index"] + ["_auto"]
    ).to_numpy()
    if repeated.any():
        logger.info(
            "%s: %d rows repeated across sections were read once", path, int(repeated.sum())
        )
        table = table.loc[~repeated].reset_index(drop=True)
    cells = {name: table[name].to_numpy(dtype=object) for name in names}
    labels = [f"line {n}" for n in table["_line"]]
    return _Table(cells, labels, table["_kind"].tolist())


# -- cells to values -----------------------------------------------------------------------------
def _numbers(
    cells: Sequence[str], path: Path, name: str, labels: Sequence[str], *, negative: bool = False
) -> np.ndarray:
    """Numbers of a column (decimal comma or point); NaN for empty cells; errors name the row."""
    raw = np.asarray(cells, dtype=object)
    blank = raw == ""
    values = np.full(raw.size, np.nan)
    filled = np.flatnonzero(~blank)
    text = pd.Series(raw, dtype=object)
    if filled.size:
        clean = pd.Series(raw[filled], dtype=object).astype(str)
        clean = clean.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
        comma = clean.str.contains(",", regex=False) & ~clean.str.contains(".", regex=False)
        clean = clean.where(~comma, clean.str.replace(",", ".", regex=False))
        values[filled] = pd.to_numeric(clean, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values) & ~blank)
    if bad.size:
        i = int(bad[0])
        raise ReaderError(
            path, f"value {_quote(text[i])} is not a number", record=labels[i], field=name
        )
    wrong = np.flatnonzero(np.isinf(values) | ((values < 0) & (not negative)))
    if wrong.size:
        i = int(wrong[0])
        raise ReaderError(
            path, f"value {_quote(text[i])} is out of range", record=labels[i], field=name
        )
    return values


def _minutes(cells: Sequence[str], path: Path, name: str, labels: Sequence[str]) -> np.ndarray:
    """Durations as minutes: ``h:mm:ss`` text, or plain minutes for a ``(m)`` column."""
    out = np.full(len(cells), np.nan)
    in_minutes = not name.lower().endswith(":mm:ss)")
    for i in np.flatnonzero(np.asarray(cells, dtype=object) != ""):
        text = cells[i]
        try:
            if in_minutes:
                value = float(text.replace(",", "."))
            else:
                parts = [int(p) for p in text.split(":")]
                if (
                    len(parts) != 3
                    or not (0 <= parts[1] < 60 and 0 <= parts[2] < 60)
                    or parts[0] < 0
                ):
                    raise ValueError
                value = parts[0] * 60 + parts[1] + parts[2] / 60
        except ValueError:
            raise ReaderError(
                path, f"duration {_quote(text)} is not h:mm:ss", record=labels[i], field=name
            ) from None
        if not 0 <= value <= MAX_DURATION_MIN:
            raise ReaderError(
                path,
                f"duration {_quote(text)} is longer than {MAX_DURATION_MIN // 1440} days",
                record=labels[i],
                field=name,
            )
        out[i] = value
    return out


def _times(table: _Table, path: Path, dayfirst: bool | None) -> pd.DatetimeIndex:
    """Naive local times of every row from its ``Date`` and ``Time`` cells."""
    date_col = next((n for n in table.cells if n.lower() == "date"), "Date")
    time_col = next((n for n in table.cells if n.lower() == "time"), "Time")
    dates = pd.Series(table.cells[date_col], dtype=object)
    times = pd.Series(table.cells[time_col], dtype=object)
    for col, values in ((date_col, dates), (time_col, times)):
        empty = np.flatnonzero((values == "").to_numpy())
        if empty.size:
            raise ReaderError(path, "is empty", record=table.labels[empty[0]], field=col)
    unique = pd.Series(dates.unique())
    fits = []
    for fmt in _DATE_FORMATS:
        parsed = pd.to_datetime(unique, format=fmt, errors="coerce")
        if not parsed.isna().any():
            fits.append(fmt)
    if not fits:
        best = min(
            _DATE_FORMATS,
            key=lambda f: pd.to_datetime(unique, format=f, errors="coerce").isna().sum(),
        )
        bad = pd.to_datetime(dates, format=best, errors="coerce").isna().to_numpy()
        i = int(np.flatnonzero(bad)[0])
        raise ReaderError(
            path,
            f"date {_quote(dates[i])} is in none of the date layouts read "
            f"({', '.join(f.replace('%', '') for f in _DATE_FORMATS)})",
            record=table.labels[i],
            field=date_col,
        )
    fmt = fits[0]
    both = [f for f in fits if f in _DAYFIRST]
    if fmt in _DAYFIRST and len({_DAYFIRST[f] for f in both}) > 1:
        if dayfirst is None:
            raise ReaderError(
                path,
                "dates fit both day/month and month/day order",
                field=date_col,
                fix="pass dayfirst=True (13/03/2024 layout) or dayfirst=False (03/13/2024)",
            )
        fmt = next(f for f in both if _DAYFIRST[f] == dayfirst)
    text = dates.str.cat(times.str.strip(), sep=" ")
    stamps = pd.to_datetime(text, format=f"{fmt} %H:%M:%S", errors="coerce")
    short = stamps.isna()
    if short.any():
        stamps[short] = pd.to_datetime(text[short], format=f"{fmt} %H:%M", errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise ReaderError(
            path, f"time {_quote(times[i])} is not HH:MM:SS", record=table.labels[i], field=time_col
        )
    return pd.DatetimeIndex(stamps)


def _localize_sections(naive: pd.DatetimeIndex, table: _Table, tz: Any, path: Path) -> np.ndarray:
    """UTC ns of naive pump-clock times in ``tz``; the repeated DST hour told apart by file order.

    Rows are in time order within a section (newest first in CareLink exports). In
    the repeated hour of a fall-back night the clock steps back once; rows before
    that step are the first pass (summer time), rows after it the second. A
    night whose rows never show the step is read as the first pass, with a
    warning naming the row. Times in the skipped hour of a spring-forward night
    are refused, naming their row.
    """
    local = pd.DatetimeIndex(naive)
    try:
        flags = local.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    except Exception as exc:
        raise ReaderError(
            path, f"times cannot be placed in time zone {tz!r}: {exc}", field="Time"
        ) from exc
    missing = np.flatnonzero(flags.isna())
    is_dst = np.ones(len(local), dtype=bool)
    if missing.size:
        nonexistent = local[missing].tz_localize(tz, ambiguous=True, nonexistent="NaT").isna()
        if nonexistent.any():
            i = int(missing[np.flatnonzero(nonexistent)[0]])
            raise ReaderError(
                path,
                f"time {local[i]} does not exist in time zone {tz} (the hour skipped at the change to summer time)",
                record=table.labels[i],
                field="Time",
                fix="check the pump clock around the DST change, or read without tz",
            )
        kinds = np.array(table.kinds)
        values = local.asi8
        for kind in np.unique(kinds[missing]):
            rows = np.flatnonzero(kinds == kind)  # this section's rows, in file order
            order = rows if _ascending(values[rows]) else rows[::-1]
            ambiguous = set(missing.tolist())
            stepped: dict[Any, bool] = {}
            previous = None
            for i in order:
                day = local[i].date()
                if i in ambiguous:
                    if (
                        previous is not None
                        and previous in ambiguous
                        and values[i] < values[previous]
                    ):
                        stepped[day] = True
                    is_dst[i] = not stepped.get(day, False)
                previous = i
            for day in {local[i].date() for i in order if i in ambiguous} - set(stepped):
                first = next(i for i in order if i in ambiguous and local[i].date() == day)
                logger.warning(
                    "%s: %s: time %s is in the hour repeated at the end of summer time and the rows "
                    "around it do not tell which pass; read as the first (summer time)",
                    path,
                    table.labels[first],
                    local[first],
                )
    aware = local.tz_localize(tz, ambiguous=is_dst, nonexistent="raise")
    return _to_utc_ns(aware, path, table.labels, "Time")


def _ascending(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return bool((steps > 0).sum() >= (steps < 0).sum())


def _snake(name: str) -> str:
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return f"carelink_{text or 'column'}"


# -- events to the grid --------------------------------------------------------------------------
def _suspensions(
    t: np.ndarray, cells: list[str], path: Path, name: str, labels: Sequence[str], end_ns: int
) -> list[tuple[int, int]]:
    """[start, end) of every suspension: a *SUSPEND* state until the next resume state."""
    states = []
    for i in np.flatnonzero(np.asarray(cells, dtype=object) != ""):
        text = cells[i]
        word = text.strip().upper().replace(" ", "_")
        if "RESUME" in word or "RESTART" in word or word == "NORMAL_PUMPING":
            states.append((t[i], False))
        elif "SUSPEND" in word:
            states.append((t[i], True))
        else:
            raise ReaderError(
                path,
                f"suspend state {_quote(text)} is unknown (expected a *SUSPEND* state or NORMAL_PUMPING)",
                record=labels[i],
                field=name,
            )
    states.sort()
    out, start = [], None
    for when, suspended in states:
        if suspended and start is None:
            start = when
        elif not suspended and start is not None:
            out.append((start, when))
            start = None
    if start is not None:
        logger.warning("%s: the pump is suspended at the end of the record", path)
        out.append((start, end_ns))
    return out


def _basal(
    grid: _Grid,
    rates: tuple[np.ndarray, np.ndarray],
    temps: list[tuple[int, int, float, bool]],
    suspended: list[tuple[int, int]],
) -> np.ndarray:
    """U per step from scheduled rates, temp basals (absolute or percent) and suspensions."""
    lo, hi = int(grid.edges_ns[0]), int(grid.edges_ns[-1])
    r_t, r_v = rates
    if suspended:  # rates logged while suspended (often 0) do not outlast the suspension
        s = np.array(suspended, dtype=np.int64)
        inside = ((r_t[:, None] >= s[None, :, 0]) & (r_t[:, None] < s[None, :, 1])).any(axis=1)
        r_t, r_v = r_t[~inside], r_v[~inside]
    order = np.argsort(r_t, kind="stable")
    r_t, r_v = r_t[order], r_v[order]
    temps = sorted(temps)
    t_s = np.array([x[0] for x in temps], dtype=np.int64)
    t_e = np.array([x[1] for x in temps], dtype=np.int64)
    if t_s.size > 1:
        t_e[:-1] = np.minimum(t_e[:-1], t_s[1:])  # a later temp basal replaces the one running
    s_s = np.array([x[0] for x in suspended], dtype=np.int64)
    s_e = np.array([x[1] for x in suspended], dtype=np.int64)
    breaks = np.unique(np.clip(np.concatenate([[lo, hi], r_t, t_s, t_e, s_s, s_e]), lo, hi))
    seg_s, seg_e = breaks[:-1], breaks[1:]
    mid = seg_s + (seg_e - seg_s) // 2
    rate_h = np.zeros(mid.size)
    if r_t.size:
        k = np.searchsorted(r_t, mid, side="right") - 1
        rate_h = np.where(k >= 0, r_v[np.clip(k, 0, None)], 0.0)
    if t_s.size:
        k = np.searchsorted(t_s, mid, side="right") - 1
        kk = np.clip(k, 0, None)
        active = (k >= 0) & (mid < t_e[kk])
        amount = np.array([x[2] for x in temps])[kk]
        percent = np.array([x[3] for x in temps])[kk]
        rate_h = np.where(active, np.where(percent, rate_h * amount / 100.0, amount), rate_h)
    if s_s.size:
        k = np.searchsorted(s_s, mid, side="right") - 1
        off = (k >= 0) & (mid < s_e[np.clip(k, 0, None)])
        rate_h = np.where(off, 0.0, rate_h)
    return grid.integrate(seg_s, seg_e, rate_h / 60.0)


def read_carelink(
    path: str | os.PathLike[str],
    *,
    tz: str | None = None,
    step: Any = "5min",
    dayfirst: bool | None = None,
    grams_per_exchange: float | None = None,
) -> pd.DataFrame:
    """Read a Medtronic CareLink CSV export into a validated record.

    Times are the pump's local clock: naive, or placed in ``tz`` (the record's
    index is then tz-aware, DST nights handled as :func:`_localize_sections`
    says). ``dayfirst`` settles slash dates that fit both orders;
    ``grams_per_exchange`` converts a ``BWZ Carb Input (exchanges)`` column.
    Sensor glucose is averaged per step (mmol/L converted with 18.0156), boluses
    and carbs added, square waves and basal integrated exactly over each step.
    Raises :class:`ReaderError` naming the file, the line and the column.
    """
    source = Path(path)
    step_ns = _step_ns(step)
    _check_tz(tz, source)
    text = _read_text(source)
    sep = _delimiter(text, source)
    sections, device = _sections(text, source, sep)
    if not any(s.rows for s in sections):
        raise ReaderError(
            source, "has section headers but no rows", fix="the file may be truncated"
        )
    table = _table(sections, source)
    labels = table.labels
    naive = _times(table, source, dayfirst)
    t = (
        _localize_sections(naive, table, tz, source)
        if tz is not None
        else _to_utc_ns(naive, source, labels, "Time")
    )
    kinds = np.array(table.kinds)

    def numbers(pattern: re.Pattern[str]) -> tuple[str, np.ndarray] | None:
        cols = table.column(pattern)
        if not cols:
            return None
        name, cells = cols[0]
        return name, _numbers(cells, source, name, labels)

    # glucose: one unit per file
    for name in table.cells:
        low = name.lower()
        if low.startswith(("sensor glucose", "bg reading")) and not (
            _SG.match(name) or _BG.match(name)
        ):
            raise ReaderError(
                source,
                f"glucose column {name!r} has an unknown unit (expected '(mg/dL)' or '(mmol/L)')",
                field=name,
            )
    g_cols = [(n, _numbers(c, source, n, labels)) for n, c in table.column(_SG)]
    used = [(n, v) for n, v in g_cols if not np.isnan(v).all()]
    if len(used) > 1:
        raise ReaderError(
            source,
            f"has sensor glucose in both {used[0][0]!r} and {used[1][0]!r}",
            field=used[1][0],
            fix="export the file in one glucose unit",
        )
    if not used:
        raise ReaderError(
            source,
            "has no sensor glucose readings",
            field="Sensor Glucose (mg/dL)",
            fix="export a period with sensor (CGM) data",
        )
    g_name, g_val = used[0]
    if "mmol" in g_name.lower():
        high = np.flatnonzero(g_val > _MMOLL_MAX)
        if high.size:
            raise ReaderError(
                source,
                f"value {g_val[high[0]]:g} is not a glucose in mmol/L (mg/dL in a mmol/L column?)",
                record=labels[high[0]],
                field=g_name,
            )
        g_val = g_val * MGDL_PER_MMOLL
    g_has = ~np.isnan(g_val)

    # boluses
    bolus_t, bolus_u = [np.zeros(0, np.int64)], [np.zeros(0)]
    square: list[tuple[int, int, float]] = []
    auto_t, auto_u = np.zeros(0, np.int64), np.zeros(0)
    delivered = numbers(_BOLUS_DELIVERED)
    if delivered is not None:
        d_name, d_val = delivered
        types = (table.column(_BOLUS_TYPE) or [("Bolus Type", [""] * len(labels))])[0]
        sources = (table.column(_BOLUS_SOURCE) or [("Bolus Source", [""] * len(labels))])[0][1]
        selected = numbers(_BOLUS_SELECTED)
        sel = selected[1] if selected else np.full(len(labels), np.nan)
        dur_col = table.column(_BOLUS_DURATION)
        dur = (
            _minutes(dur_col[0][1], source, dur_col[0][0], labels)
            if dur_col
            else np.full(len(labels), np.nan)
        )
        has = ~np.isnan(d_val) & (d_val > 0)
        auto = has & (
            (kinds == "auto_insulin") | np.array(["AUTO_INSULIN" in s.upper() for s in sources])
        )
        auto_t, auto_u = t[auto], d_val[auto]
        for i in np.flatnonzero(has & ~auto):
            kind = types[1][i].lower()
            if "square" in kind:
                if np.isnan(dur[i]) or dur[i] <= 0:
                    raise ReaderError(
                        source,
                        f"{types[1][i]!r} bolus has no duration",
                        record=labels[i],
                        field=dur_col[0][0] if dur_col else "Bolus Duration (h:mm:ss)",
                    )
                minutes = dur[i]
                if sel[i] > d_val[i]:  # stopped early: delivered at the programmed rate
                    minutes = dur[i] * d_val[i] / sel[i]
                square.append(
                    (int(t[i]), int(t[i] + round(minutes * _NS_PER_MIN)), float(d_val[i]))
                )
            elif kind == "" or "normal" in kind:
                bolus_t.append(t[i : i + 1])
                bolus_u.append(d_val[i : i + 1])
            else:
                raise ReaderError(
                    source,
                    f"bolus type {_quote(types[1][i])} is unknown (expected Normal, Square or Dual)",
                    record=labels[i],
                    field=types[0],
                )
    b_t, b_u = np.concatenate(bolus_t), np.concatenate(bolus_u)

    # carbs from the bolus wizard
    c_t, c_g = np.zeros(0, np.int64), np.zeros(0)
    carbs = numbers(_CARBS)
    if carbs is not None:
        c_name, c_val = carbs
        keep = ~np.isnan(c_val) & (c_val > 0)
        if "exchange" in c_name.lower() and keep.any():
            if grams_per_exchange is None:
                raise ReaderError(
                    source,
                    "carbs are in exchanges",
                    record=labels[np.flatnonzero(keep)[0]],
                    field=c_name,
                    fix="pass grams_per_exchange= (10, 12 or 15 g by country)",
                )
            c_val = c_val * float(grams_per_exchange)
        c_t, c_g = t[keep], c_val[keep]

    # basal: scheduled rates, temp basals, suspensions
    rate = numbers(_BASAL)
    r_t = np.zeros(0, np.int64)
    r_v = np.zeros(0)
    if rate is not None:
        keep = ~np.isnan(rate[1])
        r_t, r_v = t[keep], rate[1][keep]
    temps: list[tuple[int, int, float, bool]] = []
    amount = numbers(_TEMP_AMOUNT)
    if amount is not None:
        a_name, a_val = amount
        type_cells = (table.column(_TEMP_TYPE) or [("Temp Basal Type", [""] * len(labels))])[0][1]
        dur_col = table.column(_TEMP_DURATION)
        dur = (
            _minutes(dur_col[0][1], source, dur_col[0][0], labels)
            if dur_col
            else np.full(len(labels), np.nan)
        )
        for i in np.flatnonzero(~np.isnan(a_val)):
            kind = type_cells[i].lower()
            if "percent" in kind:
                is_percent = True
            elif "rate" in kind or "absolute" in kind:
                is_percent = False
            else:
                raise ReaderError(
                    source,
                    f"temp basal type {_quote(type_cells[i])} is unknown (expected Percent or Insulin Rate)",
                    record=labels[i],
                    field="Temp Basal Type",
                )
            if np.isnan(dur[i]):
                raise ReaderError(
                    source,
                    "temp basal has no duration",
                    record=labels[i],
                    field=dur_col[0][0] if dur_col else "Temp Basal Duration (h:mm:ss)",
                )
            temps.append(
                (int(t[i]), int(t[i] + round(dur[i] * _NS_PER_MIN)), float(a_val[i]), is_percent)
            )

    # every row has a time: a typo year anywhere (a suspend, an alarm) is refused naming its line
    _check_times([t], source, [labels], ["Date"])
    timed = [
        t[g_has],
        b_t,
        c_t,
        r_t,
        np.array([x[0] for x in square], np.int64),
        np.array([x[0] for x in temps], np.int64),
    ]
    grid = _Grid(timed, step_ns, path=source)
    suspend_col = table.column(_SUSPEND)
    suspended = (
        _suspensions(
            t, suspend_col[0][1], source, suspend_col[0][0], labels, int(grid.edges_ns[-1])
        )
        if suspend_col
        else []
    )
    in_grid = (t >= grid.edges_ns[0]) & (t < grid.edges_ns[-1])

    bolus = grid.sum_of(b_t, b_u)
    for s, e, u in square:
        bolus = bolus + grid.integrate(
            np.array([s]), np.array([e]), np.array([u / ((e - s) / _NS_PER_MIN)])
        )
    record = pd.DataFrame(
        {
            "glucose": grid.mean_of(t[g_has], g_val[g_has]),
            "carbs": grid.sum_of(c_t, c_g),
            "bolus": bolus,
            "basal": _basal(grid, (r_t, r_v), temps, suspended),
        },
        index=grid.index(tz),
    )
    record["insulin"] = record["bolus"] + record["basal"]

    # what is kept beside the record
    bg = numbers(_BG)
    if bg is not None and not np.isnan(bg[1]).all():
        factor = MGDL_PER_MMOLL if "mmol" in bg[0].lower() else 1.0
        keep = ~np.isnan(bg[1]) & in_grid
        record["bg_reading"] = grid.mean_of(t[keep], bg[1][keep] * factor)
    isig = numbers(_ISIG)
    if isig is not None and not np.isnan(isig[1]).all():
        keep = ~np.isnan(isig[1]) & in_grid
        record["isig"] = grid.mean_of(t[keep], isig[1][keep])
    if auto_t.size:
        keep = (auto_t >= grid.edges_ns[0]) & (auto_t < grid.edges_ns[-1])
        record["auto_insulin_daily"] = grid.sum_of(auto_t[keep], auto_u[keep])
        logger.warning(
            "%s: SmartGuard auto insulin is given as daily totals only: kept as "
            "'auto_insulin_daily', not added into 'insulin'",
            source,
        )
    _keep_other_columns(record, table, t, grid, in_grid)
    out = _finish(record, source, step_ns=step_ns)
    if device:
        out.attrs["device"] = device
    return out


def _keep_other_columns(
    record: pd.DataFrame, table: _Table, t: np.ndarray, grid: _Grid, in_grid: np.ndarray
) -> None:
    """Columns not read into the record, kept as ``carelink_<name>`` (mean, or text joined)."""
    slots = grid.slot(t)
    for name, cells in table.cells.items():
        if not name or any(p.match(name) for p in _MAPPED):
            continue
        filled = (np.asarray(cells, dtype=object) != "") & in_grid
        if not filled.any():
            continue
        column = _snake(name)
        if column in record.columns:
            continue
        values = [cells[i] for i in np.flatnonzero(filled)]
        numeric = pd.to_numeric(pd.Series([v.replace(",", ".") for v in values]), errors="coerce")
        if not numeric.isna().any():
            record[column] = grid.mean_of(t[filled], numeric.to_numpy(dtype=float))
            continue
        joined = np.full(grid.n, None, dtype=object)
        for slot, value in zip(slots[filled], values, strict=True):
            if joined[slot] is None:
                joined[slot] = value
            elif value not in joined[slot].split("; "):
                joined[slot] = f"{joined[slot]}; {value}"
        record[column] = joined


def sniff_carelink(path: Path, head: bytes) -> bool:
    """Whether a file's first bytes look like a CareLink export (a section marker or header)."""
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()[:400]
    marker = any(line.lstrip('"').startswith(_MARKER) for line in lines)
    header = any(
        line.lstrip('"').startswith("Index")
        and ("Sensor Glucose (" in line or "Bolus Volume Delivered (U)" in line)
        for line in lines
    )
    return header or (marker and ("MiniMed" in text or "Guardian" in text))
