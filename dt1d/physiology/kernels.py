"""numba kernels of the UVA/Padova model: right-hand side, RK4 step, meal logic, steady states.

Everything here is a pure function over float64 arrays and floats, usable from Python and
from other jitted code (the mechanistic twin runs them inside its own likelihood).

Conventions (see ``dt1d.physiology.layout`` for the layouts):

- ``p``: parameter vector, shape ``(N_PARAMS,)``, ``PatientParams.to_array()`` order, index
  constants ``P_*``. The lane kernels ``deriv_lane``/``rk4_chunk`` (used by
  :mod:`dt1d.physiology.batch`) take ``p`` as ``(N_PARAMS, n)`` plus a patient column ``j``
  so that batch kernels can vectorise across patients.
- ``x``: state vector, shape ``(N_STATES,)``, index constants ``X_*`` (mg, mg/kg, pmol/kg, pmol/L).
- Inputs are held constant over each minute: ``carbs_g_per_min`` is the carbohydrate
  *eaten* in that minute (after the eating-rate limit, see :func:`meal_minute`),
  ``insulin_u_per_min`` the subcutaneous insulin rate (basal and bolus together), and
  ``dbar_mg`` the meal size that shapes gastric emptying (simglucose's ``last_Qsto +
  1000 * last_foodtaken``).
- Meal state: a ``(N_MEAL,)`` float vector per patient, index constants ``M_*``; create it
  with :func:`new_meal_state`.

Time is in minutes. Glucose outputs are ``x[X_GS] / Vg`` (subcutaneous, what a CGM sees)
and ``x[X_GP] / Vg`` (plasma), in mg/dL.
"""

from __future__ import annotations

import numpy as np

from dt1d._numba import PHYSIOLOGY_FASTMATH, jit
from dt1d.physiology.layout import (
    M_FOOD_TAKEN_G,
    M_LAST_EATEN_G,
    M_PLANNED_G,
    M_QSTO_START_MG,
    N_MEAL,
    N_PARAMS,
    N_STATES,
    P_B,
    P_BW,
    P_D,
    P_F,
    P_FSNC,
    P_IB,
    P_K1,
    P_K2,
    P_KA1,
    P_KA2,
    P_KABS,
    P_KD,
    P_KE1,
    P_KE2,
    P_KI,
    P_KM0,
    P_KMAX,
    P_KMIN,
    P_KP1,
    P_KP2,
    P_KP3,
    P_KSC,
    P_M1,
    P_M2,
    P_M4,
    P_M30,
    P_P2U,
    P_U2SS,
    P_VG,
    P_VI,
    P_VM0,
    P_VMX,
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
    "FASTMATH",
    "M_FOOD_TAKEN_G",
    "M_LAST_EATEN_G",
    "M_PLANNED_G",
    "M_QSTO_START_MG",
    "N_MEAL",
    "basal_insulin_u_per_min",
    "derivatives",
    "glucose_plasma_mg_dl",
    "glucose_sc_mg_dl",
    "insulin_pmol_per_kg_min",
    "meal_minute",
    "new_meal_state",
    "rk4_step",
    "steady_state_from_glucose",
    "steady_state_from_insulin",
    "tanh",
]

#: numba fastmath flags of the kernels (see ``dt1d._numba.PHYSIOLOGY_FASTMATH``: none, so a
#: patient's trajectory does not depend on its lane or the batch size).
FASTMATH = set(PHYSIOLOGY_FASTMATH)


