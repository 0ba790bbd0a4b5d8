"""Array layouts of the UVA/Padova kernels: parameter, state and meal-state indices.

The one place that says which slot of a parameter vector, a state vector or a
meal-state vector holds what. :mod:`dt1d.physiology.params` (the attrs class
that builds parameter vectors) and :mod:`dt1d.physiology.kernels` (the numba
code that reads them) both import it; it imports nothing from dt1d. Use the
names (``X_GP``, ``P_VMX``), never a raw index.
"""

from __future__ import annotations

__all__ = [
    "M_FOOD_TAKEN_G",
    "M_LAST_EATEN_G",
    "M_PLANNED_G",
    "M_QSTO_START_MG",
    "N_MEAL",
    "N_PARAMS",
    "N_STATES",
    "PARAM_FIELDS",
    "PMOL_PER_UNIT",
    "STATES",
    "STATE_NAMES",
]

#: 1 U of insulin = 6000 pmol (the conversion used by the model).
PMOL_PER_UNIT = 6000.0

#: Model-parameter fields of ``PatientParams`` in kernel vector order
#: (``PatientParams.to_array()``); stable layout.
PARAM_FIELDS: tuple[str, ...] = (
    "body_weight_kg", "kabs_per_min", "kmax_per_min", "kmin_per_min", "b_frac", "d_frac",
    "f_frac", "kp1_mg_per_kg_min", "kp2_per_min", "kp3_mg_per_kg_min_per_pmol_per_l",
    "fsnc_mg_per_kg_min", "ke1_per_min", "ke2_mg_per_kg", "k1_per_min", "k2_per_min",
    "vm0_mg_per_kg_min", "vmx_mg_per_kg_min_per_pmol_per_l", "km0_mg_per_kg", "m1_per_min",
    "m2_per_min", "m4_per_min", "m30_per_min", "ka1_per_min", "ka2_per_min", "kd_per_min",
    "vi_l_per_kg", "ib_pmol_per_l", "p2u_per_min", "ki_per_min", "ksc_per_min",
    "u2ss_pmol_per_kg_min", "vg_dl_per_kg",
)
N_PARAMS = len(PARAM_FIELDS)

# Index constants into the parameter vector.
(P_BW, P_KABS, P_KMAX, P_KMIN, P_B, P_D, P_F, P_KP1, P_KP2, P_KP3, P_FSNC, P_KE1, P_KE2,
 P_K1, P_K2, P_VM0, P_VMX, P_KM0, P_M1, P_M2, P_M4, P_M30, P_KA1, P_KA2, P_KD, P_VI, P_IB,
 P_P2U, P_KI, P_KSC, P_U2SS, P_VG) = range(32)

#: The 13 states in kernel order: name, unit and meaning (Dalla Man 2007 symbols).
STATES: tuple[tuple[str, str, str], ...] = (
    ("q_sto1_mg", "mg", "Q_sto1: solid glucose in the stomach (whole body)"),
    ("q_sto2_mg", "mg", "Q_sto2: liquid (triturated) glucose in the stomach (whole body)"),
    ("q_gut_mg", "mg", "Q_gut: glucose in the intestine (whole body)"),
    ("g_p_mg_per_kg", "mg/kg", "G_p: glucose in plasma and rapidly equilibrating tissues"),
    ("g_t_mg_per_kg", "mg/kg", "G_t: glucose in slowly equilibrating tissues"),
    ("i_p_pmol_per_kg", "pmol/kg", "I_p: insulin in plasma"),
    ("x_pmol_per_l", "pmol/L", "X: remote insulin action on glucose utilisation (above I_b)"),
    ("i_1_pmol_per_l", "pmol/L", "I_1: first delay compartment of insulin action on the liver"),
    ("i_d_pmol_per_l", "pmol/L", "I_d: delayed insulin signal acting on the liver"),
    ("i_l_pmol_per_kg", "pmol/kg", "I_l: insulin in the liver"),
    ("i_sc1_pmol_per_kg", "pmol/kg", "I_sc1: non-monomeric subcutaneous insulin"),
    ("i_sc2_pmol_per_kg", "pmol/kg", "I_sc2: monomeric subcutaneous insulin"),
    ("g_s_mg_per_kg", "mg/kg", "G_s: subcutaneous glucose on the G_p scale (G_sub = G_s/V_G)"),
)
STATE_NAMES: tuple[str, ...] = tuple(s[0] for s in STATES)
N_STATES = len(STATES)
# Index constants into the state vector.
(X_QSTO1, X_QSTO2, X_QGUT, X_GP, X_GT, X_IP, X_X, X_I1, X_ID, X_IL, X_ISC1, X_ISC2,
 X_GS) = range(13)

# Meal state layout (one float vector per patient).
M_PLANNED_G = 0  # announced carbohydrate not eaten yet [g]
M_LAST_EATEN_G = 1  # carbohydrate eaten in the previous minute [g]
M_QSTO_START_MG = 2  # stomach content Q_sto1 + Q_sto2 when the current meal began [mg]
M_FOOD_TAKEN_G = 3  # carbohydrate eaten so far in the current meal [g]
N_MEAL = 4

# The mechanistic twin's augmented Kalman-filter state: the 13 model states, then an
# unexplained glucose flux [mg/kg/min] added to dG_p/dt (model error that moves glucose),
# then a slowly drifting CGM offset [mg/dL] (an AR(1) process).
I_FLUX = N_STATES
I_BIAS = N_STATES + 1
N_AUG = N_STATES + 2

assert N_PARAMS == 32 and N_STATES == 13
