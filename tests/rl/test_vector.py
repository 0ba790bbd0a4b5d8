"""T1DVectorEnv: lanes equal T1DEnv, gymnasium autoreset modes, make_vec, bad actions."""

from __future__ import annotations

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

import dt1d.rl  # noqa: E402,F401
from dt1d.rl import T1DEnv, T1DVectorEnv  # noqa: E402
from dt1d.sim import Scenario  # noqa: E402

PATIENTS = ["adult#001", "child#002", "adolescent#003"]
SCENARIOS = [None, Scenario.daily([(0.2, 60)]), None]
KW = dict(max_episode_steps=12, history=3, iob=True, cob=True, time_of_day=True, meal=True,
          glucose_bounds=(10.0, 600.0))


def _actions(rng, n, steps):
    a = np.stack([rng.uniform(0.0, 3.0, (steps, n)), rng.uniform(0.0, 2.0, (steps, n))], -1)
    a[rng.random((steps, n)) < 0.7, 1] = 0.0
    return a


def test_each_lane_equals_a_single_env_with_its_patient_and_seed_across_autoresets():
    vec = T1DVectorEnv(patient=PATIENTS, scenario=SCENARIOS, **KW)
    singles = [T1DEnv(p, s, **KW) for p, s in zip(PATIENTS, SCENARIOS, strict=True)]
    obs, info = vec.reset(seed=40)
    for j, env in enumerate(singles):
        o, i = env.reset(seed=40 + j)
        np.testing.assert_array_equal(obs[j], o)
        assert info["glucose_mg_dl"][j] == i["glucose_mg_dl"]
    acts = _actions(np.random.default_rng(0), 3, 30)
    done = np.zeros(3, dtype=bool)
    resets = 0
    for a in acts:
        obs, rew, term, trunc, info = vec.step(a)
        for j, env in enumerate(singles):
            if done[j]:  # NEXT_STEP: this step reset the lane and ignored its action
                o, i = env.reset()
                r, te, tr = 0.0, False, False
                resets += 1
            else:
                o, r, te, tr, i = env.step(a[j])
            np.testing.assert_array_equal(obs[j], o)
            assert rew[j] == pytest.approx(r, rel=1e-12, abs=1e-12)
            assert (term[j], trunc[j]) == (te, tr)
            for key, value in i.items():
                assert info[key][j] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        done = term | trunc
    assert resets >= 6  # every lane went through at least two episodes


def test_make_vec_returns_the_native_vector_env():
    vec = gym.make_vec("dt1d/T1D-v0", num_envs=4, patient="adult#002")
    assert isinstance(vec, T1DVectorEnv) and vec.num_envs == 4
    obs, info = vec.reset(seed=0)
    assert obs.shape == (4, 1) and obs.dtype == np.float32
    assert vec.observation_space.contains(obs)
    obs, rew, term, trunc, info = vec.step(vec.action_space.sample())
    assert rew.shape == term.shape == trunc.shape == info["cgm_mg_dl"].shape == (4,)
    assert info["minute"].dtype == np.int64 and (info["minute"] == 5).all()


def test_next_step_autoreset_follows_gymnasium():
    vec = T1DVectorEnv(3, "adult#001", max_episode_steps=2, start_hour=8)
    assert vec.metadata["autoreset_mode"] is gym.vector.AutoresetMode.NEXT_STEP
    vec.reset(seed=1)
    a = np.ones((3, 2))
    _, _, term, trunc, info = vec.step(a)
    assert not (term | trunc).any() and (info["minute"] == 5).all()
    obs, rew, term, trunc, info = vec.step(a)
    assert trunc.all() and not term.any()
    last = obs.copy()
    obs, rew, term, trunc, info = vec.step(np.full((3, 2), np.nan))  # ignored: reset step
    assert (rew == 0).all() and not (term | trunc).any()
    assert (info["minute"] == 0).all() and not info["action_clipped"].any()
    assert not np.array_equal(obs, last)
    _, _, term, trunc, info = vec.step(a)
    assert (info["minute"] == 5).all() and not (term | trunc).any()


def test_same_step_autoreset_keeps_the_final_observation_and_info():
    kw = dict(max_episode_steps=2, start_hour=8, autoreset_mode="SameStep")
    vec = T1DVectorEnv(2, "adult#001", **kw)
    ref = T1DEnv("adult#001", max_episode_steps=2, start_hour=8)
    vec.reset(seed=5)
    ref.reset(seed=5)
    a = np.ones((2, 2))
    vec.step(a)
    ref.step(a[0])
    obs, rew, term, trunc, info = vec.step(a)
    o_last, r_last, _, tr, i_last = ref.step(a[0])
    assert trunc.all() and tr and rew[0] == pytest.approx(r_last)
    assert info["_final_obs"].all() and info["_final_info"].all()
    np.testing.assert_array_equal(info["final_obs"][0], o_last)
    assert info["final_info"]["glucose_mg_dl"][0] == i_last["glucose_mg_dl"]
    o_new, i_new = ref.reset()
    np.testing.assert_array_equal(obs[0], o_new)
    assert info["minute"][0] == 0 and info["glucose_mg_dl"][0] == i_new["glucose_mg_dl"]


