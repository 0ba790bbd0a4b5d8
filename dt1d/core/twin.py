"""``DigitalTwin``: a person's twin, a registered model driven on their records.

``DigitalTwin`` picks a model by its registered name and drives it on patient
records in the format of :mod:`dt1d.data`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.core import _persistence
from dt1d.core.base import BaseModel, record_step_min
from dt1d.core.model_registry import create_model
from dt1d.exceptions import CapabilityError, DataValidationError

__all__ = ["DigitalTwin"]

logger = logging.getLogger(__name__)


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
        self._check_step(X)
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
        learned = getattr(model, "horizons_", None)
        wanted = _check_horizons(horizon)
        if learned is not None and [int(h) for h in learned] != wanted:
            raise TwinFileError(
                f"{path}: the manifest says horizon {horizon!r} but the model inside was "
                f"fitted for {list(learned)} min; the file was edited or damaged"
            )
        twin = cls.__new__(cls)
        twin.model_type = str(manifest.get("model_type", manifest["model_name"]))
        twin.model_params = dict(manifest["params"])
        twin.horizon = horizon
        twin._horizons = _check_horizons(horizon)
        twin.model = model
        twin.data_summary_ = manifest.get("data_summary")
        return twin

    # -- helpers -------------------------------------------------------------------------
    def _check_step(self, X: pd.DataFrame) -> None:
        """Refuse a record on another grid than the twin was fitted on (any model)."""
        fitted = (self.data_summary_ or {}).get("step_min")
        step_min = record_step_min(X)
        if fitted is not None and step_min is not None and step_min != float(fitted):
            raise DataValidationError(
                f"the record is on a {step_min:g}-minute grid but this twin was fitted on "
                f"{float(fitted):g} minutes", code="step_mismatch", column="time",
                fix=f"resample it: dt1d.data.resample(df, step='{float(fitted):g}min')",
            )

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
        "step_min": record_step_min(X),
        "start": str(X.index[0]),
        "end": str(X.index[-1]),
        "glucose_missing_fraction": float(np.mean(np.isnan(glucose))),
        "glucose_mean_mg_dl": float(np.nanmean(glucose)) if np.isfinite(glucose).any() else None,
    }
    if "patient_id" in X.columns:
        summary["patients"] = int(X["patient_id"].nunique())
    return summary

