"""The heart of dt1d: the model registry, ``BaseModel`` and ``DigitalTwin``."""

from dt1d.core.base import BaseModel, ParamsMixin
from dt1d.core.model_registry import (
    DiscoveryError,
    ModelNotFoundError,
    RegistrationError,
    RegistryMeta,
    create_model,
    discover_models,
    get_model_class,
    is_model_registered,
    isolated,
    list_available_models,
    register_model,
    unregister_model,
)
from dt1d.core.twin import DigitalTwin
from dt1d.exceptions import CapabilityError, NotFittedError

__all__ = [
    "BaseModel",
    "CapabilityError",
    "DigitalTwin",
    "DiscoveryError",
    "ModelNotFoundError",
    "NotFittedError",
    "ParamsMixin",
    "RegistrationError",
    "RegistryMeta",
    "create_model",
    "discover_models",
    "get_model_class",
    "is_model_registered",
    "isolated",
    "list_available_models",
    "register_model",
    "unregister_model",
]
