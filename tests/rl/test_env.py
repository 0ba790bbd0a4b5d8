"""T1DEnv: gymnasium API, equivalence with dt1d.sim.simulate, reproducibility, rewards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

import dt1d.rl  # noqa: E402,F401
from dt1d.metrics import hbgi, lbgi  # noqa: E402
from dt1d.rl import T1DEnv  # noqa: E402
from dt1d.rl.rewards import magni_risk, risk_diff, time_in_range_reward  # noqa: E402
from dt1d.sim import BasalBolusController, Scenario, simulate  # noqa: E402
from dt1d.sim.controllers import therapy_arrays  # noqa: E402

SCENARIO = Scenario.daily([(7, 45), (12.5, 70), (18, 80)])


@pytest.mark.parametrize("kwargs", [{}, dict(history=6, iob=True, cob=True, time_of_day=True,
                                             meal=True, bolus=False, reward="magni")])
def test_check_env_passes(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium's advice to normalise the action space
        check_env(T1DEnv("adult#001", **kwargs), skip_render_check=True)


def _basal_bolus_episode(scenario, seed):
    env = T1DEnv("adult#001", scenario, start_hour=0, max_episode_steps=288, meal=True)
    obs, info = env.reset(seed=seed)
    therapy = therapy_arrays([env.patient])
    ctrl = BasalBolusController()
    g_true, cgm = [info["glucose_mg_dl"]], [info["cgm_mg_dl"]]
    truncated = False
    while not truncated:
        basal, bolus = ctrl.policy_batch(np.array([info["cgm_mg_dl"]]),
                                         np.array([info["carbs_announced_g"]]), *therapy)
        assert obs[-1] == np.float32(info["carbs_announced_g"])
        obs, _, terminated, truncated, info = env.step([basal[0], bolus[0]])
        assert not terminated and not info["action_clipped"]
        g_true.append(info["glucose_mg_dl"])
        cgm.append(info["cgm_mg_dl"])
    return np.array(g_true[:-1]), np.array(cgm[:-1])


@pytest.mark.parametrize("scenario", [SCENARIO, None], ids=["fixed", "random"])
def test_basal_bolus_steps_reproduce_simulate(scenario):
    g_true, cgm = _basal_bolus_episode(scenario, seed=3)
    rec = simulate("adult#001", "random" if scenario is None else scenario, days=1, seed=3)
    assert rec["carbs"].sum() > 100
    np.testing.assert_allclose(g_true, rec["glucose_true_sc"].to_numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(cgm, rec["glucose"].to_numpy(), rtol=0, atol=1e-9)


def _episode_return(env, policy, seed):
    obs, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, r, term, trunc, info = env.step(policy(obs, info))
        total += r
        done = term or trunc
    return total


def test_a_pid_beats_constant_basal():
    env = T1DEnv("adolescent#003", max_episode_steps=288, reward="magni", start_hour=6)
    basal = env.patient.basal_insulin_u_per_h
    state = {"prev": None, "integral": 0.0}

    def pid(obs, info):
        g = float(obs[0])
        prev = g if state["prev"] is None else state["prev"]
        state["prev"] = g
        state["integral"] += g - 140.0
        u = basal + 0.02 * (g - 140.0) + 0.0005 * state["integral"] + 0.2 * (g - prev)
        return [max(u, 0.0), 0.0]

    constant = _episode_return(env, lambda obs, info: [basal, 0.0], seed=7)
    controlled = _episode_return(env, pid, seed=7)
    assert controlled > constant


def test_reset_with_a_seed_is_reproducible_and_episodes_differ():
    env = T1DEnv("child#002", max_episode_steps=40)

    def run(seed=None):
        obs, info = env.reset(seed=seed)
        out = [obs[0]]
        for _ in range(40):
            obs, *_ = env.step([1.0, 0.0])
            out.append(obs[0])
        return np.array(out), info["minute_of_day"]

    first, t0 = run(seed=11)
    second, _ = run()
    again, t0_again = run(seed=11)
    np.testing.assert_array_equal(first, again)
    assert t0 == t0_again
    assert not np.array_equal(first, second)


def test_nan_negative_and_too_large_actions_are_clipped_and_reported():
    env = T1DEnv("adult#002", max_episode_steps=10)
    env.reset(seed=0)
    for action, basal, bolus in (([np.nan, 1.0], 0.0, 1.0), ([-3.0, -1.0], 0.0, 0.0),
                                 ([1e6, 1e6], 30.0, 30.0)):
        obs, r, term, trunc, info = env.step(np.array(action))
        assert info["action_clipped"]
        assert (info["basal_u_per_h"], info["bolus_u"]) == (basal, bolus)
        assert np.isfinite(obs).all() and np.isfinite(r)
    with pytest.raises(ValueError, match="action"):
        env.step([1.0, 2.0, 3.0])


def test_termination_when_glucose_leaves_the_bounds_and_truncation():
    env = T1DEnv("adult#001", glucose_bounds=(100.0, 600.0), max_episode_steps=None)
    env.reset(seed=1, options={"initial_glucose_mg_dl": 110.0})
    steps = 0
    while True:
        _, _, term, trunc, info = env.step([20.0, 0.0])
        steps += 1
        assert not trunc
        if term:
            break
    assert info["glucose_mg_dl"] < 100.0 and steps < 100
    env = T1DEnv("adult#001", max_episode_steps=3)
    env.reset(seed=1)
    flags = [env.step([1.0, 0.0])[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_initial_glucose_option_and_bad_options():
    env = T1DEnv("adult#001", sensor=None)
    obs, info = env.reset(seed=0, options={"initial_glucose_mg_dl": 180.0})
    assert info["glucose_mg_dl"] == pytest.approx(180.0, abs=1e-6)
    assert obs[0] == pytest.approx(180.0, abs=1e-3)
    with pytest.raises(ValueError, match="reset option"):
        env.reset(options={"glucose": 100})
    with pytest.raises(ValueError, match="unknown reward"):
        T1DEnv(reward="nope")


def test_builtin_rewards_match_published_definitions():
    g = np.array([40.0, 70.0, 112.5, 180.0, 400.0])
    # Kovatchev's risk of one reading is LBGI + HBGI of that reading (dt1d.metrics)
    risk = np.array([lbgi([v]) + hbgi([v]) for v in g])
    ref = lbgi([112.5]) + hbgi([112.5])  # near, not exactly, 0 at 112.5 mg/dL
    np.testing.assert_allclose(risk_diff(g, np.full(5, 112.5)), risk - ref, rtol=1e-12,
                               atol=1e-9)
    np.testing.assert_allclose(risk_diff(112.5, 112.5), 0.0)
    # Magni 2007: r = 10 (3.5506 (ln G^0.8353 - 3.7932))^2, zero at exp(3.7932^(1/0.8353))
    g0 = np.exp(3.7932 ** (1 / 0.8353))
    assert magni_risk(g0) == pytest.approx(0.0, abs=1e-9)
    assert magni_risk(40.0) == pytest.approx(10 * (3.5506 * (np.log(40) ** 0.8353 - 3.7932))
                                             ** 2)
    assert magni_risk(40.0) > magni_risk(300.0) > magni_risk(200.0) > 0
    assert time_in_range_reward(None, 70.0) == 1.0 and time_in_range_reward(None, 181.0) == 0.0


def test_gymnasium_make_and_info_fields():
    env = gym.make("dt1d/T1D-v0", patient="adult#001", max_episode_steps=5)
    obs, info = env.reset(seed=2)
    for key in ("glucose_mg_dl", "cgm_mg_dl", "lbgi", "hbgi", "risk", "iob_u"):
        assert np.isfinite(info[key])
    assert obs.shape == (1,) and info["risk"] == pytest.approx(info["lbgi"] + info["hbgi"])
