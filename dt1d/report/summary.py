"""What an AGP report shows, as numbers: the period, CGM activity, statistics and ranges.

Everything printed on the report comes from :func:`agp_summary`, and every
statistic in it is a value of :func:`dt1d.metrics.glycaemic_outcomes`, so the
report and the metrics cannot disagree. Targets follow the international
consensus (Battelino T et al. Clinical targets for continuous glucose
monitoring data interpretation. Diabetes Care 2019;42(8):1593-1603; Battelino
T et al. Continuous glucose monitoring and metrics for clinical trials: an
international consensus statement. Lancet Diabetes Endocrinol
2023;11(1):42-57).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.schema import MGDL_PER_MMOLL
from dt1d.exceptions import ReportError

__all__ = ["AGPSummary", "RangeRow", "StatRow", "agp_summary", "report_glucose", "normalise_unit"]

#: Fewest known glucose readings a report is drawn from, and the shortest span they cover.
MIN_READINGS = 12
MIN_SPAN = pd.Timedelta(hours=1)
#: Consensus data sufficiency: at least 14 days with CGM active at least 70 % of the time.
RECOMMENDED_DAYS = 14
RECOMMENDED_ACTIVE_PCT = 70.0

_UNITS = {"mg/dl": "mg/dL", "mmol/l": "mmol/L"}
#: mmol/L values are rounded to this many decimals after conversion, so a reading
#: stored as 10.0 mmol/L and read back from mg/dL compares as 10.0, not 9.999999.
_MMOL_DECIMALS = 9


@dataclass(frozen=True)
class StatRow:
    """One line of the glucose statistics table: a value, how it is shown, and its target."""

    key: str
    label: str
    value: float
    text: str
    target: str


@dataclass(frozen=True)
class RangeRow:
    """One band of the time-in-ranges bar (percent of the known readings)."""

    key: str
    label: str
    limits: str
    pct: float
    target: str
    colour: str

    @property
    def per_day(self) -> str:
        """The band's share of a day as hours and minutes (``"16 h 48 min"``)."""
        if not np.isfinite(self.pct):
            return ""
        minutes = int(round(self.pct / 100.0 * 1440.0))
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


@dataclass(frozen=True)
class AGPSummary:
    """The numbers of one AGP report (see :func:`agp_summary`)."""

    unit: str
    start: pd.Timestamp
    end: pd.Timestamp
    step: pd.Timedelta
    days: float
    active_pct: float
    outcomes: dict[str, float]
    stats: list[StatRow]
    ranges: list[RangeRow]
    glucose: pd.Series = field(repr=False)  # in ``unit``, on the record's times
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, float]:
        """Every value the report prints, by key (statistics and ranges together)."""
        out = {row.key: row.value for row in self.stats}
        out.update({row.key: row.pct for row in self.ranges})
        return out


def normalise_unit(unit: str | None) -> str:
    """``"mg/dL"`` (the default for None) or ``"mmol/L"``, in any capitalisation."""
    if unit is None:
        return "mg/dL"
    if isinstance(unit, str) and unit.strip().lower() in _UNITS:
        return _UNITS[unit.strip().lower()]
    raise ReportError(f"unit={unit!r} is not supported; pass 'mg/dL' or 'mmol/L'")


def report_glucose(record: Any, unit: str | None = None) -> pd.Series:
    """The record's glucose (mg/dL in a record) as a Series in ``unit``, checked for a report.

    Raises :class:`~dt1d.exceptions.ReportError` when the record is not a
    time-indexed frame with a ``glucose`` column, holds several patients, or
    has fewer than ``MIN_READINGS`` known readings spanning ``MIN_SPAN``.
    """
    unit = normalise_unit(unit)
    if not isinstance(record, pd.DataFrame) or not isinstance(record.index, pd.DatetimeIndex):
        raise ReportError(
            "the record must be a DataFrame indexed by time (read it with dt1d.data.readers.read "
            f"or check it with dt1d.data.validate); got {type(record).__name__}"
        )
    if "glucose" not in record.columns:
        raise ReportError("the record has no 'glucose' column, so there is nothing to report")
    if "patient_id" in record.columns and record["patient_id"].nunique(dropna=True) > 1:
        names = ", ".join(map(str, record["patient_id"].dropna().unique()[:3]))
        raise ReportError(
            f"the record holds several patients ({names}, ...); report one at a time, e.g. "
            "record[record['patient_id'] == NAME]"
        )
    glucose = pd.to_numeric(record["glucose"], errors="coerce").astype(float)
    known = glucose.dropna()
    if known.empty:
        raise ReportError(f"the record has no glucose readings ({len(record)} rows, every glucose empty)")
    span = known.index[-1] - known.index[0]
    if len(known) < MIN_READINGS or span < MIN_SPAN:
        raise ReportError(
            f"the record is too short for a report: {len(known)} glucose readings over {span}; "
            f"need at least {MIN_READINGS} readings over {MIN_SPAN} (the consensus asks for "
            f"{RECOMMENDED_DAYS} days)"
        )
    if not known.index.is_monotonic_increasing or known.index.has_duplicates:
        raise ReportError("the record's times must be strictly increasing; sort it and drop duplicates")
    glucose = glucose.loc[known.index[0] : known.index[-1]]
    if unit == "mmol/L":
        glucose = (glucose / MGDL_PER_MMOLL).round(_MMOL_DECIMALS)
    glucose.name = "glucose"
    return glucose


