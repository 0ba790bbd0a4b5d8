"""Environments from a fitted mechanistic twin: its personal parameters as the patient."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from dt1d.core.twin import DigitalTwin  # noqa: E402
from dt1d.exceptions import NotFittedError  # noqa: E402
from dt1d.models.mechanistic import MechanisticModel  # noqa: E402
from dt1d.physiology.layout import P_KP1, P_KP3, P_VMX, X_GS  # noqa: E402
from dt1d.physiology.params import PatientParams  # noqa: E402
from dt1d.rl import T1DEnv, T1DVectorEnv  # noqa: E402
from dt1d.rl._twin import twin_params  # noqa: E402
from dt1d.sim import Scenario, simulate, virtual_patient  # noqa: E402

NO_MEALS = Scenario([])


@pytest.fixture(scope="module")
def record():
    return simulate("adult#004", "random", days=1, seed=5)


def _fit(record, **kwargs):
    weight = virtual_patient("adult#004").body_weight_kg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 1-day fit may stop before full convergence
        return MechanisticModel(body_weight_kg=weight, n_starts=1, error_correction=False,
                                **kwargs).fit(record)


@pytest.fixture(scope="module")
def twin(record):
    return _fit(record, time_of_day=False)


@pytest.fixture(scope="module")
def twin_windows(record):
    return _fit(record, time_of_day=True)


def _basal_day(env, basal):
    obs, info = env.reset(seed=0)
    g = [info["glucose_mg_dl"]]
    for _ in range(288):
        obs, _, term, trunc, info = env.step([basal, 0.0])
        assert not term
        g.append(info["glucose_mg_dl"])
    return np.array(g)


@pytest.mark.parametrize("which", ["twin", "twin_windows"])
def test_env_from_a_twin_steps_and_sits_at_its_basal_glucose(which, request):
    model = request.getfixturevalue(which)
    env = T1DEnv(model, NO_MEALS, sensor=None, pump=None)
    assert isinstance(env.patient, PatientParams)
    assert env.patient.body_weight_kg == model.body_weight_kg_
    assert env.patient.basal_insulin_u_per_h == pytest.approx(model.basal_u_per_h_, rel=1e-12)
    g = _basal_day(env, model.basal_u_per_h_)
    np.testing.assert_allclose(g, model.params_["basal_glucose_mg_dl"], rtol=0, atol=1e-6)


def test_twin_windows_become_their_geometric_mean(twin_windows):
    pw = twin_windows.param_matrix_
    assert pw.shape[0] == 3 and np.ptp(pw[:, P_VMX]) > 0
    p = twin_params(twin_windows).to_array()
    for idx in (P_VMX, P_KP3):
        assert p[idx] == pytest.approx(np.prod(pw[:, idx]) ** (1 / 3), rel=1e-12)
    # without moving kp1 the mean liver sensitivity would shift the basal steady state
    unmoved = p.copy()
    unmoved[P_KP1] = pw[0, P_KP1]
    shifted = PatientParams.from_array(unmoved)
    gb = twin_windows.params_["basal_glucose_mg_dl"]
    assert abs(shifted.basal_state()[X_GS] / shifted.vg_dl_per_kg - gb) > 0.1


def test_env_from_a_twin_replays_its_insulin_like_the_twin(twin, record):
    """Insulin-only replay: the environment on the twin's parameters against the twin's own
    replay kernel (``MechanisticModel.simulate``), which steps RK4 at 2.5 min, not 1 min."""
    rec = record.copy()
    rec["carbs"] = 0.0
    rec["bolus"] *= 0.25  # no meals: smaller boluses
    rec["insulin"] = rec["basal"] + rec["bolus"]
    ref = twin.simulate(rec)["glucose"].to_numpy()
    env = T1DEnv(twin, NO_MEALS, sensor=None, pump=None, max_episode_steps=len(rec),
                 start_hour=0)
    _, info = env.reset(seed=0)
    got = [info["glucose_mg_dl"]]
    for units in rec["insulin"].to_numpy()[:-1]:
        _, _, _, _, info = env.step([units * 60.0 / 5.0, 0.0])
        got.append(info["glucose_mg_dl"])
    got = np.array(got)
    assert np.ptp(ref) > 15.0  # the boluses move glucose
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)


def test_check_env_and_a_digital_twin_and_vector_lanes(twin, record):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(T1DEnv(twin), skip_render_check=True)
    dt = DigitalTwin("mechanistic", {"body_weight_kg": 70.0, "n_starts": 1,
                                     "error_correction": False, "time_of_day": False})
    dt.model = twin  # a DigitalTwin holding the fitted model
    env = T1DEnv(dt, max_episode_steps=20)
    assert env.patient.to_array().tolist() == twin_params(twin).to_array().tolist()
    venv = T1DVectorEnv(patient=[dt, "adult#001"], max_episode_steps=20)
    obs, _ = venv.reset(seed=4)
    o1, _ = env.reset(seed=4)
    assert obs[0] == o1
    for _ in range(20):
        obs, *_ = venv.step(np.array([[1.0, 0.0], [1.0, 0.0]]))
        o1, *_ = env.step([1.0, 0.0])
        assert obs[0] == o1


def test_twin_errors():
    with pytest.raises(NotFittedError, match="not fitted"):
        T1DEnv(MechanisticModel())
    with pytest.raises(TypeError, match="only a mechanistic twin"):
        T1DEnv(DigitalTwin("persistence"))
    with pytest.raises(TypeError, match="virtual patient name"):
        T1DEnv(3.5)