def test_disabled_autoreset_and_reset_mask():
    vec = T1DVectorEnv(3, "adult#001", max_episode_steps=1, autoreset_mode="Disabled",
                       start_hour=0)
    vec.reset(seed=0)
    vec.step(np.ones((3, 2)))
    obs, info = vec.reset(options={"reset_mask": [True, False, True],
                                   "initial_glucose_mg_dl": 200.0})
    assert list(info["minute"]) == [0, 5, 0]
    assert info["glucose_mg_dl"][0] == pytest.approx(200.0, abs=1e-6)
    assert info["glucose_mg_dl"][1] != pytest.approx(200.0, abs=1.0)
    with pytest.raises(ValueError, match="reset_mask"):
        vec.reset(options={"reset_mask": [True]})


def test_bad_actions_are_clipped_per_lane_and_never_give_nan_states():
    vec = T1DVectorEnv(4, PATIENTS[:1] * 4, max_episode_steps=20)
    vec.reset(seed=3)
    a = np.array([[np.nan, 1.0], [-5.0, np.inf], [1.0, 0.5], [1e9, -1.0]])
    for _ in range(3):
        obs, rew, term, trunc, info = vec.step(a)
        assert list(info["action_clipped"]) == [True, True, False, True]
        np.testing.assert_array_equal(info["basal_u_per_h"], [0.0, 0.0, 1.0, 30.0])
        np.testing.assert_array_equal(info["bolus_u"], [1.0, 30.0, 0.5, 0.0])
        assert np.isfinite(obs).all() and np.isfinite(rew).all()
        assert np.isfinite(vec._lanes.stepper.x).all()
    with pytest.raises(ValueError, match="action"):
        vec.step(np.ones((3, 2)))


def test_per_env_arguments_are_checked():
    with pytest.raises(ValueError, match="patient"):
        T1DVectorEnv(2, ["adult#001", "adult#002", "adult#003"])
    with pytest.raises(ValueError, match="num_envs"):
        T1DVectorEnv(0)
    assert T1DVectorEnv(patient=PATIENTS).num_envs == 3


def test_lane_streams_draw_exactly_what_their_own_generators_draw():
    from dt1d.rl._lanes import _Streams
    from dt1d.sim.scenario import _random_day

    streams = _Streams(3)
    refs = [np.random.default_rng([s, 4, 1]) for s in (0, 7, 2**40)]
    for j, s in enumerate((0, 7, 2**40)):
        streams.seed(j, [s, 4, 1])
    for _ in range(5):  # interleaved days of three lanes, as the environments plan them
        for j in (2, 0, 1):
            assert streams.draw(j, _random_day) == _random_day(refs[j])
    # a generator taken from a lane does not advance it; storing it back does
    g = streams.generator(1)
    first = g.standard_normal(4)
    np.testing.assert_array_equal(streams.generator(1).standard_normal(4), first)
    streams.store(1, g)
    np.testing.assert_array_equal(streams.generator(1).standard_normal(4),
                                  refs[1].standard_normal(8)[4:])


def test_random_meal_days_are_those_of_random_scenario():
    from dt1d.sim import random_scenario
    from dt1d.sim.scenario import _random_day

    for seed in range(50):
        rng = np.random.default_rng(seed)
        days = [_random_day(rng) for _ in range(3)]
        flat = tuple((1440 * d + m, g) for d, day in enumerate(days) for m, g in day)
        assert tuple((m.time_min, m.carbs_g) for m in random_scenario(3, seed).meals) == flat


def test_memory_per_environment_is_at_most_4_kb():
    """Growth of traced memory per added environment (default one-day episodes), after
    resets, steps and a new episode in every lane."""
    import gc
    import tracemalloc

    def traced(n: int) -> int:
        gc.collect()
        tracemalloc.start()
        try:
            env = T1DVectorEnv(n, "adult#001")
            env.reset(seed=0)
            for _ in range(20):
                env.step(np.tile([1.0, 0.0], (n, 1)))
            env.reset()  # every lane's next episode: new noise and meal streams
            gc.collect()
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()

    traced(2)  # imports and kernels outside the measurement
    per_env = (traced(16 + 512) - traced(16)) / 512
    assert per_env <= 4096, per_env