def _fmt(value: float, digits: int, suffix: str = "") -> str:
    return "-" if not np.isfinite(value) else f"{value:.{digits}f}{suffix}"


def _band_labels(unit: str) -> list[tuple[str, str, str, str, str]]:
    """(key, label, limits, target, colour) of the five consensus bands, top to bottom."""
    if unit == "mmol/L":
        limits = (">13.9", "10.1-13.9", "3.9-10.0", "3.0-3.8", "<3.0")
    else:
        limits = (">250", "181-250", "70-180", "54-69", "<54")
    return [
        ("very_high_pct", "Very high", limits[0], "<5%", "#f28e2b"),
        ("high_pct", "High", limits[1], "<25% (incl. very high)", "#f6c85f"),
        ("in_range_pct", "Target range", limits[2], ">70%", "#59a14f"),
        ("low_pct", "Low", limits[3], "<4% (incl. very low)", "#e15759"),
        ("very_low_pct", "Very low", limits[4], "<1%", "#9c1b1f"),
    ]


def agp_summary(record: Any, *, unit: str | None = None) -> AGPSummary:
    """The numbers of the AGP report of ``record`` (glucose in mg/dL), shown in ``unit``.

    Statistics are :func:`dt1d.metrics.glycaemic_outcomes` of the glucose in
    ``unit`` (so mmol/L uses the consensus mmol/L bands). Mean and SD are
    shown in ``unit``; % time CGM active is ``coverage_pct``: known readings
    over the readings the grid from the first to the last reading holds.
    """
    from dt1d.metrics import glycaemic_outcomes

    unit = normalise_unit(unit)
    glucose = report_glucose(record, unit)
    try:
        outcomes = glycaemic_outcomes(glucose, units=unit)
    except ValueError as exc:
        raise ReportError(f"the record's glucose cannot be summarised: {exc}") from exc
    known = glucose.dropna()
    start, end = known.index[0], known.index[-1]
    diffs = np.diff(known.index.as_unit("ns").asi8)
    step = pd.Timedelta(_grid_step(diffs))
    days = (end - start + step) / pd.Timedelta(days=1)
    scale = 1.0 if unit == "mg/dL" else 1.0 / MGDL_PER_MMOLL
    mean_digits = 0 if unit == "mg/dL" else 1
    o = outcomes
    stats = [
        StatRow("days", "Days of data", days, f"{days:.1f}" if days < 10 else f"{days:.0f}",
                f">={RECOMMENDED_DAYS} days"),
        StatRow("active_pct", "% time CGM is active", o["coverage_pct"], _fmt(o["coverage_pct"], 1, "%"),
                f">={RECOMMENDED_ACTIVE_PCT:.0f}%"),
        StatRow("mean", "Mean glucose", o["mean_mgdl"] * scale,
                _fmt(o["mean_mgdl"] * scale, mean_digits, f" {unit}"),
                "<154 mg/dL (GMI 7%)" if unit == "mg/dL" else "<8.6 mmol/L (GMI 7%)"),
        StatRow("gmi_pct", "Glucose management indicator (GMI)", o["gmi_pct"], _fmt(o["gmi_pct"], 1, "%"),
                "<7%"),
        StatRow("cv_pct", "Glucose variability (CV)", o["cv_pct"], _fmt(o["cv_pct"], 1, "%"), "<=36%"),
        StatRow("sd", "Standard deviation", o["sd_mgdl"] * scale,
                _fmt(o["sd_mgdl"] * scale, mean_digits, f" {unit}"), ""),
    ]
    pcts = {
        "very_high_pct": o["time_above_250_pct"],
        "high_pct": o["time_above_180_pct"] - o["time_above_250_pct"],
        "in_range_pct": o["time_in_range_70_180_pct"],
        "low_pct": o["time_below_70_pct"] - o["time_below_54_pct"],
        "very_low_pct": o["time_below_54_pct"],
    }
    ranges = [RangeRow(k, label, lim, pcts[k], target, colour)
              for k, label, lim, target, colour in _band_labels(unit)]
    notes = []
    if round(days, 1) < RECOMMENDED_DAYS:
        notes.append(f"{days:.1f} days of data: the consensus asks for at least {RECOMMENDED_DAYS}")
    if o["coverage_pct"] < RECOMMENDED_ACTIVE_PCT:
        notes.append(f"CGM active {o['coverage_pct']:.0f}% of the time: the consensus asks for "
                     f"at least {RECOMMENDED_ACTIVE_PCT:.0f}%")
    return AGPSummary(unit=unit, start=start, end=end, step=step, days=days,
                      active_pct=o["coverage_pct"], outcomes=outcomes, stats=stats,
                      ranges=ranges, glucose=glucose, notes=notes)


def _grid_step(diffs: np.ndarray) -> int:
    """The most common difference between reading times (ns): the CGM's step."""
    values, counts = np.unique(diffs, return_counts=True)
    return int(values[np.argmax(counts)])
