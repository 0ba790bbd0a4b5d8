"""Treatment handlers: each rule on its own lanes, settings per patient, and in simulate."""

import attrs
import numpy as np
import pandas as pd
import pytest

from dt1d.exceptions import ControllerSettingsError
from dt1d.sim import Meal, Scenario, simulate, simulate_cohort, virtual_patient
from dt1d.sim._iob import iob_fraction
from dt1d.sim.handlers import BolusCalculator, CorrectionBolus, HypoTreatment

CR, CF, TARGET = 10.0, 40.0, 120.0


def _one(handler):
    return handler.start_batch([virtual_patient("adult#001")], 5)


def _step(lanes, glucose, carbs=0.0, pending=0.0):
    bolus, rescue = lanes.step(np.array([glucose]), np.array([carbs]), np.array([pending]))
    return float(bolus[0]), float(rescue[0])


def _calc(**kw):
    return _one(BolusCalculator(carb_ratio_g_per_u=CR, correction_factor_mg_dl_per_u=CF,
                                target_mg_dl=TARGET, **kw))


def test_bolus_calculator_meal_plus_correction():
    lanes = _calc()
    assert _step(lanes, 200.0, 60.0) == (pytest.approx(60 / CR + 80 / CF), 0.0)
    assert _step(lanes, 200.0, 0.0) == (0.0, 0.0)  # no meal, no bolus


def test_bolus_calculator_lowers_the_bolus_below_target_unless_told_not_to():
    assert _step(_calc(), 80.0, 60.0)[0] == pytest.approx(6.0 - 1.0)
    assert _step(_calc(correct_below_target=False), 80.0, 60.0)[0] == pytest.approx(6.0)
    assert _step(_calc(), 40.0, 10.0)[0] == 0.0  # never negative


def test_bolus_calculator_subtracts_insulin_on_board():
    lanes = _calc()
    basal = lanes.basal.copy()
    lanes.record(basal, np.array([3.0]))  # a 3 U bolus one step ago
    lanes.record(basal, np.array([0.0]))
    iob = 3.0 * float(iob_fraction(np.array([10.0]), 5.0)[0])
    assert 2.5 < iob < 3.0
    assert _step(lanes, 200.0, 60.0)[0] == pytest.approx(8.0 - iob)


def test_bolus_calculator_counts_the_controllers_bolus_of_the_step():
    # behind a controller that already gave carbs / CR, only the correction is added
    assert _step(_calc(), 200.0, 60.0, pending=6.0)[0] == pytest.approx(80 / CF)


def test_basal_cut_does_not_raise_the_bolus():
    lanes = _calc()
    for _ in range(6):  # a 30-minute suspension: negative insulin on board
        lanes.record(np.zeros(1), np.zeros(1))
    assert lanes.history.iob()[0] < 0
    assert _step(lanes, 200.0, 60.0)[0] == pytest.approx(8.0)


def _corr(**kw):
    return _one(CorrectionBolus(correction_factor_mg_dl_per_u=CF, target_mg_dl=TARGET, **kw))


def test_correction_above_threshold_only():
    assert _step(_corr(), 250.0)[0] == 0.0  # at the threshold: nothing
    assert _step(_corr(), 300.0)[0] == pytest.approx(180 / CF)


def test_correction_waits_the_minimum_interval():
    lanes = _corr(min_interval_min=60.0)
    basal = lanes.basal.copy()
    given = []
    for _ in range(14):  # 70 minutes at 300 mg/dL, no insulin recorded (to isolate the timer)
        given.append(_step(lanes, 300.0)[0])
        lanes.record(basal, np.zeros(1))
    assert [k for k, b in enumerate(given) if b > 0] == [0, 12]


def test_correction_checks_insulin_on_board():
    lanes = _corr(min_interval_min=0.0, min_bolus_u=0.0)
    basal = lanes.basal.copy()
    dose, _ = _step(lanes, 300.0)
    lanes.record(basal, np.array([dose]))
    assert _step(lanes, 300.0)[0] == pytest.approx(dose * (1 - iob_fraction(np.array([5.0]),
                                                                            5.0)[0]))
    lanes.record(basal, np.array([10.0]))  # far more on board than 300 mg/dL needs
    assert _step(lanes, 300.0)[0] == 0.0
    assert _step(_corr(min_bolus_u=5.0), 300.0)[0] == 0.0  # below the smallest dose


