"""UVA/Padova physiology: patient parameters (attrs) and the model's numba kernels.

``import dt1d.physiology`` loads only the parameters; the numba kernels live in
``dt1d.physiology.kernels`` (reusable building blocks: RHS, RK4 step, meal logic, steady
states) and ``dt1d.physiology.batch`` (whole simulations, many patients at once).
"""

from dt1d.physiology.params import (
    N_PARAMS,
    N_STATES,
    PARAM_FIELDS,
    PMOL_PER_UNIT,
    STATE_NAMES,
    STATES,
    PatientParams,
    load_patient_params,
    patient_names,
)

__all__ = [
    "N_PARAMS",
    "N_STATES",
    "PARAM_FIELDS",
    "PMOL_PER_UNIT",
    "STATES",
    "STATE_NAMES",
    "PatientParams",
    "load_patient_params",
    "patient_names",
]
