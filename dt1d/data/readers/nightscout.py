"""Reader for Nightscout exports: ``entries`` (CGM) and ``treatments`` JSON, plus the profile.

Follows the Nightscout REST API v1 documents (https://nightscout.github.io):

- entries: ``{"type": "sgv", "sgv": 123, "date": <epoch ms>, "dateString": ...}``;
  Nightscout stores ``sgv`` in mg/dL whatever the display units. Other
  entry types (``mbg`` meter readings, ``cal``) are skipped.
- treatments: ``{"eventType": ..., "created_at": ISO time, ...}`` with
  ``insulin`` (U, any bolus), ``carbs`` (g), and for ``"Temp Basal"`` a
  ``duration`` (min) and ``absolute`` or ``rate`` (U/h) or ``percent`` (change
  from the profile basal); ``"Combo Bolus"`` adds an extended part of
  ``relative`` U/h over ``duration`` minutes.
- profile: the ``/api/v1/profile`` document (or a list of them, each valid
  from its ``startDate``) whose ``store[defaultProfile]["basal"]`` schedule
  (U/h from local ``"HH:MM"``) applies in the profile's ``timezone``.

Basal delivered per step: the temp basal running at that moment, else the
profile's scheduled rate; a temp basal ends at its duration or when the next
temp basal starts (the later one cancels the earlier; duration 0 cancels).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.readers._common import (
    ReaderError,
    _check_times,
    _check_tz,
    _epoch_ms_ns,
    _finish,
    _Grid,
    _quote,
    _stamp_ns,
    _step_ns,
)

logger = logging.getLogger(__name__)

__all__ = ["read_nightscout"]

_NS_PER_MIN = 60_000_000_000
#: Temp basals and extended boluses longer than this are refused (pumps allow at most 72 h).
MAX_DURATION_MIN = 7 * 24 * 60


def _load_json(path: Any, what: str) -> Any:
    """Parse a JSON file (or pass through already-parsed data)."""
    if not isinstance(path, (str, os.PathLike)):
        return path
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError as exc:
        raise ReaderError(path, f"{what} file does not exist") from exc
    except RecursionError:
        raise ReaderError(path, "is nested too deeply to be read as JSON") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, too-long integers
        raise ReaderError(path, f"is not valid JSON: {_quote(str(exc), 200)}") from exc


def _as_list(data: Any, path: Any, what: str) -> list[dict[str, Any]]:
    """A list of JSON objects, naming the first entry that is not an object."""
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise ReaderError(path, f"{what} must be a JSON list of objects, got {type(data).__name__}")
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise ReaderError(
                path, f"is a {type(item).__name__}, not an object", record=f"entry {i}"
            )
    return data


def _number(
    item: Mapping[str, Any], key: str, path: Any, label: str, *, allow_negative: bool = False
) -> float | None:
    """A numeric field of a JSON object (None when absent), or an error naming it."""
    value = item.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ReaderError(
            path, f"value {_quote(value)} is not a number", record=label, field=key
        ) from None
    if not np.isfinite(number) or (number < 0 and not allow_negative):
        raise ReaderError(path, f"value {_quote(value)} is out of range", record=label, field=key)
    return number


def _time_of(item: Mapping[str, Any], keys: Sequence[str], path: Any, label: str) -> pd.Timestamp:
    """The time of a JSON object from the first of ``keys`` it has (ISO text or epoch ms)."""
    for key in keys:
        value = item.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return pd.Timestamp(_epoch_ms_ns(float(value), path, label, key), unit="ns", tz="UTC")
        if not isinstance(value, str):
            raise ReaderError(
                path, f"time {_quote(value)} is not text or a number", record=label, field=key
            )
        try:
            return pd.Timestamp(value.strip())
        except (ValueError, TypeError, OverflowError):
            raise ReaderError(
                path, f"time {_quote(value)} could not be parsed", record=label, field=key
            ) from None
    raise ReaderError(path, f"has no time (looked for {list(keys)})", record=label, field=keys[0])


def _utc_ns(stamp: pd.Timestamp, path: Any, label: str, field: str) -> int:
    """A parsed time as UTC nanoseconds; naive times are refused (ambiguous in Nightscout)."""
    if stamp.tzinfo is None:
        raise ReaderError(
            path,
            f"time {stamp} has no UTC offset",
            record=label,
            field=field,
            fix="Nightscout times are UTC: end them with 'Z' or an offset",
        )
    return _stamp_ns(stamp, path, label, field)


def _read_entries(data: Any, path: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(UTC ns, sgv mg/dL, labels) of the sgv entries, exact duplicates removed."""
    items = _as_list(data, path, "entries")
    times, values, labels, seen = [], [], [], set()
    for i, item in enumerate(items):
        label = f"entry {i}"
        kind = item.get("type", "sgv")
        if kind != "sgv":
            continue
        sgv = _number(item, "sgv", path, label)
        if sgv is None:
            raise ReaderError(path, "sgv entry has no 'sgv' value", record=label, field="sgv")
        if "date" in item and item["date"] not in (None, ""):
            date = _number(item, "date", path, label)
            t = _epoch_ms_ns(date, path, label, "date")
        else:
            t = _utc_ns(
                _time_of(item, ("dateString", "sysTime"), path, label), path, label, "dateString"
            )
        if (t, sgv) in seen:
            continue
        seen.add((t, sgv))
        times.append(t)
        values.append(sgv)
        labels.append(label)
    if not times:
        raise ReaderError(path, "has no sgv entries", field="sgv")
    return np.array(times, dtype=np.int64), np.array(values, dtype=float), labels


