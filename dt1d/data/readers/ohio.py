"""Reader for the OhioT1DM XML files (Marling & Bunescu, KHD@IJCAI 2018 / 2020).

One ``<patient id=... weight=... insulin_type=...>`` element holding event
lists; the ones read here:

- ``glucose_level``: ``<event ts="DD-MM-YYYY HH:MM:SS" value="mg/dL"/>``;
- ``basal``: ``<event ts=... value="U/h"/>``, the pump's scheduled rate from
  ``ts`` until the next basal event;
- ``temp_basal``: ``<event ts_begin=... ts_end=... value="U/h"/>``, replacing
  the basal rate in ``[ts_begin, ts_end)`` (0 = suspended);
- ``bolus``: ``<event ts_begin=... ts_end=... type=... dose="U"/>``: ``normal``
  (and ``normal dual``) at ``ts_begin``; ``square`` (and ``square dual``)
  spread evenly over ``[ts_begin, ts_end)``;
- ``meal``: ``<event ts=... type=... carbs="g"/>``.

Times are local and naive as in the files. Other lists (finger sticks,
exercise, sleep, ...) are skipped.
"""

from __future__ import annotations

import math
import os
import warnings
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.readers._common import (
    ReaderError,
    _check_times,
    _finish,
    _Grid,
    _quote,
    _step_ns,
    _to_utc_ns,
)
from dt1d.data.readers._safexml import UnsafeXMLError, parse_xml
from dt1d.exceptions import PlausibilityWarning

__all__ = ["read_ohio"]

#: Body weights accepted from a file, in kg (as the mechanistic model's range).
BODY_WEIGHT_KG = (2.0, 400.0)

_TS_FORMAT = "%d-%m-%Y %H:%M:%S"
_NS_PER_MIN = 60_000_000_000


class _Events:
    """Access to one event list of the patient element, with errors naming the event."""

    def __init__(self, root: ET.Element, path: Any) -> None:
        self.root = root
        self.path = path

    def items(self, tag: str) -> list[tuple[str, ET.Element]]:
        """(label, element) of each event of a list; empty when the list is absent."""
        lists = self.root.findall(tag)
        events = [ev for lst in lists for ev in lst.findall("event")]
        return [(f"<{tag}> event {i}", ev) for i, ev in enumerate(events)]

    def times(self, events: list[tuple[str, ET.Element]], attr: str) -> np.ndarray:
        """An event time attribute of every event, as naive ns (parsed in one go)."""
        texts = []
        for label, ev in events:
            text = ev.get(attr)
            if text is None:
                raise ReaderError(self.path, f"has no {attr!r} attribute", record=label, field=attr)
            texts.append(text.strip())
        if not texts:
            return np.zeros(0, dtype=np.int64)
        stamps = pd.to_datetime(pd.Series(texts), format=_TS_FORMAT, errors="coerce")
        bad = stamps.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ReaderError(
                self.path,
                f"time {_quote(texts[i])} is not DD-MM-YYYY HH:MM:SS",
                record=events[i][0],
                field=attr,
            )
        return _to_utc_ns(pd.DatetimeIndex(stamps), self.path, [e[0] for e in events], attr)

    def numbers(self, events: list[tuple[str, ET.Element]], attr: str) -> np.ndarray:
        """A non-negative numeric attribute of every event."""
        values = np.empty(len(events))
        for i, (label, ev) in enumerate(events):
            text = ev.get(attr)
            if text is None or text.strip() == "":
                raise ReaderError(self.path, f"has no {attr!r} attribute", record=label, field=attr)
            try:
                value = float(text)
            except ValueError:
                raise ReaderError(
                    self.path, f"value {_quote(text)} is not a number", record=label, field=attr
                ) from None
            if not np.isfinite(value) or value < 0:
                raise ReaderError(
                    self.path, f"value {_quote(text)} is out of range", record=label, field=attr
                )
            values[i] = value
        return values


