"""numba kernels of the mechanistic twin: row-by-row replay, and the Kalman filter + forecasts.

They run the UVA/Padova model of :mod:`dt1d.physiology.kernels` (its RK4 step and meal
logic) over a patient record held as arrays, one row per CGM step:

- ``pw`` (W, N_PARAMS): one C-contiguous parameter vector per time-of-day window (they
  differ only in insulin sensitivity, Vmx and kp3); ``win`` (n,) int64: the window of each row.
- ``carbs_g`` (n,), ``insulin_u`` (n,): amounts per row, spread evenly over its minutes
  (the ReplayBG layout: rates held over the row), no eating-rate limit.
- ``step_min``: the row length [min]; ``substeps``: RK4 steps per row (2 for 5-min rows:
  h = 2.5 min, within RK4's stability limit for the bounded parameters).

A row's glucose is the model's subcutaneous glucose ``G_s / V_G`` at the row's start.
"""

from __future__ import annotations

import numpy as np

from dt1d._numba import jit
from dt1d.physiology.kernels import FASTMATH, M_QSTO_START_MG, N_MEAL, meal_minute, rk4_step
from dt1d.physiology.layout import (
    I_BIAS,
    I_FLUX,
    N_AUG,
    N_STATES,
    P_VG,
    X_GP,
    X_GS,
    X_GT,
    X_QSTO1,
    X_QSTO2,
    X_X,
)

# Augmented filter state (dt1d.physiology.layout): the 13 model states, an unexplained
# glucose flux [mg/kg/min] added to dG_p/dt (model error that moves glucose) at I_FLUX, and
# a slowly drifting CGM offset [mg/dL] (sensor error and model error that does not), an
# AR(1) process, at I_BIAS; N_AUG states in all.

#: Augmented states that carry uncertainty in the filter: G_p, G_t, X, G_s and the flux.
ACTIVE = (X_GP, X_GT, X_X, X_GS, I_FLUX, I_BIAS)
#: Positions of G_s and of the CGM offset within :data:`ACTIVE`.
A_GS = ACTIVE.index(X_GS)
A_BIAS = ACTIVE.index(I_BIAS)


@jit(fastmath=FASTMATH)
def _new_meal(x):
    """An empty meal state (nothing planned or eaten) for state ``x``.

    Same as ``physiology.kernels.new_meal_state``, built here because numba (0.68, with
    the on-disk cache) fails to box that function's result when Python calls it after a
    cached kernel that inlines it was loaded ("NRT_adapt_ndarray_to_python: descr is NULL").
    """
    m = np.zeros(N_MEAL)
    m[M_QSTO_START_MG] = x[X_QSTO1] + x[X_QSTO2]
    return m


@jit(fastmath=FASTMATH)
def _rk4_inplace(pw, w, x, carbs_g_per_min, insulin_u_per_min, dbar_mg, h):
    """One RK4 step of ``h`` min of state ``x`` (in place) with window ``w``'s parameters."""
    r = rk4_step(x, pw[w], carbs_g_per_min, insulin_u_per_min, dbar_mg, h)
    for i in range(N_STATES):
        x[i] = r[i]


@jit(fastmath=FASTMATH)
def _advance_row(pw, w, x, meal, carbs_g, insulin_u, flux, step_min, substeps):
    """Advance ``x`` (13,) and ``meal`` in place over one row of ``substeps`` RK4 steps.

    The row's carbs and insulin are spread evenly over it; ``flux`` [mg/kg/min] is added
    to dG_p/dt (operator splitting: it is constant over the step).
    """
    h = step_min / substeps
    carbs_step = carbs_g / substeps
    u = insulin_u / step_min
    inf = np.inf
    for _ in range(substeps):
        eaten, dbar = meal_minute(meal, carbs_step, x[X_QSTO1] + x[X_QSTO2], inf)
        _rk4_inplace(pw, w, x, eaten / h, u, dbar, h)
        if flux != 0.0:
            x[X_GP] = max(x[X_GP] + flux * h, 0.0)


