"""
Fit a twin, replay the record, forecast
=======================================

A digital twin is a model of one person fitted to their own record. Here the
"person" is the virtual patient ``adolescent#001``: we simulate two days with
random meals, fit the mechanistic (UVA/Padova) twin on the first day, then
look at how it replays that day and how well it forecasts the second one.
"""

import pandas as pd

from dt1d.data import make_target
from dt1d.metrics import forecast_accuracy_table
from dt1d.models.mechanistic import MechanisticModel
from dt1d.plots import plot_forecast, plot_twin_replay
from dt1d.sim import simulate, virtual_patient

person = virtual_patient("adolescent#001")
record = simulate(person, "random", days=2, seed=3)
day1, day2 = record.iloc[:288], record.iloc[288:]

twin = MechanisticModel(body_weight_kg=person.body_weight_kg, age_group="adolescent", n_starts=1)
twin.fit(day1, make_target(day1, [30, 60]))
print(pd.Series(twin.fit_report_)[["rmse_mg_dl", "mard_percent", "converged"]])

# %%
# The replay: the fitted model run through day 1 from the recorded insulin
# and carbohydrate alone, without looking at the CGM.

replay = twin.simulate(day1)
fig = plot_twin_replay(day1, replay["glucose"], title="Day 1: CGM and the twin's replay")

# %%
# Forecasts of day 2, 30 minutes ahead: the twin's Kalman filter follows
# the CGM and runs the fitted model forward from each reading.

forecast = twin.predict(day2)
fig = plot_forecast(day2, {"twin, +30 min": forecast[:, 0]}, horizon_min=30,
                    title="Day 2: 30-minute forecasts")

# %%
# Accuracy of the day-2 forecasts at both horizons.

table = forecast_accuracy_table(make_target(day2, [30, 60]), forecast)
print(table[["horizon_min", "n", "rmse", "mard", "clarke_A", "time_lag_min"]].round(2))
