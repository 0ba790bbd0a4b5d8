"""The mechanistic twin's model-error correction ("hybrid twin"): features, ridge, CV, persistence.

The correction is a ridge regression of the twin's forecast residual, learned in ``fit``
from the training record, chosen by blocked cross-validation, saved in the twin file and
added in ``predict`` from information available at t only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dt1d import sim
from dt1d.data import make_target
from dt1d.metrics import rmse
from dt1d.models.baselines import LinearModel, PersistenceModel
from dt1d.models.mechanistic import MechanisticModel
from dt1d.models.mechanistic import _correction as C
from dt1d.testing import make_synthetic_record

FAST = {"body_weight_kg": 70.0, "n_starts": 1}


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return make_synthetic_record(days=4, seed=7)


@pytest.fixture(scope="module")
def fitted(record: pd.DataFrame) -> MechanisticModel:
    train = record.iloc[: 3 * 288]
    return MechanisticModel(**FAST).fit(train, make_target(train, [30, 60]))


# -- the pieces, against direct computations ---------------------------------------------------
def test_features_match_a_direct_loop() -> None:
    rng = np.random.default_rng(0)
    n, step = 40, 5
    g = 120 + rng.normal(0, 10, n)
    carbs = rng.uniform(0, 5, n)
    insulin = rng.uniform(0, 1, n)
    forecast = np.column_stack([g + 3.0, g - 7.0])
    F = C.features(g, carbs, insulin, forecast, step)
    lags = 60 // step
    assert F.shape == (n, C.n_features(2, step))
    t = 30
    expected = [3.0, -7.0, g[t]]
    expected += [g[t - i] - g[t] for i in range(1, lags)]
    expected += [carbs[t - i] for i in range(lags)]
    expected += [insulin[t - i] for i in range(lags)]
    expected += [sum(carbs[t - i] for i in range(lags, 2 * lags)),
                 sum(insulin[t - i] for i in range(lags, 2 * lags))]
    np.testing.assert_allclose(F[t], expected, rtol=1e-12, atol=1e-9)
    # rows without two hours of history are incomplete, the first complete one is 2h - 1 row
    assert not np.isfinite(F[2 * lags - 2]).all() and np.isfinite(F[2 * lags - 1]).all()


def test_ridge_with_a_tiny_penalty_is_least_squares() -> None:
    rng = np.random.default_rng(1)
    A = rng.normal(size=(500, 6)) * [1, 10, 0.1, 5, 2, 1] + [0, 100, 0, -3, 0, 1]
    b = A @ [1.0, -0.2, 3.0, 0.5, 0.0, 2.0] + 4.0 + rng.normal(0, 0.5, 500)
    coef, icpt = C._ridge(A, b, 1e-12)
    ref = np.linalg.lstsq(np.column_stack([A, np.ones(len(A))]), b, rcond=None)[0]
    np.testing.assert_allclose(coef, ref[:-1], rtol=1e-6, atol=1e-8)
    assert icpt == pytest.approx(ref[-1], rel=1e-6)


def test_fit_correction_learns_a_predictable_residual_and_ignores_noise() -> None:
    rng = np.random.default_rng(2)
    n, m = 1500, 10
    F = rng.normal(size=(n, m))
    forecast = rng.normal(150, 20, (n, 1))
    w = rng.normal(0, 3, m)
    target = forecast + (F @ w + 5.0 + rng.normal(0, 2.0, n))[:, None]
    out = C.fit_correction(F, target, forecast, np.array([6]))
    assert np.isfinite(out["alpha"][0])
    np.testing.assert_allclose(out["coef"][0], w, atol=0.3)
    assert out["cv_rmse"][0] < 0.3 * out["cv_rmse_without"][0]
    # a residual that the features cannot predict is left alone
    noise = forecast + rng.normal(0, 10.0, (n, 1))
    out = C.fit_correction(F, noise, forecast, np.array([6]))
    assert out["alpha"][0] == np.inf and not out["coef"].any()
    # too few complete rows: no correction
    few = C.fit_correction(F[:30], target[:30], forecast[:30], np.array([6]))
    assert few["alpha"][0] == np.inf and np.isnan(few["cv_rmse"][0])


def test_rows_with_incomplete_features_are_not_corrected() -> None:
    F = np.array([[1.0, 2.0], [np.nan, 1.0], [0.5, 0.5]])
    corr = C.apply_correction(F, np.array([[1.0, 1.0], [2.0, 0.0]]), np.array([0.5, -1.0]))
    np.testing.assert_allclose(corr, [[3.5, 1.0], [0.0, 0.0], [1.5, 0.0]])


# -- in the model -----------------------------------------------------------------------------
def test_correction_is_learned_reported_and_changes_forecasts(fitted: MechanisticModel,
                                                              record: pd.DataFrame) -> None:
    rep = fitted.fit_report_["correction"]
    assert len(rep["alpha"]) == 2 and len(rep["cv_rmse_mg_dl"]) == 2
    assert fitted.correction_coef_.shape == (2, C.n_features(2, 5))
    test = record.iloc[3 * 288 :]
    hybrid = fitted.predict(test)
    fitted.set_params(error_correction=False)  # the same fit, physics only
    try:
        plain = fitted.predict(test)
    finally:
        fitted.set_params(error_correction=True)
    used = [a is not None for a in rep["alpha"]]
    assert any(used)
    for j in range(2):
        assert np.any(np.abs(hybrid[:, j] - plain[:, j]) > 0.1) == used[j]
        # the out-of-fold error the correction was chosen on is no worse than none
        assert rep["cv_rmse_mg_dl"][j] <= rep["cv_rmse_without_mg_dl"][j]


def test_hybrid_forecasts_use_only_the_past(fitted: MechanisticModel, record: pd.DataFrame) -> None:
    test = record.iloc[3 * 288 :].copy()
    base = fitted.predict(test)
    t = 150
    changed = test.copy()
    g = changed.columns.get_loc("glucose")
    changed.iloc[t + 1 :, g] = changed.iloc[t + 1 :, g] + 40.0
    changed.iloc[t + 1 :, changed.columns.get_loc("carbs")] = 3.0  # 864 g a day: plausible
    after = fitted.predict(changed)
    np.testing.assert_array_equal(base[: t + 1], after[: t + 1])
    assert np.abs(after[t + 1 :] - base[t + 1 :]).max() > 1.0


def test_correction_is_saved_and_loaded(fitted: MechanisticModel, record: pd.DataFrame,
                                        tmp_path) -> None:
    path = tmp_path / "twin.dt1d"
    fitted.save(path)
    loaded = MechanisticModel.load(path)
    np.testing.assert_array_equal(loaded.correction_coef_, fitted.correction_coef_)
    np.testing.assert_array_equal(loaded.correction_intercept_, fitted.correction_intercept_)
    test = record.iloc[3 * 288 :]
    np.testing.assert_array_equal(loaded.predict(test), fitted.predict(test))


def test_without_correction_nothing_is_learned_and_refits_drop_it(record: pd.DataFrame) -> None:
    train = record.iloc[: 2 * 288]
    model = MechanisticModel(**FAST).fit(train, make_target(train, [30, 60]))
    assert hasattr(model, "correction_coef_")
    model.set_params(error_correction=False).fit(train, make_target(train, [30, 60]))
    assert not hasattr(model, "correction_coef_") and "correction" not in model.fit_report_
    with pytest.raises(ValueError, match="error_correction"):
        MechanisticModel(**FAST, error_correction="yes").fit(train)


def test_hybrid_twin_beats_linear_and_persistence_on_a_held_out_child() -> None:
    """A child outside the tuning and validation sets: fit 7 days, forecast the next 2."""
    p = sim.virtual_patient("child#006")
    rec = sim.simulate(p, "random", days=9, seed=31)
    train, test = rec.iloc[: 7 * 288], rec.iloc[7 * 288 :]
    y = make_target(train, [30, 60])
    truth = make_target(test, [30, 60]).to_numpy()
    twin = MechanisticModel(body_weight_kg=p.body_weight_kg, age_group="child", n_starts=2).fit(train, y)
    scores = {}
    for name, model in (("twin", twin), ("persistence", PersistenceModel().fit(train, y)),
                        ("linear", LinearModel().fit(train, y))):
        pred = model.predict(test)
        scores[name] = np.array([rmse(truth[:, j], pred[:, j]) for j in range(2)])
    assert (scores["twin"] < scores["linear"]).all(), scores
    assert (scores["twin"] < scores["persistence"]).all(), scores