@jit(fastmath=FASTMATH, inline="always")
def tanh(z: float) -> float:
    """tanh with only arithmetic (no libm call, no branches), so loops over patients vectorise.

    exp(2z) = exp(2z / 64) ** 64: a degree-16 Taylor polynomial on |2z / 64| <= 0.625 and
    six squarings; absolute error below 1e-14 against ``math.tanh``.
    """
    # clamp to [-20, 20] (tanh(20) == 1.0 in float64) with selects: the builtins
    # min/max stop LLVM from vectorising the loop over patients
    y = 2.0 * (z if z < 20.0 else 20.0)
    y = y if y > -40.0 else -40.0
    r = y * 0.015625  # exp(y) = exp(y / 64) ** 64
    e = 1.0 / 20922789888000.0
    e = e * r + 1.0 / 1307674368000.0
    e = e * r + 1.0 / 87178291200.0
    e = e * r + 1.0 / 6227020800.0
    e = e * r + 1.0 / 479001600.0
    e = e * r + 1.0 / 39916800.0
    e = e * r + 1.0 / 3628800.0
    e = e * r + 1.0 / 362880.0
    e = e * r + 1.0 / 40320.0
    e = e * r + 1.0 / 5040.0
    e = e * r + 1.0 / 720.0
    e = e * r + 1.0 / 120.0
    e = e * r + 1.0 / 24.0
    e = e * r + 1.0 / 6.0
    e = e * r + 1.0 / 2.0
    e = e * r + 1.0
    e = e * r + 1.0
    e *= e
    e *= e
    e *= e
    e *= e
    e *= e
    e *= e
    return 1.0 - 2.0 / (e + 1.0)


@jit(fastmath=FASTMATH, inline="always")
def deriv_lane(p, j, q_sto1, q_sto2, q_gut, g_p, g_t, i_p, x_ins, i_1, i_d, i_l, i_sc1, i_sc2,
               g_s, d_in, u, dbar):
    """dx/dt of patient column ``j`` of ``p`` (N_PARAMS, n): simglucose 0.2.11's model.

    ``d_in`` eaten glucose [mg/min], ``u`` insulin [pmol/kg/min], ``dbar`` meal size [mg].
    Equations: Dalla Man 2006/2007, Kovatchev 2009, as written in MODEL_NOTES section 3.
    """
    kmax = p[P_KMAX, j]
    kabs = p[P_KABS, j]
    # gastro-intestinal tract (Dalla Man 2006 nonlinear gastric emptying)
    qsto = q_sto1 + q_sto2
    d_q_sto1 = -kmax * q_sto1 + d_in
    # computed unconditionally and selected (branch-free, so loops over patients vectorise)
    kmin = p[P_KMIN, j]
    b = p[P_B, j]
    d = p[P_D, j]
    meal_on = dbar > 0.0
    dsafe = dbar if meal_on else 1.0
    alpha = 5.0 / (2.0 * dsafe * (1.0 - b))
    beta = 5.0 / (2.0 * dsafe * d)
    z1 = alpha * (qsto - b * dsafe)
    z2 = beta * (qsto - d * dsafe)
    t1 = tanh(z1)
    t2 = tanh(z2)
    kgut = kmin + (kmax - kmin) / 2.0 * (t1 - t2 + 2.0)
    if not meal_on:
        kgut = kmax
    d_q_sto2 = kmax * q_sto1 - kgut * q_sto2
    d_q_gut = kgut * q_sto2 - kabs * q_gut
    ra = p[P_F, j] * kabs * q_gut / p[P_BW, j]  # rate of appearance, mg/kg/min
    # glucose subsystem (Dalla Man 2007 eq. 1, 10-17, 27)
    egp = p[P_KP1, j] - p[P_KP2, j] * g_p - p[P_KP3, j] * i_d
    if egp < 0.0:
        egp = 0.0
    ke2 = p[P_KE2, j]
    renal = p[P_KE1, j] * (g_p - ke2)
    if g_p <= ke2:
        renal = 0.0
    k1 = p[P_K1, j]
    k2 = p[P_K2, j]
    d_g_p = egp + ra - p[P_FSNC, j] - renal - k1 * g_p + k2 * g_t
    vmt = p[P_VM0, j] + p[P_VMX, j] * x_ins
    uid = vmt * g_t / (p[P_KM0, j] + g_t)
    d_g_t = -uid + k1 * g_p - k2 * g_t
    # insulin subsystem (Dalla Man 2007 eq. 3, 11, 18; Kovatchev 2009 s.c. route)
    m1 = p[P_M1, j]
    m2 = p[P_M2, j]
    ka1 = p[P_KA1, j]
    ka2 = p[P_KA2, j]
    kd = p[P_KD, j]
    d_i_p = -(m2 + p[P_M4, j]) * i_p + m1 * i_l + ka1 * i_sc1 + ka2 * i_sc2
    it = i_p / p[P_VI, j]
    p2u = p[P_P2U, j]
    d_x_ins = -p2u * x_ins + p2u * (it - p[P_IB, j])
    ki = p[P_KI, j]
    d_i_1 = -ki * (i_1 - it)
    d_i_d = -ki * (i_d - i_1)
    d_i_l = -(m1 + p[P_M30, j]) * i_l + m2 * i_p
    d_i_sc1 = u - (ka1 + kd) * i_sc1
    d_i_sc2 = kd * i_sc1 - ka2 * i_sc2
    ksc = p[P_KSC, j]
    d_g_s = -ksc * g_s + ksc * g_p
    # simglucose's non-negativity mask: a negative state stops changing
    if g_p < 0.0:
        d_g_p = 0.0
    if g_t < 0.0:
        d_g_t = 0.0
    if i_p < 0.0:
        d_i_p = 0.0
    if i_l < 0.0:
        d_i_l = 0.0
    if i_sc1 < 0.0:
        d_i_sc1 = 0.0
    if i_sc2 < 0.0:
        d_i_sc2 = 0.0
    if g_s < 0.0:
        d_g_s = 0.0
    # in state order (X_QSTO1 ... X_GS)
    return (d_q_sto1, d_q_sto2, d_q_gut, d_g_p, d_g_t, d_i_p, d_x_ins, d_i_1, d_i_d, d_i_l,
            d_i_sc1, d_i_sc2, d_g_s)


