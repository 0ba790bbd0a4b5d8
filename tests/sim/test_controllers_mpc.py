"""MPCController and its box-constrained QP solver."""

import attrs
import numpy as np
import pytest
from scipy.optimize import lsq_linear

from dt1d.exceptions import ControllerSettingsError
from dt1d.metrics import time_in_range
from dt1d.sim import BasalBolusController, MPCController, simulate_cohort, virtual_patient
from dt1d.sim._box_qp import solve_box_qp


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_box_qp_equals_scipy_bounded_least_squares(m):
    rng = np.random.default_rng(m)
    n, rows = 200, 9
    A = rng.normal(size=(n, rows, m))
    b = 3.0 * rng.normal(size=(n, rows))
    lo = -rng.uniform(0.0, 1.0, (n, m))
    hi = rng.uniform(0.0, 1.0, (n, m))
    lo[::7, 0] = -np.inf  # some unbounded sides
    hi[::5, -1] = np.inf
    H = np.einsum("nki,nkj->nij", A, A)
    f = np.einsum("nki,nk->ni", A, b)
    got = solve_box_qp(H, f, lo, hi)
    ref = np.array([lsq_linear(A[j], b[j], bounds=(lo[j], hi[j]), method="bvls",
                               tol=1e-12).x for j in range(n)])
    np.testing.assert_allclose(got, ref, atol=1e-9)


def test_box_qp_refuses_crossed_bounds():
    with pytest.raises(ValueError, match="lower bound"):
        solve_box_qp(np.eye(2)[None], np.zeros((1, 2)), np.ones((1, 2)), np.zeros((1, 2)))


def _lanes(**kw):
    p = virtual_patient("adult#001")
    return p, MPCController(**kw).start_batch([p], 5)


def _step(lanes, g, carbs=0.0):
    basal, bolus = lanes.step(np.array([g]), np.array([carbs]))
    return float(basal[0]), float(bolus[0])


def test_at_target_and_steady_it_keeps_the_basal_rate():
    p, lanes = _lanes()
    for _ in range(5):
        basal, bolus = _step(lanes, lanes.target)
        assert basal == pytest.approx(p.basal_insulin_u_per_h, abs=1e-9) and bolus == 0.0


def test_high_glucose_raises_and_low_glucose_cuts_the_rate():
    p, lanes = _lanes()
    assert _step(lanes, 250.0)[0] > p.basal_insulin_u_per_h
    _, lanes = _lanes()
    low = _step(lanes, 95.0)[0]
    assert 0.0 <= low < p.basal_insulin_u_per_h
    _, lanes = _lanes()
    assert _step(lanes, 60.0)[0] == 0.0  # low-glucose suspend


def test_rates_stay_within_the_limits():
    p, lanes = _lanes(max_basal_u_per_h=1.5, iob_safety=False, max_iob_u=100.0)
    for g in [400.0] * 6:
        basal, _ = _step(lanes, g)
        assert 0.0 <= basal <= 1.5 + 1e-12


def test_insulin_on_board_limits_extra_insulin():
    p, lanes = _lanes(iob_safety=False, max_iob_u=0.05)
    for _ in range(12):
        _step(lanes, 350.0)
        assert lanes.iob()[0] <= 0.05 + 1e-9
    # with iob_safety: no more on board than (CGM - target) / CF
    _, lanes = _lanes()
    for _ in range(12):
        _step(lanes, 180.0)
        assert lanes.iob()[0] <= (180.0 - lanes.target) / lanes.cf[0] + 1e-9


def test_meal_bolus_and_settings_from_the_patient():
    p, lanes = _lanes()
    assert _step(lanes, 120.0, 60.0)[1] == pytest.approx(60.0 / p.carb_ratio_g_per_u)
    _, closed = _lanes(meal_bolus=False)
    assert _step(closed, 120.0, 60.0)[1] == 0.0
    q = attrs.evolve(p, carb_ratio_g_per_u=None, correction_factor_mg_dl_per_u=None,
                     total_daily_insulin_u=None)
    s = MPCController().settings_for(q)
    tdd = 48.0 * q.basal_insulin_u_per_h
    assert s["carb_ratio_g_per_u"] == pytest.approx(500.0 / tdd)
    assert s["max_basal_u_per_h"] == pytest.approx(4.0 * q.basal_insulin_u_per_h)
    assert MPCController(max_iob_u=3.0).settings_for(p)["max_iob_u"] == 3.0


@pytest.mark.parametrize("kw", [{"moves_min": (5, 15)}, {"moves_min": (0, 0)},
                                {"moves_min": (0, 400)}, {"low_weight": 0.0},
                                {"target_mg_dl": float("nan")}])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ControllerSettingsError):
        MPCController(**kw)


def test_closed_loop_lowers_time_below_70_of_a_small_cohort():
    pts = ["adult#002", "adult#006", "adolescent#003", "adolescent#007", "child#002",
           "child#006"]
    kw = dict(days=2, seed=4)
    outcomes = []
    for controller in (BasalBolusController(), MPCController()):
        frame = simulate_cohort(pts, "random", controller=controller, **kw)
        g = frame.groupby("patient_id", observed=True)["glucose"]
        outcomes.append((np.mean([time_in_range(x) for _, x in g]),
                         np.mean([(x < 70).mean() for _, x in g])))
    (tir_bb, low_bb), (tir_mpc, low_mpc) = outcomes
    assert tir_mpc > tir_bb and low_mpc < 0.5 * low_bb