def test_hypo_treatment_refractory_time():
    lanes = _one(HypoTreatment(below_mg_dl=70.0, carbs_g=15.0, refractory_min=15.0))
    given = []
    for g in [80, 65, 60, 55, 60, 65, 80, 60]:
        given.append(_step(lanes, float(g))[1])
        lanes.record(None, np.zeros(1))
    assert given == [0, 15, 0, 0, 15, 0, 0, 15]


def test_settings_come_from_each_patient_unless_given():
    p = attrs.evolve(virtual_patient("child#002"), total_daily_insulin_u=None,
                     carb_ratio_g_per_u=None, correction_factor_mg_dl_per_u=None)
    q = virtual_patient("adult#003")
    lanes = BolusCalculator().start_batch([p, q], 5)
    tdd = 48.0 * p.basal_insulin_u_per_h
    assert lanes.cr == pytest.approx([500.0 / tdd, q.carb_ratio_g_per_u])
    assert lanes.cf == pytest.approx([1800.0 / tdd, q.correction_factor_mg_dl_per_u])
    assert lanes.basal == pytest.approx([p.basal_insulin_u_per_h, q.basal_insulin_u_per_h])
    fixed = BolusCalculator(carb_ratio_g_per_u=7.0).start_batch([p, q], 5)
    assert fixed.cr == pytest.approx([7.0, 7.0])


@pytest.mark.parametrize("make", [
    lambda: BolusCalculator(carb_ratio_g_per_u=-1.0),
    lambda: CorrectionBolus(min_interval_min=float("nan")),
    lambda: CorrectionBolus(above_mg_dl=150.0, target_mg_dl=180.0),
    lambda: HypoTreatment(carbs_g=0.0),
])
def test_bad_settings_are_refused(make):
    with pytest.raises(ControllerSettingsError):
        make()


def test_simulate_records_rescue_carbs_with_the_refractory_time():
    kw = dict(days=1, seed=3)
    plain = simulate("adult#001", "random", **kw)
    assert "rescue_carbs" not in plain
    out = simulate("adult#001", "random", handlers=[HypoTreatment(below_mg_dl=100.0)], **kw)
    given = out.index[out["rescue_carbs"] > 0]
    assert len(given) >= 2 and set(out["rescue_carbs"].unique()) <= {0.0, 15.0}
    assert (out.loc[given, "glucose"] < 100.0).all()
    assert (np.diff(given) >= pd.Timedelta(minutes=15)).all()
    # the rescue carbs are eaten: carbs holds them on top of the meals
    assert out["carbs"].sum() == pytest.approx(plain["carbs"].sum() + out["rescue_carbs"].sum())
    assert out["glucose_true_sc"].min() > plain["glucose_true_sc"].min()


def test_handlers_without_controller_give_the_basal_rate_and_their_boluses():
    p = virtual_patient("adult#001")
    meals = Scenario(meals=(Meal(120, 50.0), Meal(240, 30.0)))
    out = simulate(p, meals, days=0.5, controller=None, sensor=None, pump=None,
                   handlers=[BolusCalculator(correct_below_target=False, target_mg_dl=400.0)])
    assert out["basal"].to_numpy() == pytest.approx(p.basal_insulin_u_per_h * 5 / 60)
    given = out["bolus"].to_numpy()
    assert np.flatnonzero(given).tolist() == [24, 48]
    assert given[24] == pytest.approx(50.0 / p.carb_ratio_g_per_u)  # nothing on board yet
    iob = given[24] * iob_fraction(np.array([120.0]), 5.0)[0]
    assert given[48] == pytest.approx(30.0 / p.carb_ratio_g_per_u - iob)


def test_cohort_handlers_act_per_patient():
    out = simulate_cohort(["adult#001", "child#001"], "random", days=1, seed=1,
                          handlers=HypoTreatment(below_mg_dl=110.0))
    one = simulate("adult#001", "random", days=1, seed=1,
                   handlers=[HypoTreatment(below_mg_dl=110.0)])
    first = out[out["patient_id"] == "adult#001"].drop(columns="patient_id")
    assert first["rescue_carbs"].sum() > 0
    np.testing.assert_array_equal(first["rescue_carbs"], one["rescue_carbs"])
    np.testing.assert_allclose(first["glucose"], one["glucose"])


def test_a_handler_needs_start_batch():
    with pytest.raises(TypeError, match="start_batch"):
        simulate("adult#001", handlers=[lambda obs: 0.0])
