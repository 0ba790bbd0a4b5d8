"""A fitted mechanistic twin's personal parameters as the PatientParams of an environment.

:class:`~dt1d.models.mechanistic.MechanisticModel` (alone or inside a
:class:`~dt1d.core.twin.DigitalTwin`) stores its fitted kernel parameters as
``param_matrix_``, one row per time-of-day sensitivity window (one row without windows).
Every row is the age group's base patient with the person's body weight, the estimated
parameters (``params_``: Vmx, kp3, kabs, kmax, p2U, ksc, kp2, Vm0) and Ib, kp1 and u2ss
set so that the fitted basal glucose is a steady state at the fitted basal insulin rate
(``dt1d.models.mechanistic._fit.equilibrate``). The rows differ only in Vmx and kp3, the
sensitivity windows scaling both.

The environments have no clock-dependent parameters, so a twin with windows becomes one
patient whose Vmx and kp3 are the geometric means of its windows (what the twin itself
forecasts with under its default ``forecast_time_of_day=False``), and whose kp1 is moved by
``(kp3_mean - kp3) Ib`` so that the liver's basal glucose output, and with it the basal
steady state, stay the fitted ones. The twin's meal delay is not modelled (meals reach the
stomach when the scenario says) and its estimated CGM noise is not used (the environment's
``sensor`` is).
"""

from __future__ import annotations

import numpy as np

from dt1d.exceptions import NotFittedError
from dt1d.physiology.layout import N_PARAMS, P_IB, P_KP1, P_KP3, P_VMX
from dt1d.physiology.params import PatientParams

__all__ = ["is_twin", "twin_params"]


def _model_of(twin: object) -> object:
    """The fitted model inside a DigitalTwin, or ``twin`` itself."""
    from dt1d.core.twin import DigitalTwin

    return twin.model if isinstance(twin, DigitalTwin) else twin


def is_twin(obj: object) -> bool:
    """Whether ``obj`` is a DigitalTwin or a MechanisticModel (fitted or not)."""
    from dt1d.core.twin import DigitalTwin
    from dt1d.models.mechanistic import MechanisticModel

    return isinstance(obj, (DigitalTwin, MechanisticModel))


def twin_params(twin: object, name: str | None = None) -> PatientParams:
    """The :class:`PatientParams` of a fitted mechanistic twin (see the module notes).

    Parameters
    ----------
    twin:
        A fitted :class:`~dt1d.models.mechanistic.MechanisticModel` or a
        :class:`~dt1d.core.twin.DigitalTwin` holding one.
    name:
        The patient's name (default ``"twin"``).

    Raises
    ------
    TypeError
        ``twin`` holds another kind of model (only the mechanistic twin has a physiology).
    NotFittedError
        The twin is not fitted.
    """
    from dt1d.models.mechanistic import MechanisticModel

    model = _model_of(twin)
    if not isinstance(model, MechanisticModel):
        raise TypeError(f"only a mechanistic twin (model_type 'mechanistic') has a physiology "
                        f"an environment can run; this twin holds {type(model).__name__}")
    pw = getattr(model, "param_matrix_", None)
    if pw is None:
        raise NotFittedError("this mechanistic twin is not fitted yet; call fit(record) "
                             "before building an environment from it")
    pw = np.asarray(pw, dtype=np.float64)
    if pw.ndim != 2 or pw.shape[1] != N_PARAMS or pw.shape[0] < 1:
        raise ValueError(f"the twin's param_matrix_ has shape {pw.shape}; expected "
                         f"(windows, {N_PARAMS})")
    p = pw[0].copy()
    if pw.shape[0] > 1:
        p[P_VMX] = float(np.exp(np.log(pw[:, P_VMX]).mean()))
        kp3_mean = float(np.exp(np.log(pw[:, P_KP3]).mean()))
        kp3_fit = float(model.params_["kp3"])  # the fitted kp3 before the windows' scaling
        p[P_KP1] = pw[0, P_KP1] + (kp3_mean - kp3_fit) * pw[0, P_IB]
        p[P_KP3] = kp3_mean
    return PatientParams.from_array(p, name="twin" if name is None else str(name))
