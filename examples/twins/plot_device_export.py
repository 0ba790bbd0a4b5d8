"""
A twin from a device export
===========================

Real data comes from devices and study exports. dt1d's readers turn them
into a validated record (see :doc:`/readers`). Here: two days of one real
person with type 1 diabetes in the CSV layout of ReplayBG (the example data
of py_replay_bg, GPL-3.0, kept with dt1d's test data), read with
:func:`~dt1d.data.read_replaybg`; the twin is fitted on day 1 and replays it.
"""

from pathlib import Path

from dt1d.data import read_replaybg
from dt1d.models.mechanistic import MechanisticModel
from dt1d.plots import plot_twin_replay

# The data lives next to the tests of the repository this gallery is built from.
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
real = next(p / "tests" / "data" / "real" for p in [here, *here.parents]
            if (p / "tests" / "data" / "real").is_dir())
day1 = read_replaybg(real / "data_day_1.csv")
print(day1[["glucose", "carbs", "insulin"]].describe().round(2))

# %%
# The person weighs 100 kg (``patient_info.csv``); the basal rate is read
# from the record. One optimiser start is enough for one day.

twin = MechanisticModel(body_weight_kg=100.0, n_starts=1).fit(day1)
replay = twin.simulate(day1)
print(f"replay RMSE {twin.fit_report_['rmse_mg_dl']:.1f} mg/dL, "
      f"MARD {twin.fit_report_['mard_percent']:.1f} %")
fig = plot_twin_replay(day1, replay["glucose"], title="A real day and its twin's replay")
