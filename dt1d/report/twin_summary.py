"""What the twin page of a report shows, as numbers: fit quality, forecasts, replay, a what-if.

The forecast accuracy is :meth:`dt1d.core.twin.DigitalTwin.evaluate` on the
reported record (so for a twin fitted on the same record it is the in-sample
fit quality); the replay and the what-if are :meth:`DigitalTwin.simulate`,
for models that can simulate (tag ``"simulates"``); each trace's glycaemic
outcomes are :func:`dt1d.metrics.glycaemic_outcomes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dt1d.data.schema import MGDL_PER_MMOLL
from dt1d.exceptions import Dt1dError, ReportError

__all__ = ["TwinSummary", "twin_summary", "ACCURACY_KEYS", "OUTCOME_KEYS"]

#: Columns of the fit-quality table: key -> (label, format).
ACCURACY_KEYS = {
    "rmse": ("RMSE (mg/dL)", "{:.1f}"),
    "mae": ("MAE (mg/dL)", "{:.1f}"),
    "mard": ("MARD (%)", "{:.1f}"),
    "clarke_A": ("Clarke zone A (%)", "{:.1f}"),
    "time_lag_min": ("time lag (min)", "{:.0f}"),
}
#: Outcomes compared between the CGM, the replay and the what-if.
OUTCOME_KEYS = {
    "mean_mgdl": "mean glucose",
    "time_in_range_70_180_pct": "time in range (%)",
    "time_below_70_pct": "time below range (%)",
    "time_above_180_pct": "time above range (%)",
    "cv_pct": "CV (%)",
}
#: Days of the record shown in the forecast and replay plots (the most recent).
PLOT_DAYS = 3


@dataclass(frozen=True)
class TwinSummary:
    """The twin page of one report (see :func:`twin_summary`); glucose traces in ``unit``."""

    model_type: str
    unit: str
    horizons: list[int]
    accuracy: pd.DataFrame  # one row per horizon, ACCURACY_KEYS columns (mg/dL errors, zone A in %)
    cgm: pd.Series
    forecast: pd.Series  # first horizon, placed at the time it forecasts
    replay: pd.Series | None
    what_if: pd.Series | None
    what_if_label: str
    outcomes: dict[str, dict[str, float]]  # trace name -> glycaemic_outcomes (in ``unit``)
    notes: list[str] = field(default_factory=list)

    def values(self) -> dict[str, float]:
        """Every number of the page by key: ``rmse_30min``..., ``replay_mean``..."""
        out: dict[str, float] = {}
        for _, row in self.accuracy.iterrows():
            for key in ACCURACY_KEYS:
                out[f"{key}_{int(row['horizon_min'])}min"] = float(row[key])
        for trace, outcomes in self.outcomes.items():
            for key in OUTCOME_KEYS:
                out[f"{trace}_{key}"] = _shown(outcomes, key, self.unit)
        return out


def _shown(outcomes: Mapping[str, float], key: str, unit: str) -> float:
    """An outcome as the page shows it (mean glucose in ``unit``)."""
    value = float(outcomes[key])
    return value / MGDL_PER_MMOLL if key == "mean_mgdl" and unit == "mmol/L" else value


def _describe(what_if: Mapping[str, Any]) -> str:
    names = {"bolus_scale": "boluses x {}", "basal_scale": "basal x {}", "carbs_scale": "carbs x {}",
             "meal_shift_min": "meals moved {} min"}
    return ", ".join(names.get(k, k + "={}").format(v) for k, v in what_if.items()) or "unchanged"


def _in_unit(values: pd.Series, unit: str) -> pd.Series:
    return values / MGDL_PER_MMOLL if unit == "mmol/L" else values


def twin_summary(twin: Any, record: pd.DataFrame, *, unit: str = "mg/dL",
                 what_if: Mapping[str, Any] | None = None) -> TwinSummary:
    """Forecast accuracy, replay and what-if of ``twin`` on ``record`` (glucose in mg/dL).

    ``what_if`` holds keyword arguments of the twin's ``simulate`` (such as
    ``{"bolus_scale": 0.8}``). Raises :class:`ReportError` when ``twin`` is
    not a fitted :class:`~dt1d.core.twin.DigitalTwin`, or for a what-if of a
    twin that cannot simulate or that the twin refuses.
    """
    from dt1d.core.twin import DigitalTwin
    from dt1d.data import validate
    from dt1d.metrics import glycaemic_outcomes

    if not isinstance(twin, DigitalTwin):
        raise ReportError(f"twin= must be a fitted dt1d DigitalTwin (or a twin file's), got {type(twin).__name__}")
    simulates = "simulates" in getattr(twin.model, "tags", ())
    if what_if is not None and not simulates:
        raise ReportError(f"what_if= needs a twin that can simulate; model {twin.model_type!r} cannot "
                          "(use one tagged 'simulates', such as 'mechanistic')")
    X = validate(record)
    try:
        table = twin.evaluate(X, horizons=twin.horizons)
        pred = twin.predict(X)
    except Dt1dError:
        raise
    except ValueError as exc:
        raise ReportError(f"the twin cannot forecast this record: {exc}") from exc
    first = pred if pred.ndim == 1 else pred[:, 0]
    horizon = twin.horizons[0]
    forecast = pd.Series(first, index=X.index + pd.Timedelta(minutes=horizon), name="forecast")
    cgm = X["glucose"].astype(float)
    traces: dict[str, pd.Series] = {"cgm": cgm}
    notes = []
    replay = changed = None
    if simulates:
        replay = twin.simulate(X)["glucose"].astype(float)
        traces["replay"] = replay
        if what_if is not None:
            try:
                changed = twin.simulate(X, **dict(what_if))["glucose"].astype(float)
            except (TypeError, ValueError) as exc:
                raise ReportError(f"what_if={dict(what_if)!r}: {exc}") from exc
            traces["what_if"] = changed
    else:
        notes.append(f"model {twin.model_type!r} forecasts but cannot replay a record (not tagged 'simulates')")
    outcomes = {name: glycaemic_outcomes(_report_values(trace, unit), units=unit)
                for name, trace in traces.items()}
    keep = [c for c in ("horizon_min", *ACCURACY_KEYS) if c in table.columns]
    table = table.assign(clarke_A=100.0 * table["clarke_A"]) if "clarke_A" in table else table
    return TwinSummary(
        model_type=str(twin.model_type), unit=unit, horizons=list(twin.horizons),
        accuracy=table[keep].reset_index(drop=True), cgm=_in_unit(cgm, unit),
        forecast=_in_unit(forecast, unit), replay=None if replay is None else _in_unit(replay, unit),
        what_if=None if changed is None else _in_unit(changed, unit),
        what_if_label=_describe(what_if or {}), outcomes=outcomes, notes=notes,
    )


def _report_values(trace: pd.Series, unit: str) -> pd.Series:
    """A mg/dL trace in ``unit`` as the AGP page reads it (see :func:`report_glucose`)."""
    from dt1d.report.summary import _MMOL_DECIMALS

    if unit == "mmol/L":
        return (trace / MGDL_PER_MMOLL).round(_MMOL_DECIMALS)
    return trace


def plot_window(series: pd.Series) -> slice:
    """The last ``PLOT_DAYS`` days of a trace, as a time slice."""
    end = series.index[-1]
    return slice(max(series.index[0], end - pd.Timedelta(days=PLOT_DAYS)), end)
