"""MAGE against iglu on real traces and on hand-made ones; extended hypoglycaemia events."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dt1d.metrics import extended_hypo_events, glycaemic_outcomes, mage

DATA = Path(__file__).parents[1] / "data" / "metrics"


def _subjects():
    cgm = pd.read_csv(DATA / "iglu_example_cgm.csv", parse_dates=["time"])
    ref = pd.read_csv(DATA / "iglu_mage.csv")
    for row in ref.itertuples():
        one = cgm[cgm["id"] == row.id]
        yield row, pd.Series(one["gl"].to_numpy(float), index=pd.DatetimeIndex(one["time"]))


@pytest.mark.parametrize("row_series", list(_subjects()), ids=lambda rs: rs[0].id)
def test_mage_agrees_with_iglu_on_real_traces(row_series):
    row, series = row_series
    assert mage(series) == pytest.approx(row.mage_ma, rel=1e-9)
    if not math.isnan(row.mage_service):
        assert mage(series, method="service") == pytest.approx(row.mage_service, rel=1e-9)
    assert glycaemic_outcomes(series)["mage_mgdl"] == pytest.approx(row.mage_ma, rel=1e-9)


def _sine(amplitude, periods=12, centre=150.0):
    # a 4-hour oscillation starting at a nadir and ending at one, sampled at every turn
    return centre - amplitude * np.cos(2 * np.pi * np.arange(periods * 48 + 1) / 48)


def test_mage_of_a_regular_oscillation_is_its_peak_to_nadir_height():
    # a 4-hour sine sampled at its peaks and nadirs: every excursion is 2 x amplitude
    assert mage(_sine(50.0)) == pytest.approx(100.0, rel=1e-9)
    assert mage(_sine(50.0), method="service") == pytest.approx(100.0, rel=1e-9)
    assert mage(_sine(80.0) / 18.0156, units="mmol/L") == pytest.approx(160.0, rel=1e-9)
    # excursions smaller than one SD do not count: a flat trace has none
    assert math.isnan(mage(np.full(300, 120.0)))


def test_mage_service_follows_the_first_excursion_direction():
    # rises of 100, falls of 60 then back: a saw whose up and down legs differ
    up = np.linspace(100, 200, 25)[:-1]
    down = np.linspace(200, 140, 25)[:-1]
    back = np.linspace(140, 100, 25)[:-1]
    trace = np.tile(np.concatenate([up, down, back]), 8)
    ma, service = mage(trace), mage(trace, method="service")
    assert ma != pytest.approx(service)
    assert service == pytest.approx(100.0, abs=1.0)  # the first countable move is a rise of 100


def test_mage_gap_rules_and_errors():
    trace = _sine(50.0, periods=18)
    short_gap = trace.copy()
    short_gap[100:108] = np.nan  # 40 minutes: filled linearly
    assert np.isfinite(mage(short_gap))
    split = trace.copy()
    split[313:360] = np.nan  # 240 minutes, peak to peak: two segments of whole excursions
    assert mage(split) == pytest.approx(100.0, rel=1e-6)
    with pytest.raises(ValueError, match="5-minute"):
        mage(trace[::3], step_min=15.0)
    with pytest.raises(ValueError, match="method"):
        mage(trace, method="naive")


def _hypo(minutes_below, then_above=30, step=5):
    return np.concatenate([np.full(6, 120.0), np.full(minutes_below // step, 60.0), np.full(then_above // step, 120.0)])


def test_extended_hypo_needs_120_minutes_below_70():
    assert extended_hypo_events(_hypo(120)) == [(6, 30)]
    assert extended_hypo_events(_hypo(115)) == []
    out = glycaemic_outcomes(_hypo(120))
    assert out["extended_hypo_events"] == 1.0 and out["hypo_events_70"] == 1.0
    assert glycaemic_outcomes(_hypo(115))["extended_hypo_events"] == 0.0


def test_extended_hypo_ends_after_15_minutes_back_at_70():
    # 120 min low, 10 min at 70 (not enough to end it), 60 min low again, then 15 min up
    trace = np.concatenate([np.full(24, 60.0), np.full(2, 70.0), np.full(12, 60.0), np.full(3, 75.0)])
    assert extended_hypo_events(trace) == [(0, 38)]
    # 15 minutes at 70 end it: the next 60 minutes low are not a new extended event
    trace2 = np.concatenate([np.full(24, 60.0), np.full(3, 70.0), np.full(12, 60.0), np.full(3, 75.0)])
    assert extended_hypo_events(trace2) == [(0, 24)]


def test_extended_hypo_gap_and_mmol():
    low = np.full(30, 60.0)
    # readings 45 min apart: bridged
    bridged = np.concatenate([low, np.full(8, np.nan), low, np.full(3, 100.0)])
    assert extended_hypo_events(bridged) == [(0, 68)]
    # readings 50 min apart: the gap ends the event
    broken = np.concatenate([low, np.full(9, np.nan), np.full(20, 60.0), np.full(3, 100.0)])
    assert extended_hypo_events(broken) == [(0, 30)]
    # 3.9 mmol/L is not below 3.9
    assert extended_hypo_events(np.full(30, 3.9), units="mmol/L") == []
    assert extended_hypo_events(np.full(30, 3.8), units="mmol/L") == [(0, 30)]
    index = pd.date_range("2024-01-01", periods=30, freq="5min")
    assert extended_hypo_events(pd.Series(np.full(30, 50.0), index=index)) == [(0, 30)]


@given(st.lists(st.one_of(st.floats(40, 400), st.just(float("nan"))), max_size=60), st.integers(0, 12))
def test_short_gaps_are_filled_on_the_line_between_their_readings(values, max_steps):
    from dt1d.metrics.excursions import _interpolate_short_gaps

    bg = np.array(values, dtype=float)
    expected = bg.copy()
    known = np.flatnonzero(~np.isnan(bg))
    for a, b in zip(known[:-1], known[1:], strict=True):
        if 1 < b - a <= max_steps:
            expected[a + 1 : b] = bg[a] + (bg[b] - bg[a]) * (np.arange(a + 1, b) - a) / (b - a)
    got = _interpolate_short_gaps(bg, max_steps)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
