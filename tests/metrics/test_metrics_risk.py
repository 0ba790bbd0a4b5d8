"""GRI, J-index, ADRR and time in tight range, against the published formulas typed in here."""

import math

import numpy as np
import pandas as pd
import pytest

from dt1d.metrics import adrr, glycaemic_outcomes, gri, gri_components, j_index

G = np.array([40.0, 53.9, 54.0, 69.9, 70.0, 140.0, 141.0, 180.0, 180.5, 250.0, 251.0, np.nan])


def _f(bg):
    # Kovatchev 1997 symmetrisation
    return 1.509 * (math.log(bg) ** 1.084 - 5.381)


def test_gri_hand_computed_with_band_edges():
    # Klonoff 2023: VLow < 54, Low 54-<70, High >180-250, VHigh > 250
    n = 11
    vlow, low, high, vhigh = 100 * 2 / n, 100 * 2 / n, 100 * 2 / n, 100 * 1 / n
    hypo, hyper = gri_components(G)
    assert hypo == pytest.approx(vlow + 0.8 * low)
    assert hyper == pytest.approx(vhigh + 0.5 * high)
    raw = 3.0 * vlow + 2.4 * low + 1.6 * vhigh + 0.8 * high
    assert raw > 100 and gri(G) == 100.0  # capped at 100
    mild = np.array([65.0, 100.0, 120.0, 150.0, 200.0, 260.0, 110.0, 130.0, 90.0, 100.0])
    # 10 readings: Low 1, High 1, VHigh 1 -> 2.4*10 + 1.6*10 + 0.8*10
    assert gri(mild) == pytest.approx(2.4 * 10 + 1.6 * 10 + 0.8 * 10)
    assert gri(np.full(5, 40.0)) == 100.0  # capped
    assert math.isnan(gri([np.nan]))
    assert gri(mild / 18.0156, units="mmol/L") == pytest.approx(gri(mild))


def test_mmol_input_uses_the_consensus_mmol_bands():
    # readings rounded to 0.1 mmol/L sit on the band limits: compare in the input's unit
    mmol = np.array([2.9, 3.0, 3.9, 7.8, 7.9, 10.0, 10.1, 13.9, 14.0, 5.5])
    out = glycaemic_outcomes(mmol, units="mmol/L")
    assert out["time_below_54_pct"] == pytest.approx(10.0)  # 2.9 only; 3.0 is not < 3.0
    assert out["time_below_70_pct"] == pytest.approx(20.0)  # 2.9, 3.0
    assert out["time_in_range_70_180_pct"] == pytest.approx(50.0)  # 3.9, 7.8, 7.9, 10.0, 5.5
    assert out["time_in_tight_range_70_140_pct"] == pytest.approx(30.0)  # 3.9, 7.8, 5.5
    assert out["time_above_180_pct"] == pytest.approx(30.0)  # 10.1, 13.9, 14.0
    assert out["time_above_250_pct"] == pytest.approx(10.0)  # 14.0
    # GRI bands in mmol/L: VLow 10, Low 10, High 20, VHigh 10 (%)
    assert out["gri"] == pytest.approx(3.0 * 10 + 2.4 * 10 + 1.6 * 10 + 0.8 * 20)
    # 10.0 mmol/L is 180.16 mg/dL: in range in mmol/L, above range once converted
    assert glycaemic_outcomes(mmol * 18.0156)["time_in_range_70_180_pct"] == pytest.approx(40.0)
    # events at the mmol/L limits: three readings at 10.0 are not above 10.0
    assert glycaemic_outcomes(np.array([10.0] * 6), units="mmol/L")["hyper_events_180"] == 0
    assert glycaemic_outcomes(np.array([10.1] * 6), units="mmol/L")["hyper_events_180"] == 1
    with pytest.raises(ValueError, match="units"):
        glycaemic_outcomes(mmol, units="mg/dl")


