"""resample: readings averaged per bin, amounts summed, per patient, left-labelled bins."""

from __future__ import annotations

import csv
import logging
import math
from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from _data_strategies import make_record, valid_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dt1d.data import DataValidationError, infer_step, make_target, resample, validate

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _resample_untouched(df: pd.DataFrame, step="5min") -> pd.DataFrame:
    before = df.copy(deep=True)
    try:
        return resample(df, step)
    finally:
        pd.testing.assert_frame_equal(df, before)


@st.composite
def irregular_readings(draw):
    """Unsorted, possibly duplicated times within two days, with glucose and carbs."""
    n = draw(st.integers(1, 40))
    seconds = draw(st.lists(st.integers(0, 2 * 86_400 - 1), min_size=n, max_size=n))
    glucose = draw(st.lists(st.floats(40, 400), min_size=n, max_size=n))
    carbs = draw(st.lists(st.sampled_from([0.0, 0.5, 12.0, 30.0]), min_size=n, max_size=n))
    day = datetime(2025, 6, 1) + timedelta(days=draw(st.integers(0, 300)))
    return [(day + timedelta(seconds=s), g, c) for s, g, c in zip(seconds, glucose, carbs,
                                                                    strict=True)]


def _reference_bins(rows, step_s: int):
    """Plain-Python resampling: bins of step_s seconds from midnight of the first day."""
    midnight = min(t for t, _, _ in rows).replace(hour=0, minute=0, second=0)
    glucose, carbs = defaultdict(list), defaultdict(float)
    for t, g, c in rows:
        key = int((t - midnight).total_seconds()) // step_s
        glucose[key].append(g)
        carbs[key] += c
    first, last = min(glucose), max(glucose)
    times = [midnight + timedelta(seconds=k * step_s) for k in range(first, last + 1)]
    means = [math.fsum(glucose[k]) / len(glucose[k]) if glucose[k] else math.nan
             for k in range(first, last + 1)]
    sums = [carbs[k] for k in range(first, last + 1)]
    return times, means, sums


@SETTINGS
@given(irregular_readings(), st.sampled_from([(300, "5min"), (900, "15min"), (3600, "1h")]))
def test_matches_a_plain_python_reference(rows, step):
    step_s, label = step
    df = pd.DataFrame(
        {"glucose": [g for _, g, _ in rows], "carbs": [c for _, _, c in rows]},
        index=pd.DatetimeIndex([t for t, _, _ in rows], name="time"),
    )
    out = _resample_untouched(df, label)
    times, means, sums = _reference_bins(rows, step_s)
    assert list(out.index) == [pd.Timestamp(t) for t in times]
    np.testing.assert_allclose(out["glucose"].to_numpy(), means, rtol=1e-12)
    np.testing.assert_allclose(out["carbs"].to_numpy(), sums, rtol=1e-12)
    assert math.isclose(out["carbs"].sum(), math.fsum(sums), rel_tol=1e-12)
    validate(out.assign(glucose=out["glucose"].clip(40, 400)))  # on a grid: validates


def test_small_example_by_hand():
    t = pd.to_datetime(["2025-01-01 00:01", "2025-01-01 00:03", "2025-01-01 00:07",
                        "2025-01-01 00:21"])
    df = pd.DataFrame({"glucose": [100.0, 110, 120, 130], "carbs": [1.0, 2, 3, 4],
                       "insulin": [0.5, 0, 0, 1], "heart_rate": [60, 70, 80, 90]}, index=t)
    out = _resample_untouched(df, "5min")
    assert list(out.index.strftime("%H:%M")) == ["00:00", "00:05", "00:10", "00:15", "00:20"]
    np.testing.assert_array_equal(out["glucose"], [105.0, 120, np.nan, np.nan, 130])
    np.testing.assert_array_equal(out["carbs"], [3.0, 3, 0, 0, 4])
    np.testing.assert_array_equal(out["insulin"], [0.5, 0, 0, 0, 1])
    np.testing.assert_array_equal(out["heart_rate"], [65.0, 80, np.nan, np.nan, 90])
    assert out.index.name == "time" and list(out.columns) == list(df.columns)


def test_cohort_resampled_per_patient_in_order_of_appearance():
    a = make_record(12, step="5min", seed=1)
    b = make_record(12, step="5min", start="2025-03-30 00:00", seed=2)
    df = pd.concat([b.assign(patient_id="b"), a.assign(patient_id="a").iloc[::-1]])
    out = _resample_untouched(df, "15min")
    assert list(dict.fromkeys(out["patient_id"])) == ["b", "a"]
    for pid, rec in (("a", a), ("b", b)):
        mine = out[out["patient_id"] == pid]
        assert len(mine) == 4
        np.testing.assert_allclose(mine["carbs"].sum(), rec["carbs"].sum(), rtol=1e-12)
        np.testing.assert_allclose(
            mine["glucose"].to_numpy(), rec["glucose"].to_numpy().reshape(4, 3).mean(axis=1)
        )
    validate(out)


