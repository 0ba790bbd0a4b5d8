"""The plugin's working model, registered as "fixture_good" when this module is imported."""

from __future__ import annotations

from typing import Any

import numpy as np

from dt1d.core.base import ParamsMixin
from dt1d.core.twin import BaseModel


class GoodPluginModel(ParamsMixin, BaseModel, name="fixture_good"):
    """Predicts the training mean of the target plus a fixed offset (mg/dL)."""

    tags = frozenset({"population"})

    def __init__(self, offset_mg_dl: float = 0.0) -> None:
        self.offset_mg_dl = offset_mg_dl

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> GoodPluginModel:
        self.mean_mg_dl_ = float(np.nanmean(np.asarray(y, dtype=float)))
        return self

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        self._check_is_fitted()
        return np.full(len(X), self.mean_mg_dl_ + self.offset_mg_dl)
