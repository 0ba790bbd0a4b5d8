"""UVA/Padova patient parameters: a validated attrs class and the kernels' parameter-vector layout.

The vector layouts (``PARAM_FIELDS``, ``P_*``, ``X_*``, ``STATES``) live in
:mod:`dt1d.physiology.layout` and are re-exported here.

The model is the 13-state "S2008" UVA/Padova type 1 diabetes simulator as implemented by
simglucose 0.2.11 (oral glucose absorption of Dalla Man 2006, glucose-insulin system of
Dalla Man 2007, subcutaneous insulin and glucose of Kovatchev 2009). Every field carries
its unit in its name and its meaning and source in ``attrs.fields(PatientParams).<name>.metadata``.

Sources (short keys used in the metadata):

- ``DM2006``: Dalla Man C, Camilleri M, Cobelli C. A system model of oral glucose absorption:
  validation on gold standard data. IEEE Trans Biomed Eng 53(12):2472-2478, 2006.
- ``DM2007``: Dalla Man C, Rizza RA, Cobelli C. Meal simulation model of the glucose-insulin
  system. IEEE Trans Biomed Eng 54(10):1740-1749, 2007.
- ``DM2007b``: Dalla Man C, Raimondo DM, Rizza RA, Cobelli C. GIM, simulation software of meal
  glucose-insulin model. J Diabetes Sci Technol 1(3):323-330, 2007.
- ``K2009``: Kovatchev BP, Breton M, Dalla Man C, Cobelli C. In silico preclinical trials: a
  proof of concept in closed-loop control of type 1 diabetes. J Diabetes Sci Technol
  3(1):44-55, 2009.
- ``SG``: the 30 virtual patients of simglucose 0.2.11 (MIT, (c) 2017 Jinyu Xie), shipped in
  ``dt1d/physiology/data/`` (values per patient; see NOTICE).
"""

from __future__ import annotations

import csv
import io
import math
from functools import cache
from importlib import resources
from typing import Any

import attrs
import numpy as np

