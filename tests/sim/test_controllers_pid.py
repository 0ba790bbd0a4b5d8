"""PIDController: settings from each patient, IOB safety, the loop in simulate."""

import attrs
import numpy as np
import pytest

from dt1d.exceptions import ControllerSettingsError
from dt1d.metrics import time_in_range
from dt1d.sim import PIDController, simulate, simulate_cohort, virtual_patient
from dt1d.sim._controllers_pid import KP_TDD_DIVISOR
from dt1d.sim._iob import iob_fraction


def test_settings_from_the_patient():
    p = virtual_patient("adult#001")
    s = PIDController().settings_for(p)
    assert s["basal_u_per_h"] == pytest.approx(p.basal_insulin_u_per_h)
    assert s["total_daily_dose_u"] == pytest.approx(p.total_daily_insulin_u)
    assert s["kp_u_per_h_per_mg_dl"] == pytest.approx(p.total_daily_insulin_u / 2000.0)
    assert s["carb_ratio_g_per_u"] == p.carb_ratio_g_per_u
    assert s["correction_factor_mg_dl_per_u"] == p.correction_factor_mg_dl_per_u
    assert s["max_basal_u_per_h"] == pytest.approx(4 * p.basal_insulin_u_per_h)


def test_settings_without_therapy_fields_use_the_rules_of_thumb():
    p = attrs.evolve(virtual_patient("child#002"), total_daily_insulin_u=None,
                     carb_ratio_g_per_u=None, correction_factor_mg_dl_per_u=None)
    s = PIDController().settings_for(p)
    tdd = 48.0 * p.basal_insulin_u_per_h
    assert s["total_daily_dose_u"] == pytest.approx(tdd)
    assert s["carb_ratio_g_per_u"] == pytest.approx(500.0 / tdd)
    assert s["correction_factor_mg_dl_per_u"] == pytest.approx(1800.0 / tdd)
    assert s["kp_u_per_h_per_mg_dl"] == pytest.approx(tdd / KP_TDD_DIVISOR)


def test_explicit_settings_override():
    p = virtual_patient("adult#002")
    s = PIDController(total_daily_dose_u=40.0, basal_u_per_h=0.8, carb_ratio_g_per_u=12.0,
                      max_basal_u_per_h=2.0).settings_for(p)
    assert s["total_daily_dose_u"] == 40.0 and s["kp_u_per_h_per_mg_dl"] == 40.0 / 2000.0
    assert s["basal_u_per_h"] == 0.8 and s["carb_ratio_g_per_u"] == 12.0
    assert s["max_basal_u_per_h"] == 2.0
    assert PIDController(kp_u_per_h_per_mg_dl=0.1).settings_for(p)["kp_u_per_h_per_mg_dl"] == 0.1


@pytest.mark.parametrize("field,value", [("ti_min", 0.0), ("kp_u_per_h_per_mg_dl", -1.0),
                                         ("insulin_feedback", float("nan"))])
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises(ControllerSettingsError, match=field):
        PIDController(**{field: value})


def _lanes(**kw):
    ctl = PIDController(**kw)
    return ctl.start_batch([virtual_patient("adult#001")], 5)


def test_at_target_and_steady_it_gives_the_basal_rate():
    lanes = _lanes()
    for _ in range(30):
        basal, bolus = lanes.step(np.array([130.0]), np.array([0.0]))
        assert basal[0] == pytest.approx(lanes.basal[0], abs=1e-12) and bolus[0] == 0.0


def test_proportional_response_without_feedback():
    lanes = _lanes(insulin_feedback=0.0, iob_safety=False, td_min=0.0)
    basal, _ = lanes.step(np.array([180.0]), np.array([0.0]))
    kp = lanes.kp[0]
    # P: kp * 50; I: kp * 50 * 5 min / TI
    assert basal[0] == pytest.approx(lanes.basal[0] + kp * 50.0 * (1.0 + 5.0 / 600.0))


def test_iob_safety_limits_insulin_after_a_bolus():
    kw = dict(correction_factor_mg_dl_per_u=40.0, carb_ratio_g_per_u=10.0)
    safe, free = _lanes(**kw), _lanes(iob_safety=False, **kw)
    g = np.array([200.0])
    rates = {}
    for name, lanes in (("safe", safe), ("free", free)):
        basal, bolus = lanes.step(g, np.array([60.0]))  # 6 U meal bolus
        assert bolus[0] == pytest.approx(6.0)
        out = [basal[0]]
        for _ in range(11):
            out.append(lanes.step(g, np.array([0.0]))[0][0])
        rates[name] = np.array(out)
    basal = safe.basal[0]
    # the glucose needs (200 - 130) / 40 = 1.75 U but 6 U are on board: no extra insulin
    iob_after = 6.0 * iob_fraction(np.array([5.0 * 12]), 5.0)[0]
    assert iob_after > 1.75
    np.testing.assert_array_less(rates["safe"], basal + 1e-12)
    assert (rates["free"] > basal + 0.5).all()
    # without the bolus, the same controller adds insulin at once
    lanes = _lanes(**kw)
    assert lanes.step(g, np.array([0.0]))[0][0] > basal


def test_iob_allows_only_the_missing_insulin():
    lanes = _lanes(correction_factor_mg_dl_per_u=40.0, insulin_feedback=0.0,
                   kp_u_per_h_per_mg_dl=1.0, max_basal_u_per_h=100.0)
    lanes.history.record(np.array([1.0]))  # 1 U given 5 minutes ago
    iob = lanes.iob()[0]
    basal, _ = lanes.step(np.array([250.0]), np.array([0.0]))
    allowed = ((250.0 - 130.0) / 40.0 - iob) * 60.0 / 5.0
    assert basal[0] == pytest.approx(lanes.basal[0] + allowed)


def test_low_glucose_suspends_all_insulin():
    lanes = _lanes()
    basal, bolus = lanes.step(np.array([75.0]), np.array([40.0]))
    assert basal[0] == 0.0 and bolus[0] == 0.0


def test_pid_beats_constant_basal_on_time_in_range():
    names = ["adult#003", "adolescent#004", "child#006"]
    pid = simulate_cohort(names, "random", days=2, controller=PIDController(meal_bolus=False),
                          seed=11)
    basal = simulate_cohort(names, "random", days=2, controller=None, seed=11)
    assert time_in_range(pid["glucose"]) > time_in_range(basal["glucose"]) + 5.0
    for name in names:
        assert (time_in_range(pid.loc[pid.patient_id == name, "glucose"])
                > time_in_range(basal.loc[basal.patient_id == name, "glucose"]))


def test_works_without_arguments_and_the_policy_path_is_the_same():
    ctl = PIDController()
    batch = simulate("adult#004", "random", days=1, controller=ctl, seed=3)
    one = simulate("adult#004", "random", days=1, controller=ctl.policy, seed=3)
    np.testing.assert_allclose(batch["glucose"], one["glucose"])
    np.testing.assert_allclose(batch["insulin"], one["insulin"])
    assert batch["basal"].max() > batch["basal"].min()  # it does adjust the rate
    cohort = simulate_cohort(["adult#004", "child#001"], "random", days=1,
                             controller=PIDController(), seed=3)
    alone = cohort[cohort.patient_id == "adult#004"].drop(columns="patient_id")
    np.testing.assert_allclose(alone["glucose"], batch["glucose"])
