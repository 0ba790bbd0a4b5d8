"""Time lag, temporal gain and the tidy forecast accuracy table."""

import math

import numpy as np
import pandas as pd
import pytest

from dt1d.metrics import (
    ACCURACY_COLUMNS,
    clarke_zones,
    forecast_accuracy_table,
    rmse,
    temporal_gain,
    time_lag,
)


def _wave(n=400):
    t = np.arange(n)
    return 150 + 60 * np.sin(t / 15.0) + 20 * np.sin(t / 4.3)


def test_time_lag_of_shifted_trace():
    g = _wave()
    for k in (0, 1, 3, 6):
        late = np.r_[[np.nan] * k, g[: g.size - k]]
        assert time_lag(g, late) == 5.0 * k
        assert time_lag(g, late, step_min=1.0) == float(k)
    # a forecast that is the last reading (zero-order hold) at 30 min has no temporal gain
    hold = np.r_[[np.nan] * 6, g[:-6]]
    assert temporal_gain(g, hold, 30) == 0.0
    assert temporal_gain(g, g, 30) == 30.0


def test_time_lag_limits_and_nan():
    g = _wave()
    late = np.r_[[np.nan] * 10, g[:-10]]
    # the true lag (50 min) is beyond the search window: the best inside it is the window edge
    assert time_lag(g, late, max_lag_min=20) == 20.0
    assert math.isnan(time_lag([1.0, np.nan], [np.nan, 2.0]))
    assert math.isnan(time_lag(np.full(10, 100.0), np.full(10, 100.0)))
    with pytest.raises(ValueError, match="step_min"):
        time_lag(g, g, step_min=0)


def _record_target(n=200, horizons=(30, 60), pid=None):
    times = pd.date_range("2024-01-01", periods=n, freq="5min")
    g = _wave(n)
    cols = {}
    for h in horizons:
        k = h // 5
        cols[f"{h}min"] = np.r_[g[k:], [np.nan] * k]
    return pd.DataFrame(cols, index=pd.DatetimeIndex(times, name="time")), g


def test_table_columns_and_values_single_patient():
    y, g = _record_target()
    pred = y.to_numpy() + 10.0
    pred[5, 0] = np.nan
    table = forecast_accuracy_table(y, pred)
    assert list(table.columns) == list(ACCURACY_COLUMNS)
    assert table["horizon_min"].tolist() == [30, 60]
    row = table.iloc[0]
    truth = y["30min"].to_numpy()
    scored = ~(np.isnan(truth) | np.isnan(pred[:, 0]))
    assert row["n"] == scored.sum()
    assert row["rmse"] == pytest.approx(10.0)
    assert row["me"] == pytest.approx(10.0)
    zones = clarke_zones(truth, pred[:, 0])
    assert row["clarke_A"] == pytest.approx(np.mean(zones[zones != ""] == "A"))
    assert sum(row[f"clarke_{z}"] for z in "ABCDE") == pytest.approx(1.0)
    assert sum(row[f"parkes_{z}"] for z in "ABCDE") == pytest.approx(1.0)
    assert row["time_lag_min"] == 0.0
    assert row["temporal_gain_min"] == 30.0


def test_table_zero_order_hold_has_lag_equal_to_horizon():
    y, g = _record_target(horizons=(30,))
    hold = g  # predicting glucose(t + 30) by glucose(t)
    table = forecast_accuracy_table(y["30min"], hold)
    assert table.loc[0, "time_lag_min"] == 30.0
    assert table.loc[0, "temporal_gain_min"] == 0.0
    assert table.loc[0, "rmse"] == pytest.approx(rmse(y["30min"], hold))


def test_table_cohort_rows_per_patient_and_horizon():
    y1, _ = _record_target(n=120)
    y2, _ = _record_target(n=80)
    y = pd.concat([y1, y2])
    pid = np.array(["p1"] * 120 + ["p2"] * 80)
    pred = y.to_numpy().copy()
    pred[120:] += 20.0
    table = forecast_accuracy_table(y, pred, patient_id=pid)
    assert list(table.columns) == ["patient_id", *ACCURACY_COLUMNS]
    assert table[["patient_id", "horizon_min"]].values.tolist() == [
        ["p1", 30],
        ["p1", 60],
        ["p2", 30],
        ["p2", 60],
    ]
    assert table.loc[0, "rmse"] == 0.0
    assert table.loc[2, "rmse"] == pytest.approx(20.0)


def test_table_plain_arrays_need_horizons_and_shapes_must_match():
    y, _ = _record_target()
    arr = y.to_numpy()
    with pytest.raises(ValueError, match="horizons="):
        forecast_accuracy_table(arr, arr)
    table = forecast_accuracy_table(arr, arr, horizons=[30, 60], step_min=5)
    assert table["rmse"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="y_true has shape"):
        forecast_accuracy_table(y, arr[:, :1])
    with pytest.raises(ValueError, match="patient_id has shape"):
        forecast_accuracy_table(y, arr, patient_id=["a"])
