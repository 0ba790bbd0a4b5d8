"""
The one-page AGP report
=======================

:func:`dt1d.report.agp_report` writes the international consensus Ambulatory
Glucose Profile report (Battelino 2019) of a CGM record as PDF, PNG or HTML:
the period and % time CGM active, the glucose statistics with their
targets, the time-in-ranges bar, the AGP curve and the daily profiles.
:func:`dt1d.report.agp_figure` gives the same page as a figure. Here 14
simulated days of a virtual patient, shown in mmol/L.
"""

import tempfile
from pathlib import Path

from dt1d.report import agp_figure, agp_report, agp_summary
from dt1d.sim import simulate

record = simulate("adult#004", "random", days=14, seed=2)
fig = agp_figure(record, unit="mmol/L")

# %%
# Every number on the page is a value of :func:`dt1d.metrics.glycaemic_outcomes`;
# :func:`dt1d.report.agp_summary` returns them.

summary = agp_summary(record, unit="mmol/L")
for row in summary.stats:
    print(f"{row.label:<38} {row.text:>12}   {'target ' + row.target if row.target else ''}")
for band in summary.ranges:
    print(f"{band.label:<12} {band.limits:>10} mmol/L {band.pct:5.1f}%   target {band.target}")

# %%
# The same report as a file: the format comes from the suffix.

out = Path(tempfile.mkdtemp()) / "agp.html"
agp_report(record, out, unit="mmol/L")
print(out.name, out.stat().st_size, "bytes, self-contained")
