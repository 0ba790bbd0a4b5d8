"""The persistence and linear baselines: contract, hand-computed values, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dt1d.data import make_target, validate
from dt1d.models.baselines import LinearModel, PersistenceModel
from dt1d.testing import check_model, make_synthetic_record


@pytest.mark.parametrize("cls,params", [(PersistenceModel, {}), (PersistenceModel, {"max_gap_min": 15}),
                                        (LinearModel, {"lags": 6, "alpha": 0.5})])
def test_baselines_pass_check_model(cls, params):
    check_model(cls, params)


def _record(glucose, carbs=None, insulin=None, start="2026-03-01"):
    n = len(glucose)
    frame = pd.DataFrame(
        {
            "glucose": np.asarray(glucose, dtype=float),
            "carbs": np.zeros(n) if carbs is None else carbs,
            "insulin": np.zeros(n) if insulin is None else insulin,
        },
        index=pd.date_range(start, periods=n, freq="5min", name="time"),
    )
    return validate(frame)


def test_persistence_repeats_the_current_reading():
    rec = _record([100, 110, np.nan, 130, 140])
    model = PersistenceModel().fit(rec, make_target(rec, 10))
    np.testing.assert_array_equal(model.predict(rec), [100, 110, np.nan, 130, 140])


def test_persistence_carries_a_stale_reading_up_to_max_gap():
    rec = _record([100, np.nan, np.nan, np.nan, 140])
    model = PersistenceModel(max_gap_min=10).fit(rec, make_target(rec, 5))
    np.testing.assert_array_equal(model.predict(rec), [100, 100, 100, np.nan, 140])


def test_persistence_multi_horizon_shape_and_values():
    rec = _record([100, 110, 120, 130])
    pred = PersistenceModel().fit(rec, make_target(rec, [5, 10])).predict(rec)
    assert pred.shape == (4, 2)
    np.testing.assert_array_equal(pred[:, 0], pred[:, 1])


def test_persistence_does_not_cross_patients():
    a = _record([100, np.nan], start="2026-01-01")
    b = _record([np.nan, 200], start="2026-01-01")
    cohort = validate(pd.concat([a.assign(patient_id="a"), b.assign(patient_id="b")]))
    pred = PersistenceModel(max_gap_min=10).fit(cohort, make_target(cohort, 5)).predict(cohort)
    np.testing.assert_array_equal(pred, [100, 100, np.nan, 200])


def test_linear_recovers_an_exact_linear_law():
    """With alpha=0 the ridge solution is ordinary least squares: an exact law is recovered."""
    rng = np.random.default_rng(3)
    n = 600
    carbs = rng.uniform(0, 10, n) * (rng.random(n) < 0.1)
    insulin = rng.uniform(0, 1, n)
    g = np.empty(n)
    g[:2] = 120.0
    for t in range(2, n):  # g(t+1) depends on the last 2 samples
        g[t] = 0.6 * g[t - 1] + 0.3 * g[t - 2] + 2.0 * carbs[t - 1] - 5.0 * insulin[t - 1] + 14.0 + rng.normal(0, 5)
    rec = _record(g, carbs, insulin)
    y = make_target(rec, 5)
    model = LinearModel(lags=2, alpha=0.0).fit(rec, y)
    pred = model.predict(rec)
    truth = 0.6 * g + 0.3 * np.r_[np.nan, g[:-1]] + 2.0 * carbs - 5.0 * insulin + 14.0
    ok = np.isfinite(pred) & np.isfinite(truth)
    assert ok.sum() == n - 1
    # The OLS fit of a noisy law is close to it; the noise is 5 mg/dL per step.
    assert np.sqrt(np.mean((pred[ok] - truth[ok]) ** 2)) < 1.0
    # And it equals an independent least-squares solve of the same design.
    design = np.column_stack([np.ones(n - 1), g[1:], g[:-1], insulin[1:], insulin[:-1], carbs[1:], carbs[:-1]])
    target = y.to_numpy()[1:]
    keep = np.isfinite(target)
    beta, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
    np.testing.assert_allclose(pred[1:][keep], design[keep] @ beta, rtol=1e-8, atol=1e-6)


def test_linear_beats_persistence_on_synthetic_data():
    rec = make_synthetic_record(days=6, seed=4)
    train, test = rec.iloc[: 4 * 288], rec.iloc[4 * 288 :]
    y_test = make_target(test, 30).to_numpy()

    def rmse(model):
        pred = model.fit(train, make_target(train, 30)).predict(test)
        ok = np.isfinite(pred) & np.isfinite(y_test)
        return np.sqrt(np.mean((pred[ok] - y_test[ok]) ** 2))

    assert rmse(LinearModel()) < rmse(PersistenceModel())


def test_linear_needs_history_and_says_why():
    rec = make_synthetic_record(days=1)
    pred = LinearModel(lags=12).fit(rec, make_target(rec, 30)).predict(rec)
    assert np.isnan(pred[:11]).all() and np.isfinite(pred[11])
    with pytest.raises(ValueError, match="not enough complete rows"):
        LinearModel(lags=12).fit(rec.iloc[:20], make_target(rec.iloc[:20], 30))
    with pytest.raises(ValueError, match="lags must be a positive integer"):
        LinearModel(lags=0).fit(rec, make_target(rec, 30))
    with pytest.raises(ValueError, match="needs a target"):
        LinearModel().fit(rec)
