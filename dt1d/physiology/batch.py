"""Batch simulation kernels: many patients at once, fixed-step RK4 or adaptive Dormand-Prince.

Arrays are laid out struct-of-arrays with the patient as the last (contiguous) axis, so the
RK4 kernel's inner loop over patients vectorises; ``prange`` spreads chunks of patients
over threads. Shapes (``n`` patients, ``m`` minutes, ``r = m // record_every + 1`` rows):

- ``p`` (N_PARAMS, n) parameters; ``x`` (13, n) states, advanced in place;
  ``meal`` (N_MEAL, n) meal states, advanced in place;
- ``carbs`` (m, n) carbohydrate *announced* per minute [g] (the kernel applies the
  eating-rate limit ``eat_rate`` [g/min], ``np.inf`` for none); ``insulin`` (m, n) [U/min];
- ``out`` (r, 13, n) every state, or (r, N_GLUCOSE_OUT, n) for G_s and G_p only (rows
  ``OUT_GS``, ``OUT_GP``) [mg/kg], row ``i``
  holding the state at the start of minute ``i * record_every`` (the last row: the end);
- ``eaten`` (r - 1, n) carbohydrate eaten in each recording block [g] (overwritten);
- ``status`` (n,) int64: -1, or the first minute after which a state was not finite, with
  that state copied into ``bad`` (13, n). Diverged patients keep integrating NaNs.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from dt1d._numba import jit
from dt1d.physiology.kernels import (
    CHUNK,
    CHUNK_ROWS,
    FASTMATH,
    N_MEAL,
    ROW_D_IN,
    ROW_DBAR,
    ROW_MEAL,
    ROW_U,
    deriv_lane,
    meal_minute,
    meal_step,
    rk4_chunk,
)
from dt1d.physiology.layout import (
    M_FOOD_TAKEN_G,
    M_LAST_EATEN_G,
    M_PLANNED_G,
    M_QSTO_START_MG,
    N_PARAMS,
    N_STATES,
    P_BW,
    PMOL_PER_UNIT,
    X_GP,
    X_GS,
    X_GT,
    X_I1,
    X_ID,
    X_IL,
    X_IP,
    X_ISC1,
    X_ISC2,
    X_QGUT,
    X_QSTO1,
    X_QSTO2,
    X_X,
)

__all__ = [
    "CHUNK",
    "N_GLUCOSE_OUT",
    "OUT_GP",
    "OUT_GS",
    "dopri_batch",
    "dopri_batch_serial",
    "rk4_batch",
    "rk4_batch_serial",
]

#: Rows of the glucose-only output ``out`` (r, N_GLUCOSE_OUT, n): G_s, then G_p [mg/kg].
OUT_GS = 0
OUT_GP = 1
N_GLUCOSE_OUT = 2

@jit(fastmath=FASTMATH)
def _record(xs, out, row, lo, m, full):
    """Copy lanes ``0..m-1`` of a flat chunk array into ``out[row]`` (patients lo..lo+m-1)."""
    if full:
        for i in range(N_STATES):
            for jj in range(m):
                out[row, i, lo + jj] = xs[i * CHUNK + jj]
    else:
        for jj in range(m):
            out[row, OUT_GS, lo + jj] = xs[X_GS * CHUNK + jj]
            out[row, OUT_GP, lo + jj] = xs[X_GP * CHUNK + jj]


@jit(fastmath=FASTMATH)
def _check(xs, k, lo, m, status, bad):
    """Mark lanes whose state stopped being finite after minute ``k`` (first time only)."""
    for jj in range(m):
        total = 0.0
        for i in range(N_STATES):
            total += xs[i * CHUNK + jj]
        if not np.isfinite(total) and status[lo + jj] < 0:
            status[lo + jj] = k
            for i in range(N_STATES):
                bad[i, lo + jj] = xs[i * CHUNK + jj]


@jit(fastmath=FASTMATH)
def _rk4_patients(p, x, meal, carbs, insulin, eat_rate, substeps, record_every, out, eaten,
                  status, bad, lo, hi):
    """RK4 for patients ``lo..hi-1`` (at most CHUNK): one vectorised chunk of lanes.

    States, inputs and meal states live in one flat local array for the whole run
    (``kernels.rk4_chunk`` layout) and go back to ``x``/``meal`` at the end.
    """
    n_min = carbs.shape[0]
    full = out.shape[1] == N_STATES
    h = 1.0 / substeps
    m = hi - lo
    ps = np.empty((N_PARAMS, m))
    xs = np.zeros(CHUNK_ROWS * CHUNK)
    for jj in range(m):
        for i in range(N_PARAMS):
            ps[i, jj] = p[i, lo + jj]
        for i in range(N_STATES):
            xs[i * CHUNK + jj] = x[i, lo + jj]
        for i in range(N_MEAL):
            xs[(ROW_MEAL + i) * CHUNK + jj] = meal[i, lo + jj]
    for k in range(n_min):
        block = k // record_every
        if k % record_every == 0:
            _record(xs, out, block, lo, m, full)
            for jj in range(m):
                eaten[block, lo + jj] = 0.0
        for jj in range(m):
            j = lo + jj
            e, planned, qsto0, food = meal_step(
                xs[(ROW_MEAL + M_PLANNED_G) * CHUNK + jj], xs[(ROW_MEAL + M_LAST_EATEN_G) * CHUNK + jj],
                xs[(ROW_MEAL + M_QSTO_START_MG) * CHUNK + jj],
                xs[(ROW_MEAL + M_FOOD_TAKEN_G) * CHUNK + jj],
                carbs[k, j], xs[X_QSTO1 * CHUNK + jj] + xs[X_QSTO2 * CHUNK + jj], eat_rate)
            xs[(ROW_MEAL + M_PLANNED_G) * CHUNK + jj] = planned
            xs[(ROW_MEAL + M_LAST_EATEN_G) * CHUNK + jj] = e
            xs[(ROW_MEAL + M_QSTO_START_MG) * CHUNK + jj] = qsto0
            xs[(ROW_MEAL + M_FOOD_TAKEN_G) * CHUNK + jj] = food
            eaten[block, j] += e
            xs[ROW_D_IN * CHUNK + jj] = 1000.0 * e
            xs[ROW_DBAR * CHUNK + jj] = qsto0 + 1000.0 * food
            xs[ROW_U * CHUNK + jj] = insulin[k, j] * PMOL_PER_UNIT / ps[P_BW, jj]
        for _ in range(substeps):
            rk4_chunk(ps, xs, h, m)
        _check(xs, k, lo, m, status, bad)
    if n_min % record_every == 0:
        _record(xs, out, n_min // record_every, lo, m, full)
    for jj in range(m):
        for i in range(N_STATES):
            x[i, lo + jj] = xs[i * CHUNK + jj]
        for i in range(N_MEAL):
            meal[i, lo + jj] = xs[(ROW_MEAL + i) * CHUNK + jj]


@jit(fastmath=FASTMATH, parallel=True)
def rk4_batch(p, x, meal, carbs, insulin, eat_rate, substeps, record_every, out, eaten,
              status, bad):
    """Advance ``n`` patients over ``m`` minutes with RK4 steps of ``1/substeps`` minute.

    Chunks of CHUNK patients run in parallel (``prange``); use :func:`rk4_batch_serial`
    for a few patients, where starting threads costs more than it saves.
    """
    n = x.shape[1]
    for c in prange((n + CHUNK - 1) // CHUNK):
        _rk4_patients(p, x, meal, carbs, insulin, eat_rate, substeps, record_every, out,
                      eaten, status, bad, c * CHUNK, min(n, (c + 1) * CHUNK))


@jit(fastmath=FASTMATH)
def rk4_batch_serial(p, x, meal, carbs, insulin, eat_rate, substeps, record_every, out,
                     eaten, status, bad):
    """:func:`rk4_batch` on the calling thread only (same arithmetic, bit for bit)."""
    n = x.shape[1]
    for c in range((n + CHUNK - 1) // CHUNK):
        _rk4_patients(p, x, meal, carbs, insulin, eat_rate, substeps, record_every, out,
                      eaten, status, bad, c * CHUNK, min(n, (c + 1) * CHUNK))


# Dormand-Prince 5(4) tableau (Dormand & Prince 1980; Hairer, Norsett & Wanner, Table 5.2).
_A21 = 1.0 / 5.0
_A31, _A32 = 3.0 / 40.0, 9.0 / 40.0
_A41, _A42, _A43 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
_A51, _A52, _A53, _A54 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
_A61, _A62, _A63 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0
_A64, _A65 = 49.0 / 176.0, -5103.0 / 18656.0
_B1, _B3, _B4, _B5, _B6 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0
# states under simglucose's non-negativity mask
_MASKED = (X_GP, X_GT, X_IP, X_IL, X_ISC1, X_ISC2, X_GS)
# error coefficients b - b_hat
_E1, _E3, _E4 = 71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0
_E5, _E6, _E7 = -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0


@jit(fastmath=FASTMATH)
def _f(p, j, y, d_in, u, dbar, out):
    r = deriv_lane(p, j, y[X_QSTO1], y[X_QSTO2], y[X_QGUT], y[X_GP], y[X_GT], y[X_IP],
                   y[X_X], y[X_I1], y[X_ID], y[X_IL], y[X_ISC1], y[X_ISC2], y[X_GS], d_in, u,
                   dbar)
    out[X_QSTO1] = r[X_QSTO1]
    out[X_QSTO2] = r[X_QSTO2]
    out[X_QGUT] = r[X_QGUT]
    out[X_GP] = r[X_GP]
    out[X_GT] = r[X_GT]
    out[X_IP] = r[X_IP]
    out[X_X] = r[X_X]
    out[X_I1] = r[X_I1]
    out[X_ID] = r[X_ID]
    out[X_IL] = r[X_IL]
    out[X_ISC1] = r[X_ISC1]
    out[X_ISC2] = r[X_ISC2]
    out[X_GS] = r[X_GS]


@jit(fastmath=FASTMATH)
def _dopri_minute(p, j, y, d_in, u, dbar, h, rtol, atol, k, tmp, ynew):
    """Integrate ``y`` over one minute with adaptive DP5(4); return (next h, RHS calls)."""
    nfev = 0
    _f(p, j, y, d_in, u, dbar, k[0])
    nfev += 1
    t = 0.0
    rejected = False
    for _ in range(1_000_000):
        if t >= 1.0:
            break
        step = min(h, 1.0 - t)
        last = step >= 1.0 - t
        for i in range(N_STATES):
            tmp[i] = y[i] + step * _A21 * k[0, i]
        _f(p, j, tmp, d_in, u, dbar, k[1])
        for i in range(N_STATES):
            tmp[i] = y[i] + step * (_A31 * k[0, i] + _A32 * k[1, i])
        _f(p, j, tmp, d_in, u, dbar, k[2])
        for i in range(N_STATES):
            tmp[i] = y[i] + step * (_A41 * k[0, i] + _A42 * k[1, i] + _A43 * k[2, i])
        _f(p, j, tmp, d_in, u, dbar, k[3])
        for i in range(N_STATES):
            tmp[i] = y[i] + step * (_A51 * k[0, i] + _A52 * k[1, i] + _A53 * k[2, i]
                                    + _A54 * k[3, i])
        _f(p, j, tmp, d_in, u, dbar, k[4])
        for i in range(N_STATES):
            tmp[i] = y[i] + step * (_A61 * k[0, i] + _A62 * k[1, i] + _A63 * k[2, i]
                                    + _A64 * k[3, i] + _A65 * k[4, i])
        _f(p, j, tmp, d_in, u, dbar, k[5])
        for i in range(N_STATES):
            ynew[i] = y[i] + step * (_B1 * k[0, i] + _B3 * k[2, i] + _B4 * k[3, i]
                                     + _B5 * k[4, i] + _B6 * k[5, i])
        _f(p, j, ynew, d_in, u, dbar, k[6])
        nfev += 6
        acc = 0.0
        for i in range(N_STATES):
            e = step * (_E1 * k[0, i] + _E3 * k[2, i] + _E4 * k[3, i] + _E5 * k[4, i]
                        + _E6 * k[5, i] + _E7 * k[6, i])
            sc = atol + rtol * max(abs(y[i]), abs(ynew[i]))
            acc += (e / sc) ** 2
        err = np.sqrt(acc / N_STATES)
        if not np.isfinite(err):
            for i in range(N_STATES):
                y[i] = np.nan
            return h, nfev
        if err <= 1.0:
            factor = 10.0 if err == 0.0 else min(10.0, max(0.2, 0.9 * err ** -0.2))
            if rejected:
                factor = min(1.0, factor)
            rejected = False
            t = 1.0 if last else t + step
            for i in range(N_STATES):
                y[i] = ynew[i]
                k[0, i] = k[6, i]  # first same as last
            for i in _MASKED:  # as the RK4 kernel: masked states do not step below zero
                if y[i] < 0.0:
                    y[i] = 0.0
            if not last or step >= h:
                h = step * factor
            else:  # a step shortened to hit the minute keeps the proposed h
                h = max(h, step * factor)
        else:
            rejected = True
            h = step * max(0.2, 0.9 * err ** -0.2)
            if h < 1e-12:
                for i in range(N_STATES):
                    y[i] = np.nan
                return h, nfev
    return h, nfev


@jit(fastmath=FASTMATH)
def _record_one(y, out, row, j, full):
    if full:
        for i in range(N_STATES):
            out[row, i, j] = y[i]
    else:
        out[row, OUT_GS, j] = y[X_GS]
        out[row, OUT_GP, j] = y[X_GP]


@jit(fastmath=FASTMATH)
def _dopri_patient(p, x, meal, carbs, insulin, eat_rate, rtol, atol, record_every, out, eaten,
                   status, bad, nfev, j):
    """Adaptive DP5(4) over all minutes for patient ``j``."""
    n_min = carbs.shape[0]
    full = out.shape[1] == N_STATES
    y = np.empty(N_STATES)
    tmp = np.empty(N_STATES)
    ynew = np.empty(N_STATES)
    k = np.empty((7, N_STATES))
    ms = np.empty(N_MEAL)
    for i in range(N_STATES):
        y[i] = x[i, j]
    for i in range(N_MEAL):
        ms[i] = meal[i, j]
    h = 0.1
    calls = 0
    for kk in range(n_min):
        block = kk // record_every
        if kk % record_every == 0:
            _record_one(y, out, block, j, full)
            eaten[block, j] = 0.0
        e, db = meal_minute(ms, carbs[kk, j], y[X_QSTO1] + y[X_QSTO2], eat_rate)
        eaten[block, j] += e
        u = insulin[kk, j] * PMOL_PER_UNIT / p[P_BW, j]
        h, c = _dopri_minute(p, j, y, 1000.0 * e, u, db, h, rtol, atol, k, tmp, ynew)
        calls += c
        if not np.isfinite(np.sum(y)) and status[j] < 0:
            status[j] = kk
            for i in range(N_STATES):
                bad[i, j] = y[i]
    if n_min % record_every == 0:
        _record_one(y, out, n_min // record_every, j, full)
    for i in range(N_STATES):
        x[i, j] = y[i]
    for i in range(N_MEAL):
        meal[i, j] = ms[i]
    nfev[j] = calls


@jit(fastmath=FASTMATH, parallel=True)
def dopri_batch(p, x, meal, carbs, insulin, eat_rate, rtol, atol, record_every, out, eaten,
                status, bad, nfev):
    """Advance ``n`` patients over ``m`` minutes with adaptive Dormand-Prince 5(4).

    Each minute (inputs constant) is integrated to the tolerance ``rtol``/``atol`` with the
    step size carried over from the previous minute; ``nfev`` (n,) counts RHS calls.
    """
    for j in prange(x.shape[1]):
        _dopri_patient(p, x, meal, carbs, insulin, eat_rate, rtol, atol, record_every, out,
                       eaten, status, bad, nfev, j)


@jit(fastmath=FASTMATH)
def dopri_batch_serial(p, x, meal, carbs, insulin, eat_rate, rtol, atol, record_every, out,
                       eaten, status, bad, nfev):
    """:func:`dopri_batch` on the calling thread only."""
    for j in range(x.shape[1]):
        _dopri_patient(p, x, meal, carbs, insulin, eat_rate, rtol, atol, record_every, out,
                       eaten, status, bad, nfev, j)