def test_j_index_hand_computed():
    known = G[~np.isnan(G)]
    mean = sum(known) / len(known)
    sd = math.sqrt(sum((x - mean) ** 2 for x in known) / (len(known) - 1))
    assert j_index(G) == pytest.approx(0.001 * (mean + sd) ** 2)
    assert math.isnan(j_index([100.0]))


def test_adrr_by_calendar_day_and_by_grid_blocks():
    times = pd.date_range("2024-01-01 22:00", periods=6, freq="1h")
    s = pd.Series([60.0, 250.0, 100.0, 40.0, 120.0, np.nan], index=times)
    # day 1: 60, 250; day 2: 100, 40, 120
    def day(values):
        lo = max((10 * _f(v) ** 2 for v in values if _f(v) < 0), default=0.0)
        hi = max((10 * _f(v) ** 2 for v in values if _f(v) > 0), default=0.0)
        return lo + hi

    expected = (day([60.0, 250.0]) + day([100.0, 40.0, 120.0])) / 2
    assert adrr(s) == pytest.approx(expected, rel=1e-12)
    # an array on a 12-hour grid: blocks of two values make a day
    arr = np.array([60.0, 250.0, 100.0, 40.0, 120.0])
    expected_arr = (day([60.0, 250.0]) + day([100.0, 40.0]) + day([120.0])) / 3
    assert adrr(arr, step_min=720.0) == pytest.approx(expected_arr, rel=1e-12)
    assert math.isnan(adrr([np.nan]))
    with pytest.raises(ValueError, match="mmol/L"):
        adrr([0.5, 5.0])


def test_outcomes_have_the_new_keys():
    times = pd.date_range("2024-01-01 23:00", periods=len(G), freq="5min")
    out = glycaemic_outcomes(pd.Series(G, index=times))
    known = G[~np.isnan(G)]
    assert out["time_in_tight_range_70_140_pct"] == pytest.approx(100 * 2 / 11)
    assert out["gri"] == pytest.approx(gri(G))
    assert (out["gri_hypo"], out["gri_hyper"]) == pytest.approx(gri_components(G))
    assert out["j_index"] == pytest.approx(j_index(G))
    # all on one calendar day (23:00-23:55)
    assert out["adrr"] == pytest.approx(adrr(known))
    # the same trace across midnight splits into two days
    later = glycaemic_outcomes(pd.Series(G, index=times + pd.Timedelta("30min")))
    first, second = known[:6], known[6:]
    assert later["adrr"] == pytest.approx((adrr(first) + adrr(second)) / 2)
    empty = glycaemic_outcomes(np.array([np.nan]))
    assert math.isnan(empty["gri"]) and math.isnan(empty["adrr"])


def test_conga_and_modd_hand_computed():
    from dt1d.metrics import conga, modd

    # a 30-minute grid over two days: 96 values, one missing
    rng = np.random.default_rng(3)
    g = rng.uniform(60, 250, 96)
    g[10] = np.nan
    pairs = [g[i] - g[i - 2] for i in range(2, 96) if not (np.isnan(g[i]) or np.isnan(g[i - 2]))]
    m = sum(pairs) / len(pairs)
    sd = math.sqrt(sum((d - m) ** 2 for d in pairs) / (len(pairs) - 1))
    assert conga(g, 1, step_min=30) == pytest.approx(sd, rel=1e-12)
    daily = [abs(g[i] - g[i - 48]) for i in range(48, 96) if not (np.isnan(g[i]) or np.isnan(g[i - 48]))]
    assert modd(g, step_min=30) == pytest.approx(sum(daily) / len(daily), rel=1e-12)
    times = pd.date_range("2024-01-01", periods=96, freq="30min")
    out = glycaemic_outcomes(pd.Series(g, index=times))
    assert out["conga_1h_mgdl"] == pytest.approx(sd, rel=1e-12)
    assert out["modd_mgdl"] == pytest.approx(sum(daily) / len(daily), rel=1e-12)
    assert math.isnan(modd(g[:40], step_min=30))  # less than a day: no pair
    with pytest.raises(ValueError, match="whole number"):
        conga(g, 1, step_min=25)
