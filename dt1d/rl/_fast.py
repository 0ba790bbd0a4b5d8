"""The environments' hot path: what happens around the batch kernel in each step, jitted.

One call of :func:`deliver` (pump limits, the insulin of the interval), one call of the
batch kernel, one call of :func:`advance` (readings, termination, risk, the meals of the
next step, observations, info) per step of all lanes: no Python loop over lanes and a
handful of calls per step whatever the number of lanes. The arithmetic follows
:class:`dt1d.sim.stepper.BatchStepper` (``deliver``, ``measure``, ``insulin_on_board_u``,
``carbs_on_board_g``) operation for operation, so the environments reproduce
:func:`dt1d.sim.simulate`.
"""

from __future__ import annotations

import math

import numpy as np

from dt1d._numba import jit
from dt1d.physiology.kernels import FASTMATH
from dt1d.physiology.layout import (
    M_PLANNED_G,
    P_BW,
    PMOL_PER_UNIT,
    X_GP,
    X_GS,
    X_ISC1,
    X_ISC2,
    X_QGUT,
    X_QSTO1,
    X_QSTO2,
)

# rows of the info array
I_GLUCOSE, I_CGM, I_PLASMA, I_LBGI, I_HBGI, I_RISK, I_IOB, I_COB = range(8)
I_BASAL, I_BOLUS, I_EATEN, I_ANNOUNCED, I_MINUTE, I_MINUTE_OF_DAY = range(8, 14)
N_INFO = 14
#: info keys, in the rows' order
INFO_KEYS = ("glucose_mg_dl", "cgm_mg_dl", "glucose_plasma_mg_dl", "lbgi", "hbgi", "risk",
             "iob_u", "cob_g", "basal_u_per_h", "bolus_u", "carbs_eaten_g",
             "carbs_announced_g", "minute", "minute_of_day")

# flags returned by advance
NEED_NOISE = 1  # some lane used its last noise sample: refill before the next step
NEED_DAY = 2  # some lane needs its next day of random meals before its block is filled

# observation features (bits of the ``features`` argument)
OBS_IOB, OBS_COB, OBS_TIME, OBS_MEAL = 1, 2, 4, 8

_TWO_PI_PER_DAY = 2.0 * math.pi / 1440.0


@jit(fastmath=FASTMATH)
def deliver(action, bolus_col, pump, insulin, basal_out, bolus_out, clipped, status):
    """Pump delivery of ``action`` (n, width): basal [U/h] column 0, bolus [U] ``bolus_col``.

    ``pump``: [has_pump, max basal, max bolus, basal increment, bolus increment]. NaN and
    negative requests become 0, requests beyond the limits the limit (``clipped``); doses
    are rounded to the increments. Fills ``insulin`` (step_min, n) [U/min] and sets
    ``status`` to -1 for the kernel.
    """
    n = action.shape[0]
    has = pump[0] > 0.0
    hi_b = pump[1] if has else np.inf
    hi_u = pump[2] if has else np.inf
    for j in range(n):
        b = action[j, 0]
        u = action[j, bolus_col] if bolus_col > 0 else 0.0
        c = False
        if math.isnan(b):
            b = 0.0
            c = True
        if math.isnan(u):
            u = 0.0
            c = True
        if b < 0.0:
            b = 0.0
            c = True
        elif b > hi_b:
            b = hi_b
            c = True
        if u < 0.0:
            u = 0.0
            c = True
        elif u > hi_u:
            u = hi_u
            c = True
        if has:
            b = np.rint(b / pump[3]) * pump[3]
            u = np.rint(u / pump[4]) * pump[4]
        basal_out[j] = b
        bolus_out[j] = u
        clipped[j] = c
        status[j] = -1
        rate = b / 60.0
        for k in range(insulin.shape[0]):
            insulin[k, j] = rate
        insulin[0, j] += u


@jit(fastmath=FASTMATH)
def kovatchev(g):
    """(LBGI, HBGI, risk) of one reading: ``10 f^2`` split by the sign of ``f``."""
    f = 1.509 * (math.log(max(g, 1.0)) ** 1.084 - 5.381)
    r = 10.0 * f * f
    if f < 0.0:
        return r, 0.0, r
    if f > 0.0:
        return 0.0, r, r
    return 0.0, 0.0, r


