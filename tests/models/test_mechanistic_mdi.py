"""The mechanistic twin for people on injections (MDI): long-acting depot, fits, refusals."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.data import make_target
from dt1d.exceptions import DataValidationError
from dt1d.metrics import rmse
from dt1d.models.baselines import LinearModel
from dt1d.models.mechanistic import MechanisticModel, _insulin
from dt1d.physiology.long_acting import GLARGINE_TMAX_MIN, absorb
from dt1d.sim import simulate, virtual_patient
from dt1d.sim.injections import LongActingInsulin

DAYS = 3
SEED = 7
TRUTH = ["glucose_true_sc", "glucose_true_plasma"]


def _records(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same virtual patient, meals and sensor noise on injections and on a pump."""
    p = virtual_patient(name)
    mdi = simulate(p, "random", days=DAYS, seed=SEED, long_acting="glargine")
    pump = simulate(p, "random", days=DAYS, seed=SEED)
    return mdi.drop(columns=TRUTH), pump.drop(columns=TRUTH)


def _twin(name: str, **kwargs) -> MechanisticModel:
    p = virtual_patient(name)
    return MechanisticModel(body_weight_kg=p.body_weight_kg, age_group=name.split("#")[0],
                            n_starts=1, error_correction=False, **kwargs)


def _replay_rmse(twin: MechanisticModel, record: pd.DataFrame) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        twin.fit(record)
    return float(rmse(record["glucose"].to_numpy(), twin.simulate(record)["glucose"].to_numpy()))


@pytest.fixture(scope="module")
def mdi_fit() -> tuple[MechanisticModel, pd.DataFrame]:
    record, _ = _records("adult#001")
    twin = _twin("adult#001")
    twin.fit(record, make_target(record, [30]))
    return twin, record


