"""The arrays behind both environments: N lanes on one BatchStepper, with meals and noise.

Each lane has its own patient, meal source (a fixed :class:`Scenario` or random meals),
seed and episode counter. Episode ``e`` of a lane seeded ``s`` draws its sensor noise from
``default_rng([s, e, 0])``, its random meals from ``[s, e, 1]`` and its random start time
from ``[s, e, 2]``; so episode 0 of a lane seeded ``s`` starting at midnight sees the same
noise and random meals as ``dt1d.sim.simulate(..., seed=s)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dt1d.physiology.batch import CHUNK, rk4_batch, rk4_batch_serial
from dt1d.physiology.params import PatientParams
from dt1d.rl import _fast
from dt1d.sim._engine import initial_state
from dt1d.sim.pump import InsulinPump
from dt1d.sim.scenario import MINUTES_PER_DAY, Scenario, _random_day
from dt1d.sim.sensor import CGMSensor
from dt1d.sim.stepper import BatchStepper

_DAY_STEPS_MEALS = 8  # room for one day of random meals (at most 6)
_MASK64 = (1 << 64) - 1


class _Streams:
    """One PCG64 random stream per lane, kept as 48 bytes of state, not a Generator each.

    A ``numpy.random.Generator`` costs about 0.8 KB; thousands of lanes with two streams
    each would make them most of an environment's memory. :meth:`draw` loads a lane's
    state into one reusable generator, lets ``fn`` draw from it and stores the state back,
    so every lane's draws are exactly those of its own ``default_rng`` generator.
    """

    def __init__(self, n: int) -> None:
        self.words = np.zeros((n, 4), dtype=np.uint64)  # state hi, lo, inc hi, lo
        self.spare = np.zeros((n, 2), dtype=np.uint64)  # has_uint32, uinteger
        self._scratch = np.random.Generator(np.random.PCG64(0))

    def seed(self, j: int, key: list[int]) -> None:
        """Lane ``j``'s stream starts as ``numpy.random.default_rng(key)``."""
        self._store(j, np.random.default_rng(key).bit_generator.state)

    def generator(self, j: int) -> np.random.Generator:
        """A new Generator at lane ``j``'s state (its draws do not advance the lane)."""
        g = np.random.Generator(np.random.PCG64(0))
        g.bit_generator.state = self._state(j)
        return g

    def draw(self, j: int, fn):
        """``fn(generator)`` on lane ``j``'s stream, advancing it; returns what fn returns."""
        g = self._scratch
        g.bit_generator.state = self._state(j)
        out = fn(g)
        self._store(j, g.bit_generator.state)
        return out

    def store(self, j: int, g: np.random.Generator) -> None:
        """Lane ``j``'s stream continues from ``g``'s state."""
        self._store(j, g.bit_generator.state)

    def _state(self, j: int) -> dict:
        w = [int(v) for v in self.words[j]]
        has, uint = (int(v) for v in self.spare[j])
        return {"bit_generator": "PCG64",
                "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
                "has_uint32": has, "uinteger": uint}

    def _store(self, j: int, st: dict) -> None:
        s, inc = st["state"]["state"], st["state"]["inc"]
        self.words[j] = (s >> 64, s & _MASK64, inc >> 64, inc & _MASK64)
        self.spare[j] = (st["has_uint32"], st["uinteger"])


def resolve_patient(patient: object) -> PatientParams:
    """A PatientParams from a virtual-patient name, a PatientParams or a fitted twin."""
    if isinstance(patient, PatientParams):
        return patient
    if isinstance(patient, str):
        from dt1d.sim.patients import virtual_patient

        return virtual_patient(patient)
    from dt1d.rl._twin import is_twin, twin_params

    if is_twin(patient):  # a fitted mechanistic twin: its personal parameters
        return twin_params(patient)
    raise TypeError(f"a patient is a virtual patient name, a PatientParams or a fitted "
                    f"mechanistic twin, got {type(patient).__name__}")


