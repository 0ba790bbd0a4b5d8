"""The patient-record contract: column names, units, and `validate`.

A record is a DataFrame indexed by a regular `DatetimeIndex` named ``time``
with a ``glucose`` column in mg/dL and ``carbs`` (g per step) / ``insulin``
(U per step) amounts, and optionally ``long_acting_insulin`` (U injected per step,
for people on injections); see ``docs/data_format.md`` and ``spec/data.md``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data import limits as _limits
from dt1d.data.limits import PlausibilityLimits
from dt1d.exceptions import DataValidationError, PlausibilityWarning

logger = logging.getLogger(__name__)

TIME = "time"
GLUCOSE = "glucose"
CARBS = "carbs"
INSULIN = "insulin"
BOLUS = "bolus"
BASAL = "basal"
#: Long-acting insulin (glargine, degludec, detemir) injected in the step [U]; never part of
#: ``insulin``, which is rapid-acting insulin only.
LONG_ACTING_INSULIN = "long_acting_insulin"
PATIENT_ID = "patient_id"

#: Amount columns: per-step quantities that add up when resampled.
AMOUNT_COLUMNS: tuple[str, ...] = (CARBS, INSULIN, BOLUS, BASAL, LONG_ACTING_INSULIN)
#: Columns whose meaning dt1d knows; all must be numeric.
KNOWN_NUMERIC_COLUMNS: tuple[str, ...] = (GLUCOSE, *AMOUNT_COLUMNS)

#: mg/dL per mmol/L of glucose (molar mass 180.156 g/mol / 10).
MGDL_PER_MMOLL = 18.0156
#: Plausible glucose range in mg/dL; readings outside it are errors.
GLUCOSE_MIN_MGDL = 10.0
GLUCOSE_MAX_MGDL = 1000.0
#: A median glucose below this (in "mg/dL") almost surely means mmol/L.
MMOLL_MEDIAN_THRESHOLD_MGDL = 35.0
#: Units accepted by `validate`, keyed by their lower-case spelling.
UNITS = {"mg/dl": "mg/dL", "mmol/l": "mmol/L"}

_MAX_ROWS_SHOWN = 3
# Relative and absolute tolerance (U) for insulin == bolus + basal.
_INSULIN_SUM_RTOL = 1e-9
_INSULIN_SUM_ATOL = 1e-9


def _step_label(step: pd.Timedelta | np.timedelta64) -> str:
    """A grid step as a pandas frequency string ("5min") for messages and fixes."""
    label = pd.tseries.frequencies.to_offset(pd.Timedelta(step)).freqstr
    return label if label[0].isdigit() else f"1{label}"


def _time_values(index: pd.DatetimeIndex) -> np.ndarray:
    """Index times as naive datetime64 (UTC for tz-aware), for arithmetic."""
    if index.tz is not None:
        index = index.tz_convert(None)
    return index.to_numpy()


def _patient_codes(df: pd.DataFrame) -> np.ndarray | None:
    """Patient codes 0, 1, ... in order of first appearance, or None for one patient."""
    if PATIENT_ID not in df.columns:
        return None
    codes, _ = pd.factorize(df[PATIENT_ID], sort=False, use_na_sentinel=True)
    return codes


def _row_labels(df: pd.DataFrame, positions: np.ndarray) -> list[str]:
    """Human-readable labels (time, and patient for cohorts) of the first few rows."""
    shown = positions[:_MAX_ROWS_SHOWN]
    labels = [str(df.index[i]) for i in shown]
    if PATIENT_ID in df.columns:
        pids = df[PATIENT_ID].to_numpy()
        labels = [f"{t} patient {pids[i]!r}" for t, i in zip(labels, shown, strict=True)]
    more = len(positions) - len(shown)
    if more > 0:
        labels.append(f"... {more} more")
    return labels


def _within_patient_diffs(
    df: pd.DataFrame, codes: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Time differences between consecutive rows of the same patient, and the later row's position."""
    times = _time_values(df.index)
    diffs = np.diff(times)
    later = np.arange(1, len(times))
    if codes is not None:
        same = codes[1:] == codes[:-1]
        diffs, later = diffs[same], later[same]
    return diffs, later


def _require_frame(df: Any) -> None:
    """Raise unless ``df`` is a pandas DataFrame."""
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(
            f"expected a pandas DataFrame, got {type(df).__name__}",
            code="not_dataframe", fix="pass a record: a DataFrame indexed by time",
        )


