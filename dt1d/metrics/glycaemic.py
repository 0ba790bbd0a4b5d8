"""Glycaemic outcomes of a glucose trace: summary statistics, time in ranges, risk, events.

Definitions follow the international consensus on CGM metrics (Battelino T
et al. Clinical targets for continuous glucose monitoring data
interpretation. Diabetes Care 2019;42(8):1593-1603; Danne T et al. Diabetes
Care 2017;40(12):1631-40). Glucose is in mg/dL unless ``units="mmol/L"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.schema import MGDL_PER_MMOLL
from dt1d.metrics._arrays import _as_float_array, _to_mgdl
from dt1d.metrics.excursions import _interpolate_short_gaps, extended_hypo_events, mage
from dt1d.metrics.risk import adrr, gri, gri_components, j_index
from dt1d.metrics.variability import conga, modd

__all__ = [
    "glycaemic_outcomes",
    "glucose_events",
    "risk_index",
    "lbgi",
    "hbgi",
    "gmi",
    "time_in_range",
]

#: Minutes below (above) a threshold that make an event, and back in range that end it.
EVENT_MIN_DURATION_MIN = 15.0
#: Longest run of missing minutes an open event is carried across (longer gaps end it).
EVENT_MAX_GAP_MIN = 45.0


def _trace(glucose: Any, step_min: float | None, units: str) -> tuple[np.ndarray, float]:
    """Return (glucose in mg/dL on a regular grid, step in minutes) from a Series or array."""
    if isinstance(glucose, pd.DataFrame):
        if "glucose" not in glucose.columns:
            raise ValueError("the record has no 'glucose' column")
        glucose = glucose["glucose"]
    if isinstance(glucose, pd.Series) and isinstance(glucose.index, pd.DatetimeIndex):
        index = glucose.index.as_unit("ns")
        if len(index) > 1:
            diffs = np.diff(index.asi8)
            if (diffs <= 0).any():
                raise ValueError("the glucose index must be strictly increasing; sort it first")
            values, counts = np.unique(diffs, return_counts=True)
            grid_step = values[np.argmax(counts)]
            if (diffs % grid_step).any():
                raise ValueError(
                    "the glucose index is not on a regular grid; "
                    "put it on one with dt1d.data.resample(df, step='5min')"
                )
            index_step_min = grid_step / 6e10
            if step_min is not None and not np.isclose(step_min, index_step_min):
                raise ValueError(
                    f"step_min={step_min} disagrees with the index step of {index_step_min:g} min"
                )
            step_min = float(index_step_min)
            positions = (index.asi8 - index.asi8[0]) // grid_step
            values_arr = np.full(int(positions[-1]) + 1, np.nan)
            values_arr[positions] = _as_float_array(glucose.to_numpy(), "glucose")
            return _to_mgdl(values_arr, units), step_min
    arr = _as_float_array(glucose, "glucose").ravel()
    if step_min is None:
        step_min = 5.0
    if not step_min > 0:
        raise ValueError(f"step_min must be positive, got {step_min!r}")
    return _to_mgdl(arr, units), float(step_min)


def risk_index(glucose_mgdl: Any) -> np.ndarray:
    """Kovatchev's symmetrised glucose scale f(BG) = 1.509 ((ln BG)^1.084 - 5.381).

    Kovatchev BP, Cox DJ, Gonder-Frederick LA, Clarke W. Symmetrization of the
    blood glucose measurement scale and its applications. Diabetes Care
    1997;20(11):1655-8. f maps 20..600 mg/dL to about -sqrt(10)..sqrt(10) and is
    0 at 112.5 mg/dL.
    """
    bg = _as_float_array(glucose_mgdl, "glucose")
    if (bg[~np.isnan(bg)] <= 1.0).any():
        raise ValueError("the risk scale needs glucose above 1 mg/dL (is it in mmol/L?)")
    return 1.509 * (np.log(bg) ** 1.084 - 5.381)


def lbgi(glucose: Any, *, units: str = "mg/dL") -> float:
    """Low blood glucose index: mean of 10 f(BG)^2 over readings with f < 0 (0 otherwise).

    Kovatchev BP, Cox DJ, Gonder-Frederick LA, Young-Hyman D, Schlundt D,
    Clarke W. Assessment of risk for severe hypoglycemia among adults with
    IDDM. Diabetes Care 1998;21(11):1870-5. NaN readings are ignored.
    """
    bg = _to_mgdl(_as_float_array(glucose, "glucose").ravel(), units)
    bg = bg[~np.isnan(bg)]
    if bg.size == 0:
        return float("nan")
    f = risk_index(bg)
    return float(np.mean(np.where(f < 0, 10.0 * f * f, 0.0)))


def hbgi(glucose: Any, *, units: str = "mg/dL") -> float:
    """High blood glucose index: mean of 10 f(BG)^2 over readings with f > 0 (0 otherwise).

    Kovatchev BP et al. 1998 (see :func:`lbgi`). NaN readings are ignored.
    """
    bg = _to_mgdl(_as_float_array(glucose, "glucose").ravel(), units)
    bg = bg[~np.isnan(bg)]
    if bg.size == 0:
        return float("nan")
    f = risk_index(bg)
    return float(np.mean(np.where(f > 0, 10.0 * f * f, 0.0)))


def gmi(mean_glucose_mgdl: float) -> float:
    """Glucose management indicator in % HbA1c units: 3.31 + 0.02392 * mean glucose (mg/dL).

    Bergenstal RM et al. Glucose management indicator (GMI): a new term for
    estimating A1C from continuous glucose monitoring. Diabetes Care
    2018;41(11):2275-80.
    """
    return 3.31 + 0.02392 * float(mean_glucose_mgdl)


def time_in_range(
    glucose: Any, low_mgdl: float = 70.0, high_mgdl: float = 180.0, *, units: str = "mg/dL"
) -> float:
    """Percent of the known readings with low_mgdl <= glucose <= high_mgdl (NaN if none).

    For ``units="mmol/L"`` the readings are compared in mmol/L: the consensus
    limits (54, 70, 140, 180, 250 mg/dL) as their consensus mmol/L values
    (3.0, 3.9, 7.8, 10.0, 13.9), other limits divided by 18.0156; so 10.0
    mmol/L is in range 70-180 (as 10.0 * 18.0156 = 180.16 mg/dL would not be).
    """
    given = _as_float_array(glucose, "glucose").ravel()
    low, high = _limit_in(low_mgdl, units), _limit_in(high_mgdl, units)
    given = given[~np.isnan(given)]
    if given.size == 0:
        return float("nan")
    return float(100.0 * np.mean((given >= low) & (given <= high)))


def glucose_events(
    glucose: Any,
    threshold_mgdl: float,
    *,
    below: bool = True,
    step_min: float | None = None,
    min_duration_min: float = EVENT_MIN_DURATION_MIN,
    max_gap_min: float = EVENT_MAX_GAP_MIN,
    exit_duration_min: float | None = None,
    units: str = "mg/dL",
) -> list[tuple[int, int]]:
    """Hypo- (``below=True``) or hyperglycaemic events of a trace, as (start, end) positions.

    Consensus definition (Battelino et al. 2019; Danne et al. 2017): an event
    begins when glucose stays beyond the threshold (< threshold for hypo,
    > threshold for hyper) for at least ``min_duration_min`` (15) consecutive
    minutes, and ends once it has been back (>= or <= the threshold) for at
    least 15 consecutive minutes (``exit_duration_min``, default
    ``min_duration_min``). Each reading stands for one grid step, so
    three 5-minute readings make 15 minutes.

    Gaps, as iglu (Broll S et al., iglu: interpreting glucose data from
    continuous glucose monitors): where the known readings on either side of
    a gap are at most ``max_gap_min`` (45) minutes apart, the gap is filled
    by linear interpolation and the filled readings count like measured ones
    (they can start, continue or end an event); a longer gap ends an open
    event at the gap's first missing reading, and runs do not add up across
    it. So do missing readings at the end of the trace once they span
    ``max_gap_min`` or more. ``start`` is the first reading of the event and
    ``end`` the first reading of the run that ended it (the trace length if it
    never ended). Positions refer to the regular grid (for a Series with a
    DatetimeIndex, to the grid spanning its first to last time). For
    ``units="mmol/L"`` readings are compared in mmol/L with the threshold as
    :func:`time_in_range` converts it (a consensus limit in its mmol/L form).
    """
    bg, step = _trace(glucose, step_min, "mg/dL")  # values as given, in ``units``
    threshold_mgdl = _limit_in(threshold_mgdl, units)
    gap_steps = int(np.floor(max_gap_min / step + 1e-9))  # most steps between readings bridged
    bg = _interpolate_short_gaps(bg, gap_steps)
    need = int(np.ceil(min_duration_min / step - 1e-9))
    need = max(need, 1)
    exit_min = min_duration_min if exit_duration_min is None else exit_duration_min
    need_exit = max(int(np.ceil(exit_min / step - 1e-9)), 1)
    with np.errstate(invalid="ignore"):
        beyond = (bg < threshold_mgdl) if below else (bg > threshold_mgdl)
    state = np.where(np.isnan(bg), 2, beyond.astype(np.int8))  # 0 back, 1 beyond, 2 missing
    return _events_from_runs(state, need, need_exit, gap_steps - 1)


def _events_from_runs(state: np.ndarray, need: int, need_exit: int, max_missing: int) -> list[tuple[int, int]]:
    """The event state machine of :func:`glucose_events`, run over runs of equal state.

    ``state`` is 0 (back in range), 1 (beyond the threshold) or 2 (missing) per
    reading. An event opens at the first reading of a beyond-run of at least
    ``need`` readings and closes at the first reading of a back-run of at least
    ``need_exit`` readings, or at the first reading of a missing-run longer than
    ``max_missing``. Runs are few (one per crossing), so the loop is short.
    """
    n = state.size
    if n == 0:
        return []
    edges = np.flatnonzero(np.diff(state)) + 1
    starts = np.concatenate(([0], edges)).tolist()
    lengths = np.diff(np.concatenate((starts, [n]))).tolist()
    kinds = state[starts].tolist()
    events: list[tuple[int, int]] = []
    open_at = -1
    for kind, first, length in zip(kinds, starts, lengths, strict=True):
        if open_at < 0:
            if kind == 1 and length >= need:
                open_at = first
        elif (kind == 0 and length >= need_exit) or (kind == 2 and length > max_missing):
            events.append((open_at, first))
            open_at = -1
    if open_at >= 0:
        events.append((open_at, n))
    return events


#: Consensus band limits (mg/dL name -> limit in the input's unit): mmol/L input is
#: compared with the consensus mmol/L limits, not converted to mg/dL first
#: (10.0 mmol/L is in range; 10.0 * 18.0156 = 180.16 mg/dL would not be).
_BANDS = {
    "mg/dL": {54: 54.0, 70: 70.0, 140: 140.0, 180: 180.0, 250: 250.0},
    "mmol/L": {54: 3.0, 70: 3.9, 140: 7.8, 180: 10.0, 250: 13.9},
}


def _limit_in(limit_mgdl: float, units: str) -> float:
    """A glucose limit given in mg/dL, in ``units``: consensus limits keep their round mmol/L value."""
    if units == "mg/dL":
        return float(limit_mgdl)
    band = _band_limits(units)
    for mgdl, value in band.items():
        if float(limit_mgdl) == float(mgdl):
            return value
    return float(limit_mgdl) / MGDL_PER_MMOLL


def _band_limits(units: str) -> dict[int, float]:
    if units not in _BANDS:
        raise ValueError(f"units must be one of {tuple(_BANDS)}, got {units!r}")
    return _BANDS[units]


def _day_source(glucose: Any, bg: np.ndarray) -> Any:
    """What :func:`adrr` groups by day: the Series (calendar dates) or the mg/dL grid."""
    if isinstance(glucose, pd.DataFrame):
        glucose = glucose["glucose"]
    if isinstance(glucose, pd.Series) and isinstance(glucose.index, pd.DatetimeIndex):
        return pd.Series(bg[~np.isnan(bg)], index=_known_times(glucose, bg))
    return bg


def _known_times(glucose: pd.Series, bg: np.ndarray) -> pd.DatetimeIndex:
    """Times of the known grid readings of ``bg`` (the grid from the Series' first time)."""
    index = glucose.index
    if len(index) < 2:
        return index[: int((~np.isnan(bg)).sum())]
    step = np.diff(index.as_unit("ns").asi8)
    values, counts = np.unique(step, return_counts=True)
    grid = index[0] + pd.to_timedelta(np.arange(bg.size) * values[np.argmax(counts)], unit="ns")
    return grid[~np.isnan(bg)]


def glycaemic_outcomes(
    glucose: Any, *, step_min: float | None = None, units: str = "mg/dL"
) -> dict[str, float]:
    """Consensus glycaemic outcomes of one trace, glucose values in mg/dL.

    ``glucose`` is a Series with a DatetimeIndex (a validated record also
    works), or an array on a regular grid of ``step_min`` minutes (default 5).
    NaN readings are ignored; ``coverage_pct`` says how many were known.
    For ``units="mmol/L"`` the ranges, GRI bands and events use the consensus
    mmol/L limits (3.0, 3.9, 7.8, 10.0, 13.9) on the values as given; the
    mg/dL-valued keys (mean, SD) and the risk indices are computed after
    conversion (x 18.0156). Times in ranges are percent of the known readings; ``time_below_70_pct``
    includes the time below 54 and ``time_above_180_pct`` the time above 250.
    SD is the sample standard deviation (ddof=1); CV = 100 SD / mean.
    ``time_in_tight_range_70_140_pct`` is 70-140 mg/dL inclusive; ``gri``,
    ``gri_hypo``, ``gri_hyper``, ``j_index`` and ``adrr`` are those of
    :mod:`dt1d.metrics.risk` (ADRR by calendar day for a Series);
    ``mage_mgdl`` is :func:`dt1d.metrics.mage` (moving-average algorithm,
    5-minute grids only, else NaN) and ``extended_hypo_events`` counts
    :func:`dt1d.metrics.extended_hypo_events` (120 minutes below 70 mg/dL).
    """
    raw, step = _trace(glucose, step_min, "mg/dL")  # values as given, in ``units``
    bg = _to_mgdl(raw, units)
    band = _band_limits(units)
    known = bg[~np.isnan(bg)]
    given = raw[~np.isnan(raw)]  # ranges are compared in the unit of the input
    n = int(known.size)
    out: dict[str, float] = {"n_readings": float(n)}
    out["coverage_pct"] = float(100.0 * n / bg.size) if bg.size else float("nan")
    if n == 0:
        nan = float("nan")
        for key in (
            "mean_mgdl",
            "sd_mgdl",
            "cv_pct",
            "gmi_pct",
            "time_in_range_70_180_pct",
            "time_in_tight_range_70_140_pct",
            "time_below_70_pct",
            "time_below_54_pct",
            "time_above_180_pct",
            "time_above_250_pct",
            "lbgi",
            "hbgi",
            "gri",
            "gri_hypo",
            "gri_hyper",
            "j_index",
            "adrr",
            "conga_1h_mgdl",
            "modd_mgdl",
            "mage_mgdl",
        ):
            out[key] = nan
    else:
        mean = float(known.mean())
        sd = float(known.std(ddof=1)) if n > 1 else float("nan")
        out["mean_mgdl"] = mean
        out["sd_mgdl"] = sd
        out["cv_pct"] = 100.0 * sd / mean
        out["gmi_pct"] = gmi(mean)
        out["time_in_range_70_180_pct"] = float(100.0 * np.mean((given >= band[70]) & (given <= band[180])))
        out["time_below_70_pct"] = float(100.0 * np.mean(given < band[70]))
        out["time_below_54_pct"] = float(100.0 * np.mean(given < band[54]))
        out["time_above_180_pct"] = float(100.0 * np.mean(given > band[180]))
        out["time_above_250_pct"] = float(100.0 * np.mean(given > band[250]))
        out["lbgi"] = lbgi(known)
        out["hbgi"] = hbgi(known)
        out["time_in_tight_range_70_140_pct"] = float(
            100.0 * np.mean((given >= band[70]) & (given <= band[140]))
        )
        out["gri_hypo"], out["gri_hyper"] = gri_components(given, units=units)
        out["gri"] = gri(given, units=units)
        out["j_index"] = j_index(known)
        out["adrr"] = adrr(_day_source(glucose, bg), step_min=step)
        out["conga_1h_mgdl"] = conga(bg, 1.0, step_min=step) if step <= 60 else float("nan")
        out["modd_mgdl"] = modd(bg, step_min=step) if 1440 % step == 0 else float("nan")
        out["mage_mgdl"] = mage(bg, step_min=step) if np.isclose(step, 5.0) else float("nan")
    for key, threshold, below in (
        ("hypo_events_70", 70, True),
        ("hypo_events_54", 54, True),
        ("hyper_events_180", 180, False),
        ("hyper_events_250", 250, False),
    ):
        events = glucose_events(raw, threshold, below=below, step_min=step, units=units)
        out[key] = float(len(events))
    out["extended_hypo_events"] = float(len(extended_hypo_events(raw, step_min=step, units=units)))
    return out
