"""Plausibility limits in validate: impossible amounts and unit mistakes raise, unusual ones warn."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from _data_strategies import make_record, valid_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dt1d.data import DataValidationError, read_replaybg, validate
from dt1d.data.limits import DEFAULT_LIMITS, PlausibilityLimits, current_limits, use_limits
from dt1d.exceptions import PlausibilityWarning

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _day(n: int = 288, *, insulin: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """A day on a 5-minute grid with steady glucose, basal insulin, one meal and one bolus."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-01-01", periods=n, freq="5min", name="time")
    df = pd.DataFrame(
        {"glucose": rng.uniform(90.0, 180.0, n), "carbs": 0.0, "insulin": insulin}, index=index
    )
    df.iloc[100, 1] = 150.0  # a large meal
    df.iloc[100, 2] = 20.0  # a large bolus
    return df


def _error(df: pd.DataFrame, **kwargs) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate(df, **kwargs)
    return info.value


def _no_plausibility_warning(df: pd.DataFrame, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlausibilityWarning)
        return validate(df, **kwargs)


def test_large_real_meals_and_boluses_pass_without_warning():
    _no_plausibility_warning(_day())


def test_real_record_passes_without_warning(real_record_dir):
    record = read_replaybg([real_record_dir / "data_day_1.csv", real_record_dir / "data_day_2.csv"])
    _no_plausibility_warning(record)


@pytest.mark.parametrize("column", ["insulin", "carbs"])
def test_amounts_logged_x1000_raise_naming_column_rows_and_unit(column):
    df = _day()
    df[column] = df[column] * 1000
    err = _error(df)
    assert err.code == "implausible_amount" and err.column == column
    assert err.rows == [str(df.index[100])]
    assert ("mU" if column == "insulin" else "mg") in str(err)
    assert "divide by 1,000" in str(err)


@pytest.mark.parametrize(("column", "value"), [("insulin", 1e6), ("carbs", 1e5),
                                               ("insulin", 251.0), ("carbs", 1001.0)])
def test_impossible_single_amounts_raise(column, value):
    df = _day()
    df.iloc[7, df.columns.get_loc(column)] = value
    err = _error(df)
    assert err.code == "implausible_amount" and err.column == column
    assert err.rows == [str(df.index[7])]


def test_basal_in_milliunits_is_caught_per_day_even_under_the_step_limit():
    df = _day(insulin=50.0)  # 0.05 U per step written as 50: below 250 U per step, 14,400 U a day
    df.iloc[100, 2] = 50.0
    err = _error(df)
    assert err.code == "implausible_amount" and "24 hours" in str(err) and "mU" in str(err)


@pytest.mark.parametrize("column", ["bolus", "basal", "long_acting_insulin"])
def test_every_insulin_column_is_checked(column):
    df = _day().drop(columns="insulin")
    df[column] = 0.0
    df.iloc[9, df.columns.get_loc(column)] = 5000.0
    err = _error(df)
    assert err.column == column and err.code == "implausible_amount"


def test_day_totals_never_cross_from_one_patient_to_the_next():
    blocks = []
    for pid in ("ana", "ben"):
        block = _day(150, insulin=6.0).assign(patient_id=pid)  # 900 U per patient
        block.iloc[100, 2] = 6.0
        blocks.append(block)
    cohort = pd.concat(blocks)
    with pytest.warns(PlausibilityWarning, match="24 hours"):
        validate(cohort)
    # The same amounts as one patient over 300 steps are 1,728 U in 24 hours.
    one = pd.concat([b.drop(columns="patient_id") for b in blocks])
    one.index = pd.date_range("2025-01-01", periods=len(one), freq="5min", name="time")
    assert _error(one).code == "implausible_amount"


def test_unusual_amounts_warn_naming_rows():
    df = _day()
    df.iloc[30, 2] = 60.0
    df.iloc[40, 1] = 300.0
    with pytest.warns(PlausibilityWarning) as record:
        validate(df)
    text = " ".join(str(w.message) for w in record)
    assert str(df.index[30]) in text and str(df.index[40]) in text


def test_coarse_grids_are_checked_per_day_only():
    index = pd.date_range("2025-01-01", periods=10, freq="1D", name="time")
    daily = pd.DataFrame({"glucose": 140.0, "carbs": 250.0, "insulin": 60.0}, index=index)
    _no_plausibility_warning(daily)
    daily.iloc[3, 2] = 6000.0
    assert _error(daily).code == "implausible_amount"


def test_limits_can_be_overridden_by_argument_and_context():
    df = _day()
    df.iloc[7, 2] = 400.0
    assert _error(df).code == "implausible_amount"
    loose = PlausibilityLimits(insulin_step_warn_u=500, insulin_step_max_u=math.inf,
                               insulin_day_warn_u=1000)
    _no_plausibility_warning(df, limits=loose)
    with use_limits(loose):
        assert current_limits() is loose
        _no_plausibility_warning(df)
    assert current_limits() is DEFAULT_LIMITS
    assert _error(df).code == "implausible_amount"


def test_limits_values_are_checked():
    with pytest.raises(ValueError, match="insulin_step_warn_u"):
        PlausibilityLimits(insulin_step_warn_u=300.0)  # above the 250 U maximum
    with pytest.raises(ValueError, match="carbs_day_max_g"):
        PlausibilityLimits(carbs_day_max_g=float("nan"))
    assert _error(_day(), limits={"insulin_step_max_u": 1}).code == "bad_limits"


@SETTINGS
@given(valid_records(min_rows=2), st.sampled_from(["carbs", "insulin"]))
def test_any_record_logged_x1000_is_refused(df, column):
    df = df.drop(columns=[c for c in ("bolus", "basal") if c in df.columns])
    values = df[column].fillna(0.0)
    if values.max() <= 1.0:  # amounts too small to be implausible even x1000
        df = df.assign(**{column: values + 1.5})
    scaled = df.assign(**{column: df[column] * 1000})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlausibilityWarning)
        validate(df)
    err = _error(scaled)
    assert err.code == "implausible_amount" and err.column == column


# --- glucose: mmol/L values inside a mg/dL column ----------------------------------------


def test_one_mmol_value_inside_mgdl_raises_naming_the_row():
    df = _day()
    df.iloc[50, 0] = 12.5
    err = _error(df)
    assert err.code == "looks_mmol" and err.column == "glucose"
    assert err.rows == [str(df.index[50])] and "18.0156" in str(err)


def test_mmol_value_next_to_missing_readings_still_found():
    df = _day()
    df.iloc[48:50, 0] = np.nan
    df.iloc[51:53, 0] = np.nan
    df.iloc[50, 0] = 13.1
    assert _error(df).code == "looks_mmol"


def test_value_below_ten_among_mgdl_says_it_looks_mmol():
    df = make_record()
    df.iloc[7, 0] = 5.0
    err = _error(df)
    assert err.code == "out_of_range" and "mmol/L" in str(err)


def test_low_readings_after_a_slow_fall_only_warn():
    df = _day()
    df.iloc[50:60, 0] = np.linspace(60.0, 30.0, 10)  # a real, fast fall to 30 mg/dL
    with pytest.warns(PlausibilityWarning, match="below 35"):
        out = validate(df)
    assert out["glucose"].iloc[59] == 30.0


def test_mmol_check_never_compares_two_patients():
    low = make_record(n=6).assign(glucose=30.0, patient_id="a")
    high = make_record(n=6, seed=1).assign(glucose=250.0, patient_id="b")
    with pytest.warns(PlausibilityWarning):
        validate(pd.concat([low, high]))
