"""Accuracy metrics against hand-computed values and invariants."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dt1d.metrics import grmse, grmse_penalty, mae, mard, me, rmse

REF = [100.0, 200.0, 50.0, 150.0]
PRED = [110.0, 180.0, 50.0, 165.0]
# errors: +10, -20, 0, +15


def test_hand_computed_values():
    assert rmse(REF, PRED) == pytest.approx(math.sqrt((100 + 400 + 0 + 225) / 4))
    assert mae(REF, PRED) == pytest.approx((10 + 20 + 0 + 15) / 4)
    assert me(REF, PRED) == pytest.approx((10 - 20 + 0 + 15) / 4)
    assert mard(REF, PRED) == pytest.approx(100 * (10 / 100 + 20 / 200 + 0 + 15 / 150) / 4)


def test_nan_pairs_are_ignored():
    ref = [100.0, np.nan, 200.0, 120.0]
    pred = [110.0, 130.0, np.nan, 100.0]
    assert rmse(ref, pred) == pytest.approx(math.sqrt((100 + 400) / 2))
    assert me(ref, pred) == pytest.approx((10 - 20) / 2)
    assert mae(ref, pred) == pytest.approx(15.0)


def test_all_nan_gives_nan():
    for f in (rmse, mae, me, mard, grmse):
        assert math.isnan(f([np.nan, 1.0], [2.0, np.nan]))
        assert math.isnan(f([], []))


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"reference has shape \(3,\) but prediction has shape \(2,\)"
    ):
        rmse([1.0, 2.0, 3.0], [1.0, 2.0])


def test_non_numeric_and_infinite_input_rejected():
    with pytest.raises(ValueError, match="prediction must be numeric"):
        mae([1.0, 2.0], ["a", "b"])
    with pytest.raises(ValueError, match="reference contains infinite"):
        mae([np.inf, 2.0], [1.0, 2.0])


def test_mard_rejects_non_positive_reference():
    with pytest.raises(ValueError, match="positive reference"):
        mard([0.0, 100.0], [10.0, 100.0])


def test_accepts_pandas_and_2d():
    ref = pd.Series(REF)
    assert rmse(ref, pd.Series(PRED)) == pytest.approx(rmse(REF, PRED))
    two_d = np.array([REF, PRED])
    assert mae(two_d, two_d + 1.0) == pytest.approx(1.0)


def test_grmse_equals_rmse_in_euglycaemia():
    ref = [120.0, 150.0, 180.0]
    pred = [140.0, 100.0, 190.0]
    assert grmse(ref, pred) == pytest.approx(rmse(ref, pred))


def test_grmse_full_penalties_hand_computed():
    # ref 40 <= 50 and overestimate 20 >= 10: weight 1 + 1.5 = 2.5
    assert grmse_penalty([40.0], [60.0])[0] == pytest.approx(2.5)
    assert grmse([40.0], [60.0]) == pytest.approx(math.sqrt(2.5 * 400))
    # underestimating a low is not penalised extra
    assert grmse_penalty([40.0], [20.0])[0] == pytest.approx(1.0)
    # ref 400 >= 350 and underestimate 30 >= 20: weight 2
    assert grmse([400.0], [370.0]) == pytest.approx(math.sqrt(2 * 900))
    # overestimating a high is not penalised extra
    assert grmse_penalty([400.0], [430.0])[0] == pytest.approx(1.0)


def test_grmse_sigmoid_midpoints():
    # ref 65 is halfway down the 80 -> 50 ramp (S = 0.5), overestimate 5 is halfway on the
    # 10 mg/dL ramp (S = 0.5): weight 1 + 1.5 * 0.25
    assert grmse_penalty([65.0], [70.0])[0] == pytest.approx(1.375)
    # ref 300 halfway 250 -> 350, underestimate 10 halfway on 20: 1 + 0.25
    assert grmse_penalty([300.0], [290.0])[0] == pytest.approx(1.25)
    # a quarter of the way: xi = -0.5 -> (1 - 1 + 0.25 - 0.0625)/2 = 0.09375
    assert grmse_penalty([72.5], [200.0])[0] == pytest.approx(1 + 1.5 * 0.09375)


glucose = st.floats(min_value=20.0, max_value=600.0, allow_nan=False)


@settings(deadline=None, max_examples=60)
@given(st.lists(glucose, min_size=1, max_size=40))
def test_perfect_forecast_has_zero_error(values):
    for f in (rmse, mae, me, mard, grmse):
        assert f(values, values) == 0.0


@settings(deadline=None, max_examples=60)
@given(
    st.lists(st.tuples(glucose, glucose), min_size=1, max_size=40),
    st.lists(st.integers(min_value=0, max_value=39), max_size=10),
)
def test_inserting_nan_pairs_changes_nothing(pairs, positions):
    ref = np.array([p[0] for p in pairs])
    pred = np.array([p[1] for p in pairs])
    ref_n, pred_n = ref.copy(), pred.copy()
    for k, pos in enumerate(positions):
        where = min(pos, ref_n.size)
        ref_n = np.insert(ref_n, where, np.nan if k % 2 else 100.0)
        pred_n = np.insert(pred_n, where, 100.0 if k % 2 else np.nan)
    for f in (rmse, mae, me, mard, grmse):
        assert f(ref_n, pred_n) == pytest.approx(f(ref, pred), rel=1e-12, abs=1e-12)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.tuples(glucose, glucose), min_size=1, max_size=40))
def test_mmol_and_mgdl_consistent(pairs):
    ref = np.array([p[0] for p in pairs])
    pred = np.array([p[1] for p in pairs])
    k = 18.0156
    assert mard(ref / k, pred / k) == pytest.approx(mard(ref, pred), rel=1e-9, abs=1e-9)
    assert rmse(ref / k, pred / k) == pytest.approx(rmse(ref, pred) / k, rel=1e-9, abs=1e-9)
    assert grmse(ref / k, pred / k, units="mmol/L") == pytest.approx(
        grmse(ref, pred) / k, rel=1e-9, abs=1e-9
    )
    assert rmse(ref, pred) <= grmse(ref, pred) <= math.sqrt(2.5) * rmse(ref, pred) + 1e-9
    assert abs(me(ref, pred)) <= mae(ref, pred) + 1e-9 <= rmse(ref, pred) + 2e-9


def test_bad_units():
    with pytest.raises(ValueError, match="units must be one of"):
        grmse([100.0], [100.0], units="mg")


def test_metrics_import_no_matplotlib_or_torch():
    import subprocess
    import sys

    code = (
        "import sys, dt1d.metrics; "
        "bad = [m for m in ('matplotlib', 'torch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
