"""
Three policies in a vectorised environment
==========================================

One :class:`~dt1d.rl.T1DVectorEnv` holds three copies of virtual patient
``adult#001`` with the same seed, so the same meals and the same sensor noise:
lane 0 keeps the patient's constant basal rate, lane 1 runs a small
proportional-derivative rule on the CGM, lane 2 gives no insulin at all. All
three advance together, one call of the batch kernel per 5-minute step.
"""

import matplotlib.pyplot as plt
import numpy as np

from dt1d.rl import T1DVectorEnv

envs = T1DVectorEnv(3, "adult#001", bolus=False, start_hour=6.0, reward="magni",
                    max_episode_steps=288)
obs, info = envs.reset(seed=[11, 11, 11])  # one seed for all lanes: same meals and noise
basal = envs.patients[0].basal_insulin_u_per_h
target, kp, kd = 120.0, basal / 60.0, basal / 6.0

glucose, insulin, returns = [info["glucose_mg_dl"]], [], np.zeros(3)
last = obs[:, 0].copy()
for _ in range(288):
    cgm = obs[:, 0]
    pd_rate = basal + kp * (cgm[1] - target) + kd * (cgm[1] - last[1]) / 5.0
    rates = np.array([basal, 0.0 if cgm[1] < 80 else np.clip(pd_rate, 0.0, 4 * basal), 0.0])
    last = cgm.copy()
    obs, rewards, terminated, truncated, info = envs.step(rates[:, None])
    returns += rewards
    glucose.append(info["glucose_mg_dl"])
    insulin.append(info["basal_u_per_h"])
    if (terminated | truncated).any():
        break

glucose, insulin = np.array(glucose), np.array(insulin)
names = ["constant basal", "PD on CGM", "no insulin"]
for name, g, ret in zip(names, glucose.T, returns, strict=True):
    tir = 100 * np.mean((g >= 70) & (g <= 180))
    print(f"{name:15s} return {ret:9.1f}  time in range {tir:5.1f} %  mean {g.mean():5.0f} mg/dL")

# %%
# True glucose of the three lanes and the basal rate each delivered; meals
# come from the seeded random plan (breakfast, lunch and dinner around 7, 12
# and 18 h).

hours = 6 + np.arange(len(glucose)) * 5 / 60
fig, (ax_g, ax_i) = plt.subplots(2, 1, figsize=(8, 5), sharex=True,
                                 gridspec_kw={"height_ratios": [3, 1]})
ax_g.axhspan(70, 180, color="tab:green", alpha=0.1, label="70-180 mg/dL")
for name, g in zip(names, glucose.T, strict=True):
    ax_g.plot(hours, g, label=name)
ax_g.set_ylabel("glucose [mg/dL]")
ax_g.legend(loc="upper left", fontsize=8)
for name, u in zip(names, insulin.T, strict=True):
    ax_i.step(hours[1:], u, where="pre", label=name)
ax_i.set_ylabel("basal [U/h]")
ax_i.set_xlabel("hours from midnight of the first day")
fig.suptitle("adult#001, one day, three policies in one T1DVectorEnv")
fig.tight_layout()
