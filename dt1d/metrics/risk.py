"""Composite glycaemic risk scores: glycaemia risk index, J-index, average daily risk range.

Glucose is in mg/dL unless ``units="mmol/L"``; NaN readings are ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dt1d.metrics._arrays import _as_float_array, _to_mgdl

__all__ = ["gri", "gri_components", "j_index", "adrr"]

#: 10 * 1.509**2: Kovatchev's risk r(BG) = 10 f(BG)^2 written on ln(BG)^1.084 - 5.381.
_RISK_SCALE = 10.0 * 1.509**2


def _known_mgdl(glucose: Any, units: str) -> np.ndarray:
    if isinstance(glucose, pd.DataFrame):
        glucose = glucose["glucose"]
    bg = _to_mgdl(_as_float_array(glucose, "glucose").ravel(), units)
    return bg[~np.isnan(bg)]


def gri_components(glucose: Any, *, units: str = "mg/dL") -> tuple[float, float]:
    """(hypoglycaemia, hyperglycaemia) components of the glycaemia risk index, in %.

    Klonoff DC et al. A glycemia risk index (GRI) of hypoglycemia and
    hyperglycemia for continuous glucose monitoring validated by clinician
    ratings. J Diabetes Sci Technol 2023;17(5):1226-42. Hypo = VLow + 0.8 Low,
    (mmol/L input: the bands < 3.0, 3.0 to < 3.9, > 10.0 to 13.9, > 13.9),
    Hyper = VHigh + 0.5 High, with VLow = % < 54, Low = % 54 to < 70,
    VHigh = % > 250 and High = % > 180 to 250 mg/dL (NaN if no reading).
    """
    from dt1d.metrics.glycaemic import _band_limits

    band = _band_limits(units)
    bg = _known_mgdl(glucose, "mg/dL")  # as given: the bands are in the input's unit
    if bg.size == 0:
        return float("nan"), float("nan")
    vlow = 100.0 * np.mean(bg < band[54])
    low = 100.0 * np.mean((bg >= band[54]) & (bg < band[70]))
    vhigh = 100.0 * np.mean(bg > band[250])
    high = 100.0 * np.mean((bg > band[180]) & (bg <= band[250]))
    return float(vlow + 0.8 * low), float(vhigh + 0.5 * high)


def gri(glucose: Any, *, units: str = "mg/dL") -> float:
    """Glycaemia risk index, 0-100: 3.0 Hypo + 1.6 Hyper, capped at 100 (Klonoff et al. 2023).

    Equal to 3.0 VLow + 2.4 Low + 1.6 VHigh + 0.8 High; see :func:`gri_components`.
    """
    hypo, hyper = gri_components(glucose, units=units)
    if np.isnan(hypo):
        return float("nan")
    return float(min(3.0 * hypo + 1.6 * hyper, 100.0))


def j_index(glucose: Any, *, units: str = "mg/dL") -> float:
    """J-index 0.001 (mean + SD)^2, glucose in mg/dL, SD with ddof=1.

    Wojcicki JM. "J"-index. A new proposition of the assessment of current
    glucose control in diabetic patients. Horm Metab Res 1995;27(1):41-2.
    NaN with fewer than two readings.
    """
    bg = _known_mgdl(glucose, units)
    if bg.size < 2:
        return float("nan")
    return float(0.001 * (bg.mean() + bg.std(ddof=1)) ** 2)


def adrr(glucose: Any, *, step_min: float = 5.0, units: str = "mg/dL") -> float:
    """Average daily risk range: the mean over days of (max daily low risk + max daily high risk).

    Kovatchev BP, Otto E, Cox D, Gonder-Frederick L, Clarke W. Evaluation of
    a new measure of blood glucose variability in diabetes. Diabetes Care
    2006;29(11):2433-8. Risk r = 10 f^2 with f = 1.509 ((ln BG)^1.084 - 5.381);
    the low risk is r where f < 0 (else 0), the high risk r where f > 0. Days
    are the calendar dates of a Series' DatetimeIndex (in its time zone), or,
    for an array on a grid of ``step_min`` minutes, consecutive blocks of one
    day from the first value. Days without readings are left out.
    """
    if isinstance(glucose, pd.DataFrame):
        glucose = glucose["glucose"]
    if isinstance(glucose, pd.Series) and isinstance(glucose.index, pd.DatetimeIndex):
        values = _to_mgdl(_as_float_array(glucose.to_numpy(), "glucose"), units)
        days = np.asarray(glucose.index.normalize().asi8)
    else:
        if not step_min > 0:
            raise ValueError(f"step_min must be positive, got {step_min!r}")
        values = _to_mgdl(_as_float_array(glucose, "glucose").ravel(), units)
        days = np.floor(np.arange(values.size) * step_min / 1440.0 + 1e-12).astype(np.int64)
    keep = ~np.isnan(values)
    values, days = values[keep], days[keep]
    if values.size == 0:
        return float("nan")
    if (values <= 1.0).any():
        raise ValueError("the risk scale needs glucose above 1 mg/dL (is it in mmol/L?)")
    f = np.log(values) ** 1.084 - 5.381
    order = np.argsort(days, kind="stable")
    f_sorted = f[order]
    starts = np.searchsorted(days[order], np.unique(days))
    day_max = np.maximum(np.maximum.reduceat(f_sorted, starts), 0.0)
    day_min = np.minimum(np.minimum.reduceat(f_sorted, starts), 0.0)
    return float(np.mean(_RISK_SCALE * (day_max**2 + day_min**2)))
