"""
Simulate a virtual patient
==========================

Two days in the life of ``adult#001``, one of the 30 virtual patients of the
UVA/Padova simulator: three meals a day, a pump delivering basal insulin and
a bolus with each meal, and a noisy CGM reading every five minutes.

The result is a patient record in dt1d's data format, so everything else in
dt1d (twins, metrics, plots) takes it as it would a real person's data.
"""

from dt1d.metrics import glycaemic_outcomes
from dt1d.plots import plot_forecast
from dt1d.sim import Scenario, simulate

meals = Scenario.daily([(7, 45), (12, 70), (18, 80)], days=2)  # (hour, grams) each day
record = simulate("adult#001", meals, days=2, seed=1)
print(record[["glucose", "carbs", "insulin", "glucose_true_sc"]].head())

# %%
# The CGM trace with the insulin and carbohydrate that drove it. Without a
# forecast, :func:`~dt1d.plots.plot_forecast` simply draws the record.

fig = plot_forecast(record, title="adult#001, two simulated days")

# %%
# The consensus outcomes of the two days (Battelino 2019): time in range,
# mean glucose, variability and risk indices.

outcomes = glycaemic_outcomes(record["glucose"])
for key in ("mean_mgdl", "cv_pct", "gmi_pct", "time_in_range_70_180_pct",
            "time_below_70_pct", "time_above_180_pct", "lbgi", "hbgi"):
    print(f"{key:28s} {outcomes[key]:7.2f}")
