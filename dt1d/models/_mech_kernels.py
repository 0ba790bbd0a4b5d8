"""numba kernels of the mechanistic twin: row-by-row replay, and the Kalman filter + forecasts.

They run the UVA/Padova model of :mod:`dt1d.physiology.kernels` (its RK4 step and meal
logic) over a patient record held as arrays, one row per CGM step:

- ``pw`` (N_PARAMS, W): one parameter column per time-of-day window (columns differ only
  in Vmx); ``win`` (n,) int64: the window of each row.
- ``carbs_g`` (n,), ``insulin_u`` (n,): amounts per row, spread evenly over its minutes
  (the ReplayBG layout: rates held over the row), no eating-rate limit.
- ``step_min``: the row length [min]; ``substeps``: RK4 steps per row (2 for 5-min rows:
  h = 2.5 min, within RK4's stability limit for the bounded parameters).

A row's glucose is the model's subcutaneous glucose ``G_s / V_G`` at the row's start.
"""

from __future__ import annotations

import numpy as np

from dt1d.physiology._jit import jit
from dt1d.physiology.kernels import FASTMATH, _rk4, meal_minute, new_meal_state
from dt1d.physiology.params import (
    N_STATES,
    P_BW,
    P_VG,
    PMOL_PER_UNIT,
    X_GP,
    X_GS,
    X_GT,
    X_QSTO1,
    X_QSTO2,
)

#: Augmented filter state: the 13 model states plus an unexplained glucose flux
#: [mg/kg/min] added to dG_p/dt (the slowly drifting offset for model error).
N_AUG = N_STATES + 1
I_FLUX = N_STATES

# States that the model keeps non-negative (masses and concentrations; X may be negative).
_NONNEG = (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12)


@jit(fastmath=FASTMATH)
def _advance_row(pw, w, x, meal, carbs_g, insulin_u, flux, step_min, substeps):
    """Advance ``x`` (13,) and ``meal`` in place over one row of ``substeps`` RK4 steps.

    The row's carbs and insulin are spread evenly over it; ``flux`` [mg/kg/min] is added
    to dG_p/dt (operator splitting: it is constant over the step).
    """
    h = step_min / substeps
    carbs_step = carbs_g / substeps
    u = insulin_u / step_min * PMOL_PER_UNIT / pw[P_BW, w]
    inf = np.inf
    for _ in range(substeps):
        eaten, dbar = meal_minute(meal, carbs_step, x[X_QSTO1] + x[X_QSTO2], inf)
        d_in = 1000.0 * eaten / h
        r = _rk4(pw, w, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9],
                 x[10], x[11], x[12], d_in, u, dbar, h)
        for i in range(N_STATES):
            x[i] = r[i]
        if flux != 0.0:
            x[X_GP] = max(x[X_GP] + flux * h, 0.0)


@jit(fastmath=FASTMATH)
def replay(pw, win, x_init, carbs_g, insulin_u, step_min, substeps, out):
    """Subcutaneous glucose [mg/dL] at the start of every row into ``out`` (n,)."""
    x = x_init.copy()
    meal = new_meal_state(x)
    for k in range(carbs_g.shape[0]):
        out[k] = x[X_GS] / pw[P_VG, win[k]]
        _advance_row(pw, win[k], x, meal, carbs_g[k], insulin_u[k], 0.0, step_min, substeps)


@jit(fastmath=FASTMATH)
def replay_batch(pw_batch, win, x_batch, carbs_g, insulin_u, step_min, substeps, out):
    """:func:`replay` for many parameter sets: ``pw_batch`` (m, N_PARAMS, W), ``out`` (m, n)."""
    for j in range(pw_batch.shape[0]):
        replay(pw_batch[j], win, x_batch[j], carbs_g, insulin_u, step_min, substeps, out[j])


@jit(fastmath=FASTMATH)
def delayed_amount(carbs_g, row, delay_rows, delay_frac, known_until):
    """Carbs arriving in ``row`` after the meal delay, from rows up to ``known_until`` only.

    A delay of ``delay_rows + delay_frac`` rows moves each row's carbs later, split
    linearly between two rows (see ``_mech_fit.delay_rows``).
    """
    total = 0.0
    src = row - delay_rows
    if 0 <= src <= known_until and src < carbs_g.shape[0]:
        total += (1.0 - delay_frac) * carbs_g[src]
    src -= 1
    if 0 <= src <= known_until and src < carbs_g.shape[0]:
        total += delay_frac * carbs_g[src]
    return total


@jit(fastmath=FASTMATH)
def _transition(pw, w, xa, meal, carbs_g, insulin_u, step_min, substeps, xout, mout):
    """Augmented state ``xa`` (N_AUG,) after one row, into ``xout``; meal state into ``mout``."""
    for i in range(N_STATES):
        xout[i] = xa[i]
    for i in range(meal.shape[0]):
        mout[i] = meal[i]
    _advance_row(pw, w, xout, mout, carbs_g, insulin_u, xa[I_FLUX], step_min, substeps)
    xout[I_FLUX] = xa[I_FLUX]


