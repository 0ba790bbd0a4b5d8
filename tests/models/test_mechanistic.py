"""The mechanistic UVA/Padova twin: contract, equilibrium, kernels, errors and what-if replay."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dt1d.core.model_registry import get_model_class
from dt1d.data import make_target
from dt1d.models.mechanistic import ConvergenceWarning, MechanisticModel
from dt1d.models.mechanistic import _fit as _mech_fit
from dt1d.models.mechanistic import _kernels as K
from dt1d.models.mechanistic import _priors as _mech_priors
from dt1d.physiology import kernels as PK
from dt1d.physiology.params import N_PARAMS, P_BW, P_VG
from dt1d.testing import make_synthetic_record

FAST = {"body_weight_kg": 70.0, "n_starts": 1}


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return make_synthetic_record(days=2, seed=3)


@pytest.fixture(scope="module")
def fitted(record: pd.DataFrame) -> MechanisticModel:
    return MechanisticModel(**FAST).fit(record, make_target(record, [30, 60]))


def test_registered_under_both_names() -> None:
    assert get_model_class("mechanistic_uva_padova") is MechanisticModel
    assert get_model_class("mechanistic") is MechanisticModel
    assert {"simulates", "personal", "multi_horizon"} <= MechanisticModel.tags


# -- the basal equilibrium and the row kernel, against dt1d.physiology ------------------------
@pytest.mark.parametrize("gb", [90.0, 140.0, 250.0])
def test_equilibrate_is_a_steady_state_of_the_physiology_rhs(gb: float) -> None:
    p = _mech_priors.base_vector("adult")
    p[P_BW] = 80.0
    basal = 0.02  # U/min
    x = _mech_fit.equilibrate(p, basal, gb)
    assert x[12] / p[P_VG] == pytest.approx(gb)
    dx = PK.derivatives(x, np.ascontiguousarray(p), 0.0, basal, 0.0)
    scale = np.maximum(np.abs(x), 1.0)
    assert np.max(np.abs(dx) / scale) < 1e-10
    # physiology's own steady-state solver (bisection on glucose) finds the same state
    ref = PK.steady_state_from_insulin(np.ascontiguousarray(p), basal)
    np.testing.assert_allclose(ref[3] / p[P_VG], gb, rtol=1e-6)


def test_row_replay_matches_a_loop_over_the_physiology_rk4_step() -> None:
    p = _mech_priors.base_vector("adult")
    p[P_BW] = 75.0
    x0 = _mech_fit.equilibrate(p, 0.02, 150.0)
    n = 120
    carbs = np.zeros(n)
    carbs[[10, 60]] = [60.0, 30.0]
    insulin = np.full(n, 0.1) + np.where(carbs > 0, carbs / 10.0, 0.0)
    out = np.empty(n)
    K.replay(np.ascontiguousarray(p[None, :]), np.zeros(n, np.int64), x0, carbs, insulin, 5, 2, out)
    # reference: the same inputs through physiology's public rk4_step and meal_minute
    x = x0.copy()
    meal = PK.new_meal_state(x)
    ref = np.empty(n)
    for k in range(n):
        ref[k] = x[12] / p[P_VG]
        for _ in range(2):
            eaten, dbar = PK.meal_minute(meal, carbs[k] / 2, x[0] + x[1], np.inf)
            x = PK.rk4_step(x, p, eaten / 2.5, insulin[k] / 5.0, dbar, 2.5)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-9)
    assert out.max() > out[0] + 20  # the meals raise glucose


def test_delayed_meals_keep_their_grams() -> None:
    carbs = np.zeros(50)
    carbs[[3, 20]] = [40.0, 25.0]
    moved = _mech_fit.delay_rows(carbs, 12.5, 5)
    assert moved.sum() == pytest.approx(65.0)
    assert moved[:5].sum() == 0 and moved[5] == pytest.approx(20.0) and moved[6] == pytest.approx(20.0)


# -- fit results and errors ---------------------------------------------------------------------
def test_fit_reports_parameters_uncertainty_and_diagnostics(fitted: MechanisticModel) -> None:
    rep = fitted.fit_report_
    assert {"rmse_mg_dl", "mard_percent", "iterations", "converged"} <= set(rep)
    assert rep["converged"] is True and rep["iterations"] > 0
    assert 0 < rep["rmse_mg_dl"] < 40
    assert set(fitted.params_) == set(fitted.params_std_)
    for name in ("basal_glucose_mg_dl", "vmx_04_11", "vmx_11_17", "vmx_17_04", "kabs_per_min"):
        assert fitted.params_[name] > 0 and fitted.params_std_[name] > 0
    assert fitted.param_matrix_.shape == (3, N_PARAMS)


def test_predict_shapes_and_nan_before_first_reading(fitted: MechanisticModel, record: pd.DataFrame) -> None:
    test = record.iloc[-200:].copy()
    test.iloc[:4, test.columns.get_loc("glucose")] = np.nan
    pred = fitted.predict(test)
    assert pred.shape == (200, 2)
    assert np.isnan(pred[:4]).all() and np.isfinite(pred[4:]).all()
    # a CGM gap does not stop the forecasts
    gap = record.iloc[-200:].copy()
    gap.iloc[50:70, gap.columns.get_loc("glucose")] = np.nan
    assert np.isfinite(fitted.predict(gap)).all()


def test_cohort_record_is_refused_with_a_pointer_to_cohort(record: pd.DataFrame) -> None:
    a = record.iloc[:300].assign(patient_id="a")
    b = record.iloc[:300].assign(patient_id="b")
    cohort = pd.concat([a, b])
    with pytest.raises(ValueError, match="dt1d.cohort"):
        MechanisticModel(**FAST).fit(cohort)


def test_too_little_data_is_a_clear_error(record: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="too little CGM data"):
        MechanisticModel(**FAST).fit(record.iloc[:40])
    sparse = record.copy()
    sparse.iloc[60:, sparse.columns.get_loc("glucose")] = np.nan
    with pytest.raises(ValueError, match="too little CGM data"):
        MechanisticModel(**FAST).fit(sparse)


@pytest.mark.parametrize(
    "params, match",
    [({"body_weight_kg": -3.0}, "body_weight_kg"), ({"age_group": "senior"}, "age_group"),
     ({"method": "nuts"}, "method"), ({"n_starts": 0}, "n_starts")],
)
def test_bad_parameters_fail_at_fit(record: pd.DataFrame, params: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MechanisticModel(**{**FAST, **params}).fit(record)


def test_non_convergence_warns_and_is_reported(record: pd.DataFrame, monkeypatch) -> None:
    monkeypatch.setattr(_mech_fit, "MAX_NFEV", 2)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = MechanisticModel(**FAST).fit(record)
    assert model.fit_report_["converged"] is False


# -- what-if replay ---------------------------------------------------------------------------
def test_unchanged_replay_reproduces_the_fitted_trajectory(fitted: MechanisticModel,
                                                            record: pd.DataFrame) -> None:
    replay = fitted.simulate(record)
    np.testing.assert_allclose(replay["glucose"].to_numpy(), fitted.fitted_glucose_, rtol=1e-12)
    pd.testing.assert_index_equal(replay.index, record.index)
    np.testing.assert_allclose(replay["insulin"], record["insulin"])
    before = record.copy(deep=True)
    fitted.simulate(record, bolus_scale=0.5)
    pd.testing.assert_frame_equal(record, before)


def test_what_ifs_move_glucose_the_right_way_and_only_afterwards(fitted: MechanisticModel,
                                                                  record: pd.DataFrame) -> None:
    base = fitted.simulate(record)["glucose"].to_numpy()
    less_bolus = fitted.simulate(record, bolus_scale=0.5)["glucose"].to_numpy()
    assert less_bolus.mean() > base.mean() + 5
    more_basal = fitted.simulate(record, basal_scale=1.5)["glucose"].to_numpy()
    assert more_basal.mean() < base.mean() - 5
    when = record.index[300]
    snack = fitted.simulate(record, extra_carbs=[(when, 30.0)])["glucose"].to_numpy()
    np.testing.assert_array_equal(snack[:301], base[:301])
    assert snack[301:360].max() > base[301:360].max() + 10
    corr = fitted.simulate(record, extra_insulin=[(when, 2.0)])["glucose"].to_numpy()
    assert (corr[320:400] < base[320:400]).all()
    shifted = fitted.simulate(record, meal_shift_min=30)
    assert shifted["carbs"].sum() == pytest.approx(record["carbs"].iloc[:-6].sum())
    with pytest.raises(ValueError, match="multiple"):
        fitted.simulate(record, meal_shift_min=7)


def test_future_inputs_use_the_announced_meal(fitted: MechanisticModel, record: pd.DataFrame) -> None:
    test = record.iloc[-288:]
    meal_row = int(np.flatnonzero(test["carbs"].to_numpy() > 20)[0])
    plain = fitted.predict(test)
    announced = fitted.predict(test, future_inputs=True)
    t = meal_row - 3  # the meal is 15 minutes after t: inside the 30- and 60-min forecasts
    assert announced[t, 1] > plain[t, 1] + 5
    np.testing.assert_array_equal(plain[: meal_row - 12], announced[: meal_row - 12])


def test_mcmc_gives_ordered_percentile_bands(record: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # emcee's autocorrelation warnings
        model = MechanisticModel(**FAST, method="mcmc", mcmc_steps=20).fit(record.iloc[:288])
    assert model.posterior_.ndim == 2 and len(model.posterior_) > 10
    bands = model.simulate(record.iloc[:288])
    assert (bands["glucose_p5"] <= bands["glucose_p50"] + 1e-9).all()
    assert (bands["glucose_p50"] <= bands["glucose_p95"] + 1e-9).all()
    assert (bands["glucose_p95"] - bands["glucose_p5"]).max() > 0
