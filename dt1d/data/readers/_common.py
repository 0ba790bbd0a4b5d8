"""Shared reader plumbing: errors that name the file, time parsing, and the 5-min grid.

Every reader turns events (readings at instants, doses at instants, rates
over intervals) into a record on a regular grid: glucose readings are
averaged per step, amounts added per step, and rates integrated exactly over
each step ``[t, t + step)``. Grid work is done on UTC nanoseconds, so DST
changes cannot create duplicate or missing steps.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.schema import validate
from dt1d.exceptions import DataValidationError, ReaderError

logger = logging.getLogger(__name__)

_NS_PER_MIN = 60_000_000_000
_NS_PER_DAY = 86_400 * 1_000_000_000

#: Readings further apart than this (after sorting all timed events of a file) are refused:
#: the far side of the gap is taken for a typo (a year 2204 among 2024 rows) rather than
#: filled with an empty grid. Split a record with a real break this long into two files.
MAX_GAP = pd.Timedelta(days=90)
#: The longest span a record may cover (about 20 years; 2.1 million 5-minute steps).
MAX_SPAN = pd.Timedelta(days=7305)
#: Quoted input in error messages is cut to this many characters.
MAX_QUOTE = 80


def _quote(value: Any, limit: int = MAX_QUOTE) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the full length), for error messages.

    Every reader error that quotes input goes through here, so a 5 MB field
    gives a short message.
    """
    if isinstance(value, (str, bytes)) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    try:
        text = repr(value)
    except Exception:  # a hostile or deeply nested value must not replace the real error
        text = f"<{type(value).__name__}>"
    if len(text) > limit:
        return f"{text[:limit]}... ({len(text):,} characters)"
    return text


def _when(ns: int) -> str:
    """An int64 ns instant as text for a message."""
    return str(pd.Timestamp(int(ns)))


def _check_times(
    times_ns: Sequence[np.ndarray],
    path: Any = None,
    labels: Sequence[Sequence[Any] | None] | None = None,
    fields: Sequence[str | None] | None = None,
    paths: Sequence[Any] | None = None,
) -> None:
    """Refuse event times that would make a huge, mostly empty grid.

    All times of a file are sorted together; a gap over :data:`MAX_GAP`
    between consecutive ones, or a span over :data:`MAX_SPAN`, raises a
    :class:`ReaderError` naming the file and the outlying record: the one on
    the smaller side of the gap (a typo year is alone on its side).
    ``labels[k][i]`` names event ``i`` of group ``k`` (``fields[k]`` its field,
    ``paths[k]`` its file, else ``path``); without labels the event is named by its time.
    """
    groups = [np.asarray(t, dtype=np.int64) for t in times_ns]
    sizes = [g.size for g in groups]
    if sum(sizes) < 2:
        return
    all_ns = np.concatenate(groups)
    which = np.repeat(np.arange(len(groups)), sizes)
    within = np.concatenate([np.arange(n) for n in sizes])
    order = np.argsort(all_ns, kind="stable")
    ordered = all_ns[order]

    def name(j: int) -> tuple[Any, str | None, Any]:
        k, i = int(which[order[j]]), int(within[order[j]])
        label = None
        if labels is not None and k < len(labels) and labels[k] is not None:
            label = labels[k][i]
        field = fields[k] if fields is not None and k < len(fields) else None
        where = paths[k] if paths is not None and k < len(paths) else path
        return (label if label is not None else f"the event at {_when(ordered[j])}"), field, where

    # float64 differences: no int64 overflow for spans over 292 years
    gaps = np.diff(ordered.astype(np.float64))
    too_far = np.flatnonzero(gaps > float(MAX_GAP.value))
    if too_far.size:
        j = int(too_far[0])
        days = gaps[j] / _NS_PER_DAY
        left, right = j + 1, ordered.size - j - 1
        if right <= left:  # the later side is the smaller one: name its first event
            record, field, source = name(j + 1)
            other, _, _ = name(j)
            where = f"{days:,.0f} days ({days / 365.25:,.1f} years) after the one before it"
        else:
            record, field, source = name(j)
            other, _, _ = name(j + 1)
            where = f"{days:,.0f} days ({days / 365.25:,.1f} years) before the next one"
        raise ReaderError(
            source,
            f"time {_when(ordered[j + 1] if right <= left else ordered[j])} is {where} "
            f"({other}); times more than {MAX_GAP.days} days apart are refused",
            record=record,
            field=field,
            fix="correct the time (a typo in the year?), or split the record at the gap",
        )
    span = float(ordered[-1]) - float(ordered[0])
    if span > float(MAX_SPAN.value):
        record, field, source = name(ordered.size - 1)
        raise ReaderError(
            source,
            f"the record spans {span / _NS_PER_DAY / 365.25:,.1f} years, "
            f"more than the {MAX_SPAN.days / 365.25:.0f} years a record may cover",
            record=record,
            field=field,
            fix="split the record into shorter ones",
        )


