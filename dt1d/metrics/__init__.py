"""Evaluation of glucose forecasts and traces: accuracy, error grids, glycaemic outcomes.

Imports nothing heavy: no matplotlib, no torch. All functions are NaN-aware
(pairs or readings with a NaN are ignored) and take glucose in mg/dL unless a
``units`` argument says otherwise.
"""

from dt1d.metrics.accuracy import grmse, grmse_penalty, mae, mard, me, rmse
from dt1d.metrics.error_grids import (
    PARKES_BOUNDARIES,
    ZONES,
    clarke_zone_fractions,
    clarke_zones,
    parkes_zone_fractions,
    parkes_zones,
    zone_fractions,
)

__all__ = [
    "rmse",
    "mae",
    "me",
    "mard",
    "grmse",
    "grmse_penalty",
    "ZONES",
    "PARKES_BOUNDARIES",
    "clarke_zones",
    "parkes_zones",
    "zone_fractions",
    "clarke_zone_fractions",
    "parkes_zone_fractions",
]