from dt1d.physiology.layout import (  # noqa: F401  (re-exported: the layout's old home)
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
    PARAM_FIELDS,
    PMOL_PER_UNIT,
    STATE_NAMES,
    STATES,
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


def _finite(lo: float | None = 0.0, hi: float | None = None, lo_open: bool = True):
    """Validator: a finite float within (lo, hi]; the error names the field and the value."""

    def check(instance: Any, attribute: attrs.Attribute, value: float) -> None:
        ok = math.isfinite(value)
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value <= hi
        if not ok:
            lo_txt = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
            hi_txt = "" if hi is None else f" and <= {hi}"
            raise ValueError(
                f"PatientParams.{attribute.name} = {value!r} is invalid: it must be a finite "
                f"number {lo_txt}{hi_txt} (unit: {attribute.metadata.get('unit', '?')})"
            )

    return check


def _param(symbol: str, unit: str, meaning: str, source: str, csv_column: str, **check: Any):
    """An attrs field for a model parameter, with its symbol, unit, meaning and source."""
    return attrs.field(
        converter=float,
        validator=_finite(**check),
        metadata={
            "symbol": symbol,
            "unit": unit,
            "meaning": meaning,
            "source": source,
            "csv_column": csv_column,
        },
    )


def _optional_positive(instance: Any, attribute: attrs.Attribute, value: float | None) -> None:
    """Validator for optional therapy settings: None or a finite positive float."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"PatientParams.{attribute.name} = {value!r} is invalid: it must be a finite "
            f"positive number (unit: {attribute.metadata.get('unit', '?')}) or None"
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@attrs.frozen(kw_only=True)
class PatientParams:
    """The 32 parameters of one UVA/Padova virtual patient, plus its therapy settings.

    Build one from the shipped cohort with :func:`load_patient_params` (or
    ``dt1d.sim.virtual_patient``), derive variants with ``attrs.evolve(p, vmx_... = ...)``,
    and hand :meth:`to_array` to the numba kernels (index constants ``P_*`` below).
    """

    name: str = attrs.field(default="custom", validator=attrs.validators.instance_of(str))

    body_weight_kg: float = _param(
        "BW", "kg", "body weight", "SG", "BW")
    kabs_per_min: float = _param(
        "k_abs", "1/min", "rate constant of intestinal glucose absorption",
        "DM2006 eq. 7; DM2007 Table 1", "kabs")
    kmax_per_min: float = _param(
        "k_max", "1/min", "maximum rate of gastric emptying",
        "DM2006 eq. 5; DM2007 Table 1", "kmax")
    kmin_per_min: float = _param(
        "k_min", "1/min", "minimum rate of gastric emptying",
        "DM2006 eq. 5; DM2007 Table 1", "kmin")
    b_frac: float = _param(
        "b", "-", "fraction of the meal size at which gastric emptying first falls to "
        "(k_max + k_min)/2", "DM2006 eq. 6; DM2007 Table 1", "b", hi=1.0)
    d_frac: float = _param(
        "d (c in DM2006)", "-", "fraction of the meal size at which gastric emptying "
        "recovers to (k_max + k_min)/2", "DM2006 eq. 6; DM2007 Table 1", "d", hi=1.0)
    f_frac: float = _param(
        "f", "-", "fraction of intestinal absorption that appears in plasma",
        "DM2006 eq. 7; DM2007 Table 1", "f", hi=1.0)
    kp1_mg_per_kg_min: float = _param(
        "k_p1", "mg/kg/min", "endogenous glucose production extrapolated to zero glucose "
        "and insulin", "DM2007 eq. 10, Table 1", "kp1")
    kp2_per_min: float = _param(
        "k_p2", "1/min", "liver glucose effectiveness", "DM2007 eq. 10, Table 1", "kp2")
    kp3_mg_per_kg_min_per_pmol_per_l: float = _param(
        "k_p3", "mg/kg/min per pmol/L", "amplitude of insulin action on the liver "
        "(through the delayed insulin signal I_d)", "DM2007 eq. 10, Table 1", "kp3")
    fsnc_mg_per_kg_min: float = _param(
        "F_snc (F_cns)", "mg/kg/min", "insulin-independent glucose utilisation "
        "(brain, erythrocytes)", "DM2007 eq. 14, Table 1", "Fsnc", lo_open=False)
    ke1_per_min: float = _param(
        "k_e1", "1/min", "renal glomerular filtration rate", "DM2007 eq. 27, Table 1", "ke1",
        lo_open=False)
    ke2_mg_per_kg: float = _param(
        "k_e2", "mg/kg", "renal threshold of glucose (on the plasma glucose mass G_p)",
        "DM2007 eq. 27, Table 1", "ke2", lo_open=False)
    k1_per_min: float = _param(
        "k_1", "1/min", "rate of glucose transfer from plasma to slowly equilibrating tissues",
        "DM2007 eq. 1, Table 1", "k1")
    k2_per_min: float = _param(
        "k_2", "1/min", "rate of glucose transfer from tissues back to plasma",
        "DM2007 eq. 1, Table 1", "k2")
    vm0_mg_per_kg_min: float = _param(
        "V_m0", "mg/kg/min", "maximal insulin-dependent glucose utilisation at basal "
        "insulin (X = 0)", "DM2007 eq. 15-16, Table 1", "Vm0")
    vmx_mg_per_kg_min_per_pmol_per_l: float = _param(
        "V_mx", "mg/kg/min per pmol/L", "insulin sensitivity of peripheral glucose "
        "utilisation (slope of V_m in the remote insulin X)", "DM2007 eq. 16, Table 1", "Vmx")
    km0_mg_per_kg: float = _param(
        "K_m0", "mg/kg", "Michaelis-Menten constant of insulin-dependent utilisation "
        "(K_mx = 0 in this model)", "DM2007 eq. 17, Table 1", "Km0")
    m1_per_min: float = _param(
        "m_1", "1/min", "rate of insulin transfer from liver to plasma",
        "DM2007 eq. 3, Table 1", "m1")
    m2_per_min: float = _param(
        "m_2", "1/min", "rate of insulin transfer from plasma to liver",
        "DM2007 eq. 3, Table 1", "m2")
    m4_per_min: float = _param(
        "m_4", "1/min", "rate of peripheral insulin degradation", "DM2007 eq. 3, Table 1", "m4")
    m30_per_min: float = _param(
        "m_3 (m_30)", "1/min", "rate of hepatic insulin extraction (constant: HE_b m_1 / "
        "(1 - HE_b))", "DM2007 eq. 3-4; K2009", "m30")
    ka1_per_min: float = _param(
        "k_a1", "1/min", "absorption rate of non-monomeric subcutaneous insulin (I_sc1)",
        "K2009 (s.c. insulin, Nucci & Cobelli)", "ka1")
    ka2_per_min: float = _param(
        "k_a2", "1/min", "absorption rate of monomeric subcutaneous insulin (I_sc2)",
        "K2009", "ka2")
    kd_per_min: float = _param(
        "k_d", "1/min", "dissociation rate from non-monomeric to monomeric s.c. insulin",
        "K2009", "kd")
    vi_l_per_kg: float = _param(
        "V_I", "L/kg", "distribution volume of insulin", "DM2007 eq. 3, Table 1", "Vi")
    ib_pmol_per_l: float = _param(
        "I_b", "pmol/L", "basal plasma insulin concentration", "DM2007 eq. 18; SG", "Ib")
    p2u_per_min: float = _param(
        "p_2U", "1/min", "rate constant of insulin action on peripheral glucose utilisation",
        "DM2007 eq. 18, Table 1", "p2u")
    ki_per_min: float = _param(
        "k_i", "1/min", "rate of the delay between the insulin signal and its action on "
        "the liver", "DM2007 eq. 11, Table 1", "ki")
    ksc_per_min: float = _param(
        "k_sc", "1/min", "rate of glucose exchange between plasma and interstitial fluid "
        "(the CGM's physiological lag)", "K2009", "ksc")
    u2ss_pmol_per_kg_min: float = _param(
        "u2ss", "pmol/kg/min", "basal (steady-state) subcutaneous insulin infusion rate",
        "SG", "u2ss", lo_open=False)
    vg_dl_per_kg: float = _param(
        "V_G", "dL/kg", "distribution volume of glucose", "DM2007 eq. 1, Table 1", "Vg")

    carb_ratio_g_per_u: float | None = attrs.field(
        default=None, converter=_opt_float, validator=_optional_positive,
        metadata={"unit": "g/U", "meaning": "carbohydrate ratio: grams covered by 1 U",
                  "source": "SG (Quest.csv, CR)", "csv_column": "CR"})
    correction_factor_mg_dl_per_u: float | None = attrs.field(
        default=None, converter=_opt_float, validator=_optional_positive,
        metadata={"unit": "mg/dL per U", "meaning": "correction factor: glucose drop per 1 U",
                  "source": "SG (Quest.csv, CF)", "csv_column": "CF"})
    age_years: float | None = attrs.field(
        default=None, converter=_opt_float, validator=_optional_positive,
        metadata={"unit": "years", "meaning": "age", "source": "SG (Quest.csv, Age)",
                  "csv_column": "Age"})
    total_daily_insulin_u: float | None = attrs.field(
        default=None, converter=_opt_float, validator=_optional_positive,
        metadata={"unit": "U/day", "meaning": "total daily insulin", "source":
                  "SG (Quest.csv, TDI)", "csv_column": "TDI"})

    @property
    def basal_insulin_u_per_min(self) -> float:
        """Basal insulin rate that holds the patient at its basal state [U/min]."""
        return self.u2ss_pmol_per_kg_min * self.body_weight_kg / PMOL_PER_UNIT

    @property
    def basal_insulin_u_per_h(self) -> float:
        """Basal insulin rate that holds the patient at its basal state [U/h]."""
        return 60.0 * self.basal_insulin_u_per_min

    def to_array(self) -> np.ndarray:
        """The model parameters as a float64 vector in the kernels' order (``PARAM_FIELDS``)."""
        return np.array([getattr(self, f) for f in PARAM_FIELDS], dtype=np.float64)

    @classmethod
    def from_array(cls, values: np.ndarray, **other: Any) -> PatientParams:
        """Build from a kernel parameter vector (``PARAM_FIELDS`` order) plus name/therapy fields."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (N_PARAMS,):
            raise ValueError(f"a parameter vector has shape ({N_PARAMS},), got {values.shape}")
        return cls(**dict(zip(PARAM_FIELDS, values.tolist(), strict=True)), **other)

    def basal_state(self) -> np.ndarray:
        """The 13-state steady state at the patient's own basal insulin rate."""
        from dt1d.physiology.kernels import steady_state_from_insulin

        return steady_state_from_insulin(self.to_array(), self.basal_insulin_u_per_min)


if tuple(a.name for a in attrs.fields(PatientParams) if "symbol" in a.metadata) != PARAM_FIELDS:
    raise ImportError("PatientParams fields and dt1d.physiology.layout.PARAM_FIELDS disagree")


def _parameter_table() -> str:
    """The parameter table (field, symbol, unit, meaning, source) as reStructuredText-ish text."""
    rows = [
        f"- ``{a.name}`` ({a.metadata.get('symbol', a.metadata['csv_column'])}, "
        f"{a.metadata['unit']}): "
        f"{a.metadata['meaning']}. Source: {a.metadata['source']}."
        for a in attrs.fields(PatientParams)
        if "unit" in a.metadata
    ]
    return "\n".join(rows)


PatientParams.__doc__ = (PatientParams.__doc__ or "") + "\n    Fields:\n\n" + "\n".join(
    "    " + line for line in _parameter_table().splitlines()
)


@cache
def read_parameter_table(filename: str) -> tuple[dict[str, str], ...]:
    """Rows of a shipped simglucose table in ``dt1d/physiology/data`` (read once, as text).

    ``vpatient_params.csv``, ``Quest.csv``, ``sensor_params.csv`` or ``pump_params.csv``.
    """
    text = resources.files("dt1d.physiology").joinpath("data").joinpath(filename).read_text("utf-8")
    return tuple(csv.DictReader(io.StringIO(text)))


def patient_names() -> list[str]:
    """Names of the 30 shipped virtual patients, in simglucose's order."""
    return [row["Name"] for row in read_parameter_table("vpatient_params.csv")]


def load_patient_params(name: str) -> PatientParams:
    """Parameters of one shipped virtual patient (e.g. ``"adult#001"``); KeyError if unknown."""
    rows = {row["Name"]: row for row in read_parameter_table("vpatient_params.csv")}
    if name not in rows:
        raise KeyError(name)
    row = rows[name]
    quest = {r["Name"]: r for r in read_parameter_table("Quest.csv")}.get(name, {})
    values: dict[str, Any] = {}
    for a in attrs.fields(PatientParams):
        column = a.metadata.get("csv_column")
        if column is None:
            continue
        source = row if column in row else quest
        if column in source:
            values[a.name] = float(source[column])
    return PatientParams(name=name, **values)


def reference_initial_state(name: str) -> np.ndarray:
    """simglucose's initial state ``x0_1..x0_13`` for a shipped patient (for checks)."""
    row = {r["Name"]: r for r in read_parameter_table("vpatient_params.csv")}[name]
    columns = [c for c in row if c.startswith("x0_")]
    return np.array([float(row[c]) for c in columns], dtype=np.float64)
