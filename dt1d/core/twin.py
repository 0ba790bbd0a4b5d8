"""``BaseModel``, the contract every dt1d model implements, and ``DigitalTwin``.

``BaseModel`` follows scikit-learn's estimator conventions: ``__init__`` only
stores its arguments, ``fit`` returns ``self``, learned state lives in
attributes ending in ``_``. Every concrete subclass is registered by name
through :class:`~dt1d.core.model_registry.RegistryMeta`.

``DigitalTwin`` picks a model by its registered name and drives it on patient
records in the format of :mod:`dt1d.data`.
"""

from __future__ import annotations

import logging
import os
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from dt1d.core import _persistence
from dt1d.core.model_registry import RegistryMeta, create_model

__all__ = ["BaseModel", "DigitalTwin", "CapabilityError"]

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound="BaseModel")


class CapabilityError(NotImplementedError):
    """The chosen model cannot do what was asked (for example ``simulate``)."""


class BaseModel(metaclass=RegistryMeta, abstract=True):
    """Base class of every dt1d model; concrete subclasses are registered by name.

    Subclasses implement ``fit``, ``predict``, ``get_params`` and
    ``set_params`` (mix in :class:`dt1d.core.params.ParamsMixin` to derive the
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

    def _check_is_fitted(self) -> None:
        """Raise a clear error when ``predict`` is called before ``fit``."""
        if not self.is_fitted:
            raise RuntimeError(
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


def _check_horizons(horizon: int | Sequence[int]) -> list[int]:
    is_list = isinstance(horizon, (list, tuple, np.ndarray))
    values = list(horizon) if is_list else [horizon]
    if not values:
        raise ValueError("horizon must be a positive number of minutes or a non-empty list of them")
    for h in values:
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h <= 0:
            raise ValueError(
                f"horizon must be positive whole minutes (e.g. 30 or [30, 60]); got {h!r}"
            )
    if len(set(values)) != len(values):
        raise ValueError(f"horizon has repeated values: {values}")
    return [int(h) for h in values]


class DigitalTwin:
    """A person's digital twin: a registered model driven on their records.

    Parameters
    ----------
    model_type:
        Registered model name (see ``dt1d.list_available_models()``).
    model_params:
        Constructor parameters of that model.
    horizon:
        Forecast horizon in minutes, or a list of horizons (multi-horizon).
    """

    def __init__(
        self,
        model_type: str,
        model_params: Mapping[str, Any] | None = None,
        horizon: int | Sequence[int] = 30,
    ) -> None:
        self.model_type = model_type
        self.model_params = dict(model_params or {})
        self.horizon = horizon
        self._horizons = _check_horizons(horizon)
        self.model: BaseModel = create_model(model_type, **self.model_params)
        self.data_summary_: dict[str, Any] | None = None

    # -- the user's verbs ---------------------------------------------------------------
    def fit(
        self, record: pd.DataFrame, y: pd.Series | pd.DataFrame | None = None, **fit_kwargs: Any
    ) -> DigitalTwin:
        """Fit the model on ``record``; ``y`` defaults to glucose ``horizon`` minutes ahead.

        Extra keyword arguments go to the model's ``fit`` (for example the
        LSTM's per-epoch ``callback``).
        """
        from dt1d.data import make_target, validate

        X = validate(record)
        if y is None:
            y = make_target(X, self._target_horizon())
        elif not y.index.equals(X.index):
            raise ValueError(
                "y must be aligned with the record: same index, same order "
                f"({len(y)} rows vs {len(X)}); build it with dt1d.data.make_target"
            )
        result = self.model.fit(X, y, **fit_kwargs)
        if result is not self.model:
            logger.warning("%s.fit did not return self", type(self.model).__qualname__)
        self.data_summary_ = _summarise(X)
        return self

    def predict(self, record: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        """Forecast glucose at ``t + horizon`` for every row of ``record``."""
        from dt1d.data import validate

        X = validate(record)
        pred = np.asarray(self.model.predict(X, **kwargs), dtype=float)
        expected = (len(X),) if isinstance(self.horizon, (int, np.integer)) else (len(X), len(self._horizons))
        if pred.shape != expected:
            raise ValueError(
                f"{type(self.model).__qualname__}.predict returned shape {pred.shape}; "
                f"expected {expected} (one row per record row, one column per horizon)"
            )
        return pred

    @property
    def horizons(self) -> list[int]:
        """The forecast horizons in minutes, as a list (one entry for a single horizon)."""
        return list(self._horizons)

    def evaluate(
        self, record: pd.DataFrame, horizons: Sequence[int] | None = None
    ) -> dict[str, Any] | pd.DataFrame:
        """Forecast accuracy on ``record``.

        Without ``horizons``, for one person: a dict with RMSE, MAE, MARD and
        the number of scored pairs (flat for one horizon, keyed ``"30min"``...
        for several). With ``horizons`` (a subset of the twin's), or for a
        cohort with ``patient_id``: a tidy table from
        :func:`dt1d.metrics.forecast_accuracy_table`, one row per horizon (and
        patient) with errors, Clarke/Parkes zone fractions and time lag.
        """
        from dt1d.data import make_target, validate

        X = validate(record)
        cohort = "patient_id" in X.columns
        pred = self.predict(X)
        if horizons is None and not cohort:
            y = make_target(X, self._target_horizon())
            if isinstance(y, pd.Series):
                return _accuracy(y.to_numpy(dtype=float), pred)
            return {
                col: _accuracy(y[col].to_numpy(dtype=float), pred[:, j]) for j, col in enumerate(y.columns)
            }
        from dt1d.metrics import forecast_accuracy_table

        wanted = self._horizons if horizons is None else _check_horizons(horizons)
        missing = [h for h in wanted if h not in self._horizons]
        if missing:
            raise ValueError(
                f"this twin forecasts {self._horizons} min ahead; it cannot be evaluated at {missing} "
                "(fit a twin with those horizons)"
            )
        columns = [self._horizons.index(h) for h in wanted]
        matrix = pred[:, None] if pred.ndim == 1 else pred
        return forecast_accuracy_table(
            make_target(X, list(wanted)),
            matrix[:, columns],
            patient_id=X["patient_id"] if cohort else None,
        )

    def simulate(self, *args: Any, **kwargs: Any) -> Any:
        """What-if replay, for models that can simulate (tag ``"simulates"``)."""
        method = getattr(self.model, "simulate", None)
        if "simulates" not in getattr(self.model, "tags", ()) or method is None:
            raise CapabilityError(
                f"model {self.model_type!r} ({type(self.model).__qualname__}) cannot simulate; "
                "use a model tagged 'simulates', such as 'mechanistic'"
            )
        return method(*args, **kwargs)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the twin (model, parameters, horizon, data summary) to a ``.dt1d`` file."""
        from dt1d.data.twinfile import write_twin_file

        manifest, arrays, blobs = _persistence.model_payload(self.model)
        manifest.update(
            kind="twin",
            model_type=self.model_type,
            horizon=self._horizons if not isinstance(self.horizon, (int, np.integer)) else int(self.horizon),
            data_summary=self.data_summary_,
        )
        write_twin_file(path, manifest, arrays, blobs)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DigitalTwin:
        """Read a twin saved by :meth:`save` (or a model saved by ``BaseModel.save``)."""
        from dt1d.data.twinfile import TwinFileError, read_twin_file

        twin_file = read_twin_file(path)
        manifest = twin_file.manifest
        model = _persistence.model_from_file(twin_file, path)
        horizon = manifest.get("horizon", 30)
        try:
            _check_horizons(horizon)
        except ValueError as exc:
            raise TwinFileError(f"{path}: bad horizon in manifest: {exc}") from None
        twin = cls.__new__(cls)
        twin.model_type = str(manifest.get("model_type", manifest["model_name"]))
        twin.model_params = dict(manifest["params"])
        twin.horizon = horizon
        twin._horizons = _check_horizons(horizon)
        twin.model = model
        twin.data_summary_ = manifest.get("data_summary")
        return twin

    # -- helpers -------------------------------------------------------------------------
    def _target_horizon(self) -> int | list[int]:
        return int(self.horizon) if isinstance(self.horizon, (int, np.integer)) else self._horizons

    def __repr__(self) -> str:
        return (
            f"DigitalTwin(model_type={self.model_type!r}, model_params={self.model_params!r}, "
            f"horizon={self.horizon!r})"
        )


def _accuracy(reference: np.ndarray, prediction: np.ndarray) -> dict[str, Any]:
    from dt1d.metrics import mae, mard, rmse

    n = int(np.sum(np.isfinite(reference) & np.isfinite(prediction)))
    return {
        "rmse": float(rmse(reference, prediction)),
        "mae": float(mae(reference, prediction)),
        "mard": float(mard(reference, prediction)),
        "n": n,
    }


def _summarise(X: pd.DataFrame) -> dict[str, Any]:
    """A small JSON-able description of the training data, stored in twin files."""
    glucose = X["glucose"].to_numpy(dtype=float)
    summary: dict[str, Any] = {
        "rows": int(len(X)),
        "start": str(X.index[0]),
        "end": str(X.index[-1]),
        "glucose_missing_fraction": float(np.mean(np.isnan(glucose))),
        "glucose_mean_mg_dl": float(np.nanmean(glucose)) if np.isfinite(glucose).any() else None,
    }
    if "patient_id" in X.columns:
        summary["patients"] = int(X["patient_id"].nunique())
    return summary