def _most_common(diffs: np.ndarray) -> np.timedelta64:
    """The most common time difference (the smallest of equally common ones)."""
    values, counts = np.unique(diffs, return_counts=True)
    return values[np.argmax(counts)]


def iter_patients(df: pd.DataFrame) -> Iterator[tuple[Any, pd.DataFrame]]:
    """Yield ``(patient_id, frame)`` per patient in order of first appearance; ``(None, df)`` for one.

    The frames of a cohort keep their ``patient_id`` column. For a single-patient
    record the frame yielded is ``df`` itself: do not modify it in place.
    """
    _require_frame(df)
    if PATIENT_ID not in df.columns:
        yield None, df
        return
    yield from df.groupby(PATIENT_ID, sort=False, dropna=False)


def infer_step(df: pd.DataFrame) -> pd.Timedelta:
    """Return the grid step of a record: the most common gap between a patient's consecutive rows."""
    _require_frame(df)
    if not isinstance(df.index, pd.DatetimeIndex):
        raise DataValidationError(
            f"index is a {type(df.index).__name__}, not a DatetimeIndex",
            code="not_datetime_index",
            fix="call dt1d.data.validate(df) first, or df.set_index('time')",
        )
    diffs, _ = _within_patient_diffs(df, _patient_codes(df))
    diffs = diffs[diffs > np.timedelta64(0, "ns")]
    if diffs.size == 0:
        raise DataValidationError(
            "cannot infer the grid step: no patient has two rows at distinct times",
            code="no_step",
            fix="pass step= explicitly",
        )
    return pd.Timedelta(_most_common(diffs))


def _fail_if_any(
    df: pd.DataFrame, mask: np.ndarray, problem: str, *, code: str, column: str | None, fix: str
) -> None:
    """Raise a DataValidationError naming the first rows where ``mask`` is true."""
    if mask.any():
        positions = np.flatnonzero(mask)
        raise DataValidationError(
            f"{len(positions)} {problem}",
            code=code,
            column=column,
            rows=_row_labels(df, positions),
            fix=fix,
        )


def _normalise_units(units: str) -> str:
    """Map a units spelling to "mg/dL" or "mmol/L", or raise naming the accepted ones."""
    if not isinstance(units, str) or units.strip().lower() not in UNITS:
        raise DataValidationError(
            f"units={units!r} is not supported",
            code="bad_units",
            fix='pass units="mg/dL" or units="mmol/L"',
        )
    return UNITS[units.strip().lower()]


def _parse_step(step: Any) -> pd.Timedelta:
    """Parse a grid step ("5min", a Timedelta) or raise naming the value."""
    try:
        parsed = pd.Timedelta(step)
    except (TypeError, ValueError) as err:
        raise DataValidationError(
            f"step={step!r} is not a time span", code="bad_step", fix="pass e.g. step='5min'"
        ) from err
    if pd.isna(parsed) or parsed <= pd.Timedelta(0):
        raise DataValidationError(
            f"step={step!r} is not a positive time span", code="bad_step",
            fix="pass e.g. step='5min'",
        )
    return parsed


