"""Speed and memory of the reinforcement-learning environments (dt1d.rl).

Figures are costs (lower is better), each beside the bare batch kernel's figure for the
same lanes measured in the same run, so that the environments' own overhead is a ratio:

- ``T1DEnv``: seconds per 5-minute step, one thread (issue target: >= 50,000 steps/s,
  i.e. <= 20 us per step); the kernel alone advancing the same patient by 5 minutes;
- ``T1DVectorEnv`` with 1,024 environments: seconds per environment-step on
  ``DT1D_BENCH_SIM_THREADS`` threads (default 2; target >= 3,000,000 environment-steps/s,
  i.e. <= 0.33 us) and on one thread; the kernel alone on the same 1,024 lanes;
- bytes per environment of ``T1DVectorEnv`` (target <= 4 KB), measured with tracemalloc
  as the growth from 64 to 1,088 environments after a full episode with its autoreset;
- simglucose's gymnasium environment, when simglucose is installed in the benchmark
  environment (skipped otherwise), timed in the same run.

Episodes are one day (288 steps) of random meals with a random start time, so every
figure includes the autoresets and the daily meal planning, not only the kernel.
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import numpy as np

from ._common import set_threads, size
from .bench_simulation import _best_seconds

N_VECTOR = size(1024, 16)
STEPS = size(576, 20)  # two episodes: the autoresets are in the figure


def sim_threads() -> int:
    """Threads of the vector benchmarks (the issue's target is for 2 cores)."""
    return int(os.environ.get("DT1D_BENCH_SIM_THREADS", "2"))


def _kernel_step(lanes) -> None:
    """The batch kernel alone: every lane of ``lanes`` advanced by one step."""
    st = lanes.stepper
    lanes.status[:] = -1
    lanes.kernel(st.p, st.x, st.meal, lanes.block, lanes.insulin, st.eat_rate, st.substeps,
                 lanes.step_min, lanes.out, lanes.eaten, lanes.status, lanes.bad)


class EnvSpeed:
    """Seconds per environment-step of T1DEnv and T1DVectorEnv, beside the bare kernel."""

    timeout = 600
    unit = "seconds per environment-step"

    def setup(self):
        from dt1d.rl import T1DEnv, T1DVectorEnv

        set_threads()
        self.one = T1DEnv("adult#001")
        self.one.reset(seed=0)
        self.one_action = np.array([1.0, 0.0])
        self.vec = T1DVectorEnv(N_VECTOR, "adult#001")
        self.vec.reset(seed=0)
        self.vec_action = np.tile([1.0, 0.0], (N_VECTOR, 1))
        for _ in range(3):  # compile / load from cache
            self.one.step(self.one_action)
            self.vec.step(self.vec_action)

    def _env(self, env, action, n: int) -> float:
        return _best_seconds(lambda: [env.step(action) for _ in range(STEPS)], 3, 1) / (
            STEPS * n)

    def _kernel(self, env, n: int) -> float:
        lanes = env._lanes
        saved = lanes.stepper.x.copy()
        seconds = _best_seconds(lambda: [_kernel_step(lanes) for _ in range(STEPS)], 3, 1)
        lanes.stepper.x[:] = saved
        return seconds / (STEPS * n)

    def track_t1denv_one_thread(self):
        """T1DEnv, one patient, 5-minute steps, one thread (target <= 20 us)."""
        set_threads(1)
        return self._env(self.one, self.one_action, 1)

    def track_t1denv_kernel_one_thread(self):
        """The batch kernel alone on T1DEnv's lane: the floor of the figure above."""
        set_threads(1)
        return self._kernel(self.one, 1)

    def track_vector_1024(self):
        """T1DVectorEnv, 1,024 environments, DT1D_BENCH_SIM_THREADS threads (target 0.33 us)."""
        set_threads(sim_threads())
        seconds = self._env(self.vec, self.vec_action, N_VECTOR)
        set_threads()
        return seconds

    def track_vector_1024_kernel(self):
        """The batch kernel alone on the same 1,024 lanes and threads."""
        set_threads(sim_threads())
        seconds = self._kernel(self.vec, N_VECTOR)
        set_threads()
        return seconds

    def track_vector_1024_one_thread(self):
        """T1DVectorEnv, 1,024 environments, one thread."""
        set_threads(1)
        return self._env(self.vec, self.vec_action, N_VECTOR)

    def track_vector_1024_kernel_one_thread(self):
        """The batch kernel alone on the same lanes, one thread."""
        set_threads(1)
        return self._kernel(self.vec, N_VECTOR)


def _traced_bytes(n: int) -> int:
    from dt1d.rl import T1DVectorEnv

    gc.collect()
    tracemalloc.start()
    try:
        env = T1DVectorEnv(n, "adult#001")
        env.reset(seed=0)
        action = np.tile([1.0, 0.0], (n, 1))
        for _ in range(size(300, 10)):
            env.step(action)
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


class EnvMemory:
    """Bytes per environment of T1DVectorEnv (target <= 4 KB)."""

    timeout = 600
    unit = "bytes per environment"

    def setup(self):
        set_threads()
        _traced_bytes(4)  # imports and compiled kernels outside the measurement

    def track_vector_bytes_per_env(self):
        """Growth of traced memory from 64 to 64 + N environments, per environment."""
        small, extra = 64, size(1024, 64)
        return (_traced_bytes(small + extra) - _traced_bytes(small)) / extra


class SimglucoseEnv:
    """simglucose's gymnasium environment, one 3-minute step (skipped without simglucose)."""

    timeout = 600
    unit = "seconds per environment-step"

    def setup(self):
        try:
            import gymnasium
            from simglucose.envs import T1DSimGymnaisumEnv  # noqa: F401  (its spelling)
        except ImportError as exc:  # asv skips a benchmark whose setup raises this
            raise NotImplementedError("simglucose is not installed") from exc
        set_threads()
        gymnasium.register("simglucose/bench-v0",
                           entry_point="simglucose.envs:T1DSimGymnaisumEnv",
                           kwargs={"patient_name": "adult#001"})
        self.env = gymnasium.make("simglucose/bench-v0")
        self.env.reset(seed=0)

    def track_simglucose_step(self):
        """simglucose 0.2.x T1DSimGymnaisumEnv.step with a constant action."""
        action = np.array([0.02], dtype=np.float32)
        steps = size(200, 5)
        return _best_seconds(lambda: [self.env.step(action) for _ in range(steps)], 3, 1) / steps
