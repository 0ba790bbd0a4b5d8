"""``T1DEnv``: one virtual patient (or fitted twin) as a gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dt1d.rl import _fast
from dt1d.rl._lanes import Lanes, resolve_patient
from dt1d.rl._obs import ObservationSpec
from dt1d.rl.rewards import RewardFn, resolve_reward
from dt1d.sim.pump import InsulinPump
from dt1d.sim.scenario import Scenario
from dt1d.sim.sensor import CGMSensor

__all__ = ["DEFAULT", "T1DEnv", "action_bounds"]

#: Marker for "the default sensor / pump" (``None`` means "none").
DEFAULT: Any = "default"
_RESET_OPTIONS = frozenset({"initial_glucose_mg_dl", "start_hour"})


def action_bounds(pump: InsulinPump | None, bolus: bool) -> tuple[np.ndarray, np.ndarray]:
    """Action space bounds: basal [U/h] (and bolus [U]) up to the pump's limits (30 without)."""
    hi_basal = pump.max_basal_u_per_h if pump is not None else 30.0
    hi_bolus = pump.max_bolus_u if pump is not None else 30.0
    hi = [hi_basal, hi_bolus] if bolus else [hi_basal]
    return np.zeros(len(hi), dtype=np.float32), np.array(hi, dtype=np.float32)


def sensor_pump(sensor: Any, pump: Any) -> tuple[CGMSensor | None, InsulinPump | None]:
    """Resolve the DEFAULT markers."""
    return (CGMSensor() if sensor is DEFAULT else sensor,
            InsulinPump() if pump is DEFAULT else pump)