class Lanes:
    """N environments' arrays; :meth:`reset` and :meth:`step` act on all lanes at once.

    After :meth:`step` (and :meth:`reset` for its lanes) ``obs`` (n, dim) float32,
    ``info`` (N_INFO, n) (rows named by ``_fast.INFO_KEYS``), ``clipped``, ``terminated``,
    ``truncated`` and ``diverged`` (n,) bool hold the results; the arrays are reused.
    """

    def __init__(self, patients: Sequence[PatientParams], scenarios: Sequence[Scenario | None],
                 *, step_min: int, sensor: CGMSensor | None, pump: InsulinPump | None,
                 max_episode_steps: int | None, start_hour: float | None,
                 glucose_bounds: tuple[float, float], obs_spec, bolus: bool) -> None:
        if MINUTES_PER_DAY % int(step_min):
            raise ValueError(f"step_min={step_min} must divide a day (1, 5, 10, 15, ... min)")
        self.stepper = BatchStepper(patients, step_min=step_min, pump=pump, sensor=sensor)
        n = self.n = self.stepper.n
        self.step_min = int(step_min)
        self.sensor, self.pump = sensor, pump
        if max_episode_steps is not None and int(max_episode_steps) < 1:
            raise ValueError(f"max_episode_steps={max_episode_steps} must be >= 1 or None")
        self.max_steps = None if max_episode_steps is None else int(max_episode_steps)
        if start_hour is not None and not 0.0 <= float(start_hour) < 24.0:
            raise ValueError(f"start_hour={start_hour} must be in [0, 24) or None (random)")
        self.start_hour = start_hour
        lo, hi = (float(v) for v in glucose_bounds)
        if not lo < hi:
            raise ValueError(f"glucose_bounds={glucose_bounds} must be (low, high), low < high")
        self.g_lo, self.g_hi = lo, hi
        self.bounds = np.array([lo, hi])
        self.scenarios = list(scenarios)
        for sc in self.scenarios:
            if sc is not None and sc.insulin:
                raise ValueError("a scenario for an environment may hold meals only: the "
                                 "agent gives the insulin")
        k = max([_DAY_STEPS_MEALS] + [len(s.meals) for s in self.scenarios if s is not None])
        self.meal_t = np.full((n, k + 1), np.inf)
        self.meal_g = np.zeros((n, k + 1))
        self.meal_ptr = np.zeros(n, dtype=np.int64)
        self.day_end = np.full(n, np.inf)  # elapsed minute when random meals need a new day
        self.chunk = (self.max_steps + 1) if self.max_steps is not None else (
            MINUTES_PER_DAY // self.step_min)
        self.noise = np.zeros((self.chunk, n))
        self.noise_pos = np.zeros(n, dtype=np.int64)
        self.seed = np.zeros(n, dtype=np.int64)
        self.episode = np.full(n, -1, dtype=np.int64)
        self.noise_rng = _Streams(n)
        self.meal_rng = _Streams(n)
        self.start_min = np.zeros(n, dtype=np.int64)
        self.elapsed = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.obs_spec = obs_spec
        self.features = obs_spec.features
        self.cgm_hist = np.zeros((obs_spec.history, n))
        self.glucose = np.zeros(n)
        self.block = np.zeros((self.step_min, n))
        self.obs = np.zeros((n, obs_spec.dim), dtype=np.float32)
        self.info = np.zeros((_fast.N_INFO, n))
        self.bolus_col = 1 if bolus else 0
        self.width = 2 if bolus else 1
        self.pump_cfg = np.zeros(5) if pump is None else np.array(
            [1.0, pump.max_basal_u_per_h, pump.max_bolus_u, pump.basal_increment_u_per_h,
             pump.bolus_increment_u])
        self.sensor_cfg = np.zeros(3) if sensor is None else np.array(
            [1.0, sensor.min_mg_dl, sensor.max_mg_dl])
        self.insulin = np.zeros((self.step_min, n))
        self.basal = np.zeros(n)
        self.bolus = np.zeros(n)
        self.clipped = np.zeros(n, dtype=bool)
        self.terminated = np.zeros(n, dtype=bool)
        self.truncated = np.zeros(n, dtype=bool)
        self.diverged = np.zeros(n, dtype=bool)
        self.status = np.full(n, -1, dtype=np.int64)
        self.out = np.empty((2, 2, n))
        self.eaten = np.zeros((1, n))
        self.bad = np.zeros_like(self.stepper.x)
        self.kernel = rk4_batch_serial if n <= CHUNK else rk4_batch

    # -- episodes ---------------------------------------------------------------------
    def reset(self, lanes: np.ndarray, seeds: np.ndarray | None,
              initial_glucose: np.ndarray | None = None,
              start_hour: float | None = None) -> None:
        """Start a new episode in ``lanes`` (new seeds, or the next episode of each lane)."""
        lanes = np.asarray(lanes, dtype=np.int64)
        if seeds is not None:
            self.seed[lanes] = seeds
            self.episode[lanes] = 0
        else:
            self.episode[lanes] += 1
        st = self.stepper
        states = st.basal_states[:, lanes].copy()
        if initial_glucose is not None:
            for i, j in enumerate(lanes.tolist()):
                g = initial_glucose[i]
                if g is not None and np.isfinite(g):
                    pt = PatientParams.from_array(st.p[:, j], name=st.names[j])
                    states[:, i] = initial_state(pt, None, float(g))
        st.set_states(lanes, states)
        hour = self.start_hour if start_hour is None else start_hour
        step = self.step_min
        fresh = []  # the lanes' new noise generators, for the first noise chunk
        for j in lanes.tolist():
            s, e = int(self.seed[j]), int(self.episode[j])
            fresh.append(np.random.default_rng([s, e, 0]))
            if hour is None:
                slots = MINUTES_PER_DAY // step
                start = int(np.random.default_rng([s, e, 2]).integers(slots)) * step
            else:
                start = int(round(float(hour) * 60.0 / step)) * step % MINUTES_PER_DAY
            self.start_min[j] = start
            sc = self.scenarios[j]
            self.meal_t[j] = np.inf
            self.meal_g[j] = 0.0
            self.meal_ptr[j] = 0
            if sc is None:
                self.meal_rng.seed(j, [s, e, 1])
                self.day_end[j] = -start  # day 0 is generated below
                self._next_day(j)
            else:
                m = len(sc.meals)
                self.meal_t[j, :m] = [ml.time_min for ml in sc.meals]
                self.meal_g[j, :m] = [ml.carbs_g for ml in sc.meals]
                self.day_end[j] = np.inf
        self.elapsed[lanes] = 0
        self.steps[lanes] = 0
        self.clipped[lanes] = False
        self.terminated[lanes] = False
        self.truncated[lanes] = False
        self.diverged[lanes] = False
        self._refill_noise(lanes, fresh)
        _fast.read_lanes(lanes, st.x, st.vg, self.noise, self.noise_pos, self.sensor_cfg,
                         self.glucose, self.cgm_hist, self.info)
        self._finish(lanes)

    def _finish(self, lanes: np.ndarray) -> None:
        st = self.stepper
        _fast.finish_lanes(lanes, self.step_min, self.elapsed, self.start_min, self.meal_t,
                           self.meal_g, self.meal_ptr, self.block, self.cgm_hist, st.x,
                           st.meal, st.p, self.features, self.obs, self.info)

    def _next_day(self, j: int) -> None:
        """Random meals of lane j's next day, in minutes since its episode start."""
        day_start = self.day_end[j] if np.isfinite(self.day_end[j]) else 0
        day_start = int(day_start)
        self.meal_t[j] = np.inf
        self.meal_g[j] = 0.0
        k = 0
        for minute, carbs in self.meal_rng.draw(j, _random_day):
            if minute + day_start >= 0:
                self.meal_t[j, k] = minute + day_start
                self.meal_g[j, k] = carbs
                k += 1
        self.meal_ptr[j] = 0
        self.day_end[j] = day_start + MINUTES_PER_DAY

    def _refill_noise(self, lanes: np.ndarray, rngs: list | None = None) -> None:
        """The next noise chunk of ``lanes``, from their streams (or from ``rngs``)."""
        self.noise_pos[lanes] = 0
        if rngs is None:
            rngs = [self.noise_rng.generator(j) for j in lanes.tolist()]
        if self.sensor is not None and lanes.size:
            self.noise[:, lanes] = self.sensor.noise(self.chunk, self.step_min, rngs)
        for j, g in zip(lanes.tolist(), rngs, strict=True):
            self.noise_rng.store(j, g)

    # -- stepping ---------------------------------------------------------------------
    def step(self, action: np.ndarray) -> None:
        """Advance every lane one step with ``action`` (n, width) float64 requests.

        Diverged lanes keep their last finite readings and are terminated."""
        st = self.stepper
        _fast.deliver(action, self.bolus_col, self.pump_cfg, self.insulin, self.basal,
                      self.bolus, self.clipped, self.status)
        self.kernel(st.p, st.x, st.meal, self.block, self.insulin, st.eat_rate, st.substeps,
                    self.step_min, self.out, self.eaten, self.status, self.bad)
        flags = _fast.advance(
            st.x, st.vg, st.p, st.meal, self.status, self.eaten, self.basal, self.bolus,
            self.step_min, self.noise, self.noise_pos, self.sensor_cfg, self.glucose,
            self.cgm_hist, self.elapsed, self.steps, self.max_steps or 0, self.bounds,
            self.start_min, self.meal_t, self.meal_g, self.meal_ptr, self.day_end, self.block,
            self.features, self.obs, self.info, self.terminated, self.truncated, self.diverged)
        if flags & _fast.NEED_NOISE:
            self._refill_noise(np.flatnonzero(self.noise_pos >= self.chunk))
        if flags & _fast.NEED_DAY:
            lanes = np.flatnonzero(self.elapsed >= self.day_end)
            for j in lanes.tolist():
                self._next_day(j)
            self._finish(lanes)

    def as_action(self, action: object) -> np.ndarray:
        """``action`` as a C-contiguous (n, width) float64 array, or a ValueError."""
        a = np.asarray(action, dtype=np.float64)
        if a.size != self.n * self.width:
            raise ValueError(
                f"an action is {self.width} number(s) per environment (basal U/h"
                f"{', bolus U' if self.width == 2 else ''}) for {self.n} environment(s), "
                f"got shape {np.shape(action)}")
        return np.ascontiguousarray(a.reshape(self.n, self.width))
