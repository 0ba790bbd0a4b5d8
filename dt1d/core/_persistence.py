"""Turning a model into twin-file content and back (no pickle anywhere).

A model is stored as its registered name, its constructor parameters (JSON),
its learned state (JSON values plus NumPy arrays) and optional binary blobs
(for example a torch state dict). Loading rebuilds the class from the
registry by name, so a file can only ever instantiate a registered model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dt1d.data.twinfile import TwinFile, TwinFileError, to_jsonable

if TYPE_CHECKING:
    from dt1d.core.base import BaseModel

_STATE_PREFIX = "state."


def registered_name(cls: type) -> str:
    """The name under which ``cls`` is registered (its first name, sorted)."""
    from dt1d.core.model_registry import list_available_models

    qualified = f"{cls.__module__}.{cls.__qualname__}"
    names = [n for n, q in list_available_models().items() if q == qualified]
    if not names:
        raise TwinFileError(
            f"{qualified} is not a registered model, so it cannot be saved by name; "
            "register it (subclass BaseModel or use @register_model) before saving"
        )
    return names[0]


def call_get_params(model: Any) -> dict[str, Any]:
    """``model.get_params()`` called with no arguments (some models omit ``deep``)."""
    return dict(model.get_params())


def model_payload(model: BaseModel) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, bytes]]:
    """Manifest fields, arrays and blobs describing ``model``."""
    cls = type(model)
    try:
        params = to_jsonable(call_get_params(model))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot save {cls.__qualname__}: its parameters are not JSON-serialisable ({exc})"
        ) from None
    state = model._get_state()
    arrays: dict[str, np.ndarray] = {}
    json_state: dict[str, Any] = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            arrays[_STATE_PREFIX + key] = value
        else:
            try:
                json_state[key] = to_jsonable(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"cannot save {cls.__qualname__}: learned attribute {key!r} of type "
                    f"{type(value).__name__} is neither a NumPy array nor JSON-serialisable "
                    f"({exc}); override _get_state/_set_state"
                ) from None
    manifest = {
        "model_name": registered_name(cls),
        "model_class": f"{cls.__module__}.{cls.__qualname__}",
        "params": params,
        "state": json_state,
        "is_fitted": bool(model.is_fitted),
    }
    return manifest, arrays, dict(model._get_blobs())


def model_from_file(twin_file: TwinFile, path: Any) -> BaseModel:
    """Rebuild the model stored in ``twin_file`` (read from ``path``)."""
    from dt1d.core.model_registry import get_model_class

    manifest = twin_file.manifest
    for key in ("model_name", "params", "state"):
        if key not in manifest:
            raise TwinFileError(f"{path}: manifest has no {key!r} field; not a dt1d model file")
    cls = get_model_class(manifest["model_name"])
    params = manifest["params"]
    if not isinstance(params, dict):
        raise TwinFileError(f"{path}: manifest 'params' must be an object, got {type(params).__name__}")
    try:
        model = cls(**params)
    except TypeError as exc:
        raise TwinFileError(
            f"{path}: stored parameters do not fit {cls.__qualname__} ({exc}); "
            "the file was written by a different version of this model"
        ) from None
    state: dict[str, Any] = dict(manifest["state"])
    for key, value in twin_file.arrays.items():
        if key.startswith(_STATE_PREFIX):
            state[key[len(_STATE_PREFIX):]] = value
    model._set_state(state)
    model._set_blobs(dict(twin_file.blobs))
    if manifest.get("is_fitted") is not None:
        model.is_fitted = bool(manifest["is_fitted"])
    return model
