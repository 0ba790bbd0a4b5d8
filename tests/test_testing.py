"""check_model must catch models that break the contract, and pass good ones."""

from __future__ import annotations

import numpy as np
import pytest

from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import isolated, register_model
from dt1d.core.twin import BaseModel
from dt1d.testing import (
    check_model,
    make_synthetic_record,
    parametrize_with_checks,
    yield_model_checks,
)


def _model(name, predict, *, fit=None, init=None, set_params=None):
    """A registered model class whose methods are the given functions."""
    ns = {
        "__module__": __name__,
        "__qualname__": name,  # as a class statement would set it, so it is registered
        "fit": fit or (lambda self, X, y=None, **kw: (setattr(self, "ok_", True), self)[1]),
        "predict": predict,
    }
    if init is not None:
        ns["__init__"] = init
    if set_params is not None:
        ns["set_params"] = set_params
    return type(name, (ParamsMixin, BaseModel), ns)


def _current(self, X, **kw):
    self._check_is_fitted()
    return X["glucose"].to_numpy(dtype=float)


def test_a_good_model_passes():
    with isolated():
        check_model(_model("GoodModel", _current))


@pytest.mark.parametrize(
    "predict,message",
    [
        (lambda self, X, **kw: X["glucose"].shift(-1).to_numpy(dtype=float), "leaks the future"),
        (lambda self, X, **kw: np.random.default_rng().normal(size=len(X)), "not deterministic"),
        (lambda self, X, **kw: np.zeros(len(X) + 1), "shape"),
        (lambda self, X, **kw: np.full(len(X), np.inf), "infinite"),
        (lambda self, X, **kw: np.full(len(X), np.nan), "NaN for most rows"),
    ],
    ids=["leak", "random", "shape", "inf", "nan"],
)
def test_broken_predictions_are_caught(predict, message):
    def guarded(self, X, **kw):
        self._check_is_fitted()
        return predict(self, X, **kw)

    with isolated(), pytest.raises(AssertionError, match=message):
        check_model(_model("BrokenModel", guarded))


def test_predict_before_fit_must_fail():
    with isolated(), pytest.raises(AssertionError, match="before fit"):
        check_model(_model("EagerModel", lambda self, X, **kw: X["glucose"].to_numpy(dtype=float)))


def test_fit_must_return_self():
    with isolated(), pytest.raises(AssertionError, match="fit must return self"):
        check_model(_model("NoSelfModel", _current, fit=lambda self, X, y=None, **kw: None))


def test_init_must_store_params_unchanged():
    def init(self, alpha=1.0):
        self.alpha = float(alpha) * 2

    with isolated(), pytest.raises(AssertionError, match="unchanged"):
        check_model(_model("MangleModel", _current, init=init), {"alpha": 3.0})


def test_set_params_must_reject_unknown_names():
    def lenient(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
        return self

    with isolated(), pytest.raises(AssertionError, match="unknown parameter"):
        check_model(_model("LenientModel", _current, set_params=lenient))


def test_synthetic_record_is_valid_and_reproducible():
    a = make_synthetic_record(days=2, seed=5)
    b = make_synthetic_record(days=2, seed=5)
    c = make_synthetic_record(days=2, seed=6)
    assert a.equals(b) and not a.equals(c)
    assert len(a) == 576 and a.index.name == "time"
    assert a["carbs"].sum() > 0 and np.isnan(a["glucose"]).any()
    np.testing.assert_allclose(a["insulin"], a["bolus"] + a["basal"])


# -- the checks one by one -------------------------------------------------------------------
def test_check_model_names_every_broken_rule_not_just_the_first():
    def leaky_and_random(self, X, **kw):
        self._check_is_fitted()
        noise = np.random.default_rng().normal(size=len(X))
        return X["glucose"].shift(-1).to_numpy(dtype=float) + noise

    with isolated(), pytest.raises(AssertionError) as info:
        check_model(_model("LeakyRandomModel", leaky_and_random))
    message = str(info.value)
    assert "check_no_leakage" in message and "check_predict_is_deterministic" in message
    assert "check_fit_returns_self" not in message  # a rule it keeps is not reported


def test_a_class_that_is_not_a_model_is_refused_without_running_the_rest():
    class NotAModel:
        pass

    with pytest.raises(AssertionError) as info:
        check_model(NotAModel)
    assert "check_is_a_model" in str(info.value) and "must subclass dt1d.BaseModel" in str(
        info.value
    )
    assert "check_fit_returns_self" not in str(info.value)


def test_yield_model_checks_yields_named_checks_and_multi_horizon_only_when_tagged():
    with isolated():
        plain = _model("PlainModel", _current)
        multi = _model("MultiModel", _current)
        multi.tags = frozenset({"multi_horizon"})
        names = [c.func.__name__ for c in yield_model_checks(plain)]
        multi_names = [c.func.__name__ for c in yield_model_checks(multi)]
    assert names[0] == "check_is_a_model" and len(set(names)) == len(names)
    assert {"check_no_leakage", "check_save_load_round_trip", "check_clone"} <= set(names)
    assert "check_multi_horizon" not in names
    assert multi_names == [*names, "check_multi_horizon"]


def test_the_checks_fit_the_model_once():
    fits = []

    def counting_fit(self, X, y=None, **kw):
        fits.append(len(X))
        self.ok_ = True
        return self

    with isolated():
        check_model(_model("CountingModel", _current, fit=counting_fit))
    assert len(fits) == 1


with isolated():
    _DemoModel = _model("DemoModel", _current)


@parametrize_with_checks([_DemoModel, (_DemoModel, {})])
def test_parametrize_with_checks_makes_one_test_per_check(model_class, check, request):
    assert model_class is _DemoModel
    assert request.node.callspec.id.startswith("DemoModel-check_")
    with isolated():
        register_model("demo")(model_class)  # saving needs a registered name
        check()