@jit(fastmath=FASTMATH)
def kalman_forecast(pw, win, x_init, carbs_g, delay_rows, delay_frac, insulin_u, basal_u,
                    glucose, step_min, substeps, horizon_rows, future_inputs, q_diag, r_var,
                    p0_diag, fd_scale, flux_decay, out):
    """Extended Kalman filter along the record and forecasts from every row into ``out`` (n, k).

    ``win`` has ``n + max(horizon_rows)`` entries (the windows of the forecast rows too).
    At row t the filter assimilates the CGM reading of t (NaN: none), then the model runs
    ``horizon_rows[j]`` rows ahead from the filtered state with the inputs known at t: row
    t's insulin, then basal ``basal_u[t]`` per row; carbs recorded up to t, delayed by the
    meal delay (or all the record's inputs when ``future_inputs``). The flux state is multiplied by ``flux_decay`` per
    forecast row. Rows before the first CGM reading get NaN. The Jacobian of the row
    transition is taken by forward differences with steps ``fd_scale`` (N_AUG,).
    """
    n = carbs_g.shape[0]
    k_out = horizon_rows.shape[0]
    max_h = 0
    for j in range(k_out):
        max_h = max(max_h, horizon_rows[j])
    xa = np.zeros(N_AUG)
    for i in range(N_STATES):
        xa[i] = x_init[i]
    meal = new_meal_state(x_init)
    P = np.zeros((N_AUG, N_AUG))
    F = np.zeros((N_AUG, N_AUG))
    FP = np.zeros((N_AUG, N_AUG))
    base = np.zeros(N_AUG)
    pert = np.zeros(N_AUG)
    xp = np.zeros(N_AUG)
    mbase = np.zeros(meal.shape[0])
    mtmp = np.zeros(meal.shape[0])
    xf = np.zeros(N_STATES)
    mf = np.zeros(meal.shape[0])
    started = False
    for t in range(n):
        w = win[t]
        vg = pw[P_VG, w]
        g = glucose[t]
        # -- measurement update ------------------------------------------------------
        if g == g:  # not NaN
            if not started:
                scale = g * vg / max(xa[X_GP], 1e-9)
                xa[X_GT] *= scale
                xa[X_GP] = g * vg
                xa[X_GS] = g * vg
                for i in range(N_AUG):
                    P[i, i] = p0_diag[i]
                started = True
            else:
                s = P[X_GS, X_GS] / (vg * vg) + r_var
                nu = g - xa[X_GS] / vg
                for i in range(N_AUG):
                    base[i] = P[i, X_GS] / vg / s  # Kalman gain
                for i in range(N_AUG):
                    xa[i] += base[i] * nu
                for i in range(N_AUG):
                    pert[i] = P[X_GS, i] / vg
                for i in range(N_AUG):
                    for j in range(N_AUG):
                        P[i, j] -= base[i] * pert[j]
                for i in range(N_AUG):
                    for j in range(i + 1, N_AUG):
                        v = 0.5 * (P[i, j] + P[j, i])
                        P[i, j] = v
                        P[j, i] = v
                for i in _NONNEG:
                    if xa[i] < 0.0:
                        xa[i] = 0.0
        # -- forecasts from the filtered state -------------------------------------------
        if started:
            for i in range(N_STATES):
                xf[i] = xa[i]
            for i in range(meal.shape[0]):
                mf[i] = meal[i]
            flux = xa[I_FLUX]
            known = n - 1 if future_inputs else t
            for r in range(1, max_h + 1):
                row = t + r - 1
                c = delayed_amount(carbs_g, row, delay_rows, delay_frac, known)
                if r == 1 or (future_inputs and row < n):
                    u = insulin_u[row]
                else:
                    u = basal_u[t]
                wr = win[row]
                _advance_row(pw, wr, xf, mf, c, u, flux, step_min, substeps)
                flux *= flux_decay
                for j in range(k_out):
                    if horizon_rows[j] == r:
                        out[t, j] = xf[X_GS] / pw[P_VG, wr]
        else:
            for j in range(k_out):
                out[t, j] = np.nan
        # -- time update: propagate the state and its covariance through row t -----------
        c_t = delayed_amount(carbs_g, t, delay_rows, delay_frac, t)
        _transition(pw, w, xa, meal, c_t, insulin_u[t], step_min, substeps, base, mbase)
        if started:
            for i in range(N_AUG):
                for j in range(N_AUG):
                    pert[j] = xa[j]
                pert[i] += fd_scale[i]
                _transition(pw, w, pert, meal, c_t, insulin_u[t], step_min, substeps, xp, mtmp)
                for j in range(N_AUG):
                    F[j, i] = (xp[j] - base[j]) / fd_scale[i]
            for i in range(N_AUG):
                for j in range(N_AUG):
                    acc = 0.0
                    for m in range(N_AUG):
                        acc += F[i, m] * P[m, j]
                    FP[i, j] = acc
            for i in range(N_AUG):
                for j in range(i, N_AUG):
                    acc = 0.0
                    for m in range(N_AUG):
                        acc += FP[i, m] * F[j, m]
                    if i == j:
                        acc += q_diag[i]
                    P[i, j] = acc
                    P[j, i] = acc
        for i in range(N_AUG):
            xa[i] = base[i]
        for i in range(meal.shape[0]):
            meal[i] = mbase[i]
