"""Reinforcement-learning environments (gymnasium) on dt1d's batch simulator.

``T1DEnv``: one virtual patient, ``PatientParams`` or fitted mechanistic twin per
environment; ``T1DVectorEnv``: many, stepped together by one batch-kernel call.
Importing this package registers ``dt1d/T1D-v0`` with gymnasium, so
``gymnasium.make("dt1d/T1D-v0", patient="adult#001")`` and
``gymnasium.make_vec("dt1d/T1D-v0", num_envs=N)`` (the native vector env) work. Needs the
``rl`` extra (``pip install "dt1d[rl]"``).
"""

from __future__ import annotations

try:
    import gymnasium as _gym
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('dt1d.rl needs gymnasium: pip install "dt1d[rl]"') from exc

from dt1d.rl._obs import ObservationSpec
from dt1d.rl.env import T1DEnv
from dt1d.rl.rewards import REWARDS, magni_reward, risk_diff, time_in_range_reward
from dt1d.rl.vector import T1DVectorEnv

__all__ = ["ENV_ID", "REWARDS", "ObservationSpec", "T1DEnv", "T1DVectorEnv", "magni_reward", "risk_diff",
           "time_in_range_reward"]

#: The gymnasium id of :class:`T1DEnv`.
ENV_ID = "dt1d/T1D-v0"

if ENV_ID not in _gym.registry:
    _gym.register(id=ENV_ID, entry_point="dt1d.rl.env:T1DEnv",
                  vector_entry_point="dt1d.rl.vector:T1DVectorEnv")
