"""Grid and horizon consistency: a twin and its model refuse another step; a file's horizon must match."""

from __future__ import annotations

import pytest

from dt1d.core.base import ParamsMixin
from dt1d.core.model_registry import isolated
from dt1d.core.twin import BaseModel, DigitalTwin
from dt1d.data import DataValidationError, make_target, resample
from dt1d.data.twinfile import TwinFileError, read_twin_file, write_twin_file
from dt1d.models.baselines import LinearModel
from dt1d.testing import make_synthetic_record


@pytest.fixture(scope="module")
def record():
    return make_synthetic_record(days=2, seed=3)


@pytest.fixture(scope="module")
def coarse(record):
    return resample(record, "15min")


def test_linear_fitted_on_5_minutes_refuses_a_15_minute_record(record, coarse):
    model = LinearModel(lags=6).fit(record, make_target(record, 30))
    assert model.step_min_ == 5.0
    with pytest.raises(DataValidationError, match="15-minute grid.*fitted on 5 minutes") as info:
        model.predict(coarse)
    assert info.value.code == "step_mismatch" and "resample" in info.value.fix


@pytest.mark.parametrize("method", ["predict", "evaluate"])
def test_twin_refuses_another_grid_and_remembers_it_after_a_load(record, coarse, method, tmp_path):
    twin = DigitalTwin("linear", {"lags": 6}, horizon=30).fit(record)
    path = tmp_path / "t.dt1d"
    twin.save(path)
    for candidate in (twin, DigitalTwin.load(path)):
        with pytest.raises(DataValidationError, match="fitted on 5 minutes"):
            getattr(candidate, method)(coarse)
        getattr(candidate, method)(record)  # its own grid works


def test_twin_checks_the_grid_for_any_model(record, coarse):
    with isolated():

        class Mean(ParamsMixin, BaseModel, name="grid_mean"):
            def fit(self, X, y=None, **kwargs):
                self.mean_ = float(X["glucose"].mean())
                return self

            def predict(self, X, **kwargs):
                return X["glucose"].to_numpy() * 0 + self.mean_

        twin = DigitalTwin("grid_mean", horizon=30).fit(record)
        with pytest.raises(DataValidationError, match="this twin was fitted on 5 minutes"):
            twin.predict(coarse)


def test_a_manifest_horizon_that_disagrees_with_the_model_is_refused(record, tmp_path):
    path = tmp_path / "t.dt1d"
    DigitalTwin("linear", {"lags": 6}, horizon=30).fit(record).save(path)
    stored = read_twin_file(path)
    reserved = {"arrays", "blobs", "dt1d_version", "format", "format_version"}
    manifest = {k: v for k, v in stored.manifest.items() if k not in reserved}
    manifest["horizon"] = 45
    write_twin_file(path, manifest, stored.arrays, stored.blobs)
    with pytest.raises(TwinFileError, match=r"t\.dt1d.*horizon 45.*\[30\]"):
        DigitalTwin.load(path)