def _duration(item: Mapping[str, Any], path: Any, label: str) -> float | None:
    """A treatment's ``duration`` in minutes (None when absent), at most MAX_DURATION_MIN."""
    duration = _number(item, "duration", path, label)
    if duration is not None and duration > MAX_DURATION_MIN:
        raise ReaderError(
            path,
            f"duration {duration:g} min is longer than {MAX_DURATION_MIN // 1440} days",
            record=label,
            field="duration",
        )
    return duration


def _hhmm_seconds(text: Any, path: Any, label: str) -> int:
    """Seconds after local midnight of a profile ``"HH:MM"``."""
    try:
        hours, minutes = str(text).split(":")[:2]
        seconds = int(hours) * 3600 + int(minutes) * 60
    except ValueError:
        raise ReaderError(path, f"time {_quote(text)} is not HH:MM", record=label, field="time") from None
    if not 0 <= seconds < 86400:
        raise ReaderError(path, f"time {_quote(text)} is not within a day", record=label, field="time")
    return seconds


class _Schedule:
    """A profile's basal schedule (U/h by local time of day) in its time zone, valid from a time."""

    def __init__(self, doc: Mapping[str, Any], path: Any, label: str, tz: str | None) -> None:
        store = doc.get("store")
        if isinstance(store, Mapping):
            name = doc.get("defaultProfile") or next(iter(store), None)
            if name not in store:
                raise ReaderError(
                    path,
                    f"default profile {_quote(name)} is not in the store",
                    record=label,
                    field="defaultProfile",
                )
            profile = store[name]
            label = f"{label} store[{_quote(name)}]"
        else:
            profile = doc  # a bare profile with a "basal" list
        basal = profile.get("basal") if isinstance(profile, Mapping) else None
        if not isinstance(basal, list) or not basal:
            raise ReaderError(path, "profile has no basal schedule", record=label, field="basal")
        pairs = []
        for j, slot in enumerate(basal):
            slot_label = f"{label} basal[{j}]"
            if not isinstance(slot, Mapping):
                raise ReaderError(path, "is not an object", record=slot_label)
            if "timeAsSeconds" in slot:
                value = _number(slot, "timeAsSeconds", path, slot_label)
                if value is None or not 0 <= value < 86400:
                    raise ReaderError(
                        path,
                        f"timeAsSeconds {_quote(slot.get('timeAsSeconds'))} is not within a day",
                        record=slot_label,
                        field="timeAsSeconds",
                    )
                seconds = int(value)
            else:
                seconds = _hhmm_seconds(slot.get("time"), path, slot_label)
            rate = _number(slot, "value", path, slot_label)
            if rate is None:
                raise ReaderError(path, "basal rate is missing", record=slot_label, field="value")
            pairs.append((seconds, rate))
        pairs.sort()
        if pairs[0][0] != 0:
            pairs.insert(0, (0, pairs[-1][1]))  # before the first entry, yesterday's last rate
        self.seconds = np.array([p[0] for p in pairs], dtype=np.int64)
        self.rates_per_h = np.array([p[1] for p in pairs], dtype=float)
        self.tz = profile.get("timezone") or doc.get("timezone") or tz or "UTC"
        _check_tz(self.tz, path, label, "timezone")
        start = doc.get("startDate") or doc.get("created_at")
        self.start_ns = (
            _utc_ns(
                _time_of(doc, ("startDate", "created_at"), path, label), path, label, "startDate"
            )
            if start
            else np.iinfo(np.int64).min
        )

    def change_points(self, lo_ns: int, hi_ns: int) -> np.ndarray:
        """UTC ns of every scheduled rate change between lo and hi (local midnights + offsets)."""
        lo = pd.Timestamp(lo_ns, tz="UTC").tz_convert(self.tz).normalize() - pd.Timedelta(days=1)
        hi = pd.Timestamp(hi_ns, tz="UTC").tz_convert(self.tz).normalize() + pd.Timedelta(days=1)
        days = pd.date_range(lo.tz_localize(None), hi.tz_localize(None), freq="D")
        local = (days.values[:, None] + self.seconds[None, :].astype("timedelta64[s]")).ravel()
        stamps = pd.DatetimeIndex(local).tz_localize(
            self.tz, ambiguous=True, nonexistent="shift_forward"
        )
        return np.unique(stamps.tz_convert("UTC").as_unit("ns").asi8)

    def rate_per_min(self, t_ns: np.ndarray) -> np.ndarray:
        """Scheduled rate (U/min) at UTC instants, by local time of day."""
        local = pd.DatetimeIndex(pd.to_datetime(t_ns, unit="ns", utc=True)).tz_convert(self.tz)
        seconds = (local.hour * 3600 + local.minute * 60 + local.second).to_numpy()
        k = np.searchsorted(self.seconds, seconds, side="right") - 1
        return self.rates_per_h[k] / 60.0