def _to_time_index(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` indexed by a DatetimeIndex named ``time`` (a ``time`` column is accepted)."""
    if isinstance(df.index, pd.DatetimeIndex):
        if TIME in df.columns:
            raise DataValidationError(
                "the frame has both a DatetimeIndex and a 'time' column",
                code="ambiguous_time",
                column=TIME,
                fix="drop or rename the 'time' column",
            )
        return df.rename_axis(TIME)
    if TIME in df.columns:
        if not pd.api.types.is_datetime64_any_dtype(df[TIME]):
            raise DataValidationError(
                f"the 'time' column has dtype {df[TIME].dtype}, not datetime",
                code="not_datetime_index",
                column=TIME,
                fix="df['time'] = pd.to_datetime(df['time'], format=...)",
            )
        return df.set_index(TIME)
    fix = "df = df.set_index('time') with a datetime 'time' column"
    if isinstance(df.index, pd.MultiIndex):
        fix = "move the patient level to a column: df.reset_index('patient_id')"
    raise DataValidationError(
        f"index is a {type(df.index).__name__} and there is no 'time' column; "
        "a record needs a DatetimeIndex",
        code="not_datetime_index",
        fix=fix,
    )


def _check_index(df: pd.DataFrame, codes: np.ndarray | None, step: pd.Timedelta | None) -> None:
    """Check contiguous patients, no NaT, strictly increasing times and a regular grid."""
    if df.index.hasnans:
        _fail_if_any(
            df, np.asarray(df.index.isna()), "missing times (NaT) in the index",
            code="nat_index", column=TIME, fix="drop those rows: df[df.index.notna()]",
        )
    if codes is not None:
        if (codes < 0).any():
            _fail_if_any(
                df, codes < 0, "missing patient ids", code="missing_patient_id",
                column=PATIENT_ID, fix="give every row a patient_id",
            )
        # factorize numbers patients by first appearance: contiguous blocks iff codes never decrease.
        _fail_if_any(
            df, np.r_[False, np.diff(codes) < 0],
            "rows where a patient reappears after another patient's rows",
            code="patients_not_contiguous", column=PATIENT_ID,
            fix="keep each patient's rows together: "
            "df.sort_values(['patient_id', 'time'], kind='stable')",
        )
    diffs, later = _within_patient_diffs(df, codes)
    zero = np.timedelta64(0, "ns")
    where = "within a patient " if codes is not None else ""
    back = np.zeros(len(df), dtype=bool)
    back[later[diffs < zero]] = True
    _fail_if_any(
        df, back, f"rows earlier than the row before them {where}(index not increasing)",
        code="not_increasing", column=TIME,
        fix="sort by time: df.sort_index()" if codes is None
        else "sort within patient: df.sort_values(['patient_id', 'time'], kind='stable')",
    )
    dup = np.zeros(len(df), dtype=bool)
    dup[later[diffs == zero]] = True
    _fail_if_any(
        df, dup, f"duplicated times {where}in the index", code="duplicate_time", column=TIME,
        fix="merge duplicates onto a regular grid with dt1d.data.resample(df, step='5min')",
    )
    if diffs.size == 0:
        return
    expected = _most_common(diffs) if step is None else step.to_timedelta64()
    off = np.zeros(len(df), dtype=bool)
    off[later[diffs != expected]] = True
    label = _step_label(expected)
    _fail_if_any(
        df, off, f"rows off the regular {label} grid (a gap or an uneven step before them)",
        code="irregular_grid", column=TIME,
        fix=f"put the record on a grid with dt1d.data.resample(df, step={label!r})",
    )


def _check_numeric(df: pd.DataFrame, column: str) -> None:
    """Raise if a known column is not numeric, naming rows that do not parse as numbers."""
    dtype = df[column].dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return
    parsed = pd.to_numeric(df[column], errors="coerce")
    bad = parsed.isna().to_numpy() & df[column].notna().to_numpy()
    rows = _row_labels(df, np.flatnonzero(bad)) if bad.any() else []
    raise DataValidationError(
        f"dtype {dtype} is not numeric",
        code="non_numeric",
        column=column,
        rows=rows,
        fix=f"convert it: df[{column!r}] = pd.to_numeric(df[{column!r}])",
    )


def _warn_rows(df: pd.DataFrame, mask: np.ndarray, message: str) -> None:
    """Warn (`PlausibilityWarning`) naming the first rows where ``mask`` is true."""
    if mask.any():
        positions = np.flatnonzero(mask)
        rows = ", ".join(_row_labels(df, positions))
        warnings.warn(f"{len(positions)} {message} (first rows: {rows})",
                      PlausibilityWarning, stacklevel=4)


def _check_glucose(df: pd.DataFrame, unit: str, codes: np.ndarray | None) -> np.ndarray:
    """Return glucose in mg/dL as float64, raising on all-NaN, wrong units or implausible values."""
    glucose = df[GLUCOSE].to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(glucose)
    if not known.any():
        raise DataValidationError(
            "every glucose value is NaN", code="all_nan", column=GLUCOSE,
            fix="check the reader: a record needs at least some CGM readings",
        )
    finite = known & np.isfinite(glucose)
    median = float(np.median(glucose[finite])) if finite.any() else np.nan
    if unit == "mg/dL" and median < MMOLL_MEDIAN_THRESHOLD_MGDL:
        raise DataValidationError(
            f"median glucose is {median:.3g}, which looks like mmol/L, not mg/dL",
            code="looks_mmol", column=GLUCOSE,
            fix=f'pass units="mmol/L" to convert (x {MGDL_PER_MMOLL} mg/dL per mmol/L)',
        )
    if unit == "mmol/L":
        if median >= MMOLL_MEDIAN_THRESHOLD_MGDL:
            raise DataValidationError(
                f"median glucose is {median:.3g}, which looks like mg/dL, not mmol/L",
                code="looks_mgdl", column=GLUCOSE, fix='pass units="mg/dL"',
            )
        glucose = glucose * MGDL_PER_MMOLL
    mmol = np.zeros(len(glucose), dtype=bool)
    if unit == "mg/dL":
        mmol = _limits.looks_like_mmol(glucose, _time_values(df.index), codes,
                                       MMOLL_MEDIAN_THRESHOLD_MGDL, MGDL_PER_MMOLL)
    outside = known & ~((glucose >= GLUCOSE_MIN_MGDL) & (glucose <= GLUCOSE_MAX_MGDL))
    hint = ""
    if (outside & mmol).any():
        hint = " (those below 10 sit among mg/dL readings as if they were mmol/L)"
    elif unit == "mmol/L" and (outside & (glucose / MGDL_PER_MMOLL >= GLUCOSE_MIN_MGDL)).any():
        hint = " (those above 1000 look like mg/dL readings inside a mmol/L column)"
    _fail_if_any(
        df, outside,
        f"glucose values outside {GLUCOSE_MIN_MGDL:g}-{GLUCOSE_MAX_MGDL:g} mg/dL "
        f"(after reading them as {unit}){hint}",
        code="out_of_range", column=GLUCOSE,
        fix="set sensor errors to NaN: df.loc[bad, 'glucose'] = np.nan",
    )
    _fail_if_any(
        df, mmol, f"glucose values below {MMOLL_MEDIAN_THRESHOLD_MGDL:g} mg/dL next to "
        f"readings {MGDL_PER_MMOLL:g} times as high: they look like mmol/L inside a mg/dL column",
        code="looks_mmol", column=GLUCOSE,
        fix=f"multiply those readings by {MGDL_PER_MMOLL} (or set them to NaN)",
    )
    _warn_rows(df, known & (glucose < MMOLL_MEDIAN_THRESHOLD_MGDL),
               f"glucose readings below {MMOLL_MEDIAN_THRESHOLD_MGDL:g} mg/dL, under what CGMs "
               "report (about 40 mg/dL); mmol/L values?")
    return glucose


def _check_limits(
    df: pd.DataFrame, column: str, codes: np.ndarray | None, step_ns: int | None,
    limits: PlausibilityLimits,
) -> None:
    """Raise on amounts above the limits per step or per 24 hours; warn above the warn levels."""
    values = df[column].to_numpy(dtype=np.float64)
    unit, step_warn, step_max, day_warn, day_max = limits.for_column(column)
    rows, scale = _limits.window_rows(step_ns)
    totals = _limits.window_totals(values, codes, rows)
    day_warn, day_max = day_warn * scale, day_max * scale
    step_check = _limits.checks_steps(step_ns)
    mistake = _limits.unit_mistake(unit, float(values.max(initial=0.0)),
                                   float(totals.max(initial=0.0)), step_warn, day_warn)
    fix = f"{mistake}; or pass validate(..., limits=PlausibilityLimits(...)) if they are real"
    if step_check:
        _fail_if_any(df, values > step_max,
                     f"amounts above {step_max:g} {unit} in one step, more than a person can "
                     "receive", code="implausible_amount", column=column, fix=fix)
    _fail_if_any(df, totals > day_max,
                 f"rows where the 24 hours up to them hold more than {day_max:g} {unit}, more than a "
                 "person can receive in a day",
                 code="implausible_amount", column=column, fix=fix)
    if step_check:
        _warn_rows(df, values > step_warn,
                   f"{column!r} amounts above {step_warn:g} {unit} in one step (possible, unusual)")
    _warn_rows(df, totals > day_warn,
               f"rows where the 24 hours up to them hold more than {day_warn:g} {unit} of {column!r} "
               "(possible, unusual)")


def _check_amount(df: pd.DataFrame, column: str) -> np.ndarray:
    """Return an amount column as float64 with NaN read as 0 (warned); raise on negative or inf."""
    values = df[column].to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if missing.any():
        logger.warning(
            "column %r: %d NaN values read as 0 (none recorded), first rows: %s",
            column, int(missing.sum()), ", ".join(_row_labels(df, np.flatnonzero(missing))),
        )
        values = np.where(missing, 0.0, values)
    _fail_if_any(
        df, values < 0, "negative values (amounts per step cannot be negative)",
        code="negative", column=column,
        fix=f"check the reader's sign and units, or clip: df[{column!r}].clip(lower=0)",
    )
    _fail_if_any(
        df, np.isinf(values), "infinite values", code="not_finite", column=column,
        fix="check the reader's units conversion",
    )
    return values


def refuse_long_acting(df: pd.DataFrame, model: str) -> None:
    """Raise for a record with long-acting injections, for models that cannot use them.

    A model that reads only ``insulin`` would treat a person on injections as having no
    basal insulin; it refuses instead, naming the column.
    """
    if LONG_ACTING_INSULIN not in df.columns:
        return
    values = df[LONG_ACTING_INSULIN].to_numpy(dtype=np.float64, na_value=0.0)
    _fail_if_any(
        df, values > 0, f"rows with long-acting insulin, which the {model} model cannot use "
        "(it reads rapid-acting 'insulin' only)", code="unsupported_column",
        column=LONG_ACTING_INSULIN,
        fix="use a model that takes long-acting insulin, or drop the column knowingly",
    )


def validate(
    df: pd.DataFrame, *, units: str = "mg/dL", step: Any = None,
    limits: PlausibilityLimits | None = None,
) -> pd.DataFrame:
    """Check a patient record against the data contract and return a normalised copy.

    The copy has a DatetimeIndex named ``time``, glucose in mg/dL and float64
    ``glucose``/``carbs``/``insulin`` (plus ``bolus``/``basal``/``long_acting_insulin``
    when present; ``long_acting_insulin`` is never added into ``insulin``).
    ``step`` (e.g. ``"5min"``) fixes the grid; by default it is inferred.
    ``limits`` overrides the plausibility limits on amounts (default:
    `dt1d.data.limits.current_limits`). Raises `DataValidationError` naming the column,
    the first bad rows and the fix; warns (`PlausibilityWarning`) about unusual values.
    """
    if limits is None:
        limits = _limits.current_limits()
    elif not isinstance(limits, PlausibilityLimits):
        raise DataValidationError(
            f"limits={limits!r} is not a PlausibilityLimits", code="bad_limits",
            fix="pass dt1d.data.limits.PlausibilityLimits(...)",
        )
    _require_frame(df)
    unit = _normalise_units(units)
    grid_step = None if step is None else _parse_step(step)
    if df.columns.has_duplicates:
        dups = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataValidationError(
            f"duplicated column names {dups}", code="duplicate_columns",
            fix="rename or drop the duplicated columns",
        )
    if len(df) == 0:
        raise DataValidationError(
            "the record has no rows", code="empty", fix="pass a record with at least one row"
        )
    if GLUCOSE not in df.columns:
        raise DataValidationError(
            f"no 'glucose' column (columns are {[str(c) for c in df.columns]})",
            code="missing_column", column=GLUCOSE,
            fix="rename the CGM column to 'glucose' (mg/dL, or pass units='mmol/L')",
        )
    out = _to_time_index(df.copy(deep=True))
    for column in KNOWN_NUMERIC_COLUMNS:
        if column in out.columns:
            _check_numeric(out, column)
    codes = _patient_codes(out)
    _check_index(out, codes, grid_step)

    out[GLUCOSE] = _check_glucose(out, unit, codes)
    for column in AMOUNT_COLUMNS:
        if column in out.columns:
            out[column] = _check_amount(out, column)

    parts = [c for c in (BOLUS, BASAL) if c in out.columns]
    if INSULIN not in out.columns and parts:
        logger.warning("no 'insulin' column: computed as the sum of %s", " + ".join(parts))
        out[INSULIN] = out[parts].sum(axis=1).to_numpy(dtype=np.float64)
    elif len(parts) == 2:
        total = out[BOLUS].to_numpy() + out[BASAL].to_numpy()
        mismatch = ~np.isclose(
            out[INSULIN].to_numpy(), total, rtol=_INSULIN_SUM_RTOL, atol=_INSULIN_SUM_ATOL
        )
        _fail_if_any(
            out, mismatch, "rows where insulin != bolus + basal",
            code="insulin_mismatch", column=INSULIN,
            fix="drop the 'insulin' column to have it computed as bolus + basal",
        )
    for column in (CARBS, INSULIN):
        if column not in out.columns:
            logger.warning("no %r column: read as none recorded (zeros)", column)
            out[column] = np.zeros(len(out), dtype=np.float64)
    diffs, _ = _within_patient_diffs(out, codes)
    step_ns = pd.Timedelta(diffs[0]).value if diffs.size else None
    for column in (CARBS, BOLUS, BASAL, INSULIN, LONG_ACTING_INSULIN):
        if column in out.columns:
            _check_limits(out, column, codes, step_ns, limits)
    return out
