"""Point accuracy of a glucose forecast: RMSE, MAE, ME, MARD and gRMSE.

Every function takes ``reference`` (the measured glucose) and ``prediction``
(the forecast of the same instants) as array-likes of equal shape, ignores the
pairs where either value is NaN, and returns NaN when no pair is left.
Multi-dimensional inputs are pooled over all elements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dt1d.metrics._arrays import _paired, _to_mgdl

__all__ = ["rmse", "mae", "me", "mard", "grmse", "grmse_penalty"]


def rmse(reference: Any, prediction: Any) -> float:
    """Root mean squared error, ``sqrt(mean((pred - ref)**2))``, in the units of the input."""
    ref, pred = _paired(reference, prediction)
    if ref.size == 0:
        return float("nan")
    return float(np.sqrt(np.mean((pred - ref) ** 2)))


def mae(reference: Any, prediction: Any) -> float:
    """Mean absolute error, ``mean(abs(pred - ref))``, in the units of the input."""
    ref, pred = _paired(reference, prediction)
    if ref.size == 0:
        return float("nan")
    return float(np.mean(np.abs(pred - ref)))


def me(reference: Any, prediction: Any) -> float:
    """Mean error (bias), ``mean(pred - ref)``: positive when the forecast reads high."""
    ref, pred = _paired(reference, prediction)
    if ref.size == 0:
        return float("nan")
    return float(np.mean(pred - ref))


def mard(reference: Any, prediction: Any) -> float:
    """Mean absolute relative difference in percent, ``100 * mean(abs(pred - ref) / ref)``.

    Unit-free. The reference must be positive (glucose); a zero or negative
    reference raises ValueError because the relative error is undefined there.
    """
    ref, pred = _paired(reference, prediction)
    if ref.size == 0:
        return float("nan")
    if (ref <= 0).any():
        raise ValueError(
            f"mard needs a positive reference glucose; found {int((ref <= 0).sum())} "
            f"value(s) <= 0 (first: {ref[ref <= 0][0]!r})"
        )
    return float(100.0 * np.mean(np.abs(pred - ref) / ref))


# Parameters of the glucose-specific penalty (Del Favero et al. 2012), in mg/dL.
_ALPHA_LOW = 1.5  # extra weight of an overestimate in hypoglycaemia
_ALPHA_HIGH = 1.0  # extra weight of an underestimate in hyperglycaemia
_LOW_END, _LOW_RAMP = 80.0, 30.0  # penalty grows as reference falls from 80 to 50
_HIGH_START, _HIGH_RAMP = 250.0, 100.0  # ... and as reference rises from 250 to 350
_OVER_RAMP = 10.0  # overestimate grows to full penalty over 10 mg/dL
_UNDER_RAMP = 20.0  # underestimate grows to full penalty over 20 mg/dL


def _smooth_step(u: np.ndarray) -> np.ndarray:
    """C2-continuous step: 0 for u <= 0, 1 for u >= 1, piecewise quartic in between.

    In terms of xi = 2u - 1 it is (1 + 2xi - 2xi^3 - xi^4)/2 for xi <= 0 and
    (1 + 2xi - 2xi^3 + xi^4)/2 for xi > 0 (the sigmoid of Del Favero et al. 2012).
    """
    xi = 2.0 * np.clip(u, 0.0, 1.0) - 1.0
    quartic = np.where(xi <= 0.0, -(xi**4), xi**4)
    return 0.5 * (1.0 + 2.0 * xi - 2.0 * xi**3 + quartic)


def grmse_penalty(reference: Any, prediction: Any, *, units: str = "mg/dL") -> np.ndarray:
    """Per-point weight of the glucose-specific MSE (1 = plain squared error).

    With ``S`` the C2 smooth step of Del Favero et al. 2012, ``g`` the
    reference and ``g_hat`` the prediction in mg/dL::

        Pen = 1 + 1.5 * S((80 - g) / 30) * S((g_hat - g) / 10)
                + 1.0 * S((g - 250) / 100) * S((g - g_hat) / 20)

    Overestimating a low glucose, or underestimating a high one, weighs up
    to 2.5x or 2x. NaN pairs give NaN; the output has the shape of the inputs.
    """
    ref = np.asarray(reference, dtype=float)
    pred = np.asarray(prediction, dtype=float)
    if ref.shape != pred.shape:
        raise ValueError(f"reference has shape {ref.shape} but prediction has shape {pred.shape}")
    g = _to_mgdl(ref, units)
    g_hat = _to_mgdl(pred, units)
    low = _smooth_step((_LOW_END - g) / _LOW_RAMP) * _smooth_step((g_hat - g) / _OVER_RAMP)
    high = _smooth_step((g - _HIGH_START) / _HIGH_RAMP) * _smooth_step((g - g_hat) / _UNDER_RAMP)
    return 1.0 + _ALPHA_LOW * low + _ALPHA_HIGH * high


def grmse(reference: Any, prediction: Any, *, units: str = "mg/dL") -> float:
    """Glucose-specific RMSE, ``sqrt(mean(Pen(g, g_hat) * (g_hat - g)**2))``, in the input units.

    Del Favero S, Facchinetti A, Cobelli C. A glucose-specific metric to assess
    predictors and identify models. IEEE Trans Biomed Eng 2012;59(5):1281-90.
    The penalty (see :func:`grmse_penalty`) is defined on mg/dL; ``units``
    says what the inputs are in, and the result is returned in those units.
    """
    ref, pred = _paired(reference, prediction)
    if ref.size == 0:
        return float("nan")
    pen = grmse_penalty(ref, pred, units=units)
    return float(np.sqrt(np.mean(pen * (pred - ref) ** 2)))
