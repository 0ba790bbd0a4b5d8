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

from dt1d.physiology.params import PatientParams
from dt1d.sim._engine import initial_state
from dt1d.sim.pump import InsulinPump
from dt1d.sim.scenario import MINUTES_PER_DAY, Scenario, random_scenario
from dt1d.sim.sensor import CGMSensor
from dt1d.sim.stepper import BatchStepper

_DAY_STEPS_MEALS = 8  # room for one day of random meals (at most 6)


def resolve_patient(patient: object) -> PatientParams:
    """A PatientParams from a virtual-patient name, a PatientParams or a fitted twin."""
    if isinstance(patient, PatientParams):
        return patient
    if isinstance(patient, str):
        from dt1d.sim.patients import virtual_patient

        return virtual_patient(patient)
    pw = getattr(patient, "param_matrix_", None)
    if pw is not None:  # a fitted mechanistic twin: its personal parameters
        pw = np.asarray(pw)
        if pw.shape[0] > 1 and not np.allclose(pw, pw[:1]):
            raise ValueError("this twin has time-of-day sensitivity windows, which the "
                             "environment does not model; fit it with time_of_day=False")
        return PatientParams.from_array(pw[0], name=str(getattr(patient, "name", "twin")))
    raise TypeError(f"a patient is a virtual patient name, a PatientParams or a fitted "
                    f"mechanistic twin, got {type(patient).__name__}")


class Lanes:
    """N environments' arrays; :meth:`reset` and :meth:`step` act on all lanes at once."""

    def __init__(self, patients: Sequence[PatientParams], scenarios: Sequence[Scenario | None],
                 *, step_min: int, sensor: CGMSensor | None, pump: InsulinPump | None,
                 max_episode_steps: int | None, start_hour: float | None,
                 glucose_bounds: tuple[float, float], history: int) -> None:
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
        self.noise_rng: list = [None] * n
        self.meal_rng: list = [None] * n
        self.start_min = np.zeros(n, dtype=np.int64)
        self.elapsed = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.history = int(history)
        self.cgm_hist = np.zeros((self.history, n))
        self.glucose = np.zeros(n)
        self.block = np.zeros((self.step_min, n))
        self.cols = np.arange(n)
        self._ignore = np.ones(n, dtype=bool)

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
            for i, j in enumerate(lanes):
                g = initial_glucose[i]
                if g is not None and np.isfinite(g):
                    pt = PatientParams.from_array(st.p[:, j], name=st.names[j])
                    states[:, i] = initial_state(pt, None, float(g))
        st.set_states(lanes, states)
        hour = self.start_hour if start_hour is None else start_hour
        step = self.step_min
        for j in lanes.tolist():
            s, e = int(self.seed[j]), int(self.episode[j])
            self.noise_rng[j] = np.random.default_rng([s, e, 0])
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
                self.meal_rng[j] = np.random.default_rng([s, e, 1])
                self.day_end[j] = -start  # day 0 is generated below
                self._next_day(j)
            else:
                m = len(sc.meals)
                self.meal_t[j, :m] = [ml.time_min for ml in sc.meals]
                self.meal_g[j, :m] = [ml.carbs_g for ml in sc.meals]
        self.elapsed[lanes] = 0
        self.steps[lanes] = 0
        self._refill_noise(lanes)
        self.glucose[lanes] = st.glucose_sc_mg_dl()[lanes]
        cgm = self._read(lanes)
        self.cgm_hist[:, lanes] = cgm
        self._fill_block()

    def _next_day(self, j: int) -> None:
        """Random meals of lane j's next day, in minutes since its episode start."""
        day_start = self.day_end[j] if np.isfinite(self.day_end[j]) else 0
        day_start = int(day_start)
        plan = random_scenario(1, self.meal_rng[j])
        times = np.array([m.time_min for m in plan.meals], dtype=np.float64) + day_start
        grams = np.array([m.carbs_g for m in plan.meals])
        keep = times >= 0
        times, grams = times[keep], grams[keep]
        self.meal_t[j] = np.inf
        self.meal_g[j] = 0.0
        self.meal_t[j, :times.size] = times
        self.meal_g[j, :times.size] = grams
        self.meal_ptr[j] = 0
        self.day_end[j] = day_start + MINUTES_PER_DAY

    def _refill_noise(self, lanes: np.ndarray) -> None:
        self.noise_pos[lanes] = 0
        if self.sensor is None or lanes.size == 0:
            return
        self.noise[:, lanes] = self.sensor.noise(self.chunk, self.step_min,
                                                 [self.noise_rng[j] for j in lanes.tolist()])

    def _read(self, lanes: np.ndarray | None = None) -> np.ndarray:
        """CGM readings of ``lanes`` (all when None) at their next noise sample."""
        if lanes is None:
            pos = self.noise_pos
            over = pos >= self.chunk
            if over.any():
                self._refill_noise(np.flatnonzero(over))
            noise = self.noise[pos, self.cols]
            self.noise_pos += 1
            return self.stepper.measure(noise)
        noise = self.noise[self.noise_pos[lanes], lanes]
        self.noise_pos[lanes] += 1
        gsc = self.stepper.glucose_sc_mg_dl()[lanes]
        return gsc if self.sensor is None else self.sensor.measure(gsc, noise)

    def _fill_block(self) -> None:
        """Carbs announced in each minute of every lane's next step: ``self.block``."""
        block = self.block
        block.fill(0.0)
        t0 = self.elapsed
        if self.n and (t0 >= self.day_end).any():
            for j in np.flatnonzero(t0 >= self.day_end).tolist():
                self._next_day(j)
        t1 = t0 + self.step_min
        rows = self.cols
        while True:
            nxt = self.meal_t[rows, self.meal_ptr]
            due = nxt < t1
            if not due.any():
                return
            lanes = np.flatnonzero(due)
            ptr = self.meal_ptr[lanes]
            minute = (self.meal_t[lanes, ptr] - t0[lanes]).astype(np.int64)
            np.add.at(block, (np.maximum(minute, 0), lanes), self.meal_g[lanes, ptr])
            self.meal_ptr[lanes] += 1

    # -- stepping ---------------------------------------------------------------------
    def step(self, basal_req: np.ndarray, bolus_req: np.ndarray):
        """Advance every lane one step; (basal, bolus, clipped, eaten, terminated, truncated,
        diverged). Diverged lanes keep their last finite readings and are terminated."""
        st = self.stepper
        basal, bolus, clipped = st.deliver(basal_req, bolus_req)
        eaten = st.step(self.block, basal, bolus, ignore=self._ignore).copy()
        diverged = st.diverged()
        self.elapsed += self.step_min
        self.steps += 1
        g = st.glucose_sc_mg_dl()
        cgm = self._read()
        if diverged.any():
            g = np.where(diverged, self.glucose, g)
            cgm = np.where(diverged, self.cgm_hist[-1], cgm)
        self.glucose = g
        if self.history > 1:
            self.cgm_hist[:-1] = self.cgm_hist[1:]
        self.cgm_hist[-1] = cgm
        self._fill_block()
        terminated = (g < self.g_lo) | (g > self.g_hi) | diverged
        if self.max_steps is None:
            truncated = np.zeros(self.n, dtype=bool)
        else:
            truncated = (self.steps >= self.max_steps) & ~terminated
        return basal, bolus, clipped, eaten, terminated, truncated, diverged

    # -- views ------------------------------------------------------------------------
    def clock_min(self) -> np.ndarray:
        """Minute of the day of every lane."""
        return (self.start_min + self.elapsed) % MINUTES_PER_DAY
