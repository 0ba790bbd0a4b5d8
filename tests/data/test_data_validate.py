"""validate, infer_step and iter_patients: each broken record gets its own clear error."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from _data_strategies import join_blocks, make_record, patient_blocks, valid_records
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dt1d.data import (
    MGDL_PER_MMOLL,
    DataValidationError,
    infer_step,
    iter_patients,
    validate,
)

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _validate_untouched(df: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Call validate and assert the input frame is exactly as before, on success or error."""
    before = df.copy(deep=True)
    try:
        return validate(df, **kwargs)
    finally:
        pd.testing.assert_frame_equal(df, before)
        assert df.index.name == before.index.name


def _error(df: object, **kwargs) -> DataValidationError:
    """The DataValidationError validate raises for ``df`` (input checked untouched)."""
    with pytest.raises(DataValidationError) as info:
        if isinstance(df, pd.DataFrame):
            _validate_untouched(df, **kwargs)
        else:
            validate(df, **kwargs)
    return info.value


# --- valid records -------------------------------------------------------------


@SETTINGS
@given(valid_records())
def test_valid_records_pass_and_validate_is_idempotent(df):
    out = _validate_untouched(df)
    assert out is not df
    assert isinstance(out.index, pd.DatetimeIndex) and out.index.name == "time"
    assert out.index.tz == df.index.tz
    for column in ("glucose", "carbs", "insulin"):
        assert out[column].dtype == np.float64
    np.testing.assert_array_equal(out["glucose"].to_numpy(), df["glucose"].to_numpy())
    again = _validate_untouched(out)
    pd.testing.assert_frame_equal(again, out)


@SETTINGS
@given(valid_records(), st.data())
def test_other_covariates_are_carried_untouched(df, data):
    notes = data.draw(st.lists(st.text(max_size=5), min_size=len(df), max_size=len(df)))
    df = df.assign(note=notes)
    out = _validate_untouched(df)
    assert out["note"].tolist() == notes
    if "heart_rate" in df:
        assert out["heart_rate"].dtype == df["heart_rate"].dtype


def test_output_is_an_independent_copy():
    df = make_record()
    out = validate(df)
    out.iloc[0, 0] = 999.0
    assert df.iloc[0, 0] != 999.0


def test_time_column_becomes_the_index():
    df = make_record().reset_index()
    out = _validate_untouched(df)
    assert out.index.name == "time"
    np.testing.assert_array_equal(out.index.to_numpy(), df["time"].to_numpy())
    assert "time" not in out.columns


def test_time_column_of_strings_is_refused_with_to_datetime_fix():
    df = make_record().reset_index()
    df["time"] = df["time"].astype(str)
    err = _error(df)
    assert err.code == "not_datetime_index" and "to_datetime" in str(err)


def test_index_named_otherwise_is_renamed_time():
    df = make_record().rename_axis("timestamp")
    assert _validate_untouched(df).index.name == "time"


def test_missing_carbs_and_insulin_become_zeros_with_warning(caplog):
    df = make_record()[["glucose"]]
    with caplog.at_level(logging.WARNING, logger="dt1d.data"):
        out = _validate_untouched(df)
    assert (out["carbs"] == 0).all() and (out["insulin"] == 0).all()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "'carbs'" in messages and "'insulin'" in messages


def test_validating_a_validated_record_warns_nothing(caplog):
    df = make_record().drop(columns=["carbs", "insulin"]).assign(bolus=1.0)
    first = validate(df)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dt1d.data"):
        second = validate(first)
    assert caplog.records == []
    pd.testing.assert_frame_equal(second, first)


def test_insulin_is_bolus_plus_basal_when_absent(caplog):
    df = make_record().drop(columns="insulin")
    df["bolus"] = [0.0, 1.5] * 6
    df["basal"] = 0.1
    with caplog.at_level(logging.WARNING, logger="dt1d.data"):
        out = _validate_untouched(df)
    np.testing.assert_allclose(out["insulin"], [0.1, 1.6] * 6)
    assert "bolus + basal" in caplog.text


def test_insulin_from_bolus_alone_when_basal_absent():
    df = make_record().drop(columns="insulin").assign(bolus=2.0)
    np.testing.assert_array_equal(_validate_untouched(df)["insulin"], 2.0)


