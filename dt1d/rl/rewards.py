"""Rewards for the T1D environments: ``reward(prev_glucose, glucose, action, info)``.

A reward is any callable of the previous and the current true (subcutaneous) glucose
[mg/dL], the delivered action ``(basal U/h, bolus U)`` and the step's ``info``. In
:class:`~dt1d.rl.T1DEnv` the glucose values are floats; in
:class:`~dt1d.rl.T1DVectorEnv` they are arrays with one value per environment, so a custom
reward for the vector environment must work on arrays (numpy expressions do). The
built-ins below work on both.

- :func:`risk_diff`: simglucose's default, the fall of Kovatchev's risk
  ``10 f(BG)^2`` with ``f = 1.509 ((ln BG)^1.084 - 5.381)`` (Kovatchev et al. 1997) from
  the previous to the current reading.
- :func:`magni_reward`: minus Magni's risk ``10 (3.5506 ((ln BG)^0.8353 - 3.7932))^2``
  (Magni et al., J Diabetes Sci Technol 2007;1(6):804-12), 0 at the target.
- :func:`time_in_range_reward`: 1 while glucose is in 70-180 mg/dL, else 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["REWARDS", "RewardFn", "kovatchev_f", "kovatchev_risk", "magni_reward", "magni_risk",
           "resolve_reward", "risk_diff", "time_in_range_reward"]

RewardFn = Callable[[Any, Any, Any, dict], Any]


def _log_bg(glucose: Any) -> Any:
    return np.log(np.maximum(glucose, 1.0))


def kovatchev_f(glucose: Any) -> Any:
    """Kovatchev's symmetrised scale ``1.509 ((ln BG)^1.084 - 5.381)`` (BG floored at 1)."""
    if type(glucose) is float:  # T1DEnv's hot path: plain floats, no numpy call
        return 1.509 * (math.log(max(glucose, 1.0)) ** 1.084 - 5.381)
    return 1.509 * (_log_bg(glucose) ** 1.084 - 5.381)


def kovatchev_risk(glucose: Any) -> tuple[Any, Any, Any]:
    """(LBGI, HBGI, risk) of single readings: ``10 f^2`` split by the sign of ``f``."""
    f = kovatchev_f(glucose)
    r = 10.0 * f * f
    low = np.where(f < 0, r, 0.0)
    high = np.where(f > 0, r, 0.0)
    return low, high, r


def risk_diff(prev_glucose: Any, glucose: Any, action: Any = None, info: Any = None) -> Any:
    """simglucose's reward: risk of the previous reading minus risk of the current one."""
    fp, fc = kovatchev_f(prev_glucose), kovatchev_f(glucose)
    return 10.0 * (fp * fp - fc * fc)


def magni_risk(glucose: Any) -> Any:
    """Magni et al. 2007's risk ``10 (3.5506 ((ln BG)^0.8353 - 3.7932))^2``."""
    if type(glucose) is float:
        f = 3.5506 * (math.log(max(glucose, 1.0)) ** 0.8353 - 3.7932)
        return 10.0 * f * f
    f = 3.5506 * (_log_bg(glucose) ** 0.8353 - 3.7932)
    return 10.0 * f * f


def magni_reward(prev_glucose: Any, glucose: Any, action: Any = None, info: Any = None) -> Any:
    """Minus Magni's risk of the current reading (0 at about 139 mg/dL, its minimum)."""
    return -magni_risk(glucose)


def time_in_range_reward(prev_glucose: Any, glucose: Any, action: Any = None,
                         info: Any = None) -> Any:
    """1 while the current glucose is within 70-180 mg/dL, else 0."""
    if type(glucose) is float:
        return 1.0 if 70.0 <= glucose <= 180.0 else 0.0
    g = np.asarray(glucose)
    out = ((g >= 70.0) & (g <= 180.0)).astype(np.float64)
    return float(out) if out.ndim == 0 else out


#: Built-in rewards by name.
REWARDS: dict[str, RewardFn] = {
    "risk_diff": risk_diff,
    "magni": magni_reward,
    "time_in_range": time_in_range_reward,
}


def resolve_reward(reward: str | RewardFn) -> RewardFn:
    """A reward callable from a built-in name or a callable."""
    if isinstance(reward, str):
        if reward not in REWARDS:
            raise ValueError(f"unknown reward {reward!r}; built-ins: {', '.join(REWARDS)}, "
                             "or pass a callable reward(prev_glucose, glucose, action, info)")
        return REWARDS[reward]
    if not callable(reward):
        raise TypeError(f"reward must be a name or a callable, got {type(reward).__name__}")
    return reward
