"""The long-acting depot against its closed-form solution, and MDI simulation."""

from __future__ import annotations

import numpy as np
import pytest

from dt1d.data import resample, validate
from dt1d.physiology.long_acting import absorb, check_tmax_min, periodic_depot
from dt1d.sim import SimulationDivergedError, simulate, virtual_patient
from dt1d.sim.injections import LongActingInsulin
from dt1d.sim.scenario import Meal, Scenario


@pytest.mark.parametrize("tmax", [600.0, 1080.0])
def test_absorb_matches_the_closed_form_of_the_two_compartment_chain(tmax: float) -> None:
    # one dose D at t = 0: dissolved by t is D (1 - (1 + t/T) exp(-t/T)) (Hovorka 2004 chain)
    doses = np.zeros(3 * 288)
    doses[0] = 20.0
    out, depot = absorb(doses, tmax, 5.0)
    t = np.arange(len(doses)) * 5.0
    cum = lambda s: 20.0 * (1.0 - (1.0 + s / tmax) * np.exp(-s / tmax))  # noqa: E731
    np.testing.assert_allclose(out, cum(t + 5.0) - cum(t), atol=1e-12)
    assert out.sum() + depot.sum() == pytest.approx(20.0, rel=1e-12)  # mass balance


def test_periodic_depot_is_a_fixed_point_of_one_day() -> None:
    day = np.zeros(288)
    day[264] = 24.0
    start = periodic_depot(day, 600.0, 5.0)
    out, end = absorb(day, 600.0, 5.0, start)
    np.testing.assert_allclose(end, start, rtol=1e-12)
    assert out.sum() == pytest.approx(24.0, rel=1e-12)  # a day absorbs a day's dose
    with pytest.raises(ValueError, match="tmax_min"):
        check_tmax_min(5.0)


def test_mdi_simulation_records_injections_apart_from_insulin() -> None:
    p = virtual_patient("adult#003")
    rec = simulate(p, "random", days=2, seed=3, sensor=None, pump=None, long_acting="glargine")
    assert rec["basal"].sum() == 0.0
    np.testing.assert_allclose(rec["insulin"], rec["bolus"])  # long-acting never in insulin
    daily = p.basal_insulin_u_per_h * 24
    assert rec["long_acting_insulin"].sum() == pytest.approx(2 * daily)
    assert (rec["long_acting_insulin"] > 0).sum() == 2  # one dose a day, at 22:00
    assert rec.loc["2026-01-01 22:00", "long_acting_insulin"] == pytest.approx(daily)
    checked = validate(rec)
    assert checked["long_acting_insulin"].sum() == pytest.approx(2 * daily)
    coarse = resample(checked, "1h")  # summed like insulin
    assert coarse["long_acting_insulin"].sum() == pytest.approx(2 * daily)
    # the daily dose replaces the pump basal: glucose stays near the pump patient's
    pump = simulate(p, "random", days=2, seed=3, sensor=None, pump=None)
    assert abs(rec["glucose"].mean() - pump["glucose"].mean()) < 15.0
    # no insulin at all: glucose climbs far higher
    less = simulate(p, None, days=1, controller=None, sensor=None, pump=None,
                    long_acting=LongActingInsulin(doses=[(22.0, 0.5 * daily)]))
    full = simulate(p, None, days=1, controller=None, sensor=None, pump=None,
                    long_acting=LongActingInsulin(doses=[(8.0, daily / 2), (20.0, daily / 2)]))
    assert less["glucose"].iloc[-1] > full["glucose"].iloc[-1] + 20.0
    with pytest.raises(ValueError, match="hour"):
        LongActingInsulin(doses=[(25.0, 10.0)])
    with pytest.raises(ValueError, match="U at"):
        LongActingInsulin(doses=[(8.0, 1e6)])


def test_negative_long_acting_insulin_is_refused_by_validate() -> None:
    p = virtual_patient("adult#003")
    rec = simulate(p, None, days=0.5, sensor=None, pump=None, long_acting="degludec")
    rec.iloc[3, rec.columns.get_loc("long_acting_insulin")] = -1.0
    with pytest.raises(ValueError, match="long_acting_insulin"):
        validate(rec)


def test_states_outside_their_physical_range_stop_the_simulation() -> None:
    p = virtual_patient("adult#001")
    with pytest.raises(SimulationDivergedError, match=r"'adult#001'.*minute \d+.*mg/dL") as info:
        simulate(p, Scenario(meals=(Meal(60, 1e5),)), controller=None, sensor=None)
    assert info.value.patient == "adult#001" and info.value.state in ("g_p_mg_per_kg",
                                                                      "g_s_mg_per_kg")
    assert info.value.minute > 60
    with pytest.raises(ValueError, match=r"q_sto1_mg.*physical range"):
        simulate(p, None, initial_state=np.full(13, 1e300))
    with pytest.raises(ValueError, match=r"g_p_mg_per_kg.*>= 0"):
        simulate(p, None, initial_state=-p.basal_state())


def test_linear_and_lstm_refuse_long_acting_insulin_naming_the_column() -> None:
    pytest.importorskip("torch")
    from dt1d.data import make_target
    from dt1d.models.baselines import LinearModel
    from dt1d.models.lstm import LSTMModel

    rec = validate(simulate("adult#003", "random", days=1, seed=2, pump=None,
                            long_acting="glargine").drop(
        columns=["glucose_true_sc", "glucose_true_plasma"]))
    y = make_target(rec, 30)
    from dt1d.models.mechanistic import MechanisticModel

    # the twin absorbs long-acting insulin by default; with long_acting=None it refuses too
    for model in (LinearModel(), LSTMModel(epochs=1),
                  MechanisticModel(body_weight_kg=70.0, long_acting=None)):
        with pytest.raises(ValueError, match="long_acting_insulin"):
            model.fit(rec, y)
    LinearModel().fit(rec.drop(columns="long_acting_insulin"), y)  # the column is the reason


def test_mechanistic_settings_ranges_and_forecast_clipping() -> None:
    from dt1d.models.mechanistic import ForecastRangeWarning, MechanisticModel
    from dt1d.models.mechanistic._model import _clip_forecasts

    rec = validate(simulate("adult#003", "random", days=1, seed=2, pump=None).drop(
        columns=["glucose_true_sc", "glucose_true_plasma"]))
    with pytest.raises(ValueError, match=r"body_weight_kg must be a number in \(2, 400\]"):
        MechanisticModel(body_weight_kg=1e-9).fit(rec)
    with pytest.raises(ValueError, match="basal_u_per_h"):
        MechanisticModel(basal_u_per_h=1e6).fit(rec)
    with pytest.warns(ForecastRangeWarning, match="-21408"):
        clipped = _clip_forecasts(np.array([[120.0, -21408.0], [19780.0, np.nan]]))
    np.testing.assert_array_equal(clipped, [[120.0, 10.0], [1000.0, np.nan]])
