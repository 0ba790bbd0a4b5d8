"""
Your own model in the registry
==============================

Any class that subclasses :class:`dt1d.BaseModel` with a ``name=`` is
registered: a :class:`~dt1d.DigitalTwin` then fits, evaluates and saves it by
name, like the built-in models. Here a tiny "trend" model forecasts by
extending the last half hour's slope, and is compared with the built-ins.
"""

import numpy as np
import pandas as pd

import dt1d
from dt1d.plots import plot_forecast
from dt1d.sim import simulate


class TrendModel(dt1d.ParamsMixin, dt1d.BaseModel, name="gallery_trend"):
    """Forecast: the current reading plus ``damping`` times the recent slope."""

    def __init__(self, damping: float = 0.5, horizon: int = 30) -> None:
        self.damping = damping
        self.horizon = horizon

    def fit(self, X, y=None, **kwargs):
        return self

    def predict(self, X, **kwargs):
        g = X["glucose"].to_numpy(dtype=float)
        slope = (g - np.r_[[np.nan] * 6, g[:-6]]) / 30.0  # mg/dL per minute over 30 min
        return g + self.damping * slope * self.horizon


print(dt1d.is_model_registered("gallery_trend"), sorted(dt1d.list_available_models()))

# %%
# The new model next to the built-in ones, on a simulated day.

record = simulate("adult#004", "random", days=2, seed=4)
train, test = record.iloc[:288], record.iloc[288:]
scores, forecasts = {}, {}
for name in ("persistence", "linear", "gallery_trend"):
    twin = dt1d.DigitalTwin(model_type=name, horizon=30).fit(train)
    scores[name] = twin.evaluate(test)
    forecasts[name] = twin.predict(test)
print(pd.DataFrame(scores).T.round(2))

fig = plot_forecast(test.iloc[:144], {k: v[:144] for k, v in forecasts.items()}, horizon_min=30,
                    title="30-minute forecasts: the new model and the built-ins")