# -- the depot ---------------------------------------------------------------------------
def test_depot_starts_where_weeks_of_the_same_doses_leave_it() -> None:
    # reference: the same day injected from an empty depot for 30 days; its last day
    day = np.zeros(288)
    day[264] = 20.0  # 22:00 on a 5-min grid from midnight
    long_run, _ = absorb(np.tile(day, 30), GLARGINE_TMAX_MIN, 5.0)
    record = np.tile(day, 2)
    out = _insulin.dissolved(record, GLARGINE_TMAX_MIN, 5)
    np.testing.assert_allclose(out[:288], long_run[-288:], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(out[288:], out[:288], rtol=1e-9)  # periodic from day 1
    assert out[:288].sum() == pytest.approx(20.0, rel=1e-9)  # a day absorbs a day's dose
    # near-flat at daily glargine dosing: day 1 is not insulin-free
    assert out[:288].min() > 0.5 * out[:288].mean()
    # an empty depot would leave the first 22 hours with (almost) nothing
    cold, _ = absorb(record, GLARGINE_TMAX_MIN, 5.0)
    assert cold[:264].sum() == 0.0


def test_mean_day_of_doses_averages_the_days_present() -> None:
    doses = np.zeros(288 * 2 + 100)
    doses[10] = 10.0  # day 1 at slot 10
    doses[288 + 12] = 14.0  # day 2 two slots later
    doses[576 + 10] = 12.0  # a third, partial day
    profile = _insulin.day_profile(doses, 5)
    assert profile.shape == (288,)
    assert profile[10] == pytest.approx(22.0 / 3) and profile[12] == pytest.approx(14.0 / 3)
    assert _insulin.daily_dose_u(doses, 5) == pytest.approx(12.0)
    # a slot the partial day does not reach (past its 100 rows) averages the two days seen
    doses[288 + 200] = 6.0
    assert _insulin.day_profile(doses, 5)[200] == pytest.approx(3.0)


def test_long_acting_option_is_checked() -> None:
    assert _insulin.resolve_tmax_min("degludec") == 1080.0
    assert _insulin.resolve_tmax_min(720) == 720.0
    assert _insulin.resolve_tmax_min(None) is None
    record, _ = _records("adult#001")
    for bad in ("nph", 5.0, True, float("nan")):
        with pytest.raises(ValueError, match="long_acting"):
            MechanisticModel(long_acting=bad, n_starts=1).fit(record)


# -- fits on injections against the pump ------------------------------------------------
@pytest.mark.parametrize("name", ["adult#001", "adolescent#001", "child#002"])
def test_mdi_twin_replays_as_well_as_the_pump_twin_and_better_than_doses_as_boluses(
        name: str) -> None:
    mdi, pump = _records(name)
    on_pump = _replay_rmse(_twin(name), pump)
    on_mdi = _replay_rmse(_twin(name), mdi)
    # the same doses read as rapid-acting boluses, at the same steady-state basal
    daily = mdi["long_acting_insulin"].sum() / DAYS
    as_bolus = mdi.drop(columns="long_acting_insulin")
    as_bolus["insulin"] = as_bolus["bolus"] = mdi["insulin"] + mdi["long_acting_insulin"]
    wrong = _replay_rmse(_twin(name, long_acting=None, basal_u_per_h=daily / 24.0), as_bolus)
    assert on_mdi < 1.2 * on_pump, (on_mdi, on_pump)
    assert wrong > 1.25 * on_mdi, (wrong, on_mdi)


def test_mdi_basal_defaults_to_the_daily_long_acting_dose(mdi_fit) -> None:
    twin, record = mdi_fit
    assert record["basal"].sum() == 0.0  # nothing from a pump
    daily = record["long_acting_insulin"].sum() / DAYS
    assert twin.basal_u_per_h_ == pytest.approx(daily / 24.0, rel=1e-9)
    assert twin.fit_report_["long_acting_daily_u"] == pytest.approx(daily, rel=1e-9)
    forecast = twin.predict(record).reshape(len(record), -1)[:, 0]  # 30 min ahead
    ok = np.isfinite(forecast[:-6])
    assert rmse(record["glucose"].to_numpy()[6:][ok], forecast[:-6][ok]) < 30.0


def test_basal_scale_scales_the_long_acting_doses(mdi_fit) -> None:
    twin, record = mdi_fit
    base = twin.simulate(record)
    np.testing.assert_allclose(base["long_acting_insulin"], record["long_acting_insulin"])
    more = twin.simulate(record, basal_scale=1.3)
    none = twin.simulate(record, basal_scale=0.0)
    np.testing.assert_allclose(more["long_acting_insulin"], 1.3 * record["long_acting_insulin"])
    assert none["long_acting_insulin"].sum() == 0.0
    np.testing.assert_allclose(more["insulin"], record["insulin"])  # pens unchanged
    # more long-acting insulin lowers glucose from the first hours on (steady depot)
    first = slice(0, 72)
    assert more["glucose"].iloc[first].mean() < base["glucose"].iloc[first].mean() - 5.0
    assert none["glucose"].mean() > base["glucose"].mean() + 50.0
    # without bolus/basal columns, rapid-acting insulin all counts as bolus
    plain = record.drop(columns=["bolus", "basal"])
    np.testing.assert_allclose(twin.simulate(plain)["glucose"], base["glucose"], rtol=1e-9)


def test_save_and_load_keep_the_long_acting_option(mdi_fit, tmp_path: Path) -> None:
    twin, record = mdi_fit
    twin.set_params(long_acting="degludec")
    try:
        expected = twin.simulate(record)["glucose"].to_numpy()
        twin.save(tmp_path / "mdi.twin")
        back = MechanisticModel.load(tmp_path / "mdi.twin")
    finally:
        twin.set_params(long_acting="glargine")
    assert back.get_params()["long_acting"] == "degludec"
    np.testing.assert_allclose(back.simulate(record)["glucose"], expected, rtol=1e-12)
    # the depot's time to peak changes the replay
    assert not np.allclose(twin.simulate(record)["glucose"], expected, rtol=1e-3)


# -- refusals ----------------------------------------------------------------------------
def _assert_refused(call, model: str) -> None:
    with pytest.raises(DataValidationError, match="long_acting_insulin") as info:
        call()
    assert info.value.code == "unsupported_column"
    assert info.value.column == "long_acting_insulin"
    assert model in str(info.value)


def test_models_that_cannot_use_long_acting_insulin_refuse_it() -> None:
    mdi, pump = _records("adult#001")
    mdi = mdi.iloc[: 288 * 2]
    linear = LinearModel().fit(pump, make_target(pump, 30))
    _assert_refused(lambda: LinearModel().fit(mdi, make_target(mdi, 30)), "linear")
    _assert_refused(lambda: linear.predict(mdi), "linear")
    _assert_refused(lambda: _twin("adult#001", long_acting=None).fit(mdi), "mechanistic")
    # a column of zeros (a pump user's export with the column) is accepted
    zeros = pump.assign(long_acting_insulin=0.0)
    np.testing.assert_allclose(linear.predict(zeros), linear.predict(pump))
    pytest.importorskip("torch")
    from dt1d.models.lstm import LSTMModel

    tiny = dict(hidden_size=8, num_layers=1, epochs=1, num_threads=1)
    _assert_refused(lambda: LSTMModel(**tiny).fit(mdi, make_target(mdi, 30)), "lstm")
    lstm = LSTMModel(**tiny).fit(pump.iloc[: 288 * 2], make_target(pump.iloc[: 288 * 2], 30))
    _assert_refused(lambda: lstm.predict(mdi), "lstm")


def test_twice_daily_regimen_and_degludec_fit() -> None:
    p = virtual_patient("adult#003")
    daily = p.basal_insulin_u_per_h * 24.0
    reg = LongActingInsulin(doses=[(8.0, daily / 2), (21.0, daily / 2)], tmax_min=1080.0)
    mdi = simulate(p, "random", days=2, seed=SEED, long_acting=reg).drop(columns=TRUTH)
    good = _replay_rmse(_twin("adult#003", long_acting="degludec"), mdi)
    assert good < 20.0
