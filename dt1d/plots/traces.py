"""Time-series plots: a forecast against the CGM, and a twin replay with a what-if overlay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from dt1d.plots._common import (
    TARGET_HIGH_MGDL,
    TARGET_LOW_MGDL,
    _aligned,
    _check_record,
    _inputs_panels,
    _new_figure,
)

__all__ = ["plot_forecast", "plot_twin_replay"]


def _glucose_axes(fig: Any) -> tuple[Any, Any, Any]:
    """Three stacked axes sharing time: glucose (tall), insulin, carbs."""
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1, 1]})
    ax_g = axes[0]
    ax_g.axhspan(
        TARGET_LOW_MGDL, TARGET_HIGH_MGDL, color="#d9f0d3", alpha=0.5, lw=0, label="target 70-180"
    )
    ax_g.set_ylabel("glucose (mg/dL)")
    axes[2].set_xlabel("time")
    return axes[0], axes[1], axes[2]


def plot_forecast(
    record: pd.DataFrame,
    prediction: Any = None,
    *,
    horizon_min: int = 0,
    title: str | None = None,
) -> Any:
    """Forecast against the CGM trace, with insulin and carb panels; returns the Figure.

    ``record`` is a validated record; ``prediction`` one array per row (or a
    mapping label -> array for several forecasts) holding the glucose forecast
    made at each row for ``horizon_min`` later: it is drawn shifted by the
    horizon, so it lies on the CGM it predicts.
    """
    record = _check_record(record)
    fig = _new_figure(10.0, 7.0)
    ax_g, ax_i, ax_c = _glucose_axes(fig)
    ax_g.plot(
        record.index, record["glucose"].to_numpy(dtype=float), ".", ms=3, color="black", label="CGM"
    )
    if prediction is not None:
        series = (
            prediction
            if isinstance(prediction, Mapping)
            else {f"forecast +{horizon_min} min": prediction}
        )
        shift = pd.Timedelta(minutes=horizon_min)
        for label, values in series.items():
            arr = _aligned(values, record, f"prediction {label!r}")
            ax_g.plot(record.index + shift, arr, "-", lw=1.2, label=str(label))
    _inputs_panels(ax_i, ax_c, record)
    ax_g.legend(loc="upper right", fontsize="small")
    ax_g.set_title(title or "Glucose forecast vs CGM")
    return fig


def plot_twin_replay(
    record: pd.DataFrame,
    replay: Any,
    what_if: Any = None,
    *,
    what_if_record: pd.DataFrame | None = None,
    labels: tuple[str, str] = ("twin replay", "what-if"),
    title: str | None = None,
) -> Any:
    """The measured CGM, the twin's replay of it, and a what-if simulation; returns the Figure.

    ``replay`` and ``what_if`` are simulated glucose, one value per record row
    (or Series on the record's times). ``what_if_record`` holds the changed
    inputs (carbs, insulin) of the what-if, drawn over the actual ones.
    """
    record = _check_record(record)
    fig = _new_figure(10.0, 7.0)
    ax_g, ax_i, ax_c = _glucose_axes(fig)
    ax_g.plot(
        record.index, record["glucose"].to_numpy(dtype=float), ".", ms=3, color="black", label="CGM"
    )
    ax_g.plot(
        record.index,
        _aligned(replay, record, "replay"),
        "-",
        lw=1.5,
        color="#2166ac",
        label=labels[0],
    )
    if what_if is not None:
        ax_g.plot(
            record.index,
            _aligned(what_if, record, "what_if"),
            "--",
            lw=1.5,
            color="#d6604d",
            label=labels[1],
        )
    _inputs_panels(ax_i, ax_c, record, alpha=0.6)
    if what_if_record is not None:
        if not isinstance(what_if_record, pd.DataFrame) or not isinstance(
            what_if_record.index, pd.DatetimeIndex
        ):
            raise ValueError("what_if_record must be a DataFrame indexed by time")
        _inputs_panels(
            ax_i, ax_c, what_if_record, alpha=0.5, label_suffix=f" ({labels[1]})", colour_shift=True
        )
    for ax in (ax_g, ax_i, ax_c):
        ax.legend(loc="upper right", fontsize="small")
    ax_g.set_title(title or "Digital twin replay")
    return fig
