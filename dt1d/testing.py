"""Test helpers for dt1d users: the model contract check and synthetic records.

``check_model(MyModel)`` runs the :class:`~dt1d.core.twin.BaseModel` contract
on any model class, built in or your own, like scikit-learn's
``check_estimator``. It raises ``AssertionError`` naming the first broken rule.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["check_model", "make_synthetic_record"]


def make_synthetic_record(
    days: float = 2.0,
    *,
    seed: int = 0,
    step_min: int = 5,
    start: str = "2026-01-01 00:00",
    patient_id: str | None = None,
    missing_fraction: float = 0.02,
) -> pd.DataFrame:
    """A plausible, validated patient record for tests (not a physiological model).

    Glucose follows meals (gamma-shaped rises), boluses (slower falls), a daily
    rhythm and AR(1) sensor noise; a few CGM readings are missing.
    """
    from dt1d.data import validate

    rng = np.random.default_rng(seed)
    n = int(round(days * 24 * 60 / step_min))
    index = pd.date_range(start, periods=n, freq=f"{step_min}min", name="time")
    t_min = np.arange(n) * step_min
    carbs = np.zeros(n)
    bolus = np.zeros(n)
    for day in range(int(np.ceil(days))):
        for hour, grams in ((7.5, 45.0), (12.5, 70.0), (19.0, 80.0)):
            minute = day * 1440 + hour * 60 + rng.normal(0, 30)
            i = int(minute // step_min)
            if 0 <= i < n:
                carbs[i] += max(grams + rng.normal(0, 10), 5.0)
                bolus[i] += carbs[i] / 10.0
    basal = np.full(n, 1.0 * step_min / 60.0)
    kernel_t = np.arange(0, 6 * 60, step_min, dtype=float)
    meal_shape = (kernel_t / 45.0) * np.exp(1 - kernel_t / 45.0)
    insulin_shape = (kernel_t / 90.0) * np.exp(1 - kernel_t / 90.0)
    rise = np.convolve(carbs, meal_shape)[:n] * 2.2
    fall = np.convolve(bolus, insulin_shape)[:n] * 20.0
    rhythm = 15.0 * np.sin(2 * np.pi * (t_min - 4 * 60) / 1440.0)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.8 * noise[i - 1] + rng.normal(0, 3.0)
    glucose = np.clip(130.0 + rise - fall + rhythm + noise, 45.0, 400.0)
    glucose[rng.random(n) < missing_fraction] = np.nan
    frame = pd.DataFrame(
        {"glucose": glucose, "carbs": carbs, "insulin": bolus + basal, "bolus": bolus, "basal": basal},
        index=index,
    )
    if patient_id is not None:
        frame["patient_id"] = patient_id
    return validate(frame)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=0, equal_nan=True))


def check_model(
    model_class: type,
    params: Mapping[str, Any] | None = None,
    *,
    record: pd.DataFrame | None = None,
) -> None:
    """Check that ``model_class`` keeps the dt1d model contract.

    Checks, in order: parameters round trip (``get_params``/``set_params``,
    unknown names rejected, ``clone``); ``fit`` returns ``self`` and marks the
    model fitted; ``predict`` before ``fit`` fails; predictions have one row per
    input row, are float and never infinite, and mostly finite on clean data;
    the input record is not modified; predictions are deterministic; no
    leakage (changing the data after ``t`` changes no prediction at or before
    ``t``); multi-horizon shape for models tagged ``"multi_horizon"``; a
    ``save``/``load`` round trip gives identical predictions.
    """
    from dt1d.core.base import BaseModel
    from dt1d.data import make_target

    name = model_class.__qualname__
    params = dict(params or {})
    assert isinstance(model_class, type) and issubclass(model_class, BaseModel), (
        f"{name} must subclass dt1d.BaseModel"
    )
    record = make_synthetic_record(days=3) if record is None else record
    train, test = record.iloc[: len(record) * 2 // 3], record.iloc[len(record) * 2 // 3 :]

    # -- parameters ----------------------------------------------------------------
    model = model_class(**params)
    got = model.get_params()
    for key, value in params.items():
        assert key in got, f"{name}.get_params() lacks constructor parameter {key!r}"
        assert got[key] is value or got[key] == value, (
            f"{name}.__init__ must store {key!r} unchanged: got {got[key]!r}, passed {value!r}"
        )
    rebuilt = model_class(**got)
    assert rebuilt.get_params() == got, f"{name}(**get_params()) does not round trip its parameters"
    assert model.set_params(**got) is model, f"{name}.set_params must return self"
    try:
        model.set_params(__no_such_parameter__=1)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{name}.set_params accepted an unknown parameter; it must raise ValueError")
    clone = model.clone()
    assert type(clone) is model_class and clone is not model, f"{name}.clone() must return a new {name}"
    assert clone.get_params() == got, f"{name}.clone() changed the parameters"
    assert not clone.is_fitted, f"{name}.clone() must return an unfitted model"
    assert isinstance(repr(model), str)

    # -- fit and predict ---------------------------------------------------------------
    try:
        model_class(**params).predict(test)
    except Exception:
        pass
    else:
        raise AssertionError(f"{name}.predict must raise before fit")
    y = make_target(train, 30)
    train_before, y_before = train.copy(deep=True), y.copy(deep=True)
    assert model.fit(train, y) is model, f"{name}.fit must return self"
    assert model.is_fitted, f"{name}.is_fitted must be True after fit"
    pd.testing.assert_frame_equal(train, train_before, obj=f"record after {name}.fit")
    pd.testing.assert_series_equal(y, y_before, obj=f"target after {name}.fit")

    test_before = test.copy(deep=True)
    pred = np.asarray(model.predict(test))
    pd.testing.assert_frame_equal(test, test_before, obj=f"record after {name}.predict")
    assert pred.shape == (len(test),), f"{name}.predict returned shape {pred.shape}, expected ({len(test)},)"
    assert np.issubdtype(pred.dtype, np.floating), f"{name}.predict must return floats, got {pred.dtype}"
    assert not np.isinf(pred).any(), f"{name}.predict returned infinite values"
    assert np.isfinite(pred).mean() > 0.5, f"{name}.predict returned NaN for most rows of a clean record"
    assert _same(pred, np.asarray(model.predict(test))), f"{name}.predict is not deterministic"

    # -- no leakage: the future must not change past forecasts ----------------------------
    cut = len(test) // 2
    altered = test.copy(deep=True)
    rng = np.random.default_rng(1)
    tail = altered.index[cut + 1 :]
    altered.loc[tail, "glucose"] = rng.uniform(60, 300, len(tail))
    altered.loc[tail, "carbs"] = rng.uniform(0, 30, len(tail))
    for col in ("bolus", "basal"):
        if col in altered:
            altered.loc[tail, col] = altered.loc[tail, col] * 2
    altered.loc[tail, "insulin"] = (
        altered.loc[tail, "bolus"] + altered.loc[tail, "basal"] if "bolus" in altered else altered.loc[tail, "insulin"] * 2
    )
    pred_altered = np.asarray(model.predict(altered))
    assert _same(pred[: cut + 1], pred_altered[: cut + 1]), (
        f"{name}.predict leaks the future: forecasts at or before {test.index[cut]} changed "
        "when only later data changed"
    )

    # -- multi-horizon -------------------------------------------------------------------
    if "multi_horizon" in getattr(model_class, "tags", ()):
        multi = model_class(**params).fit(train, make_target(train, [30, 60]))
        pm = np.asarray(multi.predict(test))
        assert pm.shape == (len(test), 2), f"{name} multi-horizon predict shape {pm.shape}, expected ({len(test)}, 2)"

    # -- save / load -----------------------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.dt1d"
        model.save(path)
        loaded = model_class.load(path)
    assert type(loaded) is model_class, f"{name}.load returned {type(loaded).__qualname__}"
    assert loaded.get_params() == model.get_params(), f"{name} parameters changed in a save/load round trip"
    assert _same(pred, np.asarray(loaded.predict(test))), (
        f"{name} predictions changed in a save/load round trip"
    )
    copy.copy(model)  # models must be copyable (joblib and dask copy them)