def _read_profiles(data: Any, path: Any, tz: str | None) -> list[_Schedule]:
    """Schedules sorted by the time they start to apply."""
    if data is None:
        return []
    items = _as_list(data, path, "profile")
    schedules = [_Schedule(doc, path, f"entry {i}", tz) for i, doc in enumerate(items)]
    return sorted(schedules, key=lambda s: s.start_ns)


def _treatments(data: Any, path: Any) -> list[tuple[int, str, dict[str, Any]]]:
    """(UTC ns, label, object) of the treatments, exact duplicates dropped, in time order."""
    items = _as_list(data, path, "treatments")
    out, seen = [], set()
    for i, item in enumerate(items):
        label = f"entry {i}"
        stamp = _time_of(item, ("created_at", "timestamp", "date", "mills"), path, label)
        t = _utc_ns(stamp, path, label, "created_at")
        if "_id" in item:
            key = item["_id"]
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise ReaderError(
                    path,
                    f"id {_quote(key)} is not a string or an integer",
                    record=label,
                    field="_id",
                )
        else:
            key = (t, json.dumps(item, sort_keys=True, default=str))
        if key in seen:
            logger.warning("%s: %s duplicates an earlier treatment; skipped", path, label)
            continue
        seen.add(key)
        out.append((t, label, dict(item)))
    out.sort(key=lambda x: x[0])
    return out