@jit(fastmath=FASTMATH)
def finish_lane(j, step_min, elapsed, start_min, meal_t, meal_g, meal_ptr, block, cgm_hist,
                x, meal, p, features, obs, info):
    """Lane ``j``'s meals of the next step (``block``), then its observation and info rows."""
    t0 = elapsed[j]
    t1 = t0 + step_min
    for k in range(block.shape[0]):
        block[k, j] = 0.0
    announced = 0.0
    while meal_t[j, meal_ptr[j]] < t1:
        k = meal_ptr[j]
        minute = int(meal_t[j, k] - t0)
        if minute < 0:
            minute = 0
        block[minute, j] += meal_g[j, k]
        meal_ptr[j] = k + 1
    for k in range(block.shape[0]):
        announced += block[k, j]
    iob = (x[X_ISC1, j] + x[X_ISC2, j]) * p[P_BW, j] / PMOL_PER_UNIT
    cob = (x[X_QSTO1, j] + x[X_QSTO2, j] + x[X_QGUT, j]) / 1000.0 + meal[M_PLANNED_G, j]
    clock = (start_min[j] + t0) % 1440
    info[I_IOB, j] = iob
    info[I_COB, j] = cob
    info[I_ANNOUNCED, j] = announced
    info[I_MINUTE, j] = t0
    info[I_MINUTE_OF_DAY, j] = clock
    h = cgm_hist.shape[0]
    for k in range(h):
        obs[j, k] = cgm_hist[k, j]
    c = h
    if features & OBS_IOB:  # NaN only in a diverged lane: shown as 0
        obs[j, c] = iob if iob > 0.0 else 0.0
        c += 1
    if features & OBS_COB:
        obs[j, c] = cob if cob > 0.0 else 0.0
        c += 1
    if features & OBS_TIME:
        angle = clock * _TWO_PI_PER_DAY
        obs[j, c] = math.sin(angle)
        obs[j, c + 1] = math.cos(angle)
        c += 2
    if features & OBS_MEAL:
        obs[j, c] = announced


@jit(fastmath=FASTMATH)
def finish_lanes(lanes, step_min, elapsed, start_min, meal_t, meal_g, meal_ptr, block,
                 cgm_hist, x, meal, p, features, obs, info):
    """:func:`finish_lane` for each lane in ``lanes``."""
    for i in range(lanes.shape[0]):
        finish_lane(lanes[i], step_min, elapsed, start_min, meal_t, meal_g, meal_ptr, block,
                    cgm_hist, x, meal, p, features, obs, info)


@jit(fastmath=FASTMATH)
def read_lanes(lanes, x, vg, noise, noise_pos, sensor, glucose, cgm_hist, info):
    """First reading of freshly reset ``lanes``: true glucose, CGM, history, risk rows."""
    for i in range(lanes.shape[0]):
        j = lanes[i]
        g = x[X_GS, j] / vg[j]
        cgm = g
        if sensor[0] > 0.0:
            cgm = min(max(g + noise[noise_pos[j], j], sensor[1]), sensor[2])
        noise_pos[j] += 1
        glucose[j] = g
        for k in range(cgm_hist.shape[0]):
            cgm_hist[k, j] = cgm
        low, high, risk = kovatchev(g)
        info[I_GLUCOSE, j] = g
        info[I_CGM, j] = cgm
        info[I_PLASMA, j] = x[X_GP, j] / vg[j]
        info[I_LBGI, j] = low
        info[I_HBGI, j] = high
        info[I_RISK, j] = risk
        info[I_BASAL, j] = 0.0
        info[I_BOLUS, j] = 0.0
        info[I_EATEN, j] = 0.0


@jit(fastmath=FASTMATH)
def advance(x, vg, p, meal, status, eaten, basal, bolus, step_min, noise, noise_pos, sensor,
            glucose, cgm_hist, elapsed, steps, max_steps, bounds, start_min, meal_t, meal_g,
            meal_ptr, day_end, block, features, obs, info, terminated, truncated, diverged):
    """Everything after the kernel in a step of every lane; returns NEED_* flags.

    Diverged lanes keep their last finite readings and are terminated. A lane flagged
    NEED_DAY has its block, observation and the rows of ``finish_lane`` left to the caller
    (after it plans the lane's next day of meals).
    """
    n = x.shape[1]
    h = cgm_hist.shape[0]
    chunk = noise.shape[0]
    has_sensor = sensor[0] > 0.0
    flags = 0
    for j in range(n):
        div = status[j] >= 0
        g = x[X_GS, j] / vg[j]
        pos = noise_pos[j]
        cgm = g
        if has_sensor:
            cgm = min(max(g + noise[pos, j], sensor[1]), sensor[2])
        noise_pos[j] = pos + 1
        if pos + 1 >= chunk:
            flags |= NEED_NOISE
        if div:
            g = glucose[j]
            cgm = cgm_hist[h - 1, j]
        glucose[j] = g
        for k in range(h - 1):
            cgm_hist[k, j] = cgm_hist[k + 1, j]
        cgm_hist[h - 1, j] = cgm
        elapsed[j] += step_min
        steps[j] += 1
        term = g < bounds[0] or g > bounds[1] or div
        terminated[j] = term
        truncated[j] = (max_steps > 0 and steps[j] >= max_steps) and not term
        diverged[j] = div
        low, high, risk = kovatchev(g)
        info[I_GLUCOSE, j] = g
        info[I_CGM, j] = cgm
        info[I_PLASMA, j] = x[X_GP, j] / vg[j]
        info[I_LBGI, j] = low
        info[I_HBGI, j] = high
        info[I_RISK, j] = risk
        info[I_BASAL, j] = basal[j]
        info[I_BOLUS, j] = bolus[j]
        info[I_EATEN, j] = eaten[0, j]
        if elapsed[j] >= day_end[j]:
            flags |= NEED_DAY
        else:
            finish_lane(j, step_min, elapsed, start_min, meal_t, meal_g, meal_ptr, block,
                        cgm_hist, x, meal, p, features, obs, info)
    return flags