#: Lanes (patients) of the RK4 chunk kernel; batch kernels hand it up to this many at once.
CHUNK = 32


#: Rows of the flat chunk array: the 13 states, then the inputs of the current minute.
ROW_D_IN = N_STATES  # eaten glucose [mg/min]
ROW_U = N_STATES + 1  # s.c. insulin [pmol/kg/min]
ROW_DBAR = N_STATES + 2  # meal size [mg]
ROW_MEAL = N_STATES + 3  # N_MEAL rows: the meal state (M_* order)
CHUNK_ROWS = ROW_MEAL + N_MEAL


@jit(fastmath=FASTMATH)
def rk4_chunk(p, xs, h, m):
    """One RK4 step of ``h`` minutes for lanes ``0..m-1`` (m <= CHUNK) of a flat chunk array.

    States under simglucose's non-negativity mask (G_p, G_t, I_p, I_l, I_sc1, I_sc2, G_s)
    that would step below zero are set to zero (simglucose leaves them slightly negative
    and frozen; NaN passes through). ``xs[i * CHUNK + j]`` is row ``i`` of lane ``j``: the
    13 states, then ``ROW_D_IN``,
    ``ROW_U``, ``ROW_DBAR``; ``p`` is (N_PARAMS, >= m). One array with a constant stride
    lets LLVM prove the lanes independent and vectorise the loop across patients.
    """
    h2 = 0.5 * h
    h6 = h / 6.0
    for j in range(m):
        q_sto1 = xs[X_QSTO1 * CHUNK + j]
        q_sto2 = xs[X_QSTO2 * CHUNK + j]
        q_gut = xs[X_QGUT * CHUNK + j]
        g_p = xs[X_GP * CHUNK + j]
        g_t = xs[X_GT * CHUNK + j]
        i_p = xs[X_IP * CHUNK + j]
        x_ins = xs[X_X * CHUNK + j]
        i_1 = xs[X_I1 * CHUNK + j]
        i_d = xs[X_ID * CHUNK + j]
        i_l = xs[X_IL * CHUNK + j]
        i_sc1 = xs[X_ISC1 * CHUNK + j]
        i_sc2 = xs[X_ISC2 * CHUNK + j]
        g_s = xs[X_GS * CHUNK + j]
        di = xs[ROW_D_IN * CHUNK + j]
        ui = xs[ROW_U * CHUNK + j]
        db = xs[ROW_DBAR * CHUNK + j]
        a = deriv_lane(p, j, q_sto1, q_sto2, q_gut, g_p, g_t, i_p, x_ins, i_1, i_d, i_l, i_sc1,
                       i_sc2, g_s, di, ui, db)
        b = deriv_lane(p, j, q_sto1 + h2 * a[X_QSTO1], q_sto2 + h2 * a[X_QSTO2],
                       q_gut + h2 * a[X_QGUT], g_p + h2 * a[X_GP], g_t + h2 * a[X_GT],
                       i_p + h2 * a[X_IP], x_ins + h2 * a[X_X], i_1 + h2 * a[X_I1],
                       i_d + h2 * a[X_ID], i_l + h2 * a[X_IL], i_sc1 + h2 * a[X_ISC1],
                       i_sc2 + h2 * a[X_ISC2], g_s + h2 * a[X_GS], di, ui, db)
        c = deriv_lane(p, j, q_sto1 + h2 * b[X_QSTO1], q_sto2 + h2 * b[X_QSTO2],
                       q_gut + h2 * b[X_QGUT], g_p + h2 * b[X_GP], g_t + h2 * b[X_GT],
                       i_p + h2 * b[X_IP], x_ins + h2 * b[X_X], i_1 + h2 * b[X_I1],
                       i_d + h2 * b[X_ID], i_l + h2 * b[X_IL], i_sc1 + h2 * b[X_ISC1],
                       i_sc2 + h2 * b[X_ISC2], g_s + h2 * b[X_GS], di, ui, db)
        d = deriv_lane(p, j, q_sto1 + h * c[X_QSTO1], q_sto2 + h * c[X_QSTO2],
                       q_gut + h * c[X_QGUT], g_p + h * c[X_GP], g_t + h * c[X_GT],
                       i_p + h * c[X_IP], x_ins + h * c[X_X], i_1 + h * c[X_I1], i_d + h * c[X_ID],
                       i_l + h * c[X_IL], i_sc1 + h * c[X_ISC1], i_sc2 + h * c[X_ISC2],
                       g_s + h * c[X_GS], di, ui, db)
        xs[X_QSTO1 * CHUNK + j] = (
            q_sto1 + h6 * (a[X_QSTO1] + 2.0 * (b[X_QSTO1] + c[X_QSTO1]) + d[X_QSTO1]))
        xs[X_QSTO2 * CHUNK + j] = (
            q_sto2 + h6 * (a[X_QSTO2] + 2.0 * (b[X_QSTO2] + c[X_QSTO2]) + d[X_QSTO2]))
        xs[X_QGUT * CHUNK + j] = (
            q_gut + h6 * (a[X_QGUT] + 2.0 * (b[X_QGUT] + c[X_QGUT]) + d[X_QGUT]))
        g_p_new = g_p + h6 * (a[X_GP] + 2.0 * (b[X_GP] + c[X_GP]) + d[X_GP])
        xs[X_GP * CHUNK + j] = 0.0 if g_p_new < 0.0 else g_p_new
        g_t_new = g_t + h6 * (a[X_GT] + 2.0 * (b[X_GT] + c[X_GT]) + d[X_GT])
        xs[X_GT * CHUNK + j] = 0.0 if g_t_new < 0.0 else g_t_new
        i_p_new = i_p + h6 * (a[X_IP] + 2.0 * (b[X_IP] + c[X_IP]) + d[X_IP])
        xs[X_IP * CHUNK + j] = 0.0 if i_p_new < 0.0 else i_p_new
        xs[X_X * CHUNK + j] = x_ins + h6 * (a[X_X] + 2.0 * (b[X_X] + c[X_X]) + d[X_X])
        xs[X_I1 * CHUNK + j] = i_1 + h6 * (a[X_I1] + 2.0 * (b[X_I1] + c[X_I1]) + d[X_I1])
        xs[X_ID * CHUNK + j] = i_d + h6 * (a[X_ID] + 2.0 * (b[X_ID] + c[X_ID]) + d[X_ID])
        i_l_new = i_l + h6 * (a[X_IL] + 2.0 * (b[X_IL] + c[X_IL]) + d[X_IL])
        xs[X_IL * CHUNK + j] = 0.0 if i_l_new < 0.0 else i_l_new
        i_sc1_new = i_sc1 + h6 * (a[X_ISC1] + 2.0 * (b[X_ISC1] + c[X_ISC1]) + d[X_ISC1])
        xs[X_ISC1 * CHUNK + j] = 0.0 if i_sc1_new < 0.0 else i_sc1_new
        i_sc2_new = i_sc2 + h6 * (a[X_ISC2] + 2.0 * (b[X_ISC2] + c[X_ISC2]) + d[X_ISC2])
        xs[X_ISC2 * CHUNK + j] = 0.0 if i_sc2_new < 0.0 else i_sc2_new
        g_s_new = g_s + h6 * (a[X_GS] + 2.0 * (b[X_GS] + c[X_GS]) + d[X_GS])
        xs[X_GS * CHUNK + j] = 0.0 if g_s_new < 0.0 else g_s_new