def test_nan_amounts_are_read_as_zero_with_warning(caplog):
    df = make_record()
    df.iloc[3, df.columns.get_loc("carbs")] = np.nan
    with caplog.at_level(logging.WARNING, logger="dt1d.data"):
        out = _validate_untouched(df)
    assert out["carbs"].iloc[3] == 0.0
    assert str(df.index[3]) in caplog.text


def test_integer_columns_become_float():
    df = make_record()
    df["glucose"] = df["glucose"].round().astype(int)
    df["carbs"] = df["carbs"].round().astype("int32")
    out = _validate_untouched(df)
    assert out["glucose"].dtype == np.float64 and out["carbs"].dtype == np.float64


def test_nullable_float_glucose_with_missing_values_is_accepted():
    df = make_record()
    df["glucose"] = df["glucose"].astype("Float64")
    df.iloc[2, 0] = pd.NA
    out = _validate_untouched(df)
    assert out["glucose"].dtype == np.float64 and np.isnan(out["glucose"].iloc[2])


@SETTINGS
@given(valid_records(min_rows=2), st.sampled_from(["mmol/L", "mmol/l", "MMOL/L"]))
def test_mmol_input_converts_by_18_0156(df, units):
    mmol = df.assign(glucose=df["glucose"] / MGDL_PER_MMOLL)
    out = _validate_untouched(mmol, units=units)
    np.testing.assert_allclose(out["glucose"], df["glucose"], rtol=1e-12)


def test_single_row_and_explicit_step():
    df = make_record(1)
    assert len(_validate_untouched(df)) == 1
    out = _validate_untouched(make_record(6, step="15min"), step="15min")
    assert len(out) == 6


# --- broken records: one clear error each ----------------------------------------


@pytest.mark.parametrize("thing", [None, [1, 2], np.zeros(3), pd.Series([100.0])])
def test_not_a_dataframe(thing):
    assert _error(thing).code == "not_dataframe"


def test_empty_frame():
    err = _error(make_record().iloc[:0])
    assert err.code == "empty" and "no rows" in str(err)


def test_no_glucose_column_lists_the_columns():
    err = _error(make_record().rename(columns={"glucose": "cgm"}))
    assert err.code == "missing_column" and err.column == "glucose" and "'cgm'" in str(err)


def test_duplicate_column_names():
    df = make_record()
    df.columns = ["glucose", "carbs", "carbs"]
    assert _error(df).code == "duplicate_columns"


@pytest.mark.parametrize("units", ["mg/L", "mmol", "", None, 18])
def test_unknown_units(units):
    err = _error(make_record(), units=units)
    assert err.code == "bad_units" and "mmol/L" in str(err)


def test_range_index_without_time_column():
    err = _error(make_record().reset_index(drop=True))
    assert err.code == "not_datetime_index" and "RangeIndex" in str(err)


def test_multiindex_points_to_reset_index():
    df = make_record().assign(patient_id="a").set_index("patient_id", append=True)
    err = _error(df.swaplevel())
    assert err.code == "not_datetime_index" and "reset_index" in str(err)


def test_datetime_index_and_time_column_is_ambiguous():
    df = make_record()
    df["time"] = df.index
    assert _error(df).code == "ambiguous_time"


def test_nat_in_index():
    df = make_record()
    df.index = df.index.where(np.arange(len(df)) != 4, pd.NaT)
    assert _error(df).code == "nat_index"


@SETTINGS
@given(patient_blocks(min_rows=2), st.data())
def test_shuffled_index_is_refused(blocks, data):
    which = data.draw(st.integers(0, len(blocks) - 1))
    block = blocks[which]
    order = data.draw(st.permutations(range(len(block))))
    assume(list(order) != sorted(order))
    blocks[which] = block.iloc[list(order)]
    err = _error(join_blocks(blocks))
    assert err.code == "not_increasing" and err.column == "time"
    assert "sort" in str(err)


