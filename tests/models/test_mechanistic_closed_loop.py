"""The twin's what-if replay with treatment handlers: row by row, the same kernel."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dt1d.models.mechanistic import MechanisticModel
from dt1d.models.mechanistic._closed_loop import twin_therapy_patient
from dt1d.sim.handlers import BolusCalculator, CorrectionBolus, HypoTreatment
from dt1d.testing import make_synthetic_record

FAST = {"body_weight_kg": 70.0, "n_starts": 1, "error_correction": False}
NEVER = HypoTreatment(below_mg_dl=1.0)  # a handler that never acts


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return make_synthetic_record(days=1, seed=3)


@pytest.fixture(scope="module")
def fitted(record: pd.DataFrame) -> MechanisticModel:
    return MechanisticModel(**FAST).fit(record)


def test_a_handler_that_never_acts_reproduces_the_open_loop_replay(fitted, record) -> None:
    for kw in ({}, {"bolus_scale": 0.5, "meal_shift_min": 20}):
        plain = fitted.simulate(record, **kw)
        looped = fitted.simulate(record, handlers=[NEVER], **kw)
        np.testing.assert_allclose(looped["glucose"], plain["glucose"], rtol=1e-12)
        np.testing.assert_allclose(looped["insulin"], plain["insulin"], rtol=1e-12)
        assert (looped["rescue_carbs"] == 0).all()


def test_hypo_treatment_on_the_twin(fitted, record) -> None:
    plain = fitted.simulate(record, basal_scale=2.0)
    low = float(np.percentile(plain["glucose"], 20))
    out = fitted.simulate(record, basal_scale=2.0, handlers=[HypoTreatment(below_mg_dl=low)])
    given = out.index[out["rescue_carbs"] > 0]
    assert len(given) >= 2
    assert (out.loc[given, "glucose"] < low).all()
    assert (np.diff(given) >= pd.Timedelta(minutes=15)).all()
    assert out["carbs"].sum() == pytest.approx(plain["carbs"].sum() + out["rescue_carbs"].sum())
    first = record.index.get_loc(given[0])
    np.testing.assert_array_equal(out["glucose"].iloc[:first + 1], plain["glucose"].iloc[:first + 1])
    assert out["glucose"].min() > plain["glucose"].min()


def test_bolus_calculator_and_correction_on_the_twin(fitted, record) -> None:
    plain = fitted.simulate(record, bolus_scale=0.0)
    out = fitted.simulate(record, bolus_scale=0.0,
                          handlers=[BolusCalculator(), CorrectionBolus(above_mg_dl=180.0)])
    meals = record["carbs"].to_numpy() > 0
    assert (out["bolus"].to_numpy()[meals] > 0).any()
    assert out["bolus"].sum() > 0 and out["glucose"].max() < plain["glucose"].max()
    np.testing.assert_allclose(out["insulin"], out["bolus"] + out["basal"])


def test_settings_from_the_twin_and_the_record(fitted, record) -> None:
    carbs = record["carbs"].to_numpy()
    bolus, basal = record["bolus"].to_numpy(), record["basal"].to_numpy()
    p = twin_therapy_patient(fitted, carbs, bolus, bolus + basal, 5)
    assert p.basal_insulin_u_per_h == pytest.approx(fitted.basal_u_per_h_)
    assert p.carb_ratio_g_per_u == pytest.approx(carbs.sum() / bolus.sum())
    assert p.total_daily_insulin_u == pytest.approx((bolus + basal).sum())  # one day


def test_bands_run_every_draw_in_its_own_loop(record) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # emcee's autocorrelation warnings
        model = MechanisticModel(**FAST, method="mcmc", mcmc_steps=10).fit(record)
    plain = model.simulate(record)
    looped = model.simulate(record, handlers=[NEVER])
    for c in ("glucose", "glucose_p5", "glucose_p50", "glucose_p95"):
        np.testing.assert_allclose(looped[c], plain[c], rtol=1e-10)


def test_on_injections_the_loop_keeps_the_long_acting_depot() -> None:
    from dt1d.sim import simulate

    record = simulate("adult#001", "random", days=1, seed=7, long_acting="glargine")
    record = record.drop(columns=["glucose_true_sc", "glucose_true_plasma"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin = MechanisticModel(**FAST).fit(record)
    plain = twin.simulate(record)
    looped = twin.simulate(record, handlers=[NEVER])
    np.testing.assert_allclose(looped["glucose"], plain["glucose"], rtol=1e-12)
    np.testing.assert_allclose(looped["long_acting_insulin"], plain["long_acting_insulin"])
    # the bolus calculator's insulin on board is not pulled down by the missing pump basal
    calc = twin.simulate(record, bolus_scale=0.0, handlers=[BolusCalculator()])
    assert calc["bolus"].sum() > 0.5 * record["bolus"].sum()
    assert (calc["basal"] == 0).all()


def test_a_meal_over_several_rows_is_announced_once() -> None:
    from dt1d.models.mechanistic._closed_loop import meal_announcements

    carbs = np.array([0, 25, 25, 10, 0, 0, 5, 0, 30.0])
    np.testing.assert_array_equal(meal_announcements(carbs), [0, 60, 0, 0, 0, 0, 5, 0, 30])
    assert meal_announcements(np.zeros(3)).sum() == 0
