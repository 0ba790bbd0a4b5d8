"""Turning a model into twin-file content and back (no pickle anywhere).

A model is stored as its registered name, its constructor parameters (JSON),
its learned state (JSON values plus NumPy arrays) and optional binary blobs
(for example a torch state dict). Loading rebuilds the class from the
registry by name, so a file can only ever instantiate a registered model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from dt1d.data.twinfile import TwinFile, TwinFileError, to_jsonable

if TYPE_CHECKING:
    from dt1d.core.base import BaseModel

_STATE_PREFIX = "state."
_WEIGHTS_PREFIX = "weights."
_MAX_NAME = 100
_MODEL_NAME = re.compile(rf"[^\x00-\x1f\x7f-\x9f]{{1,{_MAX_NAME}}}")
_STATE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,98}_")
_MAX_HORIZONS = 64
_MAX_HORIZON_MIN = 7 * 24 * 60


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
    for key, value in getattr(model, "_get_weights", dict)().items():
        arrays[_WEIGHTS_PREFIX + key] = value
    return manifest, arrays, dict(model._get_blobs())


def load_model_file(path: Any) -> tuple[BaseModel, dict[str, Any]]:
    """Read the model stored at ``path`` and the file's manifest.

    The manifest is checked against the model's schema (:func:`model_from_manifest`)
    before any array or blob is read, and the model's checks run on the arrays
    once they are read; every refusal is a ``TwinFileError`` naming the file.
    """
    from dt1d.data.twinfile import read_twin_file

    built: list[BaseModel] = []
    twin_file = read_twin_file(path, check_manifest=lambda m: built.append(model_from_manifest(m, path)))
    model = built[0]
    restore_state(model, twin_file, path)
    return model, twin_file.manifest


def model_from_file(twin_file: TwinFile, path: Any) -> BaseModel:
    """Rebuild the model stored in ``twin_file`` (read from ``path``)."""
    model = model_from_manifest(twin_file.manifest, path)
    restore_state(model, twin_file, path)
    return model


def model_from_manifest(manifest: Mapping[str, Any], path: Any) -> BaseModel:
    """The unfitted model a manifest describes, after checking the manifest's schema.

    Checks, in order: the model fields exist with the right types; ``model_name``
    is a short name of a registered model; ``params`` are parameters of its
    constructor and pass the model's own checks; every ``state`` key (JSON or
    array) is a public learned-attribute name ending in ``_`` that is neither a
    parameter nor a class attribute or method; the conventional learned values
    (``horizons_``, ``step_min_``, ``multi_output_``) are in range; and the model's
    ``_check_stored_state`` accepts the values and declared array shapes.
    """
    from dt1d.core.base import param_names
    from dt1d.core.model_registry import get_model_class

    for key in ("model_name", "params", "state"):
        if key not in manifest:
            raise TwinFileError(f"{path}: manifest has no {key!r} field; not a dt1d model file")
    name = manifest["model_name"]
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise TwinFileError(
            f"{path}: manifest 'model_name' is {_short(name)}; it must be the registered name "
            f"of a model (text of 1 to {_MAX_NAME} printable characters)"
        )
    for key, kinds in (("model_class", (str,)), ("model_type", (str,)), ("kind", (str,)),
                       ("is_fitted", (bool,))):
        value = manifest.get(key)
        if value is not None and not isinstance(value, kinds):
            raise TwinFileError(
                f"{path}: manifest {key!r} is {_short(value)}, a {type(value).__name__}; "
                f"expected {' or '.join(k.__name__ for k in kinds)}"
            )
    if manifest.get("kind") not in (None, "model", "twin"):
        raise TwinFileError(f"{path}: manifest 'kind' is {_short(manifest['kind'])}, not 'model' or 'twin'")
    params, state = manifest["params"], manifest["state"]
    for key, value in (("params", params), ("state", state)):
        if not isinstance(value, dict):
            raise TwinFileError(
                f"{path}: manifest {key!r} must be an object (name: value), got {type(value).__name__}"
            )
    cls = get_model_class(name)
    valid = param_names(cls)
    unknown = sorted(k for k in params if k not in valid)
    if unknown:
        raise TwinFileError(
            f"{path}: stored parameters {[_short(k, 40) for k in unknown[:5]]} do not fit "
            f"{cls.__qualname__} (its parameters are {valid}); the file was written by a "
            "different version of this model or edited"
        )
    try:
        model = cls(**params)
        check = getattr(model, "_check_params", None)
        if callable(check):
            check()
    except (TypeError, ValueError) as exc:
        raise TwinFileError(
            f"{path}: stored parameters do not fit {cls.__qualname__}: {_cut(str(exc), 300)}"
        ) from None
    arrays = _declared_state_arrays(manifest, path)
    for key in (*state, *(k for k in arrays if not k.startswith(_WEIGHTS_PREFIX))):
        _check_state_key(cls, key, valid, path)
    both = sorted(set(state) & set(arrays))
    if both:
        raise TwinFileError(f"{path}: state {both[:5]} is stored both as JSON and as an array")
    try:
        _check_conventional_state(state)
        check_state = getattr(model, "_check_stored_state", None)
        if callable(check_state):
            check_state(dict(state), arrays)
    except (TypeError, ValueError) as exc:
        raise TwinFileError(
            f"{path}: stored state does not fit {cls.__qualname__}: {_cut(str(exc), 300)}"
        ) from None
    blobs = manifest.get("blobs") or {}
    known = frozenset(getattr(model, "_stored_blobs", frozenset()))
    extra = sorted(set(blobs) - known)
    if extra:
        raise TwinFileError(
            f"{path}: blobs {[_short(b, 40) for b in extra[:5]]} are not stored by "
            f"{cls.__qualname__} (it stores {sorted(known) or 'none'})"
        )
    return model


def restore_state(model: BaseModel, twin_file: TwinFile, path: Any) -> None:
    """Set the learned state, weights and blobs of ``twin_file`` on ``model``."""
    manifest = twin_file.manifest
    state: dict[str, Any] = dict(manifest["state"])
    weights: dict[str, np.ndarray] = {}
    for key, value in twin_file.arrays.items():
        if key.startswith(_STATE_PREFIX):
            state[key[len(_STATE_PREFIX):]] = value
        elif key.startswith(_WEIGHTS_PREFIX):
            weights[key[len(_WEIGHTS_PREFIX):]] = value
    try:
        model._set_state(state)
        if weights or hasattr(model, "_set_weights"):
            model._set_weights(weights)
        model._set_blobs(dict(twin_file.blobs))
    except (TypeError, ValueError) as exc:
        raise TwinFileError(
            f"{path}: stored state does not fit {type(model).__qualname__}: {_cut(str(exc), 300)}"
        ) from None
    if manifest.get("is_fitted") is not None:
        model.is_fitted = bool(manifest["is_fitted"])


def _declared_state_arrays(manifest: Mapping[str, Any], path: Any) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """``{state key: (dtype, shape)}`` of the arrays the manifest lists.

    Weights keep their ``weights.`` prefix, so they never pass for learned state.
    """
    out = {}
    for name, listed in (manifest.get("arrays") or {}).items():
        if name.startswith(_WEIGHTS_PREFIX):
            out[name] = (np.dtype(listed["dtype"]), tuple(listed["shape"]))
            continue
        if not name.startswith(_STATE_PREFIX):
            raise TwinFileError(
                f"{path}: array {_short(name, 60)} is neither learned state ('{_STATE_PREFIX}...') "
                f"nor weights ('{_WEIGHTS_PREFIX}...')"
            )
        out[name[len(_STATE_PREFIX):]] = (np.dtype(listed["dtype"]), tuple(listed["shape"]))
    return out


def _check_state_key(cls: type, key: Any, params: list[str], path: Any) -> None:
    """A stored state key must name a learned attribute, never a method or setting."""
    if not isinstance(key, str) or not _STATE_KEY.fullmatch(key):
        raise TwinFileError(
            f"{path}: state key {_short(key, 60)} is not a learned attribute: learned state "
            "lives in public attributes ending in '_' (letters, digits, '_')"
        )
    if key in params or hasattr(cls, key):
        what = "a parameter" if key in params else "an attribute or method of the class"
        raise TwinFileError(
            f"{path}: state key {key!r} names {what} of {cls.__qualname__}; refusing to "
            "overwrite it from a file"
        )


def _check_conventional_state(state: Mapping[str, Any]) -> None:
    """Ranges of the learned values every dt1d model names the same way."""
    if "horizons_" in state:
        horizons = state["horizons_"]
        if (not isinstance(horizons, list) or not 1 <= len(horizons) <= _MAX_HORIZONS
                or not all(isinstance(h, int) and not isinstance(h, bool) and 0 < h <= _MAX_HORIZON_MIN
                           for h in horizons)
                or len(set(horizons)) != len(horizons)):
            raise ValueError(
                f"horizons_ is {_short(horizons)}; expected 1 to {_MAX_HORIZONS} distinct whole "
                f"minutes in (0, {_MAX_HORIZON_MIN}]"
            )
    if "step_min_" in state:
        step = state["step_min_"]
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1440:
            raise ValueError(f"step_min_ is {_short(step)}; expected minutes in (0, 1440]")
    if "multi_output_" in state and not isinstance(state["multi_output_"], bool):
        raise ValueError(f"multi_output_ is {_short(state['multi_output_'])}; expected true or false")
    if state.get("multi_output_") is False and len(state.get("horizons_") or [0]) != 1:
        raise ValueError("multi_output_ is false but horizons_ lists several horizons")


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (file content may be hostile)."""
    return _cut(repr(value), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
