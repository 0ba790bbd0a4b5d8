"""Many twins at once: fit a cohort and run what-if trials on local processes or a Dask cluster.

``fit_twins`` fits one :class:`~dt1d.core.twin.DigitalTwin` per person and
``simulate_trial`` replays scenarios over a cohort. Both dispatch through
joblib: ``backend="serial"``, ``"loky"`` (local processes, the default) or
``"dask"`` (a ``dask.distributed`` cluster, local or remote). One person's
failure is a row of the result, never the end of the run. The user guide is
``docs/cohort.md``.
"""

from dt1d.cohort._fit import fit_twins
from dt1d.cohort._run import BACKENDS
from dt1d.cohort._trial import simulate_trial

__all__ = ["BACKENDS", "fit_twins", "simulate_trial"]