@jit(fastmath=FASTMATH)
def _tuple_to_array(r):
    """A (13,) array from a 13-tuple (constant indices: dynamic tuple indexing compiles slowly)."""
    return np.array([r[X_QSTO1], r[X_QSTO2], r[X_QGUT], r[X_GP], r[X_GT], r[X_IP], r[X_X],
                     r[X_I1], r[X_ID], r[X_IL], r[X_ISC1], r[X_ISC2], r[X_GS]])


@jit(fastmath=FASTMATH)
def insulin_pmol_per_kg_min(p, insulin_u_per_min):
    """Convert an s.c. insulin rate from U/min to the model's pmol/kg/min (1 U = 6000 pmol)."""
    return insulin_u_per_min * PMOL_PER_UNIT / p[P_BW]


@jit(fastmath=FASTMATH)
def basal_insulin_u_per_min(p):
    """Basal insulin rate ``u2ss * BW / 6000`` [U/min] that holds the basal steady state."""
    return p[P_U2SS] * p[P_BW] / PMOL_PER_UNIT


@jit(fastmath=FASTMATH)
def glucose_sc_mg_dl(p, x):
    """Subcutaneous (interstitial) glucose ``G_s / V_G`` [mg/dL], what a CGM measures."""
    return x[X_GS] / p[P_VG]


