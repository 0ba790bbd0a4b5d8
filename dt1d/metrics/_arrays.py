"""Shared input handling for the metrics: pairing, NaN masks and units."""

from __future__ import annotations

from typing import Any

import numpy as np

from dt1d.data.schema import MGDL_PER_MMOLL

_UNITS = ("mg/dL", "mmol/L")


def _as_float_array(values: Any, name: str) -> np.ndarray:
    """Return ``values`` as a float array, or raise a ValueError naming ``name``."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be numeric glucose values; got {type(values).__name__}: {exc}"
        ) from exc
    return arr


def _same_shape(reference: Any, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as float arrays of one shape, or a ValueError naming both shapes."""
    ref = _as_float_array(reference, "reference")
    pred = _as_float_array(prediction, "prediction")
    if ref.shape != pred.shape:
        raise ValueError(
            f"reference has shape {ref.shape} but prediction has shape {pred.shape}; "
            "pass one prediction per reference value (align them first, e.g. with "
            "dt1d.data.make_target)"
        )
    return ref, pred


def _paired(reference: Any, prediction: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the flattened (reference, prediction) pairs where neither is NaN."""
    ref, pred = _same_shape(reference, prediction)
    ref = ref.ravel()
    pred = pred.ravel()
    for arr, name in ((ref, "reference"), (pred, "prediction")):
        if np.isinf(arr).any():
            raise ValueError(
                f"{name} contains infinite values at positions {np.flatnonzero(np.isinf(arr))[:5].tolist()}"
            )
    keep = ~(np.isnan(ref) | np.isnan(pred))
    return ref[keep], pred[keep]


def _to_mgdl(values: np.ndarray, units: str) -> np.ndarray:
    """Convert glucose ``values`` in ``units`` to mg/dL."""
    if units == "mg/dL":
        return values
    if units == "mmol/L":
        return values * MGDL_PER_MMOLL
    raise ValueError(f"units must be one of {_UNITS}, got {units!r}")
