"""
The ambulatory glucose profile
==============================

The AGP (Bergenstal 2013) folds days of CGM onto one day: the median and
the 25-75 % and 5-95 % bands by time of day. Here 14 simulated days of a
virtual patient with random meals (the simulator runs thousands of
patient-days per second, so this takes well under a second).
"""

from dt1d.plots import agp_percentiles, plot_agp
from dt1d.sim import simulate

record = simulate("adolescent#003", "random", days=14, seed=7)
fig = plot_agp(record["glucose"], title="AGP, adolescent#003, 14 simulated days")

# %%
# The same percentiles as a table, every three hours.

table = agp_percentiles(record["glucose"], bin_min=60)
print(table.iloc[::3].round(0))
