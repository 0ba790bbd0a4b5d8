"""``BaseModel``, the contract every dt1d model implements, and its mixins.

``BaseModel`` follows scikit-learn's estimator conventions: ``__init__`` only
stores its arguments, ``fit`` returns ``self``, learned state lives in
attributes ending in ``_``. Every concrete subclass is registered by name
through :class:`~dt1d.core.model_registry.RegistryMeta`.

:class:`ParamsMixin` derives ``get_params``/``set_params`` from the
constructor signature, so ``get_params``, ``set_params``, ``clone`` and
``create_model(name, **model.get_params())`` can never drift from it.
"""

from __future__ import annotations

import inspect
import os
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from dt1d.core import _persistence
from dt1d.core.model_registry import RegistryMeta
from dt1d.exceptions import DataValidationError, NotFittedError

__all__ = ["BaseModel", "ParamsMixin", "param_names"]

_M = TypeVar("_M", bound="BaseModel")


def param_names(cls: type) -> list[str]:
    """Names of the keyword parameters of ``cls.__init__``, in signature order.

    Raises ``TypeError`` when the constructor takes ``*args``: such a
    signature cannot be rebuilt from named parameters.
    """
    init = cls.__init__
    if init is object.__init__:
        return []
    names = []
    for p in inspect.signature(init).parameters.values():
        if p.name == "self" or p.kind is p.VAR_KEYWORD:
            continue
        if p.kind is p.VAR_POSITIONAL:
            raise TypeError(
                f"{cls.__qualname__}.__init__ takes *{p.name}; dt1d models must take "
                "named parameters only, so that get_params/clone can rebuild them"
            )
        names.append(p.name)
    return names


class ParamsMixin:
    """Implements ``get_params`` and ``set_params`` from the ``__init__`` signature.

    Mix it in before :class:`BaseModel`::

        class MyModel(ParamsMixin, BaseModel):
            def __init__(self, alpha: float = 1.0):
                self.alpha = alpha
    """

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their current values."""
        out: dict[str, Any] = {}
        for name in param_names(type(self)):
            try:
                out[name] = getattr(self, name)
            except AttributeError:
                raise AttributeError(
                    f"{type(self).__qualname__}.__init__ takes {name!r} but does not store it "
                    f"as self.{name}; store every constructor argument unchanged"
                ) from None
        return out

    def set_params(self, **params: Any) -> Any:
        """Set constructor parameters by name; an unknown name raises ``ValueError``."""
        valid = param_names(type(self))
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"invalid parameter(s) {', '.join(map(repr, unknown))} for "
                f"{type(self).__qualname__}; valid parameters are: {', '.join(valid) or '(none)'}"
            )
        for key, value in params.items():
            setattr(self, key, value)
        return self


class BaseModel(metaclass=RegistryMeta, abstract=True):
    """Base class of every dt1d model; concrete subclasses are registered by name.

    Subclasses implement ``fit``, ``predict``, ``get_params`` and
    ``set_params`` (mix in :class:`ParamsMixin` to derive the
    last two from ``__init__``). ``save``/``load``/``clone`` work for any
    subclass whose learned state is NumPy arrays and JSON values in attributes
    ending in ``_``; override ``_get_state``/``_set_state`` otherwise.
    """

    #: Capabilities the registry can filter on: "simulates", "needs_torch",
    #: "multi_horizon", "personal" (one person per fit), "population".
    tags: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def fit(self: _M, X: pd.DataFrame, y: pd.Series | pd.DataFrame | None = None, **kwargs: Any) -> _M:
        """Learn from a validated record ``X`` and its aligned target ``y``; return ``self``."""

    @abstractmethod
    def predict(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        """Glucose at ``t + horizon`` for every row of ``X``: shape ``(n,)`` or ``(n, k)``."""

    @abstractmethod
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their values."""

    @abstractmethod
    def set_params(self: _M, **params: Any) -> _M:
        """Set constructor parameters; an unknown name raises ``ValueError``."""

    # -- fitted state ---------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has run: an explicit flag if one was set, else any ``attr_``."""
        flag = self.__dict__.get("_dt1d_is_fitted") if hasattr(self, "__dict__") else None
        if flag is not None:
            return bool(flag)
        return bool(_learned_attributes(self))

    @is_fitted.setter
    def is_fitted(self, value: bool) -> None:
        self.__dict__["_dt1d_is_fitted"] = bool(value)

    def _check_step(self, X: pd.DataFrame) -> None:
        """Refuse a record on another grid than the one fitted on (``step_min_``, if learned)."""
        fitted = self.__dict__.get("step_min_") if hasattr(self, "__dict__") else None
        if fitted is None:
            return
        step_min = record_step_min(X)
        if step_min is not None and step_min != float(fitted):
            raise DataValidationError(
                f"the record is on a {step_min:g}-minute grid but this {type(self).__qualname__} "
                f"was fitted on {float(fitted):g} minutes", code="step_mismatch", column="time",
                fix=f"resample it: dt1d.data.resample(df, step='{float(fitted):g}min')",
            )

    def _check_is_fitted(self) -> None:
        """Raise a clear error when ``predict`` is called before ``fit``."""
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__qualname__} is not fitted yet; call fit(X, y) first"
            )

    def _get_state(self) -> dict[str, Any]:
        """Learned state to save: every public attribute ending in ``_``."""
        return _learned_attributes(self)

    def _set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`_get_state` returned."""
        for key, value in state.items():
            setattr(self, key, value)

    def _get_blobs(self) -> dict[str, bytes]:
        """Extra binary payloads to save (for example a torch state dict)."""
        return {}

    def _set_blobs(self, blobs: Mapping[str, bytes]) -> None:
        """Restore what :meth:`_get_blobs` returned."""
        if blobs:
            raise ValueError(
                f"{type(self).__qualname__} stores no binary blobs but the file has "
                f"{sorted(blobs)}; the file was written by another model"
            )

    # -- persistence and copies -------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this model to a ``.dt1d`` twin file, atomically."""
        from dt1d.data.twinfile import write_twin_file

        manifest, arrays, blobs = _persistence.model_payload(self)
        write_twin_file(path, {"kind": "model", **manifest}, arrays, blobs)

    @classmethod
    def load(cls: type[_M], path: str | os.PathLike[str]) -> _M:
        """Read a model from a ``.dt1d`` file; never executes code from the file."""
        from dt1d.data.twinfile import TwinFileError, read_twin_file

        model = _persistence.model_from_file(read_twin_file(path), path)
        if not isinstance(model, cls):
            raise TwinFileError(
                f"{path} holds a {type(model).__qualname__}, not a {cls.__qualname__}; "
                "load it with BaseModel.load or DigitalTwin.load"
            )
        return model

    def clone(self: _M) -> _M:
        """A new, unfitted model with the same parameters."""
        return type(self)(**_persistence.call_get_params(self))

    def __repr__(self) -> str:
        try:
            params = _persistence.call_get_params(self)
        except Exception:  # repr must never fail
            return f"{type(self).__qualname__}(<params unavailable>)"
        inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


def _learned_attributes(obj: object) -> dict[str, Any]:
    """Public instance attributes whose names end in ``_`` (sklearn's fitted marker)."""
    attrs = getattr(obj, "__dict__", {})
    return {
        k: v for k, v in attrs.items() if k.endswith("_") and not k.startswith("_")
    }


def record_step_min(X: pd.DataFrame) -> float | None:
    """The grid step of a record in minutes, or None when it has no two rows to measure."""
    from dt1d.data import infer_step

    try:
        return float(infer_step(X) / pd.Timedelta(minutes=1))
    except DataValidationError:
        return None