@SETTINGS
@given(patient_blocks(), st.data())
def test_duplicated_time_is_refused_and_named(blocks, data):
    which = data.draw(st.integers(0, len(blocks) - 1))
    block = blocks[which]
    row = data.draw(st.integers(0, len(block) - 1))
    blocks[which] = pd.concat([block.iloc[: row + 1], block.iloc[row:]])
    err = _error(join_blocks(blocks))
    assert err.code == "duplicate_time"
    assert str(block.index[row]) in err.rows[0]


def test_cohort_may_repeat_times_across_patients():
    a, b = make_record(seed=1), make_record(seed=2)
    df = pd.concat([a.assign(patient_id=7), b.assign(patient_id=8)])
    out = _validate_untouched(df)
    assert len(out) == 24 and out.index.has_duplicates


def test_interleaved_patients_are_refused_with_sort_fix():
    a, b = make_record(seed=1), make_record(seed=2)
    df = pd.concat([a.assign(patient_id="a"), b.assign(patient_id="b")]).sort_index(
        kind="stable"
    )
    err = _error(df)
    assert err.code == "patients_not_contiguous" and "sort_values" in str(err)


def test_missing_patient_id():
    df = pd.concat([make_record().assign(patient_id="a"), make_record().assign(patient_id=None)])
    assert _error(df).code == "missing_patient_id"


@SETTINGS
@given(patient_blocks(min_rows=4), st.data())
def test_gap_in_grid_points_to_resample(blocks, data):
    which = data.draw(st.integers(0, len(blocks) - 1))
    block = blocks[which]
    row = data.draw(st.integers(1, len(block) - 2))
    blocks[which] = block.drop(index=block.index[row])
    err = _error(join_blocks(blocks))
    assert err.code == "irregular_grid" and "dt1d.data.resample" in str(err)
    assert str(block.index[row + 1]) in err.rows[0]


@pytest.mark.parametrize("step", ["often", "0min", "-5min", pd.NaT])
def test_bad_explicit_step(step):
    assert _error(make_record(1), step=step).code == "bad_step"


def test_step_mismatch_with_explicit_step():
    err = _error(make_record(step="5min"), step="15min")
    assert err.code == "irregular_grid" and "step='15min'" in str(err)


def test_cohort_patients_on_different_steps():
    df = pd.concat([
        make_record(step="5min").assign(patient_id=1),
        make_record(step="15min").assign(patient_id=2),
    ])
    assert _error(df).code == "irregular_grid"


@SETTINGS
@given(valid_records(), st.data(), st.sampled_from(["carbs", "insulin", "bolus", "basal"]))
def test_negative_amounts_are_refused_naming_the_row(df, data, column):
    if column not in df:
        df = df.assign(**{column: 0.0})
        if column in ("bolus", "basal"):
            df = df.drop(columns="insulin")
    row = data.draw(st.integers(0, len(df) - 1))
    df = df.copy()
    df.iloc[row, df.columns.get_loc(column)] = -data.draw(st.floats(1e-6, 100.0))
    err = _error(df)
    assert err.code == "negative" and err.column == column
    assert str(df.index[row]) in err.rows[0]


def test_infinite_carbs():
    df = make_record()
    df.iloc[2, 1] = np.inf
    assert _error(df).code == "not_finite"


@SETTINGS
@given(valid_records(min_rows=2))
def test_mmol_values_without_units_point_to_mmol_option(df):
    err = _error(df.assign(glucose=df["glucose"] / MGDL_PER_MMOLL))
    assert err.code == "looks_mmol" and 'units="mmol/L"' in str(err)


def test_mgdl_values_declared_mmol():
    assert _error(make_record(), units="mmol/L").code == "looks_mgdl"


@pytest.mark.parametrize("bad", [5.0, 1001.0, np.inf, -40.0])
def test_glucose_out_of_range_names_the_row(bad):
    df = make_record()
    df.iloc[7, 0] = bad
    err = _error(df)
    assert err.code == "out_of_range" and err.column == "glucose"
    assert err.rows == [str(df.index[7])]


def test_range_applies_after_mmol_conversion():
    df = make_record()
    df["glucose"] = df["glucose"] / MGDL_PER_MMOLL
    df.iloc[5, 0] = 60.0  # 60 mmol/L = 1081 mg/dL
    assert _error(df, units="mmol/L").code == "out_of_range"


