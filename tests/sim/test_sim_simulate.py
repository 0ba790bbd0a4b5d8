"""simulate / simulate_cohort: the data contract, seeds, controllers, errors."""

import attrs
import numpy as np
import pandas as pd
import pytest

from dt1d.data import validate
from dt1d.sim import (
    Action,
    BasalBolusController,
    InsulinEvent,
    InsulinPump,
    Meal,
    PumpLimitError,
    Scenario,
    SimulationDivergedError,
    UnknownPatientError,
    list_virtual_patients,
    simulate,
    simulate_cohort,
    simulate_inputs,
    virtual_patient,
)

MEALS = Scenario.daily([(7, 45), (12, 70), (18, 80)], days=1)


def test_record_follows_the_data_contract():
    rec = simulate("adult#001", MEALS, days=1, seed=1, start="2026-03-01 06:00")
    assert len(rec) == 288
    assert isinstance(rec.index, pd.DatetimeIndex) and rec.index.name == "time"
    assert rec.index[0] == pd.Timestamp("2026-03-01 06:00")
    assert (np.diff(rec.index.values) == np.timedelta64(5, "m")).all()
    for col in ("glucose", "carbs", "insulin", "bolus", "basal", "glucose_true_sc",
                "glucose_true_plasma"):
        assert col in rec and rec[col].notna().all()
    np.testing.assert_allclose(rec["insulin"], rec["bolus"] + rec["basal"])
    assert rec["carbs"].sum() == pytest.approx(195.0)
    # meals are eaten at 5 g/min: 45 g over 9 minutes spans two 5-minute steps
    assert rec["carbs"].max() == pytest.approx(25.0)
    p = virtual_patient("adult#001")
    assert rec["bolus"].sum() >= 195.0 / p.carb_ratio_g_per_u - 0.1  # plus corrections
    plain = simulate("adult#001", MEALS, seed=1, controller=BasalBolusController(correct=False))
    assert plain["bolus"].sum() == pytest.approx(195.0 / p.carb_ratio_g_per_u, abs=0.1)
    pd.testing.assert_frame_equal(validate(rec), rec, check_freq=False)


def test_same_seed_same_record_and_different_seeds_differ():
    a = simulate("child#003", "random", days=2, seed=7)
    b = simulate("child#003", "random", days=2, seed=7)
    c = simulate("child#003", "random", days=2, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["glucose"], c["glucose"])
    assert not a["carbs"].equals(c["carbs"])


def test_noise_free_sensor_reads_the_true_subcutaneous_glucose():
    rec = simulate("adult#002", MEALS, sensor=None, seed=1)
    np.testing.assert_array_equal(rec["glucose"], rec["glucose_true_sc"])
    noisy = simulate("adult#002", MEALS, seed=1)
    np.testing.assert_array_equal(noisy["glucose_true_sc"], rec["glucose_true_sc"])
    assert 3 < (noisy["glucose"] - rec["glucose"]).std() < 30


def test_basal_only_patient_without_meals_stays_at_basal():
    p = virtual_patient("adolescent#004")
    rec = simulate(p, None, days=1, controller=None, sensor=None, pump=None)
    basal_glucose = p.basal_state()[12] / p.vg_dl_per_kg
    assert np.abs(rec["glucose"] - basal_glucose).max() < 1e-6
    assert rec["insulin"].sum() == pytest.approx(p.basal_insulin_u_per_min * 1440)


def test_cohort_long_format_matches_single_runs():
    names = ["adult#001", "child#002", "adolescent#003"]
    cohort = simulate_cohort(names, "random", days=1, seed=5)
    assert list(cohort["patient_id"].unique()) == names
    validate(cohort)
    first = cohort[cohort["patient_id"] == names[0]].drop(columns="patient_id")
    single = simulate(names[0], "random", days=1, seed=5)
    pd.testing.assert_frame_equal(first, single)
    # open loop (one kernel run per day) also matches patient by patient
    open_cohort = simulate_cohort(names, MEALS, controller=None, sensor=None)
    for name in names:
        alone = simulate(name, MEALS, controller=None, sensor=None)
        part = open_cohort[open_cohort["patient_id"] == name].drop(columns="patient_id")
        np.testing.assert_array_equal(part.to_numpy(), alone.to_numpy())