@jit(fastmath=FASTMATH)
def glucose_plasma_mg_dl(p, x):
    """Plasma glucose ``G_p / V_G`` [mg/dL]."""
    return x[X_GP] / p[P_VG]


@jit(fastmath=FASTMATH)
def derivatives(x, p, carbs_g_per_min, insulin_u_per_min, dbar_mg):
    """dx/dt [state units per min] at state ``x`` with inputs held over the minute.

    ``carbs_g_per_min``: carbohydrate eaten [g/min]; ``insulin_u_per_min``: s.c. insulin
    [U/min]; ``dbar_mg``: meal size for gastric emptying [mg] (0 before the first meal).
    """
    q = p.reshape((N_PARAMS, 1))
    r = deriv_lane(q, 0, x[X_QSTO1], x[X_QSTO2], x[X_QGUT], x[X_GP], x[X_GT], x[X_IP],
                   x[X_X], x[X_I1], x[X_ID], x[X_IL], x[X_ISC1], x[X_ISC2], x[X_GS],
                   1000.0 * carbs_g_per_min, insulin_u_per_min * PMOL_PER_UNIT / p[P_BW],
                   dbar_mg)
    return _tuple_to_array(r)


@jit(fastmath=FASTMATH)
def rk4_step(x, p, carbs_g_per_min, insulin_u_per_min, dbar_mg, h_min):
    """The state after one RK4 step of ``h_min`` minutes with constant inputs (new array)."""
    xs = np.zeros(CHUNK_ROWS * CHUNK)
    for i in range(N_STATES):
        xs[i * CHUNK] = x[i]
    xs[ROW_D_IN * CHUNK] = 1000.0 * carbs_g_per_min
    xs[ROW_U * CHUNK] = insulin_u_per_min * PMOL_PER_UNIT / p[P_BW]
    xs[ROW_DBAR * CHUNK] = dbar_mg
    rk4_chunk(p.reshape((N_PARAMS, 1)), xs, h_min, 1)
    out = np.empty(N_STATES)
    for i in range(N_STATES):
        out[i] = xs[i * CHUNK]
    return out


