"""Glycaemic outcomes and consensus event counting on hand-built traces."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dt1d.metrics import (
    glucose_events,
    glycaemic_outcomes,
    gmi,
    hbgi,
    lbgi,
    risk_index,
    time_in_range,
)


def _f(bg):
    # Kovatchev 1997 symmetrisation, typed in from the paper
    return 1.509 * (math.log(bg) ** 1.084 - 5.381)


def test_summary_and_ranges_hand_computed():
    g = np.array([50.0, 60.0, 100.0, 150.0, 190.0, 260.0, np.nan, 70.0, 180.0])
    out = glycaemic_outcomes(g)
    known = [50.0, 60.0, 100.0, 150.0, 190.0, 260.0, 70.0, 180.0]
    mean = sum(known) / 8
    sd = math.sqrt(sum((x - mean) ** 2 for x in known) / 7)
    assert out["n_readings"] == 8
    assert out["coverage_pct"] == pytest.approx(100 * 8 / 9)
    assert out["mean_mgdl"] == pytest.approx(mean)
    assert out["sd_mgdl"] == pytest.approx(sd)
    assert out["cv_pct"] == pytest.approx(100 * sd / mean)
    assert out["gmi_pct"] == pytest.approx(3.31 + 0.02392 * mean)
    # 70 and 180 are in range (closed interval)
    assert out["time_in_range_70_180_pct"] == pytest.approx(100 * 4 / 8)
    assert out["time_below_70_pct"] == pytest.approx(100 * 2 / 8)
    assert out["time_below_54_pct"] == pytest.approx(100 * 1 / 8)
    assert out["time_above_180_pct"] == pytest.approx(100 * 2 / 8)
    assert out["time_above_250_pct"] == pytest.approx(100 * 1 / 8)
    lows = [10 * _f(x) ** 2 for x in known if _f(x) < 0]
    highs = [10 * _f(x) ** 2 for x in known if _f(x) > 0]
    assert out["lbgi"] == pytest.approx(sum(lows) / 8)
    assert out["hbgi"] == pytest.approx(sum(highs) / 8)


def test_risk_scale_landmarks():
    # the scale is ~0 at 112.5 mg/dL and reaches about -/+ sqrt(10) at 20 and 600 mg/dL
    assert risk_index([112.5])[0] == pytest.approx(0.0, abs=2e-3)
    assert risk_index([20.0])[0] == pytest.approx(-math.sqrt(10), rel=2e-3)
    assert risk_index([600.0])[0] == pytest.approx(math.sqrt(10), rel=2e-3)
    assert lbgi([20.0]) == pytest.approx(100.0, rel=4e-3)
    assert hbgi([20.0]) == 0.0
    assert hbgi([600.0]) == pytest.approx(100.0, rel=4e-3)
    with pytest.raises(ValueError, match="mmol/L"):
        risk_index([0.5])


def test_gmi_and_tir_helpers():
    assert gmi(154.0) == pytest.approx(3.31 + 0.02392 * 154.0)  # ~7.0 %
    assert time_in_range([60.0, 70.0, 180.0, 181.0]) == 50.0
    assert math.isnan(time_in_range([np.nan]))


def test_mmol_input_matches_mgdl():
    g = np.array([50.0, 60.0, 100.0, 150.0, 190.0, 260.0, 70.5, 179.5])
    a = glycaemic_outcomes(g)
    b = glycaemic_outcomes(g / 18.0156, units="mmol/L")
    for key in a:
        assert b[key] == pytest.approx(a[key], rel=1e-9, nan_ok=True), key


def _trace(minutes_low, low=60.0, high=100.0, step=5, pad=30):
    n_low = minutes_low // step
    return np.array([high] * (pad // step) + [low] * n_low + [high] * (pad // step))


def test_event_needs_15_minutes():
    # on a 1-minute grid: 14 minutes below is not an event, 15 minutes is
    assert glucose_events(_trace(14, step=1), 70, step_min=1) == []
    assert glucose_events(_trace(15, step=1), 70, step_min=1) == [(30, 45)]
    # on a 5-minute grid: two readings (10 min) vs three (15 min)
    assert glucose_events(_trace(10), 70) == []
    assert len(glucose_events(_trace(15), 70)) == 1


def test_event_ends_only_after_15_minutes_back_in_range():
    step = 5
    g = [100.0] * 3 + [60.0] * 4 + [100.0] * 2 + [60.0] * 1 + [100.0] * 3 + [60.0] * 3 + [100.0] * 3
    # first dip starts an event; 10 min back in range is not enough, so the single low
    # reading belongs to it; 15 min in range ends it; then a second full dip
    events = glucose_events(np.array(g), 70, step_min=step)
    assert events == [(3, 10), (13, 16)]
    out = glycaemic_outcomes(np.array(g))
    assert out["hypo_events_70"] == 2
    assert out["hypo_events_54"] == 0


def test_open_event_at_end_and_level_2():
    g = np.array([100.0, 50.0, 50.0, 50.0, 60.0])
    assert glucose_events(g, 70) == [(1, 5)]
    assert glucose_events(g, 54) == [(1, 5)]  # 60 is back in range for one reading only
    out = glycaemic_outcomes(g)
    assert out["hypo_events_70"] == 1 and out["hypo_events_54"] == 1


def test_a_short_gap_is_filled_linearly():
    # 10 min low, a missing reading, 10 min low: the filled reading (60) joins the runs
    g = np.array([100.0, 60.0, 60.0, np.nan, 60.0, 60.0, 100.0, 100.0, 100.0])
    assert glucose_events(g, 70) == [(1, 6)]
    # the filled values are the straight line between the readings: 100 -> 40 gives 80, 60
    g = np.array([100.0, np.nan, np.nan, 40.0, 40.0, 100.0, 100.0, 100.0])
    assert glucose_events(g, 70) == [(2, 5)]
    # inside an event, filled in-range readings count towards recovery
    g2 = np.array([60.0, 60.0, 60.0, 100.0, 100.0, np.nan, 100.0, 100.0, 100.0])
    assert glucose_events(g2, 70) == [(0, 3)]


def test_a_gap_longer_than_45_minutes_ends_an_event():
    low, high = [60.0] * 4, [100.0]
    # readings 45 min apart (8 missing) inside an event: filled, the event goes on
    g = np.array(low + [np.nan] * 8 + low + high * 3)
    assert glucose_events(g, 70) == [(0, 16)]
    # 50 min apart (9 missing): the event ends at the first missing reading
    g = np.array(low + [np.nan] * 9 + low + high * 3)
    assert glucose_events(g, 70) == [(0, 4), (13, 17)]
    # on a 1-minute grid readings 45 minutes apart are bridged, 46 are not
    g1 = np.array([60.0] * 20 + [np.nan] * 44 + [60.0] * 5)
    assert glucose_events(g1, 70, step_min=1) == [(0, 69)]
    g1 = np.array([60.0] * 20 + [np.nan] * 45 + [60.0] * 5)
    assert glucose_events(g1, 70, step_min=1) == [(0, 20)]
    # a long gap at the end of the trace closes the event where the gap starts
    assert glucose_events(np.array(low + [np.nan] * 12), 70) == [(0, 4)]
    assert glucose_events(np.array(low + [np.nan] * 12), 70, max_gap_min=120) == [(0, 16)]


def test_hyper_events_and_boundary_value():
    g = np.array([150.0, 181.0, 181.0, 181.0, 180.0, 180.0, 180.0, 251.0] + [251.0] * 2)
    assert glucose_events(g, 180, below=False) == [(1, 4), (7, 10)]
    assert glucose_events(g, 250, below=False) == [(7, 10)]
    # exactly at the threshold is not beyond it
    assert glucose_events(np.full(10, 70.0), 70) == []


def test_series_with_gaps_in_the_index_is_put_on_its_grid():
    times = pd.date_range("2024-03-01", periods=12, freq="5min", tz="Europe/Berlin")
    g = pd.Series([100.0, 60.0, 60.0, 60.0, 100, 100, 100, 60, 60, 60, 60, 100], index=times)
    assert glycaemic_outcomes(g)["hypo_events_70"] == 2
    # dropping one low reading leaves a 5-min hole in the index, filled from its neighbours
    holed = g.drop(times[8])
    assert glucose_events(holed, 70) == [(1, 4), (7, 12)]
    # a longer hole (readings 55 min apart) cuts the second dip short of 15 minutes
    long_hole = pd.concat([g.iloc[:8], pd.Series([60.0], index=[times[8] + pd.Timedelta(minutes=50)])])
    assert glucose_events(long_hole, 70) == [(1, 4)]
    with pytest.raises(ValueError, match="strictly increasing"):
        glycaemic_outcomes(g.iloc[::-1])
    with pytest.raises(ValueError, match="regular grid"):
        glycaemic_outcomes(
            pd.Series(
                [100.0, 100.0, 100.0],
                index=times[[0, 2, 3]] + pd.Timedelta("1min") * np.array([0, 0, 1]),
            )
        )


def test_one_minute_series_step_is_read_from_index():
    times = pd.date_range("2024-01-01", periods=60, freq="1min")
    g = pd.Series(100.0, index=times)
    g.iloc[10:24] = 60.0  # 14 minutes
    assert glycaemic_outcomes(g)["hypo_events_70"] == 0
    g.iloc[10:25] = 60.0  # 15 minutes
    assert glycaemic_outcomes(g)["hypo_events_70"] == 1


def test_empty_trace():
    out = glycaemic_outcomes(np.array([np.nan, np.nan]))
    assert out["n_readings"] == 0 and math.isnan(out["mean_mgdl"])
    assert out["hypo_events_70"] == 0


@settings(deadline=None, max_examples=60)
@given(st.lists(st.one_of(st.just(float("nan")), st.floats(30.0, 400.0)), min_size=2, max_size=60))
def test_ranges_partition_and_nan_is_ignored(values):
    g = np.array(values)
    out = glycaemic_outcomes(g)
    if out["n_readings"] == 0:
        return
    total = out["time_below_70_pct"] + out["time_in_range_70_180_pct"] + out["time_above_180_pct"]
    assert total == pytest.approx(100.0)
    known = g[~np.isnan(g)]
    assert out["mean_mgdl"] == pytest.approx(known.mean())
    assert out["time_below_54_pct"] <= out["time_below_70_pct"]
    assert out["lbgi"] >= 0 and out["hbgi"] >= 0
    # events never overlap and are ordered
    ev = glucose_events(g, 70)
    for (s0, e0), (s1, _e1) in zip(ev[:-1], ev[1:], strict=True):
        assert s0 < e0 <= s1


def test_time_in_range_and_events_compare_mmol_in_mmol():
    from dt1d.metrics import glucose_events, time_in_range

    # rounded to 0.1 mmol/L, readings sit on the consensus limits 3.9 and 10.0
    mmol = np.array([3.8, 3.9, 10.0, 10.1, 7.8, 7.9])
    assert time_in_range(mmol, units="mmol/L") == pytest.approx(100 * 4 / 6)
    assert time_in_range(mmol, 70, 140, units="mmol/L") == pytest.approx(100 * 2 / 6)
    # a limit that is not a consensus one is converted
    assert time_in_range(np.array([5.0, 5.6]), 100, 180, units="mmol/L") == pytest.approx(50.0)
    # the same in mg/dL after conversion puts 10.0 mmol/L (180.16 mg/dL) above range
    assert time_in_range(mmol * 18.0156) == pytest.approx(100 * 3 / 6)
    assert glucose_events(np.full(6, 10.0), 180, below=False, units="mmol/L") == []
    assert glucose_events(np.full(6, 10.1), 180, below=False, units="mmol/L") == [(0, 6)]
    assert glucose_events(np.full(6, 3.9), 70, units="mmol/L") == []
    assert glucose_events(np.full(6, 3.8), 70, units="mmol/L") == [(0, 6)]
    with pytest.raises(ValueError, match="units"):
        time_in_range(mmol, units="mmol")


def _reading_by_reading_events(bg, threshold, below, need, need_exit, max_missing):
    """The event rule applied one reading at a time (a slow reference for the run-based code)."""
    events, in_event, run_len, run_start, start, gap_len = [], False, 0, -1, -1, 0
    for i, value in enumerate(bg):
        if np.isnan(value):
            run_len = 0
            gap_len += 1
            if in_event and gap_len > max_missing:
                events.append((start, i - gap_len + 1))
                in_event = False
            continue
        gap_len = 0
        beyond = value < threshold if below else value > threshold
        if beyond == in_event:  # not what we are looking for
            run_len = 0
            continue
        if run_len == 0:
            run_start = i
        run_len += 1
        if run_len >= (need_exit if in_event else need):
            if in_event:
                events.append((start, run_start))
            else:
                start = run_start
            in_event = not in_event
            run_len = 0
    if in_event:
        events.append((start, len(bg)))
    return events


@given(
    st.lists(st.one_of(st.sampled_from([50.0, 65.0, 70.0, 75.0, 190.0]), st.just(float("nan"))), max_size=80),
    st.booleans(),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(0, 60),
)
def test_run_based_events_equal_the_reading_by_reading_rule(values, below, need, need_exit, gap_min):
    from dt1d.metrics.excursions import _interpolate_short_gaps

    bg = np.array(values, dtype=float)
    got = glucose_events(bg, 70, below=below, min_duration_min=5 * need, exit_duration_min=5 * need_exit,
                         max_gap_min=gap_min)
    steps = gap_min // 5
    filled = _interpolate_short_gaps(bg, steps)
    assert got == _reading_by_reading_events(filled, 70, below, need, need_exit, steps - 1)
