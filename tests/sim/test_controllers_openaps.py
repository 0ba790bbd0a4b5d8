"""OpenAPSController: its bookkeeping and decisions against the real oref0 0.7.1 (fixtures/oref0),
and closed-loop simulations with it."""

import json
from pathlib import Path

import numpy as np
import pytest

from dt1d.sim import OpenAPSController, simulate, simulate_cohort, virtual_patient
from dt1d.sim import _oref0 as o
from dt1d.sim._controllers_openaps import PROFILE_FIELDS

HERE = Path(__file__).parent / "fixtures" / "oref0"


@pytest.fixture(scope="module")
def cases():
    inputs = json.loads((HERE / "oref0_inputs.json").read_text())
    outputs = json.loads((HERE / "oref0_outputs.json").read_text())
    assert len(inputs) == len(outputs) >= 300
    return list(zip(inputs, outputs, strict=True))


def _lanes_for(inp):
    """The controller's loop state loaded with a recorded case (readings, pump history, temp)."""
    ctl = OpenAPSController(dia_h=inp["profile"]["dia"],
                            profile={k: float(inp["profile"][k]) for k in PROFILE_FIELDS})
    lanes = ctl.start_batch([virtual_patient(inp["patient"])], 5)
    lanes.pr[0, o.PR_AUTOSENS_RATIO] = inp["autosens_ratio"]
    lanes.pr[0, o.PR_MICROBOLUS_ALLOWED] = float(inp["microBolusAllowed"])
    g = inp["glucose"]
    lanes.g_hist[0, :len(g)] = g
    lanes.g_count[0] = len(g)
    for lag, units, _ in inp["treatments"]:
        lanes.net[0, lag // 5] += units
    lanes.cur_rate[0] = inp["currenttemp"]["rate"]
    lanes.cur_duration[0] = inp["currenttemp"]["duration"]
    lanes.bolus_age[0] = inp["last_bolus_age_min"]
    lanes.carbs[0, 0] = inp["meal_data"]["carbs"]
    lanes.cob[0] = inp["meal_data"]["mealCOB"]
    lanes.carb_age[0] = inp["last_carb_age_min"]
    lanes.md[0, o.MD_SLOPE_MAX] = inp["meal_data"]["slopeFromMaxDeviation"]
    lanes.md[0, o.MD_SLOPE_MIN] = inp["meal_data"]["slopeFromMinDeviation"]
    return lanes


def test_forecast_and_decisions_equal_oref0(cases):
    mismatches = []
    for k, (inp, ref) in enumerate(cases):
        lanes = _lanes_for(inp)
        iob, act, zt = lanes.forecast()
        np.testing.assert_allclose(iob[0], ref["iob"], atol=1.01e-3)
        np.testing.assert_allclose(act[0], ref["activity"], atol=1.01e-4)
        np.testing.assert_allclose(zt[0], ref["zt_activity"], atol=1.01e-4)
        out = lanes.decide(iob, act, zt)[0]
        gs = lanes.gs[0]
        assert gs[o.GS_DELTA] == pytest.approx(ref["glucose_status"]["delta"], abs=1e-9)
        rate = None if np.isnan(out[o.OUT_RATE]) else out[o.OUT_RATE]
        same = ((rate is None) == (ref["rate"] is None)
                and (rate is None or abs(rate - ref["rate"]) < 1e-9)
                and (rate is None or abs(out[o.OUT_DURATION] - ref["duration"]) < 1e-9)
                and abs(out[o.OUT_UNITS] - ref["units"]) < 1e-9)
        if not same:
            mismatches.append((k, rate, out[o.OUT_UNITS], ref["rate"], ref["units"],
                               ref["reason"]))
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ; first: {mismatches[:3]}"


def test_step_applies_the_decision_and_keeps_the_pump_history():
    p = virtual_patient("adult#001")
    lanes = OpenAPSController().start_batch([p], 5)
    basal0 = lanes.basal[0]
    for g in (180.0, 190.0, 200.0, 210.0):  # rising high: a high temp
        basal, bolus = lanes.step(np.array([g]), np.array([0.0]))
    assert basal[0] > basal0 and bolus[0] == 0.0
    assert lanes.net[0, 1] == pytest.approx((basal[0] - basal0) * 5 / 60)
    assert 0 < lanes.cur_duration[0] <= 25
    for g in (120.0, 100.0, 85.0, 72.0, 65.0):  # falling fast into a low: a zero temp
        basal, bolus = lanes.step(np.array([g]), np.array([0.0]))
    assert basal[0] == 0.0
    basal, bolus = lanes.step(np.array([65.0]), np.array([60.0]))  # a meal: bolus of carbs/CR
    assert bolus[0] == pytest.approx(round(60.0 / p.carb_ratio_g_per_u * 20) / 20)
    assert lanes.cob[0] == pytest.approx(60.0) and lanes.carb_age[0] == 5.0


def test_max_basal_and_max_iob_are_respected():
    p = virtual_patient("adult#003")
    ctl = OpenAPSController(max_basal_u_per_h=1.5, max_iob_u=2.0)
    lanes = ctl.start_batch([p], 5)
    rates = []
    for g in np.linspace(250, 400, 36):  # three hours rising
        basal, _ = lanes.step(np.array([g]), np.array([0.0]))
        rates.append(basal[0])
        iob, _, _ = lanes.forecast()
        assert iob[0, 0] <= 2.0 + 1.5 * 30 / 60 + 1e-9  # a 30-min temp may finish
    assert max(rates) <= 1.5 + 1e-9 and max(rates) > lanes.basal[0]


def test_settings_derived_from_each_patient_and_overridden():
    a, c = virtual_patient("adult#001"), virtual_patient("child#001")
    ctl = OpenAPSController()
    pa = ctl.profile_for(a)
    assert pa["sens"] == a.correction_factor_mg_dl_per_u
    assert pa["carb_ratio"] == a.carb_ratio_g_per_u
    assert pa["current_basal"] == pytest.approx(round(a.basal_insulin_u_per_h * 20) / 20)
    assert pa["max_iob"] == pytest.approx(60 / a.carb_ratio_g_per_u + 3 * pa["current_basal"])
    assert ctl.profile_for(c)["sens"] == c.correction_factor_mg_dl_per_u
    ovr = OpenAPSController(isf_mg_dl_per_u=42.0, target_mg_dl=120, profile={"max_iob": 1.0})
    po = ovr.profile_for(a)
    assert (po["sens"], po["min_bg"], po["max_bg"], po["max_iob"]) == (42.0, 120.0, 120.0, 1.0)
    with pytest.raises(ValueError, match="unknown oref0 field"):
        OpenAPSController(profile={"max_iobb": 1})
    with pytest.raises(ValueError, match="step_min=5"):
        simulate("adult#001", days=1, controller=OpenAPSController(), step_min=10)


@pytest.fixture(scope="module")
def runs():
    names = ["adult#001", "adult#005", "adolescent#002", "child#003"]
    kw = dict(days=2, seed=3)
    return {k: simulate_cohort(names, "random", controller=c, **kw) for k, c in
            (("bb", "default"), ("oaps", OpenAPSController()),
             ("smb", OpenAPSController(enable_smb=True)))}


def test_closed_loop_is_physical(runs):
    for rec in runs.values():
        g = rec["glucose_true_plasma"].to_numpy()
        assert np.isfinite(g).all() and g.min() >= 0 and g.max() < 600
        assert (rec["basal"] >= 0).all() and (rec["bolus"] >= 0).all()
        assert rec["basal"].max() / 5 * 60 <= 30.0 + 1e-9  # within the pump's limit


def test_the_loop_avoids_the_deepest_lows_of_basal_bolus(runs):
    low = {k: r["glucose_true_plasma"].min() for k, r in runs.items()}
    assert low["oaps"] > 25 and low["oaps"] > low["bb"]


def test_the_loop_adjusts_basal_and_differs_from_basal_bolus(runs):
    bb, oaps, smb = runs["bb"], runs["oaps"], runs["smb"]
    for pid, rec in oaps.groupby("patient_id", observed=True):
        rates = rec["basal"].to_numpy() / 5 * 60
        assert (rates == 0).any() and (rates > rates.min()).any()
        assert len(np.unique(rates)) > 3  # temps of several rates
        assert not np.allclose(rec["glucose"], bb[bb.patient_id == pid]["glucose"])
    # super micro-boluses: more boluses than meals
    assert (smb["bolus"] > 0).sum() > (oaps["bolus"] > 0).sum()


def test_simulate_and_policy_paths_agree():
    """simulate() steps the cohort state; policy(observation) keeps one state per patient."""
    ctl = OpenAPSController()
    a = simulate("adult#002", "random", days=0.5, seed=5, controller=ctl)

    class PerPatient:
        def __init__(self):
            self.inner = OpenAPSController()

        def reset(self):
            self.inner.reset()

        def policy(self, obs):
            return self.inner.policy(obs)

    b = simulate("adult#002", "random", days=0.5, seed=5, controller=PerPatient())
    np.testing.assert_array_equal(a["insulin"].to_numpy(), b["insulin"].to_numpy())
    np.testing.assert_array_equal(a["glucose"].to_numpy(), b["glucose"].to_numpy())