def _step_ns(step: Any) -> int:
    """A positive grid step as integer nanoseconds."""
    try:
        delta = pd.Timedelta(step)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"step={step!r} is not a time span like '5min'") from exc
    if delta <= pd.Timedelta(0):
        raise ValueError(f"step={step!r} must be positive")
    return int(delta.value)


_NS_BOUNDS = "the years 1677 to 2262 that a nanosecond time can hold"


def _to_utc_ns(
    times: pd.DatetimeIndex | pd.Series,
    path: Any = None,
    labels: Sequence[Any] | None = None,
    field: str | None = None,
) -> np.ndarray:
    """Datetimes (naive or tz-aware) as int64 nanoseconds; tz-aware ones in UTC.

    A time outside 1677-2262 raises a :class:`ReaderError` naming its record.
    """
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC")
    try:
        return index.as_unit("ns").asi8.copy()
    except (OverflowError, pd.errors.OutOfBoundsDatetime, ValueError):
        pass
    lo, hi = pd.Timestamp.min, pd.Timestamp.max
    naive = index.tz_localize(None) if index.tz is not None else index
    outside = np.flatnonzero(np.asarray((naive < lo) | (naive > hi)))
    i = int(outside[0]) if outside.size else 0
    raise ReaderError(
        path,
        f"time {naive[i]} is outside {_NS_BOUNDS}",
        record=None if labels is None else labels[i],
        field=field,
        fix="correct the time (a typo in the year?)",
    )


def _stamp_ns(stamp: pd.Timestamp, path: Any, label: Any, field: str | None) -> int:
    """One parsed time as int64 ns (UTC when tz-aware), refusing years outside 1677-2262."""
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    try:
        return int(stamp.as_unit("ns").value)
    except (OverflowError, pd.errors.OutOfBoundsDatetime, ValueError):
        raise ReaderError(
            path,
            f"time {stamp} is outside {_NS_BOUNDS}",
            record=label,
            field=field,
            fix="correct the time (a typo in the year?)",
        ) from None


def _epoch_ms_ns(value: float, path: Any, label: Any, field: str) -> int:
    """Epoch milliseconds as int64 ns, refusing values outside 1677-2262 (1e30, ...)."""
    lo, hi = pd.Timestamp.min.value / 1e6, pd.Timestamp.max.value / 1e6
    if not np.isfinite(value) or not lo <= value <= hi:
        raise ReaderError(
            path,
            f"epoch time {_quote(value)} ms is outside {_NS_BOUNDS}",
            record=label,
            field=field,
        )
    return int(round(value)) * 1_000_000


def _check_tz(tz: Any, path: Any, record: Any = None, field: str | None = "tz") -> Any:
    """``tz`` itself when pandas knows the time zone, else a ReaderError naming it."""
    if tz is None:
        return None
    try:
        pd.Timestamp(0, tz="UTC").tz_convert(tz)
    except Exception:  # ZoneInfoNotFoundError, pytz's UnknownTimeZoneError, TypeError...
        raise ReaderError(
            path,
            f"time zone {_quote(tz)} is unknown",
            record=record,
            field=field,
            fix="use an IANA name such as 'Europe/Berlin' or 'UTC'",
        ) from None
    return tz


def _localize(
    times: pd.DatetimeIndex, tz: str | None, path: Any, field: str, labels: Sequence[Any]
) -> pd.DatetimeIndex:
    """Attach ``tz`` to naive local times (DST fall-back hours inferred from file order)."""
    if tz is None or times.tz is not None:
        return times
    _check_tz(tz, path)
    try:
        return times.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo raise several types
        raise ReaderError(
            path,
            f"local times cannot be placed in time zone {tz!r}: {exc}",
            field=field,
            fix="store times with a UTC offset, or keep the file in time order around DST changes",
        ) from exc