@SETTINGS
@given(valid_records())
def test_all_nan_glucose(df):
    err = _error(df.assign(glucose=np.nan))
    assert err.code == "all_nan" and err.column == "glucose"


@SETTINGS
@given(valid_records(), st.sampled_from(["glucose", "carbs", "insulin"]), st.data())
def test_text_in_known_column_is_refused_naming_the_row(df, column, data):
    row = data.draw(st.integers(0, len(df) - 1))
    values = df[column].astype(object)
    values.iloc[row] = "high"
    err = _error(df.assign(**{column: values}))
    assert err.code == "non_numeric" and err.column == column
    assert "to_numeric" in str(err) and str(df.index[row]) in err.rows[0]


def test_numbers_stored_as_text_are_refused():
    df = make_record()
    err = _error(df.assign(glucose=df["glucose"].astype(str)))
    assert err.code == "non_numeric" and err.rows == []


def test_boolean_carbs_are_refused():
    assert _error(make_record().assign(carbs=False)).code == "non_numeric"


def test_text_patient_id_and_text_covariates_are_fine():
    df = make_record().assign(patient_id="anna", meal_label="B")
    assert (_validate_untouched(df)["meal_label"] == "B").all()


def test_insulin_not_bolus_plus_basal_names_the_rows():
    df = make_record().assign(bolus=1.0, basal=0.5)
    df["insulin"] = 1.5
    df.iloc[[4, 9], df.columns.get_loc("insulin")] = 1.4
    err = _error(df)
    assert err.code == "insulin_mismatch"
    assert err.rows == [str(df.index[4]), str(df.index[9])]


def test_insulin_sum_tolerates_rounding():
    df = make_record().assign(bolus=0.1, basal=0.2)
    df["insulin"] = 0.3  # 0.1 + 0.2 != 0.3 in binary floating point
    _validate_untouched(df)


def test_error_message_shows_at_most_three_rows_then_a_count():
    df = make_record(20)
    df["carbs"] = -1.0
    err = _error(df)
    assert len(err.rows) == 4 and err.rows[-1] == "... 17 more"
    assert str(err).startswith("column 'carbs': 20 negative values")


def test_cohort_error_rows_name_the_patient():
    df = pd.concat([make_record().assign(patient_id="a"), make_record().assign(patient_id="b")])
    df.iloc[15, df.columns.get_loc("carbs")] = -3.0
    err = _error(df)
    assert err.rows == [f"{df.index[15]} patient 'b'"]


# --- infer_step and iter_patients --------------------------------------------------


@SETTINGS
@given(patient_blocks(min_rows=2))
def test_infer_step_finds_the_grid(blocks):
    expected = blocks[0].index[1] - blocks[0].index[0]
    assert infer_step(join_blocks(blocks)) == expected


def test_infer_step_ignores_jumps_between_patients_and_gaps():
    a = make_record(10, step="15min", start="2025-01-01")
    b = make_record(10, step="15min", start="2024-01-01")
    df = pd.concat([a.assign(patient_id=1), b.drop(index=b.index[3]).assign(patient_id=2)])
    assert infer_step(df) == pd.Timedelta("15min")


def test_infer_step_needs_two_rows():
    with pytest.raises(DataValidationError, match="cannot infer"):
        infer_step(make_record(1))
    with pytest.raises(DataValidationError, match="DatetimeIndex"):
        infer_step(make_record().reset_index())


@SETTINGS
@given(patient_blocks())
def test_iter_patients_in_order_of_first_appearance(blocks):
    df = join_blocks(blocks)
    got = list(iter_patients(df))
    if len(blocks) == 1:
        assert got[0][0] is None and got[0][1] is df
        return
    assert [pid for pid, _ in got] == [f"p{i}" for i in range(len(blocks))]
    for (_, frame), block in zip(got, blocks, strict=True):
        pd.testing.assert_frame_equal(frame.drop(columns="patient_id"), block, check_freq=False)


def test_iter_patients_keeps_order_of_first_appearance_not_sorted():
    df = pd.concat([make_record().assign(patient_id=pid) for pid in ("z", "a", "m")])
    assert [pid for pid, _ in iter_patients(df)] == ["z", "a", "m"]
