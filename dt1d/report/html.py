"""The AGP report as one self-contained HTML page: tables as HTML, plots as inline SVG.

Nothing on the page is fetched: no scripts, stylesheets, fonts or images from
elsewhere (matplotlib draws the text of the SVGs as paths). Every number is
tagged with ``data-key`` (the name :meth:`AGPSummary.values` gives it) and
``data-value`` (the full-precision value), so programs and tests can read the
report back.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

from dt1d.plots._common import _new_figure
from dt1d.report.figure import PAGE_SIZE_IN, draw_agp, draw_daily
from dt1d.report.summary import AGPSummary

__all__ = ["agp_html"]

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; max-width: 60em; margin: 1.5em auto; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin: 1.2em 0 0.4em; }
.period { margin: 0; color: #444; } .note { color: #b2182b; font-size: 0.9em; }
.columns { display: flex; gap: 2em; flex-wrap: wrap; } .columns > div { flex: 1 1 22em; }
table { border-collapse: collapse; width: 100%; font-size: 0.95em; }
td, th { padding: 0.3em 0.4em; border-bottom: 1px solid #ddd; text-align: left; }
td.value { text-align: right; font-weight: bold; white-space: nowrap; }
td.target { color: #555; font-size: 0.85em; }
svg { max-width: 100%; height: auto; }
.bar { display: flex; height: 1.6em; margin: 0.3em 0 0.6em; border: 1px solid #ccc; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: -0.1em; }
"""

_XML_HEAD = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _svg(fig: Any, salt: str) -> str:
    """``fig`` as an inline ``<svg>`` element (no XML prolog, no metadata; ids salted)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = _XML_HEAD.sub("", buffer.getvalue(), count=1)
    return _METADATA.sub("", text)


def _value_attr(value: float) -> str:
    return repr(float(value))


def _stats_table(summary: AGPSummary) -> str:
    rows = []
    for row in summary.stats:
        rows.append(
            f'<tr data-key="{row.key}" data-value="{_value_attr(row.value)}">'
            f"<th>{html.escape(row.label)}</th><td class=\"value\">{html.escape(row.text)}</td>"
            f'<td class="target">{html.escape("target " + row.target) if row.target else ""}</td></tr>'
        )
    return "<table class=\"stats\">\n" + "\n".join(rows) + "\n</table>"


def _ranges_table(summary: AGPSummary) -> str:
    rows = []
    for row in summary.ranges:
        label = f"{row.label} ({row.limits} {summary.unit})"
        rows.append(
            f'<tr data-key="{row.key}" data-value="{_value_attr(row.pct)}">'
            f'<th><span class="swatch" style="background:{row.colour}"></span>{html.escape(label)}</th>'
            f'<td class="value">{row.pct:.1f}%</td><td class="target">{html.escape(row.per_day)}</td>'
            f'<td class="target">{html.escape("target " + row.target)}</td></tr>'
        )
    return _stacked_bar(summary) + "<table class=\"ranges\">\n" + "\n".join(rows) + "\n</table>"


def _stacked_bar(summary: AGPSummary) -> str:
    """The time-in-ranges bar in plain HTML: one coloured block per band, very low on the left."""
    blocks = "".join(
        f'<div style="width:{max(row.pct, 0.0):.3f}%;background:{row.colour}" '
        f'title="{html.escape(row.label)} {row.pct:.1f}%"></div>'
        for row in reversed(summary.ranges)
    )
    return f'<div class="bar">{blocks}</div>'


def _page_svgs(summary: AGPSummary) -> dict[str, str]:
    """The plots of the AGP page, each as inline SVG."""
    width = PAGE_SIZE_IN[0]
    agp = _new_figure(width, 3.4)
    draw_agp(agp.add_subplot(), summary)
    daily = _new_figure(width, 4.4)
    draw_daily(daily, summary)
    return {"agp": _svg(agp, "agp"), "daily": _svg(daily, "daily")}


def agp_html(summary: AGPSummary, *, title: str = "AGP report: continuous glucose monitoring",
             extra: str = "") -> str:
    """The HTML text of the AGP report of ``summary`` (``extra``: more HTML before the end)."""
    svgs = _page_svgs(summary)
    notes = "".join(f'<p class="note">Note: {html.escape(n)}.</p>' for n in summary.notes)
    period = (
        f'<p class="period">'
        f'<span data-key="start" data-value="{summary.start.isoformat()}">{summary.start:%d %b %Y %H:%M}</span>'
        f' to <span data-key="end" data-value="{summary.end.isoformat()}">{summary.end:%d %b %Y %H:%M}</span>'
        f' | glucose in <span data-key="unit" data-value="{summary.unit}">{summary.unit}</span></p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
{period}
{notes}
<div class="columns">
<div><h2>Glucose statistics and targets</h2>
{_stats_table(summary)}
</div>
<div><h2>Time in ranges</h2>
{_ranges_table(summary)}
</div>
</div>
<h2>Ambulatory glucose profile (AGP)</h2>
<figure class="agp">{svgs["agp"]}</figure>
<h2>Daily glucose profiles</h2>
<figure class="daily">{svgs["daily"]}</figure>
{extra}
</body>
</html>
"""