class T1DEnv(gym.Env):
    """A person with type 1 diabetes on an insulin pump, one control step per :meth:`step`.

    ``patient``: a virtual patient's name (``dt1d.sim.list_virtual_patients()``), a
    :class:`~dt1d.physiology.params.PatientParams` or a fitted mechanistic twin (a
    :class:`~dt1d.models.mechanistic.MechanisticModel` or a
    :class:`~dt1d.core.twin.DigitalTwin` holding one): its personal parameters, with
    time-of-day sensitivity windows replaced by their geometric mean and the basal steady
    state kept at the twin's fitted basal glucose (``docs/rl.md``). ``scenario``: None for random meals (a new plan every day, as
    :func:`dt1d.sim.random_scenario`, by the clock) or a :class:`~dt1d.sim.Scenario`
    (meal times in minutes after the episode start). ``sensor``: a CGM
    (:class:`~dt1d.sim.CGMSensor`, default GuardianRT) or None (noise-free readings).
    ``pump``: an :class:`~dt1d.sim.InsulinPump` (default Insulet) or None (exact doses).

    Action: ``[basal rate U/h, bolus U]`` (``[basal]`` with ``bolus=False``), the basal held
    over the step and the bolus given in its first minute; NaN, negative or too-large
    requests are clipped to what the pump can deliver and flagged in
    ``info["action_clipped"]``; ``info["basal_u_per_h"]``/``info["bolus_u"]`` are what was
    delivered. Observation: see :class:`~dt1d.rl.ObservationSpec` (default: the CGM reading
    now). Reward: a built-in name (``"risk_diff"``, ``"magni"``, ``"time_in_range"``) or
    ``reward(prev_glucose, glucose, action, info)`` on true glucose. The episode terminates
    when true glucose leaves ``glucose_bounds`` and is truncated after
    ``max_episode_steps`` (None: never). Episodes start at the basal steady state at
    ``start_hour`` (None: a random time, from the seed); ``reset(options=...)`` accepts
    ``initial_glucose_mg_dl`` and ``start_hour``.
    """

    metadata = {"render_modes": []}

    def __init__(self, patient: Any = "adult#001", scenario: Scenario | None = None, *,
                 step_min: int = 5, sensor: CGMSensor | None = DEFAULT,
                 pump: InsulinPump | None = DEFAULT, max_episode_steps: int | None = 288,
                 start_hour: float | None = None, history: int = 1, iob: bool = False,
                 cob: bool = False, time_of_day: bool = False, meal: bool = False,
                 bolus: bool = True, reward: str | RewardFn = "risk_diff",
                 glucose_bounds: tuple[float, float] = (10.0, 600.0)) -> None:
        super().__init__()
        if scenario is not None and not isinstance(scenario, Scenario):
            raise TypeError(f"scenario must be a dt1d.sim.Scenario or None (random meals), "
                            f"got {type(scenario).__name__}")
        self.patient = resolve_patient(patient)
        (self._lanes, self.obs_spec, self.observation_space, self.action_space,
         self.reward_fn) = build(
            [self.patient], [scenario], step_min=step_min, sensor=sensor, pump=pump,
            max_episode_steps=max_episode_steps, start_hour=start_hour, history=history,
            iob=iob, cob=cob, time_of_day=time_of_day, meal=meal, bolus=bolus, reward=reward,
            glucose_bounds=glucose_bounds)
        self.bolus = bool(bolus)
        self.step_min = int(step_min)
        self._seeded = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` restarts the episode sequence (same seed, same episodes)."""
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - _RESET_OPTIONS
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; known: "
                             f"{sorted(_RESET_OPTIONS)}")
        if seed is None and not self._seeded:
            seed = int(np.random.SeedSequence().entropy % 2**62)
        if seed is not None:
            if int(seed) < 0:
                raise ValueError(f"seed={seed} must be >= 0")
            self._seeded = True
        g0 = options.get("initial_glucose_mg_dl")
        lanes = self._lanes
        lanes.reset(_LANE0, None if seed is None else np.array([seed]),
                    None if g0 is None else np.array([g0], dtype=np.float64),
                    options.get("start_hour"))
        return lanes.obs[0].copy(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Deliver ``action`` over one step; (observation, reward, terminated, truncated, info)."""
        lanes = self._lanes
        prev = lanes.glucose.item(0)
        lanes.step(lanes.as_action(action))
        info = self._info()
        reward = float(self.reward_fn(prev, info["glucose_mg_dl"],
                                      (info["basal_u_per_h"], info["bolus_u"]), info))
        return (lanes.obs[0].copy(), reward, bool(lanes.terminated[0]),
                bool(lanes.truncated[0]), info)

    def _info(self) -> dict[str, Any]:
        lanes = self._lanes
        info: dict[str, Any] = dict(zip(_fast.INFO_KEYS, lanes.info[:, 0].tolist(), strict=True))
        info["minute"] = int(info["minute"])
        info["minute_of_day"] = int(info["minute_of_day"])
        info["action_clipped"] = bool(lanes.clipped[0])
        info["diverged"] = bool(lanes.diverged[0])
        return info


_LANE0 = np.zeros(1, dtype=np.int64)


def build(patients: list, scenarios: list, *, step_min: int, sensor: Any, pump: Any,
          max_episode_steps: int | None, start_hour: float | None, history: int, iob: bool,
          cob: bool, time_of_day: bool, meal: bool, bolus: bool, reward: str | RewardFn,
          glucose_bounds: tuple[float, float]
          ) -> tuple[Lanes, ObservationSpec, gym.spaces.Box, gym.spaces.Box, RewardFn]:
    """Lanes, observation spec, one environment's spaces and the reward of both envs."""
    for sc in scenarios:
        if sc is not None and not isinstance(sc, Scenario):
            raise TypeError(f"scenario must be a dt1d.sim.Scenario or None (random meals), "
                            f"got {type(sc).__name__}")
    sensor, pump = sensor_pump(sensor, pump)
    spec = ObservationSpec(history=history, iob=iob, cob=cob, time_of_day=time_of_day,
                           meal=meal)
    reward_fn = resolve_reward(reward)
    lanes = Lanes(patients, scenarios, step_min=step_min, sensor=sensor, pump=pump,
                  max_episode_steps=max_episode_steps, start_hour=start_hour,
                  glucose_bounds=glucose_bounds, obs_spec=spec, bolus=bool(bolus))
    cgm_lo, cgm_hi = ((sensor.min_mg_dl, sensor.max_mg_dl) if sensor is not None
                      else (0.0, np.inf))
    obs_space = gym.spaces.Box(*spec.bounds(cgm_lo, cgm_hi), dtype=np.float32)
    act_space = gym.spaces.Box(*action_bounds(pump, bool(bolus)), dtype=np.float32)
    return lanes, spec, obs_space, act_space, reward_fn