@jit(fastmath=FASTMATH)
def new_meal_state(x):
    """Meal state at the start of a simulation from state ``x`` (nothing planned or eaten)."""
    m = np.zeros(N_MEAL)
    m[M_QSTO_START_MG] = x[X_QSTO1] + x[X_QSTO2]
    return m


@jit(fastmath=FASTMATH)
def meal_step(planned_g, last_eaten_g, qsto_start_mg, food_taken_g, carbs_announced_g,
              qsto_mg, eat_rate_g_per_min):
    """One minute of meal logic on scalars; (eaten, planned, qsto_start, food_taken)."""
    planned = planned_g + carbs_announced_g
    eaten = 0.0
    if planned > 0.0:
        eaten = eat_rate_g_per_min if eat_rate_g_per_min < planned else planned
        planned = planned - eaten
        if planned < 0.0:
            planned = 0.0
    if eaten > 0.0 and last_eaten_g <= 0.0:
        qsto_start_mg = qsto_mg
        food_taken_g = 0.0
    return eaten, planned, qsto_start_mg, food_taken_g + eaten


@jit(fastmath=FASTMATH)
def meal_minute(meal, carbs_announced_g, qsto_mg, eat_rate_g_per_min):
    """Advance the meal logic by one minute; return (carbs eaten [g], Dbar [mg]).

    ``meal`` (N_MEAL,) is updated in place. Announced carbohydrate joins a queue that is
    eaten at ``eat_rate_g_per_min`` (``np.inf``: all at once). When eating starts, the
    current stomach content ``qsto_mg`` (= Q_sto1 + Q_sto2) is remembered; the meal size
    ``Dbar`` is that content plus everything eaten since (simglucose ``T1DPatient.step``).
    """
    eaten, planned, qsto0, food = meal_step(
        meal[M_PLANNED_G], meal[M_LAST_EATEN_G], meal[M_QSTO_START_MG], meal[M_FOOD_TAKEN_G],
        carbs_announced_g, qsto_mg, eat_rate_g_per_min)
    meal[M_PLANNED_G] = planned
    meal[M_LAST_EATEN_G] = eaten
    meal[M_QSTO_START_MG] = qsto0
    meal[M_FOOD_TAKEN_G] = food
    return eaten, qsto0 + 1000.0 * food


@jit()
def _insulin_states(p, u, x):
    """Fill the insulin states of ``x`` at steady state for s.c. insulin ``u`` [pmol/kg/min]."""
    m1 = p[P_M1]
    m2 = p[P_M2]
    isc1 = u / (p[P_KA1] + p[P_KD])
    isc2 = p[P_KD] * isc1 / p[P_KA2]
    ip = u / (m2 + p[P_M4] - m1 * m2 / (m1 + p[P_M30]))
    it = ip / p[P_VI]
    x[X_IP] = ip
    x[X_X] = it - p[P_IB]
    x[X_I1] = it
    x[X_ID] = it
    x[X_IL] = m2 * ip / (m1 + p[P_M30])
    x[X_ISC1] = isc1
    x[X_ISC2] = isc2


