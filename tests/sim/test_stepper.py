"""BatchStepper: stepping with a controller's doses reproduces dt1d.sim.simulate."""

from __future__ import annotations

import numpy as np
import pytest

from dt1d.sim import BasalBolusController, CGMSensor, InsulinPump, Scenario, simulate
from dt1d.sim.controllers import therapy_arrays
from dt1d.sim.patients import virtual_patient
from dt1d.sim.stepper import BatchStepper

SCENARIO = Scenario.daily([(7, 45), (12.5, 70), (18, 80)])


def _run(names, seed, n_steps=288, step_min=5, noise_ids=None):
    pts = [virtual_patient(n) for n in names]
    sensor = CGMSensor()
    st = BatchStepper(pts, step_min=step_min, pump=InsulinPump(), sensor=sensor)
    ids = range(len(pts)) if noise_ids is None else noise_ids
    noise = sensor.noise(n_steps, step_min, [np.random.default_rng([seed, j, 0]) for j in ids])
    carbs = SCENARIO.per_minute(1440)[0][:n_steps * step_min]
    therapy = therapy_arrays(pts)
    ctrl = BasalBolusController()
    g_true, cgm_out = np.empty((n_steps, len(pts))), np.empty((n_steps, len(pts)))
    for s in range(n_steps):
        g_true[s] = st.glucose_sc_mg_dl()
        cgm = st.measure(noise[s])
        cgm_out[s] = cgm
        block = np.repeat(carbs[s * step_min:(s + 1) * step_min, None], len(pts), axis=1)
        basal, bolus = ctrl.policy_batch(cgm, block.sum(axis=0), *therapy)
        basal, bolus, clipped = st.deliver(basal, bolus)
        assert not clipped.any()
        st.step(block, basal, bolus)
    return g_true, cgm_out


def test_stepping_with_basal_bolus_reproduces_simulate():
    g_true, cgm = _run(["adult#001"], seed=3)
    rec = simulate("adult#001", SCENARIO, days=1, seed=3)
    np.testing.assert_allclose(g_true[:, 0], rec["glucose_true_sc"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cgm[:, 0], rec["glucose"].to_numpy(), rtol=0, atol=1e-9)


def test_lanes_are_independent_of_the_batch():
    names = ["adult#001", "child#003", "adolescent#005"]
    together, _ = _run(names, seed=1, n_steps=96)
    for j, name in enumerate(names):
        alone, _ = _run([name], seed=1, n_steps=96, noise_ids=[j])
        np.testing.assert_allclose(together[:, j], alone[:, 0], rtol=0, atol=1e-9)


def test_deliver_clips_nan_negative_and_over_limit_requests():
    st = BatchStepper([virtual_patient("adult#001")] * 4, pump=InsulinPump())
    basal, bolus, clipped = st.deliver(np.array([np.nan, -1.0, 99.0, 1.234]),
                                       np.array([0.0, 2.0, np.nan, 40.0]))
    np.testing.assert_allclose(basal, [0.0, 0.0, 30.0, 1.25])
    np.testing.assert_allclose(bolus, [0.0, 2.0, 0.0, 30.0])
    assert clipped.tolist() == [True, True, True, True]
    _, _, ok = st.deliver(np.array([1.0] * 4), np.zeros(4))
    assert not ok.any()


def test_bad_construction_is_named():
    with pytest.raises(TypeError, match="PatientParams"):
        BatchStepper(["adult#001"])
    with pytest.raises(ValueError, match="rk4_step_min"):
        BatchStepper([virtual_patient("adult#001")], rk4_step_min=0.3)
