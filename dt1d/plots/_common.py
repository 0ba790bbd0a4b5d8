"""Shared plumbing for the plots: lazy matplotlib, record columns, colours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

ZONE_COLOURS = {"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#fc8d59", "E": "#d73027"}
TARGET_LOW_MGDL = 70.0
TARGET_HIGH_MGDL = 180.0


def _new_figure(width_in: float, height_in: float) -> Any:
    """A matplotlib Figure not tied to pyplot (no global state, works headless)."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "dt1d.plots needs matplotlib: pip install 'dt1d[plot]' (or pip install matplotlib)"
        ) from exc
    return Figure(figsize=(width_in, height_in), layout="constrained")


def _check_record(record: Any) -> pd.DataFrame:
    """Raise unless ``record`` is a DataFrame with a DatetimeIndex and a glucose column."""
    if not isinstance(record, pd.DataFrame) or not isinstance(record.index, pd.DatetimeIndex):
        raise ValueError(
            "record must be a DataFrame indexed by time (see dt1d.data.validate); "
            f"got {type(record).__name__}"
        )
    if "glucose" not in record.columns:
        raise ValueError("record has no 'glucose' column")
    return record


def _aligned(values: Any, record: pd.DataFrame, name: str) -> np.ndarray:
    """``values`` as a float array with one entry per row of ``record``."""
    if isinstance(values, pd.Series) and isinstance(values.index, pd.DatetimeIndex):
        values = values.reindex(record.index)
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.shape[0] != len(record):
        raise ValueError(
            f"{name} must have one value per record row ({len(record)}), got shape {arr.shape}"
        )
    return arr


def _column(record: pd.DataFrame, name: str) -> np.ndarray:
    """A record column as floats, zeros when it is absent."""
    if name in record.columns:
        return record[name].to_numpy(dtype=float, na_value=np.nan)
    return np.zeros(len(record))


def _spikes(ax: Any, times: pd.DatetimeIndex, values: np.ndarray, **kw: Any) -> None:
    """Amounts per step as vertical lines (one artist, fast for long records)."""
    nonzero = np.nan_to_num(values) > 0
    ax.vlines(times[nonzero], 0.0, values[nonzero], linewidth=2.0, **kw)
    ax.set_ylim(bottom=0.0)


def _inputs_panels(
    ax_insulin: Any,
    ax_carbs: Any,
    record: pd.DataFrame,
    *,
    alpha: float = 0.8,
    label_suffix: str = "",
    colour_shift: bool = False,
) -> None:
    """Draw insulin (bolus spikes and basal steps) and carbs spikes of a record."""
    times = record.index
    has_split = "bolus" in record.columns or "basal" in record.columns
    bolus = _column(record, "bolus") if has_split else _column(record, "insulin")
    ins_colour = "#7b3294" if colour_shift else "#2166ac"
    carb_colour = "#e08214" if colour_shift else "#b35806"
    _spikes(
        ax_insulin,
        times,
        bolus,
        color=ins_colour,
        alpha=alpha,
        label=("bolus" if has_split else "insulin") + label_suffix,
    )
    if "basal" in record.columns:
        ax_insulin.step(
            times,
            _column(record, "basal"),
            where="post",
            color=ins_colour,
            alpha=alpha,
            linestyle="--",
            label="basal" + label_suffix,
        )
    _spikes(
        ax_carbs,
        times,
        _column(record, "carbs"),
        color=carb_colour,
        alpha=alpha,
        label="carbs" + label_suffix,
    )
    ax_insulin.set_ylabel("insulin (U/step)")
    ax_carbs.set_ylabel("carbs (g/step)")
