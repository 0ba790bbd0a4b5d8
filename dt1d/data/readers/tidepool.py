"""Reader for Tidepool JSON exports (the Tidepool device-data model).

A JSON array of data objects, each with a ``type`` and a ``time`` (UTC,
ISO 8601), as documented at https://tidepool.redocly.app/docs/device-data:

- ``cbg`` (CGM) and ``smbg`` (meter): ``value`` in ``units`` (``mmol/L``, as
  Tidepool stores every glucose, or ``mg/dL``); mmol/L is converted with
  Tidepool's own factor 18.01559, so stored values come back as the integers
  the device reported;
- ``basal``: an interval of ``duration`` ms at ``rate`` U/h, with
  ``deliveryType`` ``scheduled``, ``automated``, ``temp`` (a ``percent`` of
  the ``suppressed`` rate when no rate is given) or ``suspend`` (no delivery);
- ``bolus``: ``normal`` U at its time; ``square`` / ``extended`` spread
  ``extended`` U over ``duration`` ms; ``dual/square`` / ``combination`` both;
  ``automated`` as normal. Delivered amounts are read (``expected*`` fields are
  what was programmed);
- ``wizard``: ``carbInput`` (g) as carbs; ``food``:
  ``nutrition.carbohydrate.net`` (g) as carbs;
- ``insulin`` (injections): ``dose.total`` U, into ``long_acting_insulin``
  when ``formulation.simple.actingType`` is ``long`` or ``intermediate``,
  else into ``bolus``.

Objects with the same ``id`` are read once. Other data types (device
events, settings, activity) are kept per step as the text column
``tidepool_events`` (``type/subType``), not dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
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
    _localize,
    _quote,
    _stamp_ns,
    _step_ns,
)

logger = logging.getLogger(__name__)

__all__ = ["read_tidepool", "TIDEPOOL_MGDL_PER_MMOLL"]

#: Tidepool's own mg/dL per mmol/L (its data model stores glucose as mg/dL / 18.01559).
TIDEPOOL_MGDL_PER_MMOLL = 18.01559
_NS_PER_MS = 1_000_000
_NS_PER_MIN = 60_000_000_000
#: The longest basal interval or extended bolus the data model allows: five days.
MAX_DURATION_MS = 432_000_000
_UNITS = {"mmol/l": TIDEPOOL_MGDL_PER_MMOLL, "mmol": TIDEPOOL_MGDL_PER_MMOLL, "mg/dl": 1.0}
#: A glucose outside this range for its stated unit is refused (a unit mix-up).
_PLAUSIBLE = {"mmol/l": (0.5, 60.0), "mmol": (0.5, 60.0), "mg/dl": (10.0, 1100.0)}
_LONG_ACTING = {"long", "intermediate"}


def _load(path: Path) -> list[Mapping[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReaderError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if raw[:2] == b"PK":
        raise ReaderError(
            path,
            "is an Excel (XLSX) workbook, which this reader does not read",
            fix="export the Tidepool data as JSON",
        )
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        raise ReaderError(path, "is nested too deeply to be read as JSON") from None
    except (ValueError, UnicodeDecodeError) as exc:
        from dt1d.data.readers._registry import looks_like

        raise ReaderError(
            path, f"is not valid JSON: {_quote(str(exc), 200)}" + looks_like(path, "tidepool")
        ) from None
    if isinstance(data, Mapping) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise ReaderError(path, f"must be a JSON list of data objects, got {type(data).__name__}")
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ReaderError(
                path, f"is a {type(item).__name__}, not an object", record=f"entry {i}"
            )
    return data


def _get(item: Mapping[str, Any], dotted: str) -> Any:
    value: Any = item
    for key in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _number(
    item: Mapping[str, Any], key: str, path: Path, label: str, *, required: bool = False
) -> float | None:
    """A non-negative number at a dotted key (None when absent unless ``required``)."""
    value = _get(item, key)
    if value is None or value == "":
        if required:
            raise ReaderError(path, "is missing", record=label, field=key)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ReaderError(path, f"value {_quote(value)} is not a number", record=label, field=key)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ReaderError(
            path, f"value {_quote(value)} is not a number", record=label, field=key
        ) from None
    if not np.isfinite(number) or number < 0:
        raise ReaderError(path, f"value {_quote(value)} is out of range", record=label, field=key)
    return number


def _duration_ns(item: Mapping[str, Any], path: Path, label: str, *, required: bool) -> int:
    ms = _number(item, "duration", path, label, required=required)
    if ms is None:
        return 0
    if ms > MAX_DURATION_MS:
        raise ReaderError(
            path,
            f"duration {ms:g} ms is longer than the five days the data model allows",
            record=label,
            field="duration",
        )
    return int(round(ms)) * _NS_PER_MS


class _Times:
    """Times of the data objects: ``time`` (UTC), else ``deviceTime`` with its offset or ``tz``."""

    def __init__(self, path: Path, tz: Any) -> None:
        self.path, self.tz = path, tz
        self.naive: list[tuple[int, str, str]] = []  # (position, label, deviceTime) still to place

    def of(self, item: Mapping[str, Any], label: str, position: int) -> int | None:
        value = item.get("time")
        if value not in (None, ""):
            stamp = self._parse(value, label, "time")
            if stamp.tzinfo is None:
                raise ReaderError(
                    self.path,
                    f"time {_quote(value)} has no UTC offset",
                    record=label,
                    field="time",
                    fix="Tidepool times are UTC: end them with 'Z'",
                )
            return _stamp_ns(stamp, self.path, label, "time")
        device = item.get("deviceTime")
        if device in (None, ""):
            raise ReaderError(
                self.path,
                "has no time (looked for 'time' and 'deviceTime')",
                record=label,
                field="time",
            )
        stamp = self._parse(device, label, "deviceTime")
        offset = item.get("timezoneOffset")
        if stamp.tzinfo is None and offset not in (None, ""):
            minutes = _number(
                {"timezoneOffset": abs(offset) if isinstance(offset, (int, float)) else offset},
                "timezoneOffset",
                self.path,
                label,
            )
            sign = -1 if isinstance(offset, (int, float)) and offset < 0 else 1
            return _stamp_ns(stamp, self.path, label, "deviceTime") - sign * int(
                minutes * _NS_PER_MIN
            )
        if stamp.tzinfo is not None:
            return _stamp_ns(stamp, self.path, label, "deviceTime")
        if self.tz is None:
            raise ReaderError(
                self.path,
                f"local time {_quote(device)} has neither a UTC time nor a timezoneOffset",
                record=label,
                field="deviceTime",
                fix="pass tz= naming the time zone of the device",
            )
        self.naive.append((position, label, str(device)))
        return None

    def _parse(self, value: Any, label: str, field: str) -> pd.Timestamp:
        if not isinstance(value, str):
            raise ReaderError(
                self.path, f"time {_quote(value)} is not text", record=label, field=field
            )
        try:
            return pd.Timestamp(value.strip())
        except (ValueError, TypeError, OverflowError):
            raise ReaderError(
                self.path, f"time {_quote(value)} could not be parsed", record=label, field=field
            ) from None

    def place_naive(self) -> dict[int, int]:
        """UTC ns of the local-only times in ``tz`` (the repeated DST hour told apart by file order)."""
        if not self.naive:
            return {}
        labels = [x[1] for x in self.naive]
        try:
            local = pd.DatetimeIndex(pd.to_datetime([x[2] for x in self.naive]))
        except (ValueError, TypeError, OverflowError) as exc:
            raise ReaderError(
                self.path, f"local times could not be parsed: {exc}", field="deviceTime"
            ) from None
        aware = _localize(local, self.tz, self.path, "deviceTime", labels)
        return {
            x[0]: _stamp_ns(t, self.path, x[1], "deviceTime")
            for x, t in zip(self.naive, aware, strict=True)
        }


def _glucose(item: Mapping[str, Any], path: Path, label: str) -> float:
    value = _number(item, "value", path, label, required=True)
    units = item.get("units")
    key = str(units).strip().lower() if isinstance(units, str) else None
    if key not in _UNITS:
        raise ReaderError(
            path,
            f"glucose unit {_quote(units)} is unknown (expected 'mmol/L' or 'mg/dL')",
            record=label,
            field="units",
        )
    lo, hi = _PLAUSIBLE[key]
    if not lo <= value <= hi:
        other = "mg/dL" if key.startswith("mmol") else "mmol/L"
        raise ReaderError(
            path,
            f"glucose {value:g} is not plausible in {units} (a value in {other}?)",
            record=label,
            field="value",
        )
    return value * _UNITS[key]


def _basal_rate(item: Mapping[str, Any], path: Path, label: str) -> float:
    kind = item.get("deliveryType")
    if kind == "suspend":
        return 0.0
    if kind not in ("scheduled", "automated", "temp"):
        raise ReaderError(
            path,
            f"basal deliveryType {_quote(kind)} is unknown (expected scheduled, automated, temp or suspend)",
            record=label,
            field="deliveryType",
        )
    rate = _number(item, "rate", path, label)
    if rate is None and kind == "temp":
        percent = _number(item, "percent", path, label)
        base = _number(item, "suppressed.rate", path, label)
        if percent is not None and base is not None:
            return percent * base
    if rate is None:
        raise ReaderError(path, f"{kind} basal has no rate", record=label, field="rate")
    return rate


def read_tidepool(
    path: str | os.PathLike[str], *, tz: str | None = None, step: Any = "5min"
) -> pd.DataFrame:
    """Read a Tidepool JSON export into a validated record.

    The grid runs in absolute (UTC) time; the index is in ``tz``, else in the
    time zone of the latest ``upload`` object, else UTC. Objects with only a
    ``deviceTime`` are placed with their ``timezoneOffset``, else in ``tz``.
    CGM readings are averaged per step, boluses, carbs and injections added,
    basal intervals and extended boluses integrated exactly over each step.
    Raises :class:`ReaderError` naming the file, the entry and the field.
    """
    source = Path(path)
    step_ns = _step_ns(step)
    _check_tz(tz, source)
    items = _load(source)
    times = _Times(source, tz)

    seen: set[Any] = set()
    kept: list[tuple[int, str, Mapping[str, Any], int | None]] = []
    upload_tz = None
    dropped = 0
    for i, item in enumerate(items):
        kind = item.get("type")
        label = f"entry {i} ({kind})" if isinstance(kind, str) else f"entry {i}"
        if not isinstance(kind, str):
            raise ReaderError(
                source, f"type {_quote(kind)} is not a data type", record=label, field="type"
            )
        key = item.get("id")
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            key = json.dumps(item, sort_keys=True, default=str)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        if kind == "upload":
            if isinstance(item.get("timezone"), str):
                upload_tz = item["timezone"]
            continue
        if kind in ("pumpSettings", "cgmSettings"):  # settings, not events
            continue
        kept.append((i, label, item, times.of(item, label, i)))
    if dropped:
        logger.info("%s: %d data objects repeated (same id) were read once", source, dropped)
    placed = times.place_naive()
    kept = [(i, label, item, t if t is not None else placed[i]) for i, label, item, t in kept]

    g_t, g_v, g_l, s_t, s_v = [], [], [], [], []
    b_t, b_u, b_l, long_t, long_u = [], [], [], [], []
    c_t, c_g, c_l = [], [], []
    ext: list[tuple[int, int, float]] = []
    basal: list[tuple[int, int, float, str]] = []
    other: list[tuple[int, str]] = []
    bolus_ids = {item.get("id") for _, _, item, _ in kept if item.get("type") == "bolus"}
    for _, label, item, t in kept:
        kind = item["type"]
        if kind == "cbg":
            g_t.append(t)
            g_v.append(_glucose(item, source, label))
            g_l.append(label)
        elif kind == "smbg":
            s_t.append(t)
            s_v.append(_glucose(item, source, label))
        elif kind == "basal":
            basal.append(
                (
                    t,
                    t + _duration_ns(item, source, label, required=True),
                    _basal_rate(item, source, label),
                    label,
                )
            )
        elif kind == "bolus":
            _bolus(item, source, label, t, (b_t, b_u, b_l), ext)
        elif kind == "wizard":
            carbs = _number(item, "carbInput", source, label)
            if carbs and str(item.get("carbUnits", "grams")).lower() not in ("grams", "g"):
                raise ReaderError(
                    source,
                    f"carbs in {_quote(item.get('carbUnits'))} are not read (only grams)",
                    record=label,
                    field="carbUnits",
                )
            if carbs:
                c_t.append(t)
                c_g.append(carbs)
                c_l.append(label)
            embedded = item.get("bolus")
            if isinstance(embedded, Mapping) and embedded.get("id") not in bolus_ids:
                _bolus(embedded, source, f"{label} bolus", t, (b_t, b_u, b_l), ext)
        elif kind == "food":
            carbs = _number(item, "nutrition.carbohydrate.net", source, label)
            units = _get(item, "nutrition.carbohydrate.units")
            if carbs and units not in (None, "grams", "g"):
                raise ReaderError(
                    source,
                    f"carbohydrate units {_quote(units)} are not grams",
                    record=label,
                    field="nutrition.carbohydrate.units",
                )
            if carbs:
                c_t.append(t)
                c_g.append(carbs)
                c_l.append(label)
        elif kind == "insulin":
            dose = _number(item, "dose.total", source, label, required=True)
            acting = _get(item, "formulation.simple.actingType")
            if isinstance(acting, str) and acting.lower() in _LONG_ACTING:
                long_t.append(t)
                long_u.append(dose)
            else:
                b_t.append(t)
                b_u.append(dose)
                b_l.append(label)
        else:
            sub = item.get("subType")
            other.append((t, f"{kind}/{sub}" if isinstance(sub, str) else kind))

    if not g_t:
        raise ReaderError(
            source, "has no cbg (CGM) data", field="type", fix="export a period with CGM data"
        )
    as_ns = lambda x: np.array(x, dtype=np.int64)  # noqa: E731
    basal.sort()
    _check_times(
        [
            as_ns(g_t),
            as_ns(b_t),
            as_ns(c_t),
            as_ns([x[0] for x in basal]),
            as_ns([x[0] for x in ext]),
        ],
        source,
        [g_l, b_l, c_l, [x[3] for x in basal], None],
        ["time"] * 5,
    )
    grid = _Grid(
        [
            as_ns(g_t),
            as_ns(b_t),
            as_ns(c_t),
            as_ns(long_t),
            as_ns([x[0] for x in ext]),
            as_ns([x[0] for x in basal]),
        ],
        step_ns,
        path=source,
    )
    starts, ends, rates = (
        as_ns([x[0] for x in basal]),
        as_ns([x[1] for x in basal]),
        np.array([x[2] for x in basal]),
    )
    if starts.size > 1:
        overlap = np.flatnonzero(ends[:-1] > starts[1:])
        if overlap.size:
            logger.info(
                "%s: %d basal intervals overlap the next one; each ends where the next starts",
                source,
                overlap.size,
            )
            ends[:-1] = np.minimum(ends[:-1], starts[1:])
    bolus = grid.sum_of(as_ns(b_t), np.array(b_u, dtype=float))
    for s, e, u in ext:
        bolus = bolus + grid.integrate(
            np.array([s]), np.array([e]), np.array([u / ((e - s) / _NS_PER_MIN)])
        )
    out_tz = tz or upload_tz or "UTC"
    _check_tz(out_tz, source, field="timezone")
    record = pd.DataFrame(
        {
            "glucose": grid.mean_of(as_ns(g_t), np.array(g_v)),
            "carbs": grid.sum_of(as_ns(c_t), np.array(c_g, dtype=float)),
            "bolus": bolus,
            "basal": grid.integrate(starts, ends, rates / 60.0),
        },
        index=grid.index(out_tz),
    )
    record["insulin"] = record["bolus"] + record["basal"]
    if long_t:
        record["long_acting_insulin"] = grid.sum_of(as_ns(long_t), np.array(long_u, dtype=float))
    lo, hi = grid.edges_ns[0], grid.edges_ns[-1]
    if s_t:
        st_, sv = as_ns(s_t), np.array(s_v)
        inside = (st_ >= lo) & (st_ < hi)
        record["smbg"] = grid.mean_of(st_[inside], sv[inside])
    events = [(t, name) for t, name in other if lo <= t < hi]
    if events:
        column = np.full(grid.n, None, dtype=object)
        for slot, name in zip(
            grid.slot(as_ns([e[0] for e in events])), [e[1] for e in events], strict=True
        ):
            column[slot] = name if column[slot] is None else f"{column[slot]}; {name}"
        record["tidepool_events"] = column
    return _finish(record, source, step_ns=step_ns)


def _bolus(
    item: Mapping[str, Any],
    path: Path,
    label: str,
    t: int,
    instant: tuple[list[int], list[float], list[str]],
    extended: list[tuple[int, int, float]],
) -> None:
    """Add a bolus object's delivered insulin: ``normal`` now, ``extended`` over ``duration``."""
    sub = item.get("subType")
    if sub not in ("normal", "automated", "square", "extended", "dual/square", "combination"):
        raise ReaderError(
            path,
            f"bolus subType {_quote(sub)} is unknown (expected normal, automated, square, dual/square)",
            record=label,
            field="subType",
        )
    spread = sub in ("square", "extended", "dual/square", "combination")
    normal = _number(item, "normal", path, label, required=not spread)
    if sub in ("dual/square", "combination") and normal is None:
        raise ReaderError(path, "is missing", record=label, field="normal")
    if normal:
        instant[0].append(t)
        instant[1].append(normal)
        instant[2].append(label)
    if spread:
        units = _number(item, "extended", path, label, required=True)
        duration = _duration_ns(item, path, label, required=True)
        if units and duration > 0:
            extended.append((t, t + duration, units))
        elif units:  # an extended bolus of 0 duration is a normal bolus (data model)
            instant[0].append(t)
            instant[1].append(units)
            instant[2].append(label)


def sniff_tidepool(path: Path, head: bytes) -> bool:
    """Whether a file's first bytes look like a Tidepool JSON export."""
    text = head.lstrip()[:1]
    if text not in (b"[", b"{"):
        return False
    return b'"type"' in head and any(
        marker in head
        for marker in (b'"cbg"', b'"smbg"', b'"deliveryType"', b'"upload"', b'"uploadId"')
    )
