"""The consensus Ambulatory Glucose Profile (AGP) report of a CGM record: PDF, PNG or HTML.

:func:`agp_report` writes one page laid out as the international consensus
AGP (Johnson et al. 2019; Battelino et al. 2019 and 2023): the period and %
time CGM active, the glucose statistics with their targets, the time-in-ranges
bar, the AGP percentile curve by time of day and the daily profiles.
:func:`agp_figure` returns the same page as a matplotlib Figure and
:func:`agp_summary` the numbers on it (each a :func:`dt1d.metrics.glycaemic_outcomes`
value). Needs matplotlib (``pip install dt1d[plot]``), imported when a report is drawn.
"""

from dt1d.exceptions import ReportError
from dt1d.report.api import agp_report
from dt1d.report.figure import agp_figure
from dt1d.report.summary import AGPSummary, agp_summary

__all__ = ["agp_report", "agp_figure", "agp_summary", "AGPSummary", "ReportError"]