@jit(fastmath=FASTMATH)
def replay(pw, win, x_init, carbs_g, insulin_u, step_min, substeps, out):
    """Subcutaneous glucose [mg/dL] at the start of every row into ``out`` (n,)."""
    x = x_init.copy()
    meal = _new_meal(x)
    for k in range(carbs_g.shape[0]):
        out[k] = x[X_GS] / pw[win[k], P_VG]
        _advance_row(pw, win[k], x, meal, carbs_g[k], insulin_u[k], 0.0, step_min, substeps)


@jit(fastmath=FASTMATH)
def advance_lanes(pw_batch, w, x_batch, meal_batch, carbs_g, insulin_u, step_min, substeps):
    """One row of many lanes in place: lane ``j`` runs ``pw_batch[j]`` (W, N_PARAMS) in window
    ``w`` from ``x_batch[j]`` (13,) and ``meal_batch[j]`` with ``carbs_g[j]`` and
    ``insulin_u[j]`` (the closed-loop replay, where each row's doses depend on the last)."""
    for j in range(x_batch.shape[0]):
        _advance_row(pw_batch[j], w, x_batch[j], meal_batch[j], carbs_g[j], insulin_u[j], 0.0,
                     step_min, substeps)


@jit(fastmath=FASTMATH)
def new_meal_states(x_batch):
    """Empty meal states (m, N_MEAL) for the states ``x_batch`` (m, 13)."""
    out = np.zeros((x_batch.shape[0], N_MEAL))
    for j in range(x_batch.shape[0]):
        out[j, M_QSTO_START_MG] = x_batch[j, X_QSTO1] + x_batch[j, X_QSTO2]
    return out


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
def _transition(pw, w, xa, meal, carbs_g, insulin_u, step_min, substeps, xout, mout,
                bias_ar):
    """Augmented state ``xa`` (N_AUG,) after one row, into ``xout``; meal state into ``mout``."""
    for i in range(N_STATES):
        xout[i] = xa[i]
    for i in range(meal.shape[0]):
        mout[i] = meal[i]
    _advance_row(pw, w, xout, mout, carbs_g, insulin_u, xa[I_FLUX], step_min, substeps)
    xout[I_FLUX] = xa[I_FLUX]
    xout[I_BIAS] = bias_ar * xa[I_BIAS]


