"""The AGP page as a matplotlib figure: header, statistics, time in ranges, AGP, daily profiles.

Laid out as the international consensus Ambulatory Glucose Profile report
(Johnson ML et al. Utilizing the ambulatory glucose profile to standardize
and implement continuous glucose monitoring in clinical practice. Diabetes
Technol Ther 2019;21(S2):S217-25; Battelino et al. 2019). Each panel has its
own drawing function, so the HTML report can draw them one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dt1d.plots._common import _new_figure
from dt1d.plots.agp import agp_percentiles
from dt1d.report.summary import AGPSummary, agp_summary

__all__ = ["agp_figure", "PAGE_SIZE_IN"]

#: A4 portrait, in inches.
PAGE_SIZE_IN = (8.27, 11.69)
#: Most days drawn as daily profiles (the most recent ones).
MAX_DAILY_PROFILES = 28
_BAND_FILL = "#d9f0d3"
_LINE = "#08306b"
_HIGH = "#f6c85f"
_LOW = "#e15759"


def _limits(unit: str) -> dict[str, float]:
    """Band limits and plot ceiling in ``unit`` (consensus values, not converted)."""
    if unit == "mmol/L":
        return {"vlow": 3.0, "low": 3.9, "high": 10.0, "vhigh": 13.9, "top": 20.0}
    return {"vlow": 54.0, "low": 70.0, "high": 180.0, "vhigh": 250.0, "top": 350.0}


def _tick(value: float, unit: str) -> str:
    return f"{value:.1f}" if unit == "mmol/L" else f"{value:.0f}"


def _period(summary: AGPSummary) -> str:
    first, last = summary.start, summary.end
    return f"{first:%d %b %Y %H:%M} to {last:%d %b %Y %H:%M}"


def draw_header(fig: Any, summary: AGPSummary, title: str) -> None:
    """Title, period, number of days, % time CGM active and data-sufficiency notes."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.0, 1.0, title, fontsize=15, fontweight="bold", va="top", transform=ax.transAxes)
    line = (f"{_period(summary)}   |   {summary.days:.1f} days   |   "
            f"CGM active {summary.active_pct:.1f}% of the time   |   glucose in {summary.unit}")
    ax.text(0.0, 0.52, line, fontsize=9, va="top", transform=ax.transAxes)
    if summary.notes:
        ax.text(0.0, 0.12, "Note: " + "; ".join(summary.notes) + ".", fontsize=8, color="#b2182b",
                va="top", transform=ax.transAxes)


def draw_stats(ax: Any, summary: AGPSummary) -> None:
    """The glucose statistics table: each value with its consensus target."""
    ax.set_axis_off()
    ax.set_title("Glucose statistics and targets", loc="left", fontsize=11, fontweight="bold")
    rows = summary.stats
    step = 1.0 / (len(rows) + 1)
    for i, row in enumerate(rows):
        y = 1.0 - (i + 0.5) * step
        ax.text(0.0, y, row.label, fontsize=9, va="center", transform=ax.transAxes)
        ax.text(0.98, y, row.text, fontsize=10, fontweight="bold", va="center", ha="right",
                transform=ax.transAxes)
        if row.target:
            ax.text(0.0, y - 0.36 * step, f"target {row.target}", fontsize=7, color="#555555",
                    va="center", transform=ax.transAxes)
        ax.plot([0.0, 0.98], [y - 0.5 * step] * 2, color="#dddddd", lw=0.6, transform=ax.transAxes)


def draw_ranges(ax: Any, summary: AGPSummary) -> None:
    """The time-in-ranges stacked bar with a label, share and target for each band."""
    ax.set_title("Time in ranges", loc="left", fontsize=11, fontweight="bold")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 100.0)
    ax.set_axis_off()
    bottom = 0.0
    bands = list(reversed(summary.ranges))  # very low at the bottom
    for row in bands:
        pct = float(np.nan_to_num(row.pct))
        ax.bar(0.08, pct, width=0.14, bottom=bottom, color=row.colour, edgecolor="white", lw=0.8)
        bottom += pct
    for i, row in enumerate(bands):
        y = 10.0 + i * 20.0  # evenly spaced labels: small bands never overlap
        ax.plot([0.16, 0.2], [y, y], color="#999999", lw=0.6)
        ax.text(0.22, y + 2.5, f"{row.label} ({row.limits} {summary.unit})", fontsize=8.5, va="center")
        ax.text(0.22, y - 4.0, f"target {row.target}", fontsize=7, color="#555555", va="center")
        ax.text(1.0, y + 2.5, f"{row.pct:.1f}%", fontsize=10, fontweight="bold", ha="right", va="center")
        ax.text(1.0, y - 4.0, row.per_day, fontsize=7, color="#555555", ha="right", va="center")