@settings(SETTINGS, max_examples=20)
@given(valid_records())
def test_a_record_already_on_the_grid_is_unchanged(df):
    rec = validate(df)
    try:
        step = infer_step(rec)
    except DataValidationError:
        step = pd.Timedelta("1min")  # one row per patient, each on the 1-minute grid
    out = _resample_untouched(rec, step)
    expected = rec.astype({"heart_rate": float}) if "heart_rate" in rec else rec
    pd.testing.assert_frame_equal(out, expected, check_freq=False)


def test_coarser_grid_conserves_amounts_and_gives_targets():
    df = validate(make_record(48, seed=4))
    out = _resample_untouched(df, "30min")
    for column in ("carbs", "insulin"):
        np.testing.assert_allclose(out[column].sum(), df[column].sum(), rtol=1e-12)
    assert make_target(validate(out), 60).name == "60min"


def test_tz_aware_across_dst_change():
    df = make_record(36, tz="Europe/Paris", start="2025-03-30 01:00")
    out = _resample_untouched(df, "15min")
    assert str(out.index.tz) == "Europe/Paris" and len(out) == 12
    np.testing.assert_allclose(out["carbs"].sum(), df["carbs"].sum(), rtol=1e-12)


def test_non_numeric_covariates_dropped_with_warning(caplog):
    df = make_record().assign(meal_label="B")
    with caplog.at_level(logging.WARNING, logger="dt1d.data"):
        out = _resample_untouched(df, "10min")
    assert "meal_label" not in out.columns and "meal_label" in caplog.text


def test_time_column_is_accepted():
    out = _resample_untouched(make_record().reset_index(), "10min")
    assert out.index.name == "time" and len(out) == 6


@pytest.mark.parametrize("step", ["0min", "-5min", "often", None, 0])
def test_bad_step(step):
    with pytest.raises(DataValidationError) as info:
        _resample_untouched(make_record(), step)
    assert info.value.code == "bad_step"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (make_record().iloc[:0], "empty"),
        (make_record().reset_index(drop=True), "not_datetime_index"),
        (make_record().assign(carbs="lots"), "non_numeric"),
        (make_record().assign(patient_id=[None] + ["a"] * 11), "missing_patient_id"),
    ],
)
def test_unusable_frames(frame, code):
    with pytest.raises(DataValidationError) as info:
        _resample_untouched(frame)
    assert info.value.code == code


def test_not_a_dataframe():
    with pytest.raises(DataValidationError, match="DataFrame"):
        resample(np.zeros(4))


# --- the real two-day record from tests/data/real ------------------------


def _real_rows(folder):
    """Rows of both real days as (time, glucose or None, carbs g, bolus U, basal U) per 5 min."""
    rows = []
    for name in ("data_day_1.csv", "data_day_2.csv"):
        with open(folder / name, newline="") as handle:
            for row in csv.DictReader(handle):
                rows.append((
                    datetime.strptime(row["t"], "%d-%b-%Y %H:%M:%S"),
                    float(row["glucose"]) if row["glucose"] else None,
                    float(row["cho"]) * 5,  # g/min over a 5-minute row
                    float(row["bolus"]) * 5,  # U/min
                    float(row["basal"]) * 5,
                ))
    return rows


def test_real_record_validates_and_resamples_to_hourly_totals(real_record_dir):
    rows = _real_rows(real_record_dir)
    df = pd.DataFrame(
        {
            "glucose": [np.nan if g is None else g for _, g, _, _, _ in rows],
            "carbs": [c for _, _, c, _, _ in rows],
            "bolus": [b for _, _, _, b, _ in rows],
            "basal": [b for _, _, _, _, b in rows],
        },
        index=pd.DatetimeIndex([t for t, *_ in rows]),
    )
    rec = validate(df)
    assert len(rec) == 264 + 288 and rec.index[0] == pd.Timestamp("2027-05-11 06:00")
    hourly = resample(rec, "1h")
    assert len(hourly) == 46
    expected_carbs, expected_insulin = defaultdict(float), defaultdict(float)
    readings = defaultdict(list)
    for t, g, c, b, basal in rows:
        hour = t.replace(minute=0)
        expected_carbs[hour] += c
        expected_insulin[hour] += b + basal
        if g is not None:
            readings[hour].append(g)
    for hour, carbs in expected_carbs.items():
        assert hourly.loc[pd.Timestamp(hour), "carbs"] == pytest.approx(carbs, rel=1e-12)
        assert hourly.loc[pd.Timestamp(hour), "insulin"] == pytest.approx(
            expected_insulin[hour], rel=1e-12
        )
        got = hourly.loc[pd.Timestamp(hour), "glucose"]
        if readings[hour]:
            assert got == pytest.approx(math.fsum(readings[hour]) / len(readings[hour]))
        else:
            assert math.isnan(got)
    lunch = pd.Timestamp("2027-05-11 11:00")
    assert hourly.loc[lunch, "carbs"] == pytest.approx(27.0 * 5)
    validate(hourly)