@jit(fastmath=FASTMATH)
def kalman_forecast(pw, win, x_init, carbs_g, delay_rows, delay_frac, insulin_u, basal_u,
                    glucose, step_min, substeps, horizon_rows, future_inputs, q_diag, r_var,
                    p0_diag, fd_scale, flux_decay, bias_ar, out):
    """Extended Kalman filter along the record and forecasts from every row into ``out`` (n, k).

    ``win`` has ``n + max(horizon_rows)`` entries (the windows of the forecast rows too).
    At row t the filter assimilates the CGM reading of t (NaN: none), then the model runs
    ``horizon_rows[j]`` rows ahead from the filtered state with the inputs known at t: row
    t's insulin, then basal ``basal_u[t]`` per row, and the carbs recorded up to t moved by
    the meal delay (all the record's inputs when ``future_inputs``). The flux is multiplied
    by ``flux_decay`` per forecast row, the CGM offset by ``bias_ar`` per row (its AR(1)
    coefficient). A forecast is ``G_s / V_G`` plus the offset. Rows before the first
    reading get NaN.

    The covariance lives on the :data:`ACTIVE` states only (``q_diag``, ``p0_diag`` and the
    forward-difference steps ``fd_scale`` are per active state): the gut and insulin
    subsystems do not depend on glucose and get no process noise, so their covariance
    would stay zero and they are propagated deterministically; the reduced filter is the
    same filter at a third of the cost.
    """
    n = carbs_g.shape[0]
    k_out = horizon_rows.shape[0]
    n_act = len(ACTIVE)
    max_h = 0
    for j in range(k_out):
        max_h = max(max_h, horizon_rows[j])
    xa = np.zeros(N_AUG)
    for i in range(N_STATES):
        xa[i] = x_init[i]
    meal = _new_meal(x_init)
    P = np.zeros((n_act, n_act))
    F = np.zeros((n_act, n_act))
    FP = np.zeros((n_act, n_act))
    gain = np.zeros(n_act)
    row_p = np.zeros(n_act)
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
        vg = pw[w, P_VG]
        g = glucose[t]
        # -- measurement update (the CGM sees G_s / V_G) -----------------------------
        if g == g:  # not NaN
            if not started:
                scale = g * vg / max(xa[X_GP], 1e-9)
                xa[X_GT] *= scale
                xa[X_GP] = g * vg
                xa[X_GS] = g * vg
                for i in range(n_act):
                    P[i, i] = p0_diag[i]
                started = True
            else:
                # H = dy/dx_active: 1/V_G on G_s, 1 on the offset
                s = (P[A_GS, A_GS] / (vg * vg) + 2.0 * P[A_GS, A_BIAS] / vg
                     + P[A_BIAS, A_BIAS] + r_var)
                nu = g - xa[X_GS] / vg - xa[I_BIAS]
                for i in range(n_act):
                    row_p[i] = P[A_GS, i] / vg + P[A_BIAS, i]
                    gain[i] = row_p[i] / s
                for i in range(n_act):
                    xa[ACTIVE[i]] += gain[i] * nu
                for i in range(n_act):
                    for j in range(n_act):
                        P[i, j] -= gain[i] * row_p[j]
                for i in range(n_act):
                    for j in range(i + 1, n_act):
                        v = 0.5 * (P[i, j] + P[j, i])
                        P[i, j] = v
                        P[j, i] = v
                for i in (X_GP, X_GT, X_GS):
                    if xa[i] < 0.0:
                        xa[i] = 0.0
        # -- forecasts from the filtered state -------------------------------------------
        if started:
            for i in range(N_STATES):
                xf[i] = xa[i]
            for i in range(meal.shape[0]):
                mf[i] = meal[i]
            flux = xa[I_FLUX]
            bias = xa[I_BIAS]
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
                bias *= bias_ar
                for j in range(k_out):
                    if horizon_rows[j] == r:
                        out[t, j] = xf[X_GS] / pw[wr, P_VG] + bias
        else:
            for j in range(k_out):
                out[t, j] = np.nan
        # -- time update: propagate the state and its covariance through row t -----------
        c_t = delayed_amount(carbs_g, t, delay_rows, delay_frac, t)
        _transition(pw, w, xa, meal, c_t, insulin_u[t], step_min, substeps, base, mbase,
                    bias_ar)
        if started:
            for i in range(n_act):
                for j in range(N_AUG):
                    pert[j] = xa[j]
                pert[ACTIVE[i]] += fd_scale[i]
                _transition(pw, w, pert, meal, c_t, insulin_u[t], step_min, substeps, xp, mtmp,
                            bias_ar)
                for j in range(n_act):
                    F[j, i] = (xp[ACTIVE[j]] - base[ACTIVE[j]]) / fd_scale[i]
            for i in range(n_act):
                for j in range(n_act):
                    acc = 0.0
                    for m in range(n_act):
                        acc += F[i, m] * P[m, j]
                    FP[i, j] = acc
            for i in range(n_act):
                for j in range(i, n_act):
                    acc = 0.0
                    for m in range(n_act):
                        acc += FP[i, m] * F[j, m]
                    if i == j:
                        acc += q_diag[i]
                    P[i, j] = acc
                    P[j, i] = acc
        for i in range(N_AUG):
            xa[i] = base[i]
        for i in range(meal.shape[0]):
            meal[i] = mbase[i]