def _parse(path: Any) -> ET.Element:
    """Parse the XML file, refusing DTDs/entities (nothing in OhioT1DM needs them)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ReaderError(path, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        root = parse_xml(raw)
    except UnsafeXMLError as exc:
        raise ReaderError(path, f"is refused: {exc} (nothing in OhioT1DM needs one)") from None
    except ET.ParseError as exc:
        raise ReaderError(path, f"is not well-formed XML: {exc}") from exc
    if root.tag != "patient":
        raise ReaderError(path, f"root element is <{root.tag}>, expected <patient>")
    return root


def read_ohio(path: str | os.PathLike[str], *, step: Any = "5min") -> pd.DataFrame:
    """Read one OhioT1DM XML file into a validated record (naive local times).

    Glucose readings are averaged per step; basal (scheduled, overridden by
    temp basals) is integrated exactly over each step; boluses and meals are
    added into the step holding their time, square-wave boluses spread over
    their duration. The patient ``id`` goes to ``record.attrs["patient_id"]``
    and ``weight`` to ``record.attrs["body_weight_kg"]`` when present.
    """
    step_ns = _step_ns(step)
    root = _parse(path)
    ev = _Events(root, path)

    g_events = ev.items("glucose_level")
    if not g_events:
        raise ReaderError(path, "has no <glucose_level> events", field="glucose_level")
    g_ns, g_val = ev.times(g_events, "ts"), ev.numbers(g_events, "value")

    meal_events = ev.items("meal")
    meal_ns, meal_g = ev.times(meal_events, "ts"), ev.numbers(meal_events, "carbs")

    bolus_events = ev.items("bolus")
    b_start, b_dose = ev.times(bolus_events, "ts_begin"), ev.numbers(bolus_events, "dose")
    square = np.array(
        ["square" in (e.get("type") or "normal").strip().lower() for _, e in bolus_events],
        dtype=bool,
    )
    b_end = b_start.copy()
    if square.any():
        sq_events = [bolus_events[i] for i in np.flatnonzero(square)]
        b_end[square] = ev.times(sq_events, "ts_end")
        before = np.flatnonzero(b_end < b_start)
        if before.size:
            raise ReaderError(
                path, "ts_end is before ts_begin", record=bolus_events[before[0]][0], field="ts_end"
            )
    spread = square & (b_end > b_start)
    normal_t, normal_u = b_start[~spread], b_dose[~spread]
    sq_s, sq_e, sq_u = b_start[spread], b_end[spread], b_dose[spread]

    basal_events = ev.items("basal")
    b_t, b_r = ev.times(basal_events, "ts"), ev.numbers(basal_events, "value")
    b_t_file = b_t  # file order, for error messages
    order = np.argsort(b_t, kind="stable")
    b_t, b_r = b_t[order], b_r[order]

    temp_events = ev.items("temp_basal")
    t_s, t_e = ev.times(temp_events, "ts_begin"), ev.times(temp_events, "ts_end")
    temp_rates = ev.numbers(temp_events, "value")
    before = np.flatnonzero(t_e < t_s)
    if before.size:
        raise ReaderError(
            path, "ts_end is before ts_begin", record=temp_events[before[0]][0], field="ts_end"
        )
    t_s_file, t_e_file = t_s, t_e
    order = np.argsort(t_s, kind="stable")
    t_s, t_e, temp_rates = t_s[order], t_e[order], temp_rates[order]

    def names(events: list[tuple[str, ET.Element]], keep: Any = None) -> list[str]:
        labels = [label for label, _ in events]
        return labels if keep is None else [labels[i] for i in np.flatnonzero(keep)]

    # basal and temp basal times are clipped to the grid: check them too (typo years)
    _check_times(
        [g_ns, meal_ns, b_start, b_end, b_t_file, t_s_file, t_e_file],
        path,
        [
            names(g_events),
            names(meal_events),
            names(bolus_events),
            names(bolus_events),
            names(basal_events),
            names(temp_events),
            names(temp_events),
        ],
        ["ts", "ts", "ts_begin", "ts_end", "ts", "ts_begin", "ts_end"],
    )
    grid = _Grid(
        [g_ns, meal_ns, normal_t, sq_s],
        step_ns,
        path=path,
        labels=[names(g_events), names(meal_events), names(bolus_events, ~spread), names(bolus_events, spread)],
        fields=["ts", "ts", "ts_begin", "ts_begin"],
    )
    lo, hi = int(grid.edges_ns[0]), int(grid.edges_ns[-1])

    # piecewise-constant basal: scheduled rate between basal events, temp basals on top
    if t_s.size > 1:
        t_e[:-1] = np.minimum(t_e[:-1], t_s[1:])  # a later temp basal cancels an earlier one
    breaks = np.unique(np.clip(np.concatenate([[lo, hi], b_t, t_s, t_e]), lo, hi))
    seg_s, seg_e = breaks[:-1], breaks[1:]
    mid = seg_s + (seg_e - seg_s) // 2
    rate_h = np.zeros(mid.size)
    if b_t.size:
        k = np.searchsorted(b_t, mid, side="right") - 1
        rate_h = np.where(k >= 0, b_r[np.clip(k, 0, None)], 0.0)
    if t_s.size:
        k = np.searchsorted(t_s, mid, side="right") - 1
        active = (k >= 0) & (mid < t_e[np.clip(k, 0, None)])
        rate_h = np.where(active, temp_rates[np.clip(k, 0, None)], rate_h)
    basal = grid.integrate(seg_s, seg_e, rate_h / 60.0)

    bolus = grid.sum_of(np.array(normal_t, np.int64), np.array(normal_u, float))
    for s, e, u in zip(sq_s, sq_e, sq_u, strict=True):
        bolus = bolus + grid.integrate(
            np.array([s]), np.array([e]), np.array([u / ((e - s) / _NS_PER_MIN)])
        )
    carbs = grid.sum_of(meal_ns, meal_g)
    record = pd.DataFrame(
        {"glucose": grid.mean_of(g_ns, g_val), "carbs": carbs, "bolus": bolus, "basal": basal},
        index=grid.index(None),
    )
    record["insulin"] = record["bolus"] + record["basal"]
    out = _finish(record, os.fspath(path), step_ns=step_ns)
    if root.get("id") is not None:
        out.attrs["patient_id"] = root.get("id")
    weight = _body_weight(root.get("weight"), path)
    if weight is not None:
        out.attrs["body_weight_kg"] = weight
    return out


def _body_weight(text: str | None, path: Any) -> float | None:
    """The patient's weight in kg, or None when absent or a missing-value code.

    OhioT1DM files write an unknown weight as a placeholder (``-99``, ``0``);
    such a value, or one outside the range a person can weigh, is not a body
    weight: it is dropped with a ``PlausibilityWarning`` naming the file.
    """
    if text is None or text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ReaderError(
            path, f"weight {_quote(text)} is not a number", record="<patient>", field="weight"
        ) from None
    low, high = BODY_WEIGHT_KG
    if not (math.isfinite(value) and low < value <= high):
        warnings.warn(
            f"{os.fspath(path)}: <patient> weight {_quote(text)} is not a body weight in "
            f"({low:g}, {high:g}] kg (a missing-value code?); body_weight_kg is not set",
            PlausibilityWarning, stacklevel=3,
        )
        return None
    return value