def test_initial_glucose_starts_at_a_consistent_steady_state():
    rec = simulate_inputs("adult#003", np.zeros(120), np.zeros(120), initial_glucose_mg_dl=200)
    assert rec["glucose_sc_mg_dl"].iloc[0] == pytest.approx(200.0)
    assert rec["glucose_plasma_mg_dl"].iloc[0] == pytest.approx(200.0)
    # without insulin it rises from there, with the matching rate it would stay
    assert rec["glucose_plasma_mg_dl"].iloc[-1] > 200.0
    rec2 = simulate("adult#003", None, controller=None, sensor=None, pump=None,
                    initial_glucose_mg_dl=200)
    assert rec2["glucose_true_plasma"].iloc[0] == pytest.approx(200.0)


def test_custom_controllers_callable_and_class():
    seen = []

    def basal_only(obs):
        seen.append(obs)
        return (obs.patient.basal_insulin_u_per_h, 0.0)

    rec = simulate("adult#001", MEALS, controller=basal_only, seed=1)
    assert len(seen) == 288 and rec["bolus"].sum() == 0
    assert seen[84].carbs_announced_g == 45  # 07:00 is step 84
    assert seen[0].time == pd.Timestamp("2026-01-01")

    class Double:
        def policy(self, obs):
            return Action(2 * obs.patient.basal_insulin_u_per_h, 0.0)

    high = simulate("adult#001", MEALS, controller=Double(), seed=1, pump=None)
    low = simulate("adult#001", MEALS, controller=basal_only, seed=1, pump=None)
    assert (high["glucose_true_plasma"] <= low["glucose_true_plasma"] + 1e-9).all()
    assert high["basal"].sum() == pytest.approx(2 * low["basal"].sum())


def test_pump_quantises_and_refuses_doses_beyond_its_limits():
    pump = InsulinPump()
    basal, bolus = pump.deliver(np.array([1.234]), np.array([3.333]))
    assert basal[0] == pytest.approx(1.25) and bolus[0] == pytest.approx(3.35)
    with pytest.raises(PumpLimitError, match="30 U"):
        pump.deliver(np.array([1.0]), np.array([45.0]))
    compat = InsulinPump(simglucose_compat=True)
    b, _ = compat.deliver(np.array([1.234]), np.array([0.0]))
    assert b[0] == pytest.approx(1.234, abs=1e-3)  # simglucose: practically no quantisation
    with pytest.raises(PumpLimitError, match="beyond"):
        simulate("adult#001", MEALS, controller=lambda obs: (50.0, 0.0))


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="carbs_g"):
        Meal(60, -10)
    with pytest.raises(ValueError, match=r"carbs_g_per_min\[3\]"):
        simulate_inputs("adult#001", [0, 0, 0, -1.0], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="past the simulation end"):
        simulate("adult#001", Scenario(meals=(Meal(2000, 50),)), days=1)
    with pytest.raises(UnknownPatientError, match="adult#001"):
        virtual_patient("adlt#001")
    assert virtual_patient("Adult1").name == "adult#001"
    with pytest.raises(ValueError, match="rk4_step_min"):
        simulate_inputs("adult#001", [0.0], [0.0], rk4_step_min=0.3)


def test_divergence_names_patient_time_and_state():
    p = virtual_patient("adult#001")
    fast = attrs.evolve(p, name="unstable", kabs_per_min=50.0)  # RK4 at 1 min is unstable
    with pytest.raises(SimulationDivergedError, match=r"'unstable'.*minute \d+.*q_gut_mg"):
        simulate(fast, MEALS, controller=None, sensor=None)


def test_scenario_insulin_events_and_daily_meals():
    sc = Scenario(meals=(Meal(600, 30),), insulin=(InsulinEvent(600, 2.0),))
    rec = simulate("adult#004", sc, controller=None, sensor=None)
    assert rec["bolus"].sum() == pytest.approx(2.0)
    assert rec.loc["2026-01-01 10:00", "bolus"] == pytest.approx(2.0)
    assert len(Scenario.daily([(8, 40)], days=3).meals) == 3
    assert list_virtual_patients("child*")[0] == "child#001"
