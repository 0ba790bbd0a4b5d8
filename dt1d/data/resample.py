"""Put a record on a regular time grid: average readings, add up amounts."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from dt1d.data.schema import (
    AMOUNT_COLUMNS,
    KNOWN_NUMERIC_COLUMNS,
    PATIENT_ID,
    DataValidationError,
    _check_numeric,
    _parse_step,
    _require_frame,
    _to_time_index,
    iter_patients,
)

logger = logging.getLogger(__name__)


def resample(df: pd.DataFrame, step: Any = "5min") -> pd.DataFrame:
    """Return ``df`` on a regular grid of ``step``, per patient for a cohort.

    Each bin ``[t, t + step)`` is labelled by its left edge ``t``; bins start at
    midnight of each patient's first day. ``glucose`` and other numeric
    covariates are averaged over the bin (NaN for a bin without readings);
    ``carbs``, ``insulin``, ``bolus``, ``basal`` and ``long_acting_insulin`` are
    summed, since they are amounts per step (0 for an empty bin). Non-numeric covariates are dropped
    with a logged warning. The input may be unsorted or irregular; it is not
    modified. The result passes `dt1d.data.validate` when its values do.
    """
    _require_frame(df)
    bin_width = _parse_step(step)
    if len(df) == 0:
        raise DataValidationError(
            "the record has no rows", code="empty", fix="pass a record with at least one row"
        )
    frame = _to_time_index(df)
    if frame.index.hasnans:
        raise DataValidationError(
            "missing times (NaT) in the index", code="nat_index", column="time",
            fix="drop those rows: df[df.index.notna()]",
        )
    if PATIENT_ID in frame.columns and frame[PATIENT_ID].isna().any():
        raise DataValidationError(
            "missing patient ids", code="missing_patient_id", column=PATIENT_ID,
            fix="give every row a patient_id",
        )
    for column in KNOWN_NUMERIC_COLUMNS:
        if column in frame.columns:
            _check_numeric(frame, column)

    how: dict[Any, str] = {}
    dropped = []
    for column in frame.columns:
        if column == PATIENT_ID:
            continue
        if column in AMOUNT_COLUMNS:
            how[column] = "sum"
        elif pd.api.types.is_numeric_dtype(frame[column].dtype) and not (
            pd.api.types.is_bool_dtype(frame[column].dtype)
        ):
            how[column] = "mean"
        else:
            dropped.append(column)
    if dropped:
        logger.warning("resample drops non-numeric columns %s (cannot average them)", dropped)

    parts = []
    for patient, rows in iter_patients(frame):
        binned = rows[list(how)].resample(
            bin_width, label="left", closed="left", origin="start_day"
        ).agg(how)
        if patient is not None:
            binned[PATIENT_ID] = patient
        parts.append(binned)
    out = pd.concat(parts) if len(parts) > 1 else parts[0]
    columns = [c for c in frame.columns if c not in dropped]
    out = out[columns].astype(dict.fromkeys(how, "float64"))
    return out.rename_axis("time")
