"""The mechanistic digital twin: UVA/Padova personalised to one person's record.

``MechanisticModel`` (registered as ``"mechanistic_uva_padova"``, alias
``"mechanistic"``) lives in ``_model``; the rest of this package is its
machinery: ``_fit`` (MAP and MCMC identification), ``_kernels`` (numba Kalman
filter and replay), ``_priors`` (population priors per age group) and
``_correction`` (the learned model-error correction). The user guide is
``docs/mechanistic.md``.
"""

from dt1d.exceptions import ConvergenceWarning, ForecastRangeWarning
from dt1d.models.mechanistic._model import SENSITIVITY_WINDOWS_H, MechanisticModel

__all__ = ["ConvergenceWarning", "ForecastRangeWarning", "MechanisticModel", "SENSITIVITY_WINDOWS_H"]
