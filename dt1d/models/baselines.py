"""Baseline forecasters every twin must beat: persistence and ridge regression.

* ``persistence``: glucose at ``t + h`` equals glucose at ``t``.
* ``linear``: ridge regression of the glucose change ``g(t + h) - g(t)`` on the
  last ``lags`` samples of glucose, insulin and carbs, solved in closed form.

Both learn their horizons from ``y`` (``dt1d.data.make_target``), so a Series
target gives ``(n,)`` forecasts and a multi-horizon frame gives ``(n, k)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg

from dt1d.core import _state_checks as checks
from dt1d.core.base import BaseModel, ParamsMixin
from dt1d.data import horizons_of, infer_step, iter_patients

__all__ = ["PersistenceModel", "LinearModel"]

_FEATURES = ("glucose", "insulin", "carbs")


def _target_matrix(y: pd.Series | pd.DataFrame) -> tuple[np.ndarray, list[int], bool]:
    """``y`` as an ``(n, k)`` float array, its horizons, and whether it was a frame."""
    horizons = horizons_of(y)
    if isinstance(y, pd.Series):
        return y.to_numpy(dtype=float)[:, None], horizons, False
    return y.to_numpy(dtype=float), horizons, True


def _shape_output(pred: np.ndarray, multi: bool) -> np.ndarray:
    return pred if multi else pred[:, 0]


class PersistenceModel(ParamsMixin, BaseModel, name="persistence"):
    """Forecast that glucose stays where it is: ``g(t + h) = g(t)``.

    Parameters
    ----------
    max_gap_min:
        When the current CGM reading is missing, use the latest reading at most
        this many minutes old (0: predict NaN for a missing reading).
    """

    tags = frozenset({"multi_horizon", "population"})

    def __init__(self, max_gap_min: int = 0) -> None:
        self.max_gap_min = max_gap_min

    def _check_params(self) -> None:
        if (isinstance(self.max_gap_min, bool) or not isinstance(self.max_gap_min, (int, np.integer))
                or self.max_gap_min < 0):
            raise ValueError(f"max_gap_min must be a non-negative integer of minutes, got {self.max_gap_min!r}")

    def _check_stored_state(self, state: dict[str, Any], arrays: checks.ArraySpecs) -> None:
        checks.check_keys(state, arrays, ("horizons_", "multi_output_"), ())
        checks.check_bool(state, "multi_output_")

    def fit(self, X: pd.DataFrame, y: pd.Series | pd.DataFrame | None = None, **kwargs: Any) -> PersistenceModel:
        """Record the horizons of ``y`` (default one 30-minute horizon); nothing to learn."""
        self._check_params()
        if y is None:
            self.horizons_, self.multi_output_ = [30], False
        else:
            _, self.horizons_, self.multi_output_ = _target_matrix(y)
        return self

    def predict(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        """The latest glucose reading, repeated for every horizon."""
        self._check_is_fitted()
        out = np.empty(len(X))
        pos = 0
        for _, frame in iter_patients(X):
            g = frame["glucose"]
            if self.max_gap_min and len(frame) > 1:
                step_min = infer_step(frame) / pd.Timedelta(minutes=1)
                g = g.ffill(limit=max(int(self.max_gap_min // step_min), 0))
            out[pos : pos + len(frame)] = g.to_numpy(dtype=float)
            pos += len(frame)
        pred = np.repeat(out[:, None], len(self.horizons_), axis=1)
        return _shape_output(pred, self.multi_output_)


class LinearModel(ParamsMixin, BaseModel, name="linear"):
    """Ridge regression on recent glucose, insulin and carbs (closed form).

    Parameters
    ----------
    lags:
        Number of past samples of each feature used (12 at 5 minutes = 1 hour).
    alpha:
        Ridge penalty on the standardised features (the intercept is not penalised).
    """

    tags = frozenset({"multi_horizon", "population"})

    def __init__(self, lags: int = 12, alpha: float = 1.0) -> None:
        self.lags = lags
        self.alpha = alpha

    def _check_params(self) -> None:
        if isinstance(self.lags, bool) or not isinstance(self.lags, (int, np.integer)) or self.lags < 1:
            raise ValueError(f"lags must be a positive integer number of samples, got {self.lags!r}")
        if not np.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(f"alpha must be a finite non-negative number, got {self.alpha!r}")

    def _check_stored_state(self, state: dict[str, Any], arrays: checks.ArraySpecs) -> None:
        """Shapes follow from ``lags`` and the horizons; nothing else is stored."""
        checks.check_keys(state, arrays, ("step_min_", "horizons_", "multi_output_"),
                          ("feature_mean_", "feature_scale_", "coef_", "intercept_"))
        n_feat, k = len(_FEATURES) * int(self.lags), len(state.get("horizons_", [30]))
        checks.check_shape(arrays, "feature_mean_", n_feat)
        checks.check_shape(arrays, "feature_scale_", n_feat)
        checks.check_shape(arrays, "coef_", n_feat, k)
        checks.check_shape(arrays, "intercept_", k)

    def _set_state(self, state: dict[str, Any]) -> None:
        checks.check_finite(state, "feature_mean_", "coef_", "intercept_")
        checks.check_finite(state, "feature_scale_", positive=True)
        super()._set_state(state)

    def _design(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Lagged features ``(n, lags * 3)`` (NaN where history is short) and current glucose."""
        from dt1d.data.schema import refuse_long_acting

        refuse_long_acting(X, "linear")
        n_feat = len(_FEATURES) * self.lags
        design = np.full((len(X), n_feat), np.nan)
        pos = 0
        for _, frame in iter_patients(X):
            values = frame.loc[:, list(_FEATURES)].to_numpy(dtype=float)
            m = len(frame)
            if m >= self.lags:
                # windows[i] holds rows i .. i+lags-1; it ends at row i+lags-1.
                windows = np.lib.stride_tricks.sliding_window_view(values, self.lags, axis=0)
                design[pos + self.lags - 1 : pos + m] = windows.reshape(len(windows), n_feat)
            pos += m
        return design, X["glucose"].to_numpy(dtype=float)

    def fit(self, X: pd.DataFrame, y: pd.Series | pd.DataFrame | None = None, **kwargs: Any) -> LinearModel:
        """Solve the ridge problem for every horizon of ``y``."""
        self._check_params()
        if y is None:
            raise ValueError("LinearModel.fit needs a target y; build it with dt1d.data.make_target(X, horizon)")
        targets, horizons, multi = _target_matrix(y)
        if len(targets) != len(X):
            raise ValueError(f"y has {len(targets)} rows but X has {len(X)}; they must be aligned")
        design, current = self._design(X)
        usable = np.isfinite(design).all(axis=1) & np.isfinite(current)
        n_feat = design.shape[1]
        coef = np.zeros((n_feat, len(horizons)))
        intercept = np.zeros(len(horizons))
        mean = np.zeros(n_feat)
        scale = np.ones(n_feat)
        for j in range(len(horizons)):
            rows = usable & np.isfinite(targets[:, j])
            if rows.sum() < n_feat + 1:
                raise ValueError(
                    f"not enough complete rows to fit horizon {horizons[j]} min: {int(rows.sum())} rows "
                    f"with {self.lags} samples of history and a known target; need at least {n_feat + 1}"
                )
            A = design[rows]
            if j == 0:
                mean = A.mean(axis=0)
                scale = A.std(axis=0)
                scale[scale == 0] = 1.0
            Z = (A - mean) / scale
            delta = targets[rows, j] - current[rows]
            b0 = delta.mean()
            gram = Z.T @ Z + self.alpha * np.eye(n_feat)
            coef[:, j] = scipy.linalg.solve(gram, Z.T @ (delta - b0), assume_a="pos")
            intercept[j] = b0
        self.step_min_ = float(infer_step(X) / pd.Timedelta(minutes=1))
        self.feature_mean_, self.feature_scale_ = mean, scale
        self.coef_, self.intercept_ = coef, intercept
        self.horizons_, self.multi_output_ = horizons, multi
        return self

    def predict(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        """Current glucose plus the predicted change, per horizon; NaN without full history."""
        self._check_is_fitted()
        self._check_step(X)
        design, current = self._design(X)
        pred = current[:, None] + ((design - self.feature_mean_) / self.feature_scale_) @ self.coef_ + self.intercept_
        return _shape_output(pred, self.multi_output_)

