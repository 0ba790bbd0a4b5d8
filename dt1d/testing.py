"""Test helpers for dt1d users: the model contract checks and synthetic records.

The :class:`~dt1d.core.base.BaseModel` contract is a list of small named
checks (``check_fit_returns_self``, ``check_no_leakage``, ...), after
scikit-learn's ``check_estimator``:

- ``check_model(MyModel)`` runs every check and raises one ``AssertionError``
  naming each broken rule;
- ``yield_model_checks(MyModel)`` yields the checks one by one;
- ``parametrize_with_checks([MyModel])`` makes each check its own pytest test.
"""

from __future__ import annotations

import copy
import functools
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "check_model",
    "make_synthetic_record",
    "parametrize_with_checks",
    "yield_model_checks",
]


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
        {
            "glucose": glucose,
            "carbs": carbs,
            "insulin": bolus + basal,
            "bolus": bolus,
            "basal": basal,
        },
        index=index,
    )
    if patient_id is not None:
        frame["patient_id"] = patient_id
    return validate(frame)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=0, equal_nan=True))


class _Fit(NamedTuple):
    """What one call of ``fit`` did: the model, what it returned, its inputs before and after."""

    model: Any
    returned: Any
    is_fitted: bool
    record: pd.DataFrame
    target: pd.Series
    record_before: pd.DataFrame
    target_before: pd.Series


