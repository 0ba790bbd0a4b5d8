"""Plots of forecasts, error grids, glucose profiles and twin replays (matplotlib).

Importing this package does not import matplotlib; each function does, when
called, and returns a ``matplotlib.figure.Figure`` (not attached to pyplot, so
it works headless: ``fig.savefig("out.png")``). Install with ``pip install dt1d[plot]``.
"""

from dt1d.plots.agp import agp_percentiles, plot_agp
from dt1d.plots.grids import plot_clarke_grid, plot_parkes_grid
from dt1d.plots.traces import plot_forecast, plot_twin_replay

__all__ = [
    "plot_forecast",
    "plot_twin_replay",
    "plot_clarke_grid",
    "plot_parkes_grid",
    "plot_agp",
    "agp_percentiles",
]
