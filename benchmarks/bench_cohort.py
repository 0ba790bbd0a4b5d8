"""Speed of dt1d.cohort: fitting a cohort of twins serially, on loky and on a Dask LocalCluster.

Figures are costs (lower is better): wall seconds per fitted twin for the
whole cohort, and wall seconds per task for tasks that do almost nothing (the
dispatch overhead of each path). Parallel efficiency on W workers is
``serial seconds per twin / (W * parallel seconds per twin)`` from the same
run; issue 8 targets >= 80 % on 2 cores for 200 mechanistic twins of 7 days.

Workers: ``DT1D_BENCH_COHORT_WORKERS`` (default 2) loky processes or Dask
worker processes, one thread each; BLAS/numba threads are pinned to
``DT1D_BENCH_THREADS`` (default 1) in every process. Workers are warmed up
(imports, numba kernels loaded from the on-disk cache) before timing.
"""

from __future__ import annotations

import os
import time

from ._common import set_threads, size

#: (patients, days) of the fitted cohort per model: 200 x 7 days for the mechanistic twin.
COHORTS = {"mechanistic": (size(200, 2), size(7, 1)), "linear": (size(200, 4), size(7, 1))}
PARAMS = {"mechanistic": {"body_weight_kg": 70.0, "basal_u_per_h": 1.0}, "linear": {}}


def workers() -> int:
    """Worker processes of the parallel backends."""
    return int(os.environ.get("DT1D_BENCH_COHORT_WORKERS", "2"))


def _cohort(n: int, days: float, hours_only: bool = False):
    import pandas as pd

    from dt1d.testing import make_synthetic_record

    length = 1 / 24 if hours_only else days
    return pd.concat(
        [make_synthetic_record(days=length, seed=i, patient_id=f"p{i:05d}") for i in range(n)]
    )


class _Backends:
    """Start the backend's workers in ``setup`` (warmed up), stop them in ``teardown``."""

    client = None

    def _start(self, backend: str, model: str, warm_records) -> None:
        from dt1d.cohort import fit_twins

        self.threads = set_threads()
        self.workers = 1 if backend == "serial" else workers()
        self.client = None
        if backend == "dask":
            from distributed import Client, LocalCluster

            self.cluster = LocalCluster(
                n_workers=self.workers, processes=True, threads_per_worker=1,
                dashboard_address=":0", worker_dashboard_address=":0",
            )
            self.client = Client(self.cluster, set_as_default=False)
        fit_twins(warm_records, model, PARAMS[model], backend=backend, n_jobs=self._n_jobs(backend),
                  client=self.client, batch_size=1)

    def _n_jobs(self, backend: str) -> int | None:
        return None if backend == "dask" else self.workers

    def teardown(self, *args) -> None:
        if self.client is not None:
            self.client.close()
            self.cluster.close()
        self.client = None


class CohortFit(_Backends):
    """Fit one twin per patient (200 patients x 7 days); seconds per twin, whole cohort."""

    params = (["mechanistic", "linear"], ["serial", "loky", "dask"])
    param_names = ["model", "backend"]
    timeout = 3600
    number = 1
    repeat = 1
    warmup_time = 0

    def setup_cache(self):
        return {model: _cohort(n, days) for model, (n, days) in COHORTS.items()}

    def setup(self, records, model, backend):
        import pandas as pd

        cohort = records[model]
        first = cohort["patient_id"].unique()[: 2 * workers()]
        self._start(backend, model, cohort[cohort["patient_id"].isin(first)].copy())
        self.records = cohort
        self.n = int(cohort["patient_id"].nunique())
        assert isinstance(self.records, pd.DataFrame)

    def _fit(self, model, backend):
        from dt1d.cohort import fit_twins

        table = fit_twins(self.records, model, PARAMS[model], backend=backend,
                          n_jobs=self._n_jobs(backend), client=self.client)
        failed = table[table["status"] != "ok"]
        if len(failed):
            raise RuntimeError(f"{len(failed)} twins failed: {failed['reason'].iloc[0]}")
        return table

    def track_seconds_per_twin(self, records, model, backend):
        start = time.perf_counter()
        self._fit(model, backend)
        return (time.perf_counter() - start) / self.n

    track_seconds_per_twin.unit = "s/twin"


class CohortTaskOverhead(_Backends):
    """Wall seconds per task for near-empty tasks (persistence on 1-hour records, 1 per task)."""

    params = ["serial", "loky", "dask"]
    param_names = ["backend"]
    timeout = 600
    number = 1
    repeat = 3

    def setup_cache(self):
        return _cohort(size(400, 8), 1, hours_only=True)

    def setup(self, records, backend):
        self._start(backend, "persistence", records.iloc[: 12 * 2 * workers()].copy())
        self.records = records
        self.n = int(records["patient_id"].nunique())

    def track_seconds_per_task(self, records, backend):
        from dt1d.cohort import fit_twins

        start = time.perf_counter()
        fit_twins(self.records, "persistence", backend=backend, n_jobs=self._n_jobs(backend),
                  client=self.client, batch_size=1, keep_twins=False)
        return (time.perf_counter() - start) / self.n

    track_seconds_per_task.unit = "s/task"


PARAMS["persistence"] = {}
