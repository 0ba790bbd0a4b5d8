"""dt1d: digital twins of people with type 1 diabetes.

The everyday names live here: ``DigitalTwin``, ``BaseModel``, the registry
functions, and the ``data`` subpackage. Heavier parts (``dt1d.sim``,
``dt1d.models``, ``dt1d.plots``) are imported when first used; importing
``dt1d`` never imports torch, matplotlib or numba kernels.
"""

from dt1d import data
from dt1d._version import __version__
from dt1d.core import (
    BaseModel,
    CapabilityError,
    DigitalTwin,
    ModelNotFoundError,
    NotFittedError,
    ParamsMixin,
    RegistrationError,
    create_model,
    discover_models,
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
    unregister_model,
)
from dt1d.exceptions import Dt1dError

__all__ = [
    "BaseModel",
    "CapabilityError",
    "DigitalTwin",
    "Dt1dError",
    "ModelNotFoundError",
    "NotFittedError",
    "ParamsMixin",
    "RegistrationError",
    "__version__",
    "create_model",
    "data",
    "discover_models",
    "get_model_class",
    "is_model_registered",
    "isolated",
    "list_available_models",
    "register_model",
    "unregister_model",
]