def draw_agp(ax: Any, summary: AGPSummary, *, bin_min: int = 15) -> None:
    """The AGP: median, 25-75 % and 5-95 % of glucose by time of day, with the target range."""
    lim = _limits(summary.unit)
    table = agp_percentiles(summary.glucose, bin_min=bin_min)
    hours = table.index.to_numpy() + bin_min / 120.0
    # close the day: midnight drawn at both ends from the first and last bins
    hours = np.concatenate([[0.0], hours, [24.0]])
    table = pd.concat([table.iloc[[0]], table, table.iloc[[-1]]])
    ax.axhspan(lim["low"], lim["high"], color=_BAND_FILL, lw=0, zorder=0)
    ax.fill_between(hours, table["p5"], table["p95"], color="#9ecae1", alpha=0.6, lw=0, label="5-95 %")
    ax.fill_between(hours, table["p25"], table["p75"], color="#3182bd", alpha=0.6, lw=0, label="25-75 %")
    ax.plot(hours, table["p50"], color=_LINE, lw=2, label="median")
    for key in ("low", "high"):
        ax.axhline(lim[key], color="#1a9850", lw=1)
    for key in ("vlow", "vhigh"):
        ax.axhline(lim[key], color="#999999", lw=0.6, ls="--")
    top = max(lim["top"], float(np.nanmax(table["p95"].to_numpy())) * 1.05)
    ax.set_ylim(0.0, top)
    ticks = [lim["vlow"], lim["low"], lim["high"], lim["vhigh"]]
    ax.set_yticks(ticks, [_tick(t, summary.unit) for t in ticks])
    ax.set_xlim(0.0, 24.0)
    ax.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    ax.set_ylabel(f"glucose ({summary.unit})")
    ax.set_title("Ambulatory glucose profile (AGP)", loc="left", fontsize=11, fontweight="bold")
    ax.legend(loc="upper left", fontsize=7, ncols=3, frameon=False)
    ax.tick_params(labelsize=8)


def _days(summary: AGPSummary) -> list[pd.Timestamp]:
    first = summary.start.normalize()
    last = summary.end.normalize()
    days = list(pd.date_range(first, last, freq="D"))
    return days[-MAX_DAILY_PROFILES:]


def draw_daily(fig: Any, summary: AGPSummary) -> None:
    """One midnight-to-midnight panel per day, a week per row (the last ``MAX_DAILY_PROFILES`` days)."""
    lim = _limits(summary.unit)
    days = _days(summary)
    n_all = len(pd.date_range(summary.start.normalize(), summary.end.normalize(), freq="D"))
    title = "Daily glucose profiles"
    if n_all > len(days):
        title += f" (the last {len(days)} of {n_all} days)"
    cols = 7
    rows = -(-len(days) // cols)
    axes = np.atleast_1d(fig.subplots(max(rows, 2), 1))
    glucose = summary.glucose
    for r, ax in enumerate(axes):
        week = days[r * cols : (r + 1) * cols]
        if not week:
            ax.set_axis_off()
            continue
        ax.set_xlim(0.0, 24.0 * cols)
        ax.set_ylim(0.0, lim["top"])
        ax.axhspan(lim["low"], lim["high"], xmax=len(week) / cols, color=_BAND_FILL, lw=0, zorder=0)
        for k, day in enumerate(week):
            one = glucose[(glucose.index >= day) & (glucose.index < day + pd.Timedelta(days=1))]
            h = 24.0 * k + ((one.index - day) / pd.Timedelta(hours=1)).to_numpy()
            v = one.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                ax.fill_between(h, lim["high"], v, where=v > lim["high"], color=_HIGH, lw=0, interpolate=True)
                ax.fill_between(h, lim["low"], v, where=v < lim["low"], color=_LOW, lw=0, interpolate=True)
            ax.plot(h, v, color=_LINE, lw=0.7)
            ax.text(24.0 * k + 1.0, lim["top"] * 0.95, f"{day:%a %d %b}", fontsize=6.5, va="top")
        for k in range(1, len(week) + (len(week) < cols)):
            ax.axvline(24.0 * k, color="#888888", lw=0.6)
        ax.set_xticks([24.0 * k + 12.0 for k in range(len(week))], ["12:00"] * len(week))
        ax.set_yticks([lim["low"], lim["high"]], [_tick(lim["low"], summary.unit), _tick(lim["high"], summary.unit)])
        ax.tick_params(labelsize=6.5, length=2, pad=1)
        for side in ("top", "right"):
            ax.spines[side].set_visible(len(week) == cols)
        ax.spines["bottom"].set_bounds(0.0, 24.0 * len(week))
    axes[0].set_title(title, loc="left", fontsize=11, fontweight="bold")


def draw_agp_page(fig: Any, summary: AGPSummary, *, title: str = "AGP report: continuous glucose monitoring") -> None:
    """Draw the whole AGP page into ``fig`` (a Figure or a SubFigure)."""
    head, middle, agp, daily = fig.subfigures(4, 1, height_ratios=[0.8, 2.6, 3.4, 4.4])
    draw_header(head, summary, title)
    left, right = middle.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1.0]})
    draw_stats(left, summary)
    draw_ranges(right, summary)
    draw_agp(agp.add_subplot(), summary)
    draw_daily(daily, summary)


def agp_figure(record: Any, *, unit: str | None = None) -> Any:
    """The one-page AGP report of ``record`` as a matplotlib Figure (A4 portrait).

    ``record`` is a patient record (glucose in mg/dL, see :mod:`dt1d.data`);
    ``unit`` is what the page shows: ``"mg/dL"`` (default) or ``"mmol/L"``.
    """
    summary = agp_summary(record, unit=unit)
    fig = _new_figure(*PAGE_SIZE_IN)
    fig.get_layout_engine().set(w_pad=0.25, h_pad=0.12)
    draw_agp_page(fig, summary)
    return fig