def _parse_times(
    values: Any, path: Any, field: str, labels: Sequence[Any], *, fmt: str | None = None
) -> pd.DatetimeIndex:
    """Parse a column of times, naming the first record that is missing or unparsable."""
    raw = pd.Series(values, dtype=object).reset_index(drop=True)
    missing = raw.isna() | (raw.astype(str).str.strip() == "")
    if missing.any():
        i = int(np.flatnonzero(missing.to_numpy())[0])
        raise ReaderError(path, "time is missing", record=labels[i], field=field)
    is_number = raw.map(
        lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
    )
    if is_number.all():
        # epoch milliseconds (Nightscout "date" fields)
        ms = raw.astype(float).to_numpy()
        ns = [_epoch_ms_ns(v, path, labels[i], field) for i, v in enumerate(ms)]
        return pd.DatetimeIndex(pd.to_datetime(np.array(ns, dtype=np.int64), unit="ns", utc=True))
    text = raw.astype(str).str.strip()
    has_offset = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True)
    try:
        if has_offset.any():
            if not has_offset.all():
                i = int(np.flatnonzero(~has_offset.to_numpy())[0])
                raise ReaderError(
                    path,
                    f"time {_quote(text[i])} has no UTC offset while others have one",
                    record=labels[i],
                    field=field,
                    fix="give every time an offset (or none)",
                )
            parsed = pd.to_datetime(text, format=fmt or "ISO8601", utc=True, errors="coerce")
        else:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    except ReaderError:
        raise
    except (ValueError, TypeError) as exc:
        raise ReaderError(path, f"times could not be parsed: {exc}", field=field) from exc
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ReaderError(
            path,
            f"time {_quote(text[i])} could not be parsed" + (f" with format {fmt!r}" if fmt else ""),
            record=labels[i],
            field=field,
        )
    return pd.DatetimeIndex(parsed)