class _Case:
    """One model class, its parameters and the data every check of it uses.

    The model is fitted on the training part once, on first use; each check
    that needs a fitted model gets its own deep copy, so no check sees what
    another did.
    """

    def __init__(
        self, model_class: type, params: Mapping[str, Any] | None, record: pd.DataFrame | None
    ) -> None:
        self.model_class = model_class
        self.params = dict(params or {})
        self.name = getattr(model_class, "__qualname__", repr(model_class))
        self._record = record
        self._fit: _Fit | None = None

    @functools.cached_property
    def split(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        record = make_synthetic_record(days=3) if self._record is None else self._record
        cut = len(record) * 2 // 3
        return record.iloc[:cut], record.iloc[cut:]

    @property
    def train(self) -> pd.DataFrame:
        return self.split[0].copy(deep=True)

    @property
    def test(self) -> pd.DataFrame:
        return self.split[1].copy(deep=True)

    def target(self, horizon: int | list[int] = 30) -> Any:
        from dt1d.data import make_target

        return make_target(self.split[0], horizon)

    def new(self) -> Any:
        return self.model_class(**self.params)

    def fit(self) -> _Fit:
        """The one fit of the checks (made on first use)."""
        if self._fit is None:
            record, target = self.train, self.target()
            record_before, target_before = record.copy(deep=True), target.copy(deep=True)
            model = self.new()
            returned = model.fit(record, target)
            self._fit = _Fit(
                model, returned, bool(model.is_fitted), record, target, record_before, target_before
            )
        return self._fit

    def fitted(self) -> Any:
        """A deep copy of the fitted model."""
        return copy.deepcopy(self.fit().model)


# -- the checks: each takes a _Case and raises AssertionError naming the rule it checks ---
def check_is_a_model(case: _Case) -> None:
    """The class derives from dt1d's BaseModel."""
    from dt1d.core.base import BaseModel

    cls = case.model_class
    assert isinstance(cls, type) and issubclass(cls, BaseModel), (
        f"{case.name} must subclass dt1d.BaseModel"
    )


def check_params_round_trip(case: _Case) -> None:
    """``__init__`` stores its arguments unchanged; ``cls(**get_params())`` rebuilds them."""
    model = case.new()
    got = model.get_params()
    for key, value in case.params.items():
        assert key in got, f"{case.name}.get_params() lacks constructor parameter {key!r}"
        assert got[key] is value or got[key] == value, (
            f"{case.name}.__init__ must store {key!r} unchanged: got {got[key]!r}, passed {value!r}"
        )
    rebuilt = case.model_class(**got)
    assert rebuilt.get_params() == got, (
        f"{case.name}(**get_params()) does not round trip its parameters"
    )
    assert model.set_params(**got) is model, f"{case.name}.set_params must return self"
    assert isinstance(repr(model), str)


def check_set_params_rejects_unknown(case: _Case) -> None:
    """``set_params`` with a name the constructor does not take raises ValueError."""
    try:
        case.new().set_params(__no_such_parameter__=1)
    except ValueError:
        return
    raise AssertionError(
        f"{case.name}.set_params accepted an unknown parameter; it must raise ValueError"
    )


def check_clone(case: _Case) -> None:
    """``clone`` returns a new, unfitted model with the same parameters."""
    model = case.fitted()
    clone = model.clone()
    assert type(clone) is case.model_class and clone is not model, (
        f"{case.name}.clone() must return a new {case.name}"
    )
    assert clone.get_params() == model.get_params(), f"{case.name}.clone() changed the parameters"
    assert not clone.is_fitted, f"{case.name}.clone() must return an unfitted model"


def check_predict_before_fit_raises(case: _Case) -> None:
    """``predict`` on an unfitted model raises."""
    try:
        case.new().predict(case.test)
    except Exception:
        return
    raise AssertionError(f"{case.name}.predict must raise before fit")


def check_fit_returns_self(case: _Case) -> None:
    """``fit`` returns the model itself and marks it fitted."""
    fit = case.fit()
    assert fit.returned is fit.model, f"{case.name}.fit must return self"
    assert fit.is_fitted, f"{case.name}.is_fitted must be True after fit"


def check_fit_leaves_inputs_unchanged(case: _Case) -> None:
    """``fit`` does not modify the record or the target it is given."""
    fit = case.fit()
    pd.testing.assert_frame_equal(
        fit.record, fit.record_before, obj=f"record after {case.name}.fit"
    )
    pd.testing.assert_series_equal(
        fit.target, fit.target_before, obj=f"target after {case.name}.fit"
    )


def check_predict_leaves_input_unchanged(case: _Case) -> None:
    """``predict`` does not modify the record it is given."""
    test = case.test
    before = test.copy(deep=True)
    case.fitted().predict(test)
    pd.testing.assert_frame_equal(test, before, obj=f"record after {case.name}.predict")


def check_predict_shape_and_values(case: _Case) -> None:
    """One float forecast per row, never infinite, finite for most rows of a clean record."""
    test = case.test
    pred = np.asarray(case.fitted().predict(test))
    assert pred.shape == (len(test),), (
        f"{case.name}.predict returned shape {pred.shape}, expected ({len(test)},)"
    )
    assert np.issubdtype(pred.dtype, np.floating), (
        f"{case.name}.predict must return floats, got {pred.dtype}"
    )
    assert not np.isinf(pred).any(), f"{case.name}.predict returned infinite values"
    assert np.isfinite(pred).mean() > 0.5, (
        f"{case.name}.predict returned NaN for most rows of a clean record"
    )


def check_predict_is_deterministic(case: _Case) -> None:
    """Two calls of ``predict`` on the same record give identical forecasts."""
    model, test = case.fitted(), case.test
    first = np.asarray(model.predict(test))
    assert _same(first, np.asarray(model.predict(test))), (
        f"{case.name}.predict is not deterministic"
    )


def check_no_leakage(case: _Case) -> None:
    """Changing the data after time t changes no forecast made at or before t."""
    model, test = case.fitted(), case.test
    pred = np.asarray(model.predict(test))
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
        altered.loc[tail, "bolus"] + altered.loc[tail, "basal"]
        if "bolus" in altered
        else altered.loc[tail, "insulin"] * 2
    )
    pred_altered = np.asarray(model.predict(altered))
    assert _same(pred[: cut + 1], pred_altered[: cut + 1]), (
        f"{case.name}.predict leaks the future: forecasts at or before {test.index[cut]} "
        "changed when only later data changed"
    )


def check_multi_horizon(case: _Case) -> None:
    """A model tagged "multi_horizon" fitted on two horizons forecasts two columns."""
    model = case.new()
    model.fit(case.train, case.target([30, 60]))
    test = case.test
    pred = np.asarray(model.predict(test))
    assert pred.shape == (len(test), 2), (
        f"{case.name} multi-horizon predict shape {pred.shape}, expected ({len(test)}, 2)"
    )


def check_save_load_round_trip(case: _Case) -> None:
    """``save`` then ``load`` gives the same class, parameters and forecasts."""
    model, test = case.fitted(), case.test
    pred = np.asarray(model.predict(test))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.dt1d"
        model.save(path)
        loaded = case.model_class.load(path)
    assert type(loaded) is case.model_class, (
        f"{case.name}.load returned {type(loaded).__qualname__}"
    )
    assert loaded.get_params() == model.get_params(), (
        f"{case.name} parameters changed in a save/load round trip"
    )
    assert _same(pred, np.asarray(loaded.predict(test))), (
        f"{case.name} predictions changed in a save/load round trip"
    )


