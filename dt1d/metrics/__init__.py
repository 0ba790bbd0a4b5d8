"""Evaluation of glucose forecasts and traces: accuracy, error grids, glycaemic outcomes.

Imports nothing heavy: no matplotlib, no torch. All functions are NaN-aware
(pairs or readings with a NaN are ignored) and take glucose in mg/dL unless a
``units`` argument says otherwise.
"""

from dt1d.metrics.accuracy import grmse, grmse_penalty, mae, mard, me, rmse

__all__ = ["rmse", "mae", "me", "mard", "grmse", "grmse_penalty"]
