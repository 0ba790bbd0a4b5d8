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
from dt1d.metrics.excursions import extended_hypo_events, mage
from dt1d.metrics.glycaemic import (
    glucose_events,
    glycaemic_outcomes,
    gmi,
    hbgi,
    lbgi,
    risk_index,
    time_in_range,
)
from dt1d.metrics.risk import adrr, gri, gri_components, j_index
from dt1d.metrics.tables import ACCURACY_COLUMNS, forecast_accuracy_table
from dt1d.metrics.temporal import temporal_gain, time_lag
from dt1d.metrics.variability import conga, modd

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
    "time_lag",
    "temporal_gain",
    "glycaemic_outcomes",
    "glucose_events",
    "risk_index",
    "lbgi",
    "hbgi",
    "gmi",
    "time_in_range",
    "gri",
    "gri_components",
    "j_index",
    "adrr",
    "conga",
    "modd",
    "mage",
    "extended_hypo_events",
    "forecast_accuracy_table",
    "ACCURACY_COLUMNS",
]