def read_nightscout(
    entries: Any,
    treatments: Any = None,
    profile: Any = None,
    *,
    tz: str | None = None,
    step: Any = "5min",
) -> pd.DataFrame:
    """Read Nightscout entries (+ treatments, + profile) JSON into a validated record.

    Each argument is a path to a JSON export or the already-parsed JSON.
    The record's index is tz-aware: in ``tz`` if given, else the profile's
    time zone, else UTC; the grid runs in absolute time, so DST changes do not
    disturb it. Glucose readings in one step are averaged; boluses and carbs
    added; basal integrated exactly from temp basals and the profile schedule.
    Without a profile, basal is only what temp basals deliver (with a logged
    warning). Raises :class:`ReaderError` naming the file, entry and field.
    """
    entries_path = entries if isinstance(entries, (str, os.PathLike)) else "<entries>"
    treat_path = treatments if isinstance(treatments, (str, os.PathLike)) else "<treatments>"
    prof_path = profile if isinstance(profile, (str, os.PathLike)) else "<profile>"
    step_ns = _step_ns(step)
    _check_tz(tz, None)
    g_ns, g_val, g_labels = _read_entries(_load_json(entries, "entries"), entries_path)
    events = (
        [] if treatments is None else _treatments(_load_json(treatments, "treatments"), treat_path)
    )
    schedules = _read_profiles(
        None if profile is None else _load_json(profile, "profile"), prof_path, tz
    )
    out_tz = tz or (schedules[-1].tz if schedules else "UTC")

    bolus_t, bolus_u, carb_t, carb_g, bolus_l, carb_l = [], [], [], [], [], []
    ext_start, ext_end, ext_rate = [], [], []
    temps: list[tuple[int, int | None, float | None, float | None, str]] = []
    for t, label, item in events:
        kind = str(item.get("eventType", ""))
        insulin = _number(item, "insulin", treat_path, label)
        carbs = _number(item, "carbs", treat_path, label)
        if insulin:
            bolus_t.append(t)
            bolus_u.append(insulin)
            bolus_l.append(label)
        if carbs:
            carb_t.append(t)
            carb_g.append(carbs)
            carb_l.append(label)
        if kind == "Combo Bolus":
            relative = _number(item, "relative", treat_path, label)
            duration = _duration(item, treat_path, label)
            if relative and duration:
                ext_start.append(t)
                ext_end.append(t + int(duration * _NS_PER_MIN))
                ext_rate.append(relative / 60.0)
        elif kind == "Temp Basal":
            duration = _duration(item, treat_path, label)
            if duration is None:
                raise ReaderError(
                    treat_path, "temp basal has no duration", record=label, field="duration"
                )
            absolute = _number(item, "absolute", treat_path, label)
            if absolute is None:
                absolute = _number(item, "rate", treat_path, label)
            percent = _number(item, "percent", treat_path, label, allow_negative=True)
            if absolute is None and percent is None and duration > 0:
                raise ReaderError(
                    treat_path,
                    "temp basal has neither 'absolute'/'rate' (U/h) nor 'percent'",
                    record=label,
                    field="absolute",
                )
            if absolute is None and percent is not None and percent < -100:
                raise ReaderError(
                    treat_path, f"percent {percent:g} is below -100", record=label, field="percent"
                )
            temps.append((t, t + int(duration * _NS_PER_MIN), absolute, percent, label))

    all_times = [g_ns, np.array(bolus_t, np.int64), np.array(carb_t, np.int64)]
    where = [entries_path, treat_path, treat_path]
    # temp basals are clipped to the grid: check their times too (a typo year is refused)
    temp_t = np.array([x[0] for x in temps], dtype=np.int64)
    _check_times(
        [*all_times, temp_t],
        labels=[g_labels, bolus_l, carb_l, [x[4] for x in temps]],
        fields=["date", "created_at", "created_at", "created_at"],
        paths=[*where, treat_path],
    )
    grid = _Grid(
        all_times, step_ns, labels=[g_labels, bolus_l, carb_l], fields=["date", "created_at", "created_at"], paths=where
    )
    lo, hi = int(grid.edges_ns[0]), int(grid.edges_ns[-1])

    # temp basals: each ends at its duration or at the next one's start (later cancels earlier)
    t_start = np.array([x[0] for x in temps], dtype=np.int64)
    t_end = np.array([x[1] for x in temps], dtype=np.int64)
    if len(temps) > 1:
        t_end[:-1] = np.minimum(t_end[:-1], t_start[1:])

    if not schedules and not temps:
        logger.warning("%s: no profile and no temp basals; basal is zero", entries_path)
    if not schedules and temps:
        logger.warning("no profile given: basal outside temp basals is zero")
    # piecewise-constant basal: break at schedule changes, temp starts/ends and grid ends
    breaks = [np.array([lo, hi], dtype=np.int64), t_start, t_end]
    for s in schedules:
        breaks.append(s.change_points(lo, hi))
        if s.start_ns > lo:
            breaks.append(np.array([s.start_ns], dtype=np.int64))
    b = np.unique(np.clip(np.concatenate(breaks), lo, hi))
    seg_start, seg_end = b[:-1], b[1:]
    mid = seg_start + (seg_end - seg_start) // 2
    rate = np.zeros(mid.size)
    if schedules:
        starts = np.array([s.start_ns for s in schedules])
        which = np.clip(np.searchsorted(starts, mid, side="right") - 1, 0, len(schedules) - 1)
        for k, s in enumerate(schedules):
            sel = which == k
            if sel.any():
                rate[sel] = s.rate_per_min(mid[sel])
    if temps:
        k = np.searchsorted(t_start, mid, side="right") - 1
        active = (k >= 0) & (mid < t_end[np.clip(k, 0, None)])
        for j in np.flatnonzero(active):
            _, _, absolute, percent, _ = temps[k[j]]
            if absolute is not None:
                rate[j] = absolute / 60.0
            else:
                rate[j] = rate[j] * (1.0 + percent / 100.0)
                if not schedules:
                    raise ReaderError(
                        treat_path,
                        "a percent temp basal needs the profile basal",
                        record=temps[k[j]][4],
                        field="percent",
                        fix="pass profile=...",
                    )
    basal = grid.integrate(seg_start, seg_end, rate)
    bolus = grid.sum_of(np.array(bolus_t, np.int64), np.array(bolus_u, float))
    if ext_start:
        s, e, r = (np.array(x) for x in (ext_start, ext_end, ext_rate))
        order = np.argsort(s)
        for j in order:  # extended boluses may overlap each other: add them one by one
            bolus = bolus + grid.integrate(s[j : j + 1], e[j : j + 1], r[j : j + 1])
    record = pd.DataFrame(
        {
            "glucose": grid.mean_of(g_ns, g_val),
            "carbs": grid.sum_of(np.array(carb_t, np.int64), np.array(carb_g, float)),
            "bolus": bolus,
            "basal": basal,
        },
        index=grid.index(out_tz),
    )
    record["insulin"] = record["bolus"] + record["basal"]
    return _finish(record, entries_path, step_ns=step_ns)
