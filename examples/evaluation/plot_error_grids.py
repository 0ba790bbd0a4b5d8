"""
Compare models with error grids
===============================

Three twins of the same simulated person forecast glucose 30 minutes ahead:
persistence ("glucose stays where it is"), the ``linear`` baseline and the
mechanistic twin. The Clarke and Parkes error grids show how clinically
serious their errors are; the accuracy table puts numbers on it.
"""

import pandas as pd

import dt1d
from dt1d.plots import plot_clarke_grid, plot_parkes_grid
from dt1d.sim import simulate, virtual_patient

person = virtual_patient("child#002")
record = simulate(person, "random", days=2, seed=11)
train, test = record.iloc[:288], record.iloc[288:]

models = {
    "persistence": dt1d.DigitalTwin(model_type="persistence", horizon=30),
    "linear": dt1d.DigitalTwin(model_type="linear", model_params={"lags": 12}, horizon=30),
    "mechanistic": dt1d.DigitalTwin(
        model_type="mechanistic",
        model_params={"body_weight_kg": person.body_weight_kg, "age_group": "child", "n_starts": 1},
        horizon=30,
    ),
}
rows = {}
for name, twin in models.items():
    twin.fit(train)
    rows[name] = twin.evaluate(test)
print(pd.DataFrame(rows).T.round(2))

# %%
# The Clarke grid of the mechanistic twin's forecasts: reference (the CGM
# 30 minutes later) against forecast.

reference = test["glucose"].shift(-6).to_numpy()  # the reading 30 minutes (6 rows) later
forecasts = {name: twin.predict(test) for name, twin in models.items()}
fig = plot_clarke_grid(reference, forecasts["mechanistic"], title="Clarke grid, mechanistic twin")

# %%
# The Parkes (consensus) grid of the persistence forecast, for contrast.

fig = plot_parkes_grid(reference, forecasts["persistence"], title="Parkes grid, persistence")