def _parse_numbers(
    values: Any,
    path: Any,
    field: str,
    labels: Sequence[Any],
    *,
    allow_missing: bool = True,
    non_negative: bool = True,
) -> np.ndarray:
    """Parse a column of numbers; empty cells are NaN; bad or negative values name their record."""
    raw = pd.Series(values, dtype=object).reset_index(drop=True)
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    parsed = pd.to_numeric(raw.where(~blank, np.nan), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(parsed) & ~blank.to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ReaderError(path, f"value {_quote(raw[i])} is not a number", record=labels[i], field=field)
    if not allow_missing and blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        raise ReaderError(path, "value is missing", record=labels[i], field=field)
    if np.isinf(parsed).any():
        i = int(np.flatnonzero(np.isinf(parsed))[0])
        raise ReaderError(path, "value is infinite", record=labels[i], field=field)
    if non_negative and (parsed < 0).any():
        i = int(np.flatnonzero(parsed < 0)[0])
        raise ReaderError(path, f"value {parsed[i]:g} is negative", record=labels[i], field=field)
    return parsed


class _Grid:
    """A regular time grid from ``start_ns`` with ``n`` steps of ``step_ns`` (UTC ns).

    Built from every timed event of a file; :func:`_check_times` first refuses
    times far from all others (``path``, ``labels``, ``fields`` and ``paths``
    name the outlying event, as there).
    """

    def __init__(
        self,
        times_ns: Sequence[np.ndarray],
        step_ns: int,
        *,
        path: Any = None,
        labels: Sequence[Sequence[Any] | None] | None = None,
        fields: Sequence[str | None] | None = None,
        paths: Sequence[Any] | None = None,
    ) -> None:
        stacked = [np.asarray(t, dtype=np.int64) for t in times_ns if len(t)]
        if not stacked:
            raise ValueError("no timed events to build a grid from")
        # every reader builds its grid here: refuse typo years before allocating anything
        _check_times(times_ns, path, labels, fields, paths)
        all_ns = np.concatenate(stacked)
        self.step_ns = int(step_ns)
        self.start_ns = int(np.floor_divide(all_ns.min(), step_ns) * step_ns)
        last = int(np.floor_divide(all_ns.max(), step_ns) * step_ns)
        self.n = (last - self.start_ns) // step_ns + 1

    @property
    def edges_ns(self) -> np.ndarray:
        """Step boundaries, n + 1 of them."""
        return self.start_ns + self.step_ns * np.arange(self.n + 1, dtype=np.int64)

    def slot(self, times_ns: np.ndarray) -> np.ndarray:
        """Index of the step ``[t, t + step)`` holding each time."""
        return (np.asarray(times_ns, dtype=np.int64) - self.start_ns) // self.step_ns

    def mean_of(self, times_ns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Average of the known readings in each step; NaN where there is none."""
        values = np.asarray(values, dtype=float)
        keep = ~np.isnan(values)
        slots = self.slot(times_ns)[keep]
        total = np.bincount(slots, weights=values[keep], minlength=self.n)
        count = np.bincount(slots, minlength=self.n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def sum_of(self, times_ns: np.ndarray, amounts: np.ndarray) -> np.ndarray:
        """Sum of the amounts given at instants within each step."""
        amounts = np.nan_to_num(np.asarray(amounts, dtype=float))
        if len(amounts) == 0:
            return np.zeros(self.n)
        return np.bincount(self.slot(times_ns), weights=amounts, minlength=self.n)

    def integrate(
        self, starts_ns: np.ndarray, ends_ns: np.ndarray, rates_per_min: np.ndarray
    ) -> np.ndarray:
        """Amount delivered in each step by constant rates over non-overlapping intervals.

        Exact for piecewise-constant rates: the cumulative amount is piecewise
        linear with knots at the interval ends, so it is interpolated at the
        step edges and differenced. Parts of intervals outside the grid are dropped.
        """
        starts = np.asarray(starts_ns, dtype=np.int64)
        ends = np.asarray(ends_ns, dtype=np.int64)
        rates = np.asarray(rates_per_min, dtype=float)
        keep = (ends > starts) & (rates != 0)
        starts, ends, rates = starts[keep], ends[keep], rates[keep]
        if starts.size == 0:
            return np.zeros(self.n)
        order = np.argsort(starts, kind="stable")
        starts, ends, rates = starts[order], ends[order], rates[order]
        if (starts[1:] < ends[:-1]).any():
            raise ValueError("rate intervals overlap")
        # knots relative to the grid start, in minutes (float64 is exact to the ns for decades)
        origin = self.start_ns
        knots = np.empty(2 * starts.size)
        knots[0::2] = (starts - origin) / _NS_PER_MIN
        knots[1::2] = (ends - origin) / _NS_PER_MIN
        cum = np.empty(2 * starts.size)
        delivered = rates * (knots[1::2] - knots[0::2])
        cum[1::2] = np.cumsum(delivered)
        cum[0::2] = cum[1::2] - delivered
        edges = (self.edges_ns - origin) / _NS_PER_MIN
        at_edges = np.interp(edges, knots, cum, left=0.0, right=cum[-1])
        # differences of a running sum carry rounding noise (e.g. 3e-17 U in a step with
        # nothing delivered, which could even be negative); amounts are kept to 1e-12
        return np.maximum(np.round(np.diff(at_edges), 12), 0.0)

    def index(self, tz: Any) -> pd.DatetimeIndex:
        """The grid as a DatetimeIndex named ``time``: naive, or in ``tz`` (UTC-based)."""
        values = pd.to_datetime(self.edges_ns[:-1], unit="ns")
        if tz is not None:
            values = values.tz_localize("UTC").tz_convert(tz)
        return pd.DatetimeIndex(values, name="time")


def _finish(
    frame: pd.DataFrame, path: Any, *, units: str = "mg/dL", step_ns: int | None = None
) -> pd.DataFrame:
    """Validate the assembled record, turning a validation error into one naming the file."""
    try:
        return validate(
            frame, units=units, step=None if step_ns is None else pd.Timedelta(step_ns, unit="ns")
        )
    except ReaderError:
        raise
    except DataValidationError as exc:
        record = f"step {exc.rows[0]}" if exc.rows else None
        raise ReaderError(path, exc.problem, record=record, field=exc.column, fix=exc.fix) from exc


