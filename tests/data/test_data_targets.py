"""make_target and horizons_of: future glucose, exactly shifted, never across patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _data_strategies import join_blocks, make_record, patient_blocks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dt1d.data import DataValidationError, horizons_of, make_target, validate

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _step_min(blocks: list[pd.DataFrame]) -> int:
    """The grid step in minutes of generated blocks (5 when no block has two rows)."""
    for block in blocks:
        if len(block) > 1:
            return int((block.index[1] - block.index[0]).total_seconds() // 60)
    return 5


def _shifted(glucose: np.ndarray, rows: int) -> np.ndarray:
    """Reference target of one patient on a regular grid: the value ``rows`` rows later."""
    out = np.full(len(glucose), np.nan)
    if rows < len(glucose):
        out[: len(glucose) - rows] = glucose[rows:]
    return out


@SETTINGS
@given(patient_blocks(), st.lists(st.integers(1, 8), min_size=1, max_size=3, unique=True))
def test_target_is_glucose_shifted_within_each_patient(blocks, multiples):
    df = validate(join_blocks(blocks))
    horizons = [m * _step_min(blocks) for m in multiples]
    before = df.copy(deep=True)
    y = make_target(df, horizons)
    pd.testing.assert_frame_equal(df, before)
    assert list(y.columns) == [f"{h}min" for h in horizons]
    assert y.index.equals(df.index)
    for m, h in zip(multiples, horizons, strict=True):
        expected = np.concatenate(
            [_shifted(b["glucose"].to_numpy(float), m) for b in blocks]
        )
        np.testing.assert_array_equal(y[f"{h}min"].to_numpy(), expected)


@SETTINGS
@given(patient_blocks(min_rows=1, max_rows=12), st.integers(1, 4))
def test_last_rows_of_every_patient_are_nan(blocks, multiple):
    df = validate(join_blocks(blocks))
    horizon = multiple * _step_min(blocks)
    y = make_target(df, horizon)
    start = 0
    for block in blocks:
        tail = y.to_numpy()[start: start + len(block)][-multiple:]
        assert np.isnan(tail).all()
        start += len(block)


def test_cohort_target_never_reads_the_next_patient():
    # Patient b starts exactly 5 minutes after patient a ends: a time lookup that
    # ignored patient_id would read b's first reading as a's last target.
    a = make_record(6, start="2025-01-01 00:00")
    b = make_record(6, start="2025-01-01 00:30", seed=3)
    df = validate(pd.concat([a.assign(patient_id="a"), b.assign(patient_id="b")]))
    y = make_target(df, 5)
    assert np.isnan(y.iloc[5])
    np.testing.assert_array_equal(y.iloc[6:11].to_numpy(), b["glucose"].iloc[1:].to_numpy())


def test_cohort_with_identical_times_keeps_patients_apart():
    a, b = make_record(seed=1), make_record(seed=2)
    df = validate(pd.concat([a.assign(patient_id=1), b.assign(patient_id=2)]))
    y = make_target(df, 10)
    np.testing.assert_array_equal(y.iloc[12:22].to_numpy(), b["glucose"].iloc[2:].to_numpy())


def test_missing_future_reading_gives_nan():
    df = make_record(6)
    df.iloc[3, 0] = np.nan
    y = make_target(df, 15)
    np.testing.assert_array_equal(np.isnan(y.to_numpy()), [True, False, False, True, True, True])


def test_single_horizon_gives_named_series_aligned_with_tz_index():
    df = make_record(8, tz="Europe/Paris", start="2025-03-30 01:30")  # spans the DST change
    y = make_target(df, 30)
    assert isinstance(y, pd.Series) and y.name == "30min"
    assert y.index.equals(df.index)
    np.testing.assert_array_equal(y.iloc[:2].to_numpy(), df["glucose"].iloc[6:].to_numpy())


def test_numpy_integer_horizon_and_tuple():
    df = make_record()
    assert make_target(df, np.int64(10)).name == "10min"
    assert list(make_target(df, (5, 10)).columns) == ["5min", "10min"]


def test_single_row_record_gives_nan_target():
    assert np.isnan(make_target(make_record(1), 30).iloc[0])


@pytest.mark.parametrize("horizon", [0, -5, 2.5, 30.0, True, "30", None, [], [30, 30], [30, 0]])
def test_bad_horizons_are_refused(horizon):
    with pytest.raises(DataValidationError) as info:
        make_target(make_record(), horizon)
    assert info.value.code == "bad_horizon"


def test_horizon_not_a_multiple_of_the_step():
    with pytest.raises(DataValidationError, match="multiple of 15 minutes") as info:
        make_target(make_record(step="15min"), [30, 20])
    assert "20 min" in str(info.value)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (make_record().rename(columns={"glucose": "g"}), "missing_column"),
        (make_record().reset_index(), "not_datetime_index"),
        (make_record().iloc[::-1], "not_increasing"),
        (pd.concat([make_record(), make_record()]), "not_increasing"),
    ],
)
def test_unusable_records_are_refused(frame, code):
    with pytest.raises(DataValidationError) as info:
        make_target(frame, 5)
    assert info.value.code == code


def test_not_a_dataframe():
    with pytest.raises(DataValidationError, match="DataFrame"):
        make_target(np.zeros(5), 5)


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=5, unique=True))
def test_horizons_of_round_trips(horizons):
    index = pd.date_range("2025-01-01", periods=3, freq="1min")
    y = pd.DataFrame({f"{h}min": 0.0 for h in horizons}, index=index)
    assert horizons_of(y) == horizons
    assert horizons_of(y[f"{horizons[0]}min"]) == [horizons[0]]


def test_horizons_of_a_made_target():
    df = make_record()
    assert horizons_of(make_target(df, [15, 5])) == [15, 5]


@pytest.mark.parametrize("name", ["30 min", "30", "min", "0min", "-5min", "030min", None, 30])
def test_horizons_of_refuses_other_names(name):
    with pytest.raises(DataValidationError, match="not a horizon"):
        horizons_of(pd.Series([1.0], name=name))


def test_horizons_of_refuses_arrays():
    with pytest.raises(DataValidationError, match="Series or DataFrame"):
        horizons_of(np.zeros(3))
