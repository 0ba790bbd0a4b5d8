"""The twin page of a report as a matplotlib drawing: fit quality, forecasts, replay and what-if."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dt1d.report.figure import _BAND_FILL, _limits
from dt1d.report.twin_summary import ACCURACY_KEYS, OUTCOME_KEYS, TwinSummary, _shown, plot_window

__all__ = ["draw_twin_page", "draw_forecast", "draw_replay"]

_REPLAY = "#2166ac"
_WHAT_IF = "#d6604d"
_TRACE_NAMES = {"cgm": "CGM", "replay": "replay", "what_if": "what-if"}


def _table(ax: Any, title: str, header: list[str], rows: list[list[str]]) -> None:
    """A small text table in an axes without axis lines."""
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    n = len(rows) + 1
    step = 1.0 / max(n, 4)
    columns = len(header) - 1
    x = [0.0] + [0.45 + 0.55 * i / columns for i in range(1, columns + 1)]
    for r, row in enumerate([header, *rows]):
        y = 1.0 - (r + 0.5) * step
        for c, cell in enumerate(row):
            ax.text(x[c], y, cell, fontsize=8.5 if r else 8,
                    fontweight="bold" if r == 0 else "normal", va="center",
                    ha="left" if c == 0 else "right", transform=ax.transAxes)
        ax.plot([0.0, 1.0], [y - 0.5 * step] * 2, color="#dddddd", lw=0.6, transform=ax.transAxes)


def _accuracy_rows(ts: TwinSummary) -> tuple[list[str], list[list[str]]]:
    header = ["horizon"] + [f"{h} min" for h in ts.accuracy["horizon_min"].astype(int)]
    rows = []
    for key, (label, fmt) in ACCURACY_KEYS.items():
        if key in ts.accuracy.columns:
            rows.append([label] + [fmt.format(v) if np.isfinite(v) else "-" for v in ts.accuracy[key]])
    return header, rows


def _outcome_rows(ts: TwinSummary) -> tuple[list[str], list[list[str]]]:
    names = list(ts.outcomes)
    header = [""] + [_TRACE_NAMES[n] for n in names]
    rows = []
    for key, label in OUTCOME_KEYS.items():
        digits = 1 if key != "mean_mgdl" or ts.unit == "mmol/L" else 0
        shown = label if key != "mean_mgdl" else f"{label} ({ts.unit})"
        rows.append([shown] + [f"{_shown(ts.outcomes[n], key, ts.unit):.{digits}f}" for n in names])
    return header, rows


def draw_forecast(ax: Any, ts: TwinSummary) -> None:
    """The CGM and the twin's first-horizon forecasts over the last days."""
    lim = _limits(ts.unit)
    window = plot_window(ts.cgm)
    cgm = ts.cgm.loc[window]
    forecast = ts.forecast.loc[window]
    ax.axhspan(lim["low"], lim["high"], color=_BAND_FILL, lw=0, zorder=0)
    ax.plot(cgm.index, cgm.to_numpy(dtype=float), ".", ms=2, color="black", label="CGM")
    ax.plot(forecast.index, forecast.to_numpy(dtype=float), "-", lw=1.0, color=_REPLAY,
            label=f"{ts.horizons[0]}-min forecast")
    _time_axis(ax, ts, f"Forecasts {ts.horizons[0]} minutes ahead against the CGM")


def draw_replay(ax: Any, ts: TwinSummary) -> None:
    """The CGM, the twin's replay of the record and the what-if, over the last days."""
    if ts.replay is None:
        ax.set_axis_off()
        ax.set_title("Replay of the record by the twin", loc="left", fontsize=11, fontweight="bold")
        ax.text(0.5, 0.5, "\n".join(ts.notes), ha="center", va="center", fontsize=9, transform=ax.transAxes,
                bbox={"boxstyle": "round", "facecolor": "#f4f4f4", "edgecolor": "#cccccc"})
        return
    lim = _limits(ts.unit)
    window = plot_window(ts.cgm)
    ax.axhspan(lim["low"], lim["high"], color=_BAND_FILL, lw=0, zorder=0)
    cgm = ts.cgm.loc[window]
    ax.plot(cgm.index, cgm.to_numpy(dtype=float), ".", ms=2, color="black", label="CGM")
    replay = ts.replay.loc[window]
    ax.plot(replay.index, replay.to_numpy(dtype=float), "-", lw=1.2, color=_REPLAY, label="twin replay")
    if ts.what_if is not None:
        changed = ts.what_if.loc[window]
        ax.plot(changed.index, changed.to_numpy(dtype=float), "--", lw=1.2, color=_WHAT_IF,
                label=f"what-if: {ts.what_if_label}")
    _time_axis(ax, ts, "Replay of the record by the twin" + (" and a what-if" if ts.what_if is not None else ""))


def _time_axis(ax: Any, ts: TwinSummary, title: str) -> None:
    import matplotlib.dates as mdates

    lim = _limits(ts.unit)
    highest = max((float(np.nanmax(line.get_ydata())) for line in ax.get_lines()), default=lim["top"])
    ax.set_ylim(0.0, min(lim["top"], max(lim["vhigh"], highest) * 1.15))
    ax.set_ylabel(f"glucose ({ts.unit})")
    ax.xaxis.set_major_locator(mdates.HourLocator(byhour=[0, 12]))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b %H:%M"))
    ax.tick_params(labelsize=7.5)
    ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
    ax.legend(loc="upper left", fontsize=7.5, ncols=3, frameon=False)


def draw_twin_header(fig: Any, ts: TwinSummary) -> None:
    """Title, model and what the numbers are."""
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.0, 1.0, f"Digital twin: {ts.model_type}", fontsize=15, fontweight="bold", va="top",
            transform=ax.transAxes)
    span = f"{ts.cgm.index[0]:%d %b %Y} to {ts.cgm.index[-1]:%d %b %Y}"
    line = (f"forecasts {', '.join(str(h) for h in ts.horizons)} min ahead   |   scored on the "
            f"reported record, {span}   |   plots: the last {_days_shown(ts)} days")
    ax.text(0.0, 0.5, line, fontsize=9, va="top", transform=ax.transAxes)


def _days_shown(ts: TwinSummary) -> str:
    window = plot_window(ts.cgm)
    return f"{(window.stop - window.start) / pd.Timedelta(days=1):.0f}"


def draw_twin_page(fig: Any, ts: TwinSummary) -> None:
    """Draw the whole twin page into ``fig`` (a Figure or a SubFigure)."""
    head, tables, forecast, replay = fig.subfigures(4, 1, height_ratios=[0.7, 2.4, 4.0, 4.0])
    draw_twin_header(head, ts)
    left, right = tables.subplots(1, 2)
    _table(left, "Fit quality (forecast accuracy)", *_accuracy_rows(ts))
    _table(right, "Glycaemic outcomes: CGM and twin", *_outcome_rows(ts))
    draw_forecast(forecast.add_subplot(), ts)
    draw_replay(replay.add_subplot(), ts)
