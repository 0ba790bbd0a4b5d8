"""DigitalTwin and BaseModel behaviour: driving models by name, params, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dt1d
from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import ModelNotFoundError, isolated
from dt1d.core.twin import BaseModel, CapabilityError, DigitalTwin
from dt1d.data import DataValidationError, make_target
from dt1d.data.twinfile import TwinFileError, read_twin_file, write_twin_file
from dt1d.testing import make_synthetic_record


@pytest.fixture(scope="module")
def record():
    return make_synthetic_record(days=3, seed=2)


def test_twin_fits_and_predicts_a_builtin_model_by_name(record):
    twin = DigitalTwin(model_type="linear", model_params={"lags": 6}, horizon=30)
    assert twin.fit(record) is twin
    pred = twin.predict(record)
    assert pred.shape == (len(record),)
    # The model behind the twin is exactly the registered class.
    assert type(twin.model) is dt1d.get_model_class("linear")


def test_twin_multi_horizon_gives_one_column_per_horizon(record):
    twin = DigitalTwin("persistence", horizon=[30, 60]).fit(record)
    assert twin.predict(record).shape == (len(record), 2)
    result = twin.evaluate(record)
    assert set(result) == {"30min", "60min"}
    assert result["60min"]["rmse"] > result["30min"]["rmse"]


def test_evaluate_matches_hand_computed_metrics(record):
    twin = DigitalTwin("persistence", horizon=30).fit(record)
    result = twin.evaluate(record)
    g = record["glucose"].to_numpy()
    ref, pred = g[6:], g[:-6]
    ok = np.isfinite(ref) & np.isfinite(pred)
    ref, pred = ref[ok], pred[ok]
    assert result["n"] == ok.sum()
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((pred - ref) ** 2)))
    assert result["mae"] == pytest.approx(np.mean(np.abs(pred - ref)))
    assert result["mard"] == pytest.approx(100 * np.mean(np.abs(pred - ref) / ref))


def test_unknown_model_type_suggests_names():
    with pytest.raises(ModelNotFoundError) as info:
        DigitalTwin(model_type="lineer")
    assert "linear" in str(info.value)


def test_bad_model_params_name_the_parameter():
    with pytest.raises((TypeError, ValueError)) as info:
        DigitalTwin(model_type="linear", model_params={"lagz": 3})
    assert "lagz" in str(info.value)


@pytest.mark.parametrize("horizon", [0, -5, 2.5, [], [30, 30], "30"])
def test_bad_horizon_is_refused(horizon):
    with pytest.raises(ValueError, match="horizon"):
        DigitalTwin("persistence", horizon=horizon)


def test_fit_validates_the_record_and_leaves_it_untouched(record):
    bad = record.copy()
    bad["glucose"] = bad["glucose"] / 18.0  # mmol/L
    before = bad.copy(deep=True)
    with pytest.raises(DataValidationError, match="mmol/L"):
        DigitalTwin("persistence").fit(bad)
    pd.testing.assert_frame_equal(bad, before)


def test_fit_refuses_a_misaligned_target(record):
    y = make_target(record, 30).iloc[1:]
    with pytest.raises(ValueError, match="aligned"):
        DigitalTwin("linear").fit(record, y)


def test_simulate_on_a_model_that_cannot_is_a_clear_error(record):
    twin = DigitalTwin("persistence").fit(record)
    with pytest.raises(CapabilityError, match="cannot simulate"):
        twin.simulate(record)
    assert issubclass(CapabilityError, NotImplementedError)


def test_twin_save_load_round_trip(record, tmp_path):
    twin = DigitalTwin("linear", {"lags": 4, "alpha": 2.0}, horizon=[30, 60]).fit(record)
    path = tmp_path / "me.dt1d"
    twin.save(path)
    loaded = DigitalTwin.load(path)
    assert loaded.model_type == "linear" and loaded.horizon == [30, 60]
    assert loaded.model.get_params() == {"lags": 4, "alpha": 2.0}
    np.testing.assert_array_equal(loaded.predict(record), twin.predict(record))
    manifest = read_twin_file(path).manifest
    assert manifest["kind"] == "twin" and manifest["model_name"] == "linear"
    assert manifest["data_summary"]["rows"] == len(record)


def test_load_refuses_a_file_naming_an_unknown_model(tmp_path):
    path = tmp_path / "x.dt1d"
    write_twin_file(path, {"kind": "model", "model_name": "no_such_model", "params": {}, "state": {}}, {})
    with pytest.raises(ModelNotFoundError):
        DigitalTwin.load(path)


def test_load_refuses_params_that_do_not_fit_the_model(tmp_path):
    path = tmp_path / "x.dt1d"
    write_twin_file(path, {"kind": "model", "model_name": "linear", "params": {"depth": 3}, "state": {}}, {})
    with pytest.raises(TwinFileError, match="do not fit"):
        DigitalTwin.load(path)


def test_model_load_checks_the_class(record, tmp_path):
    from dt1d.models.baselines import LinearModel, PersistenceModel

    path = tmp_path / "p.dt1d"
    PersistenceModel().fit(record, make_target(record, 30)).save(path)
    assert isinstance(BaseModel.load(path), PersistenceModel)
    with pytest.raises(TwinFileError, match="not a LinearModel"):
        LinearModel.load(path)


def test_a_users_model_defined_in_a_test_works_end_to_end(record, tmp_path):
    with isolated():

        class MeanModel(ParamsMixin, BaseModel, name="mean_of_train"):
            """Predicts the training mean, shifted by ``offset``."""

            def __init__(self, offset: float = 0.0):
                self.offset = offset

            def fit(self, X, y=None, **kwargs):
                self.mean_ = float(np.nanmean(y))
                return self

            def predict(self, X, **kwargs):
                self._check_is_fitted()
                return np.full(len(X), self.mean_ + self.offset)

        twin = DigitalTwin("mean_of_train", {"offset": 1.0}).fit(record)
        np.testing.assert_allclose(twin.predict(record), np.nanmean(make_target(record, 30)) + 1.0)
        twin.save(tmp_path / "m.dt1d")
        assert DigitalTwin.load(tmp_path / "m.dt1d").model.mean_ == twin.model.mean_
        assert repr(twin.model) == "MeanModel(offset=1.0)"
        clone = twin.model.clone()
        assert not clone.is_fitted and clone.offset == 1.0


def test_is_fitted_is_assignable_and_derived():
    with isolated():

        class Flag(ParamsMixin, BaseModel, name="flag_model"):
            def fit(self, X, y=None, **kwargs):
                self.w_ = 1
                return self

            def predict(self, X, **kwargs):
                return np.zeros(len(X))

        m = Flag()
        assert not m.is_fitted
        m.is_fitted = True
        assert m.is_fitted
        m.is_fitted = False
        m.fit(None)
        assert not m.is_fitted  # an explicit flag wins over derivation
        assert Flag().fit(None).is_fitted


def test_params_mixin_rejects_unknown_and_star_args():
    from dt1d.core.base import param_names

    with isolated():

        class P(ParamsMixin, BaseModel, name="p_model"):
            def __init__(self, a=1, b=2):
                self.a, self.b = a, b

            def fit(self, X, y=None, **kwargs):
                return self

            def predict(self, X, **kwargs):
                return np.zeros(len(X))

        assert P(a=3).get_params() == {"a": 3, "b": 2}
        with pytest.raises(ValueError, match="valid parameters are: a, b"):
            P().set_params(c=1)

    class Star:
        def __init__(self, *args):
            pass

    with pytest.raises(TypeError, match="named parameters only"):
        param_names(Star)


def test_saving_unserialisable_state_names_the_attribute(tmp_path):
    with isolated():

        class Weird(ParamsMixin, BaseModel, name="weird_model"):
            def fit(self, X, y=None, **kwargs):
                self.thing_ = object()
                return self

            def predict(self, X, **kwargs):
                return np.zeros(len(X))

        with pytest.raises(TypeError, match="thing_"):
            Weird().fit(None).save(tmp_path / "w.dt1d")
        assert not (tmp_path / "w.dt1d").exists()


def test_fit_passes_extra_keywords_to_the_model(record):
    seen = {}
    with isolated():

        class Kw(ParamsMixin, BaseModel, name="kw_model"):
            def fit(self, X, y=None, *, callback=None, **kwargs):
                seen["callback"] = callback
                self.w_ = 1
                return self

            def predict(self, X, **kwargs):
                return np.zeros(len(X))

        DigitalTwin("kw_model").fit(record, callback=print)
    assert seen["callback"] is print
