"""A short PPO training run on ``T1DEnv``, against constant basal and a small PID policy.

Not an asv benchmark (it trains for minutes): the figures it prints are quoted in
``docs/rl.md``. Needs stable-baselines3 (not a dependency of dt1d)::

    pip install stable-baselines3
    python benchmarks/rl_ppo_study.py --steps 50000

The environment: virtual patient adult#001, one-day episodes of random meals, the basal
rate as the only action (``bolus=False``), observations the last 12 CGM readings
(one hour), insulin on board and the time of day, reward minus Magni's risk. Every policy
is scored on the same 10 seeded evaluation episodes (seeds 1000-1009): mean return, time in
range 70-180 mg/dL and time below 70 mg/dL of true glucose.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dt1d.rl import T1DEnv

ENV_OPTIONS = dict(patient="adult#001", bolus=False, history=12, iob=True, time_of_day=True,
                   reward="magni")
EVAL_SEEDS = range(1000, 1010)


def _evaluate(env: T1DEnv, policy) -> dict[str, float]:
    returns, tir, below = [], [], []
    for seed in EVAL_SEEDS:
        obs, info = env.reset(seed=seed)
        total, glucose, done = 0.0, [info["glucose_mg_dl"]], False
        state: dict = {}
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs, info, state))
            total += reward
            glucose.append(info["glucose_mg_dl"])
            done = terminated or truncated
        g = np.asarray(glucose)
        returns.append(total)
        tir.append(100.0 * np.mean((g >= 70) & (g <= 180)))
        below.append(100.0 * np.mean(g < 70))
    return {"return": float(np.mean(returns)), "tir_pct": float(np.mean(tir)),
            "below70_pct": float(np.mean(below))}


def _constant_basal(env: T1DEnv):
    basal = env.patient.basal_insulin_u_per_h
    return lambda obs, info, state: np.array([basal], dtype=np.float32)


def _pid(env: T1DEnv, target: float = 120.0):
    """Basal plus proportional and derivative terms on the CGM, no insulin while low."""
    basal = env.patient.basal_insulin_u_per_h
    kp, kd = basal / 60.0, basal / 6.0  # U/h per mg/dL, per mg/dL/min

    def policy(obs, info, state):
        cgm = float(obs[11])
        slope = (cgm - float(obs[10])) / env.step_min
        rate = basal + kp * (cgm - target) + kd * slope
        return np.array([0.0 if cgm < 80.0 else np.clip(rate, 0.0, 4 * basal)],
                        dtype=np.float32)

    return policy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="PPO training steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = T1DEnv(**ENV_OPTIONS)
    rows = {"constant basal": _evaluate(env, _constant_basal(env)),
            "PID (P + D on CGM)": _evaluate(env, _pid(env))}
    model = PPO("MlpPolicy", T1DEnv(**ENV_OPTIONS), seed=args.seed, verbose=0)
    t0 = time.perf_counter()
    model.learn(total_timesteps=args.steps)
    seconds = time.perf_counter() - t0
    rows[f"PPO, {args.steps:,} steps"] = _evaluate(
        env, lambda obs, info, state: model.predict(obs, deterministic=True)[0])
    print(f"PPO training: {args.steps:,} steps in {seconds:.0f} s (1 torch thread)")
    print(f"{'policy':28s} {'return':>10s} {'TIR %':>7s} {'<70 %':>7s}")
    for name, r in rows.items():
        print(f"{name:28s} {r['return']:10.1f} {r['tir_pct']:7.1f} {r['below70_pct']:7.1f}")


if __name__ == "__main__":
    main()