@jit()
def _tissue_glucose(p, gp, id_):
    """G_t [mg/kg] that makes dG_p/dt = 0 with an empty gut, given G_p and I_d."""
    egp = max(p[P_KP1] - p[P_KP2] * gp - p[P_KP3] * id_, 0.0)
    renal = p[P_KE1] * (gp - p[P_KE2]) if gp > p[P_KE2] else 0.0
    return (p[P_K1] * gp + p[P_FSNC] + renal - egp) / p[P_K2]


@jit()
def _tissue_balance(p, gp, it):
    """dG_t/dt at the plasma-balanced G_t, for plasma glucose mass G_p and insulin I."""
    gt = _tissue_glucose(p, gp, it)
    vmt = p[P_VM0] + p[P_VMX] * (it - p[P_IB])
    return -vmt * gt / (p[P_KM0] + gt) + p[P_K1] * gp - p[P_K2] * gt


@jit()
def _bisect_decreasing(p, fixed, lo, hi, over_glucose):
    """Root of a decreasing balance on [lo, hi] by bisection; NaN when not bracketed."""
    if over_glucose:
        flo = _tissue_balance(p, lo, fixed)
        fhi = _tissue_balance(p, hi, fixed)
    else:
        flo = _tissue_balance(p, fixed, lo)
        fhi = _tissue_balance(p, fixed, hi)
    if not (flo >= 0.0 and fhi <= 0.0):
        return np.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        fm = _tissue_balance(p, mid, fixed) if over_glucose else _tissue_balance(p, fixed, mid)
        if fm > 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@jit()
def steady_state_from_insulin(p, insulin_u_per_min):
    """Steady state with an empty gut under a constant insulin rate [U/min]; NaNs if none.

    The insulin states follow in closed form; plasma glucose G_p solves dG_t/dt = 0 (with
    dG_p/dt = 0 giving G_t) by bisection over 0-5000 mg/dL. Returns a (13,) state.
    """
    x = np.zeros(N_STATES)
    u = insulin_u_per_min * PMOL_PER_UNIT / p[P_BW]
    if not (u >= 0.0):
        x[:] = np.nan
        return x
    _insulin_states(p, u, x)
    gp = _bisect_decreasing(p, x[X_ID], 1e-9, 5000.0 * p[P_VG], True)
    x[X_GP] = gp
    x[X_GT] = _tissue_glucose(p, gp, x[X_ID])
    x[X_GS] = gp
    if not (gp > 0.0 and x[X_GT] >= 0.0):
        x[:] = np.nan
    return x


@jit()
def steady_state_from_glucose(p, glucose_mg_dl):
    """Steady state at a given plasma (= subcutaneous) glucose, and the insulin rate holding it.

    Solves for the plasma insulin I at which both glucose compartments balance (bisection
    over 0-1e5 pmol/L), then sets every insulin state to that insulin's steady state.
    Returns ``(x, insulin_u_per_min)``; NaNs when no non-negative insulin rate holds it.
    """
    x = np.zeros(N_STATES)
    gp = glucose_mg_dl * p[P_VG]
    it = np.nan
    if gp > 0.0:
        it = _bisect_decreasing(p, gp, 0.0, 1e5, False)
    if not (it >= 0.0):
        x[:] = np.nan
        return x, np.nan
    m1 = p[P_M1]
    m2 = p[P_M2]
    u = it * p[P_VI] * (m2 + p[P_M4] - m1 * m2 / (m1 + p[P_M30]))
    _insulin_states(p, u, x)
    x[X_GP] = gp
    x[X_GT] = _tissue_glucose(p, gp, x[X_ID])
    x[X_GS] = gp
    if not (x[X_GT] >= 0.0):
        x[:] = np.nan
        return x, np.nan
    return x, u * p[P_BW] / PMOL_PER_UNIT