def check_copyable(case: _Case) -> None:
    """A fitted model can be copied (joblib and dask copy models)."""
    copy.copy(case.fitted())


_CHECKS: tuple[Callable[[_Case], None], ...] = (
    check_params_round_trip,
    check_set_params_rejects_unknown,
    check_clone,
    check_predict_before_fit_raises,
    check_fit_returns_self,
    check_fit_leaves_inputs_unchanged,
    check_predict_leaves_input_unchanged,
    check_predict_shape_and_values,
    check_predict_is_deterministic,
    check_no_leakage,
    check_save_load_round_trip,
    check_copyable,
)


def yield_model_checks(
    model_class: type,
    params: Mapping[str, Any] | None = None,
    *,
    record: pd.DataFrame | None = None,
) -> Iterator[Callable[[], None]]:
    """Yield the contract checks of ``model_class``, each a callable taking no arguments.

    Each yielded check is a ``functools.partial``; ``check.func.__name__`` is
    the rule's name (``"check_no_leakage"``). Calling it raises
    ``AssertionError`` naming the broken rule, or returns None. The checks
    share the data (``record``, default ``make_synthetic_record(days=3)``:
    the first two thirds to fit on, the rest to forecast) and one fitted
    model, fitted on first use and deep-copied for each check. A model tagged
    ``"multi_horizon"`` also gets ``check_multi_horizon``.
    """
    case = _Case(model_class, params, record)
    yield functools.partial(check_is_a_model, case)
    if not isinstance(model_class, type):
        return
    for check in _CHECKS:
        yield functools.partial(check, case)
    if "multi_horizon" in getattr(model_class, "tags", ()):
        yield functools.partial(check_multi_horizon, case)


def check_model(
    model_class: type,
    params: Mapping[str, Any] | None = None,
    *,
    record: pd.DataFrame | None = None,
) -> None:
    """Check that ``model_class`` keeps the dt1d model contract; raise naming each broken rule.

    Runs every check of :func:`yield_model_checks` (parameters round trip,
    ``set_params`` rejects unknown names, ``clone``, ``predict`` before ``fit``
    fails, ``fit`` returns ``self`` and leaves its inputs alone, ``predict``
    leaves its input alone and gives one float per row, never infinite and
    mostly finite, deterministic, no leakage from the future, multi-horizon
    shape for models tagged ``"multi_horizon"``, ``save``/``load`` round trip,
    copyable). If the class is not a ``BaseModel`` nothing else is run. Raises
    one ``AssertionError`` listing every failed check with its message.
    """
    failures: list[tuple[str, BaseException]] = []
    for check in yield_model_checks(model_class, params, record=record):
        try:
            check()
        except Exception as exc:  # every broken rule is reported, not just the first
            failures.append((check.func.__name__, exc))
            if check.func is check_is_a_model:
                break
    if failures:
        lines = [f"{getattr(model_class, '__qualname__', model_class)} breaks the model contract:"]
        lines += [f"- {name}: {type(exc).__name__}: {exc}" for name, exc in failures]
        raise AssertionError("\n".join(lines)) from failures[0][1]


def parametrize_with_checks(
    models: Iterable[type | tuple[type, Mapping[str, Any]]],
    *,
    record: pd.DataFrame | None = None,
) -> Any:
    """A ``pytest.mark.parametrize`` decorator running each contract check as its own test.

    `models` holds model classes, or ``(model_class, params)`` pairs. The test
    takes the arguments ``model_class`` and ``check``, and calls ``check()``::

        @parametrize_with_checks([MyModel, (MyModel, {"alpha": 0.5})])
        def test_contract(model_class, check):
            check()

    Test ids read ``MyModel-check_no_leakage`` (``MyModel(alpha=0.5)-...``
    with parameters). Needs pytest, imported only when this is called.
    """
    import pytest

    cases = []
    ids = []
    for entry in models:
        model_class, params = entry if isinstance(entry, tuple) else (entry, {})
        label = getattr(model_class, "__qualname__", repr(model_class))
        if params:
            label += "(" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + ")"
        for check in yield_model_checks(model_class, params, record=record):
            cases.append((model_class, check))
            ids.append(f"{label}-{check.func.__name__}")
    return pytest.mark.parametrize(("model_class", "check"), cases, ids=ids)
