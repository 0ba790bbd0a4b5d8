"""
A cohort of twins
=================

:func:`~dt1d.cohort.fit_twins` fits one twin per person of a cohort and
returns one row per person. Six virtual children, two simulated days each:
a ``linear`` twin per child is fitted on day 1, and each twin forecasts its
child's day 2.
"""

import pandas as pd
from matplotlib.figure import Figure

from dt1d.cohort import fit_twins
from dt1d.sim import list_virtual_patients, simulate_cohort

children = list_virtual_patients("child*")[:6]
cohort = simulate_cohort(children, "random", days=2, seed=2)
day1 = cohort.groupby("patient_id", observed=True).head(288)
day2 = cohort.groupby("patient_id", observed=True).tail(288)

table = fit_twins(day1, "linear", {"lags": 12}, horizon=30, backend="serial")
print(table[["patient_id", "status", "rows", "fit_seconds"]].round(3))

# %%
# Each twin scores its own child's second day.

scores = {}
for pid, twin in zip(table["patient_id"], table["twin"], strict=True):
    scores[pid] = twin.evaluate(day2[day2["patient_id"] == pid].drop(columns="patient_id"))
scores = pd.DataFrame(scores).T
print(scores.round(2))

fig = Figure(figsize=(8, 3.5), layout="constrained")
ax = fig.subplots()
ax.bar(scores.index.astype(str), scores["rmse"], color="#3182bd")
ax.set_ylabel("RMSE at 30 min (mg/dL)")
ax.set_title("Day-2 forecast error of each child's twin")
