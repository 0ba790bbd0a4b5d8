"""``T1DVectorEnv``: N environments stepped together by one call of the batch kernel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from dt1d.rl import _fast
from dt1d.rl._lanes import resolve_patient
from dt1d.rl.env import DEFAULT, build
from dt1d.rl.rewards import RewardFn
from dt1d.sim.pump import InsulinPump
from dt1d.sim.scenario import Scenario
from dt1d.sim.sensor import CGMSensor

__all__ = ["T1DVectorEnv"]

_RESET_OPTIONS = frozenset({"initial_glucose_mg_dl", "start_hour", "reset_mask"})
_INT_KEYS = frozenset({"minute", "minute_of_day"})


def _per_env(value: Any, n: int | None, what: str, single: type | tuple) -> tuple[list, int]:
    """``value`` for each of ``n`` environments: one shared value or a sequence of n."""
    if isinstance(value, single) or value is None or not isinstance(value, Sequence):
        if n is None:
            n = 1
        return [value] * n, n
    values = list(value)
    if n is None:
        n = len(values)
    if len(values) != n:
        raise ValueError(f"{what}: got {len(values)} for num_envs={n}; give one for all "
                         f"environments or one per environment")
    return values, n


class T1DVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` :class:`~dt1d.rl.T1DEnv` environments in one batch-kernel call per step.

    ``patient`` and ``scenario``: one for every environment or a sequence with one per
    environment (``num_envs`` defaults to its length); every other option is
    :class:`~dt1d.rl.T1DEnv`'s and applies to all. Lane ``j`` reset with seed ``s``
    follows exactly the trajectory of a ``T1DEnv`` with the same patient reset with seed
    ``s``; ``reset(seed=s)`` seeds lane ``j`` with ``s + j`` (a list seeds each lane).

    Actions are (num_envs, 2) ``[basal U/h, bolus U]`` (or (num_envs, 1) with
    ``bolus=False``); NaN, negative and too-large requests are clipped per lane and
    flagged in ``info["action_clipped"]``. Observations are (num_envs, dim) float32,
    rewards (num_envs,) float64, ``terminated``/``truncated`` (num_envs,) bool and
    ``info`` a dict of (num_envs,) arrays with the keys of ``T1DEnv``'s info.

    Autoreset (``autoreset_mode``, gymnasium's :class:`~gymnasium.vector.AutoresetMode`):
    ``NEXT_STEP`` (default): the step after a lane's episode ended resets that lane,
    ignores its action and returns its first observation with reward 0, not terminated,
    not truncated, and its reset info. ``SAME_STEP``: a lane whose episode ends is reset
    in the same step; the observation is the new episode's first, the last one is in
    ``info["final_obs"]`` and its info in ``info["final_info"]`` (masks ``_final_obs``,
    ``_final_info``). ``DISABLED``: lanes reset only through
    ``reset(options={"reset_mask": mask})``. ``reset`` options: ``initial_glucose_mg_dl``
    (one value or one per lane; NaN: the basal steady state), ``start_hour``, ``reset_mask``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int | None = None, patient: Any = "adult#001",
                 scenario: Scenario | Sequence[Scenario | None] | None = None, *,
                 step_min: int = 5, sensor: CGMSensor | None = DEFAULT,
                 pump: InsulinPump | None = DEFAULT, max_episode_steps: int | None = 288,
                 start_hour: float | None = None, history: int = 1, iob: bool = False,
                 cob: bool = False, time_of_day: bool = False, meal: bool = False,
                 bolus: bool = True, reward: str | RewardFn = "risk_diff",
                 glucose_bounds: tuple[float, float] = (10.0, 600.0),
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP) -> None:
        if num_envs is not None and int(num_envs) < 1:
            raise ValueError(f"num_envs={num_envs} must be >= 1")
        n = None if num_envs is None else int(num_envs)
        patients, n = _per_env(patient, n, "patient", (str, bytes))
        scenarios, n = _per_env(scenario, n, "scenario", Scenario)
        resolved: dict[int, Any] = {}  # one PatientParams per distinct patient given
        self.patients = [resolved.setdefault(id(p), resolve_patient(p)) if id(p) not in resolved
                         else resolved[id(p)] for p in patients]
        (self._lanes, self.obs_spec, self.single_observation_space, self.single_action_space,
         self.reward_fn) = build(
            self.patients, scenarios, step_min=step_min, sensor=sensor, pump=pump,
            max_episode_steps=max_episode_steps, start_hour=start_hour, history=history,
            iob=iob, cob=cob, time_of_day=time_of_day, meal=meal, bolus=bolus, reward=reward,
            glucose_bounds=glucose_bounds)
        self.num_envs = n
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        self.step_min = int(step_min)
        self.render_mode = None
        self._autoreset = np.zeros(n, dtype=bool)
        self._seeded = False

    def reset(self, *, seed: int | Sequence[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start episodes in every lane (or the lanes of ``options["reset_mask"]``)."""
        n = self.num_envs
        options = dict(options or {})
        unknown = set(options) - _RESET_OPTIONS
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; known: "
                             f"{sorted(_RESET_OPTIONS)}")
        mask = options.get("reset_mask")
        mask = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if mask.shape != (n,):
            raise ValueError(f"reset_mask must be ({n},) bool, got shape {mask.shape}")
        if seed is None and not self._seeded:
            seed = int(np.random.SeedSequence().entropy % 2**62)
        seeds = None
        if seed is not None:
            seeds = (np.arange(n, dtype=np.int64) + int(seed) if np.ndim(seed) == 0
                     else np.asarray(seed, dtype=np.int64))
            if seeds.shape != (n,) or (seeds < 0).any():
                raise ValueError(f"seed must be an int >= 0 or {n} ints >= 0, got {seed!r}")
            self._seeded = True
        lanes = np.flatnonzero(mask)
        g0 = options.get("initial_glucose_mg_dl")
        if g0 is not None:
            g0 = np.broadcast_to(np.asarray(g0, dtype=np.float64), (n,))[lanes]
        self._lanes.reset(lanes, None if seeds is None else seeds[lanes], g0,
                          options.get("start_hour"))
        self._autoreset[lanes] = False
        return self._lanes.obs.copy(), self._info()

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        """Advance every lane one step; (obs, rewards, terminated, truncated, info) arrays."""
        lanes = self._lanes
        prev = lanes.glucose.copy()
        lanes.step(lanes.as_action(actions))
        mode = self.autoreset_mode
        final: dict[str, Any] = {}
        if mode is AutoresetMode.NEXT_STEP and self._autoreset.any():
            restart = np.flatnonzero(self._autoreset)
            lanes.reset(restart, None)
        else:
            restart = None
        terminated = lanes.terminated.copy()
        truncated = lanes.truncated.copy()
        info = self._info()
        rewards = np.asarray(self.reward_fn(prev, info["glucose_mg_dl"],
                                            (info["basal_u_per_h"], info["bolus_u"]), info),
                             dtype=np.float64)
        if rewards.shape != (self.num_envs,):
            rewards = np.broadcast_to(rewards, (self.num_envs,)).copy()
        done = terminated | truncated
        if restart is not None:
            rewards[restart] = 0.0
        if mode is AutoresetMode.NEXT_STEP:
            self._autoreset = done
        elif mode is AutoresetMode.SAME_STEP and done.any():
            ended = np.flatnonzero(done)
            final_obs = np.empty(self.num_envs, dtype=object)
            last = lanes.obs
            for j in ended.tolist():
                final_obs[j] = last[j].copy()
            final["final_obs"], final["_final_obs"] = final_obs, done
            final["final_info"], final["_final_info"] = info, done
            lanes.reset(ended, None)
            info = self._info()
        obs = lanes.obs.copy()
        info.update(final)
        return obs, rewards, terminated, truncated, info

    def _info(self) -> dict[str, Any]:
        lanes = self._lanes
        rows = lanes.info.copy()
        info: dict[str, Any] = {}
        for key, row in zip(_fast.INFO_KEYS, rows, strict=True):
            info[key] = row.astype(np.int64) if key in _INT_KEYS else row
        info["action_clipped"] = lanes.clipped.copy()
        info["diverged"] = lanes.diverged.copy()
        return info