def _tagged_table(header: list[str], rows: list[tuple[str, list[tuple[str, float, str]]]]) -> str:
    """A table whose value cells carry data-key and data-value: rows of (label, [(key, value, text)])."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for label, cells in rows:
        tds = "".join(
            f'<td class="value" data-key="{key}" data-value="{_value_attr(value)}">{html.escape(text)}</td>'
            for key, value, text in cells
        )
        body.append(f"<tr><th>{html.escape(label)}</th>{tds}</tr>")
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(body) + "\n</table>"


def twin_html(ts: Any) -> str:
    """The twin section of the HTML report: fit quality, outcomes, forecasts and replay plots."""
    from dt1d.report.twin_figure import _TRACE_NAMES, draw_forecast, draw_replay
    from dt1d.report.twin_summary import ACCURACY_KEYS, OUTCOME_KEYS, _shown

    values = ts.values()
    horizons = [int(h) for h in ts.accuracy["horizon_min"]]
    accuracy = [
        (label, [(f"{key}_{h}min", values[f"{key}_{h}min"], _text(values[f"{key}_{h}min"], fmt))
                 for h in horizons])
        for key, (label, fmt) in ACCURACY_KEYS.items() if key in ts.accuracy.columns
    ]
    names = list(ts.outcomes)
    outcomes = []
    for key, label in OUTCOME_KEYS.items():
        fmt = "{:.0f}" if key == "mean_mgdl" and ts.unit == "mg/dL" else "{:.1f}"
        shown = label if key != "mean_mgdl" else f"{label} ({ts.unit})"
        outcomes.append((shown, [(f"{n}_{key}", _shown(ts.outcomes[n], key, ts.unit),
                                  _text(_shown(ts.outcomes[n], key, ts.unit), fmt)) for n in names]))
    width = PAGE_SIZE_IN[0]
    forecast = _new_figure(width, 3.2)
    draw_forecast(forecast.add_subplot(), ts)
    replay = _new_figure(width, 3.2)
    draw_replay(replay.add_subplot(), ts)
    notes = "".join(f'<p class="note">Note: {html.escape(n)}.</p>' for n in ts.notes)
    return f"""<h1>Digital twin: <span data-key="model_type" data-value="{html.escape(ts.model_type)}">{html.escape(ts.model_type)}</span></h1>
{notes}
<div class="columns">
<div><h2>Fit quality (forecast accuracy)</h2>
{_tagged_table(["horizon"] + [f"{h} min" for h in horizons], accuracy)}
</div>
<div><h2>Glycaemic outcomes: CGM and twin</h2>
{_tagged_table([""] + [_TRACE_NAMES[n] for n in names], outcomes)}
</div>
</div>
<h2>Forecasts against the CGM</h2>
<figure class="forecast">{_svg(forecast, "forecast")}</figure>
<h2>Replay{" and what-if: " + html.escape(ts.what_if_label) if ts.what_if is not None else ""}</h2>
<figure class="replay">{_svg(replay, "replay")}</figure>
"""


def _text(value: float, fmt: str) -> str:
    return fmt.format(value) if value == value else "-"
