"""Cost of the data contract: validate, resample and make_target, per 1,000 record rows.

Two records: one patient over 14 days on a 5-minute grid (4,032 rows) and a
cohort of 100 such patients in long format (403,200 rows). Lower is better:
the ``track_*`` figures are seconds per 1,000 rows (best of 3 calls); the
``time_*`` figures time one call. Plus the time to write and read a twin file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import set_threads, size

RECORDS = ["one patient", "100 patients"]
_PER_ROWS = 1_000


def _record(days: int, seed: int, patient_id: str | None = None):
    """A plausible 5-minute record: glucose waves with noise, meals and insulin."""
    import pandas as pd

    n = days * 288
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-01-01", periods=n, freq="5min", name="time")
    record = pd.DataFrame(
        {
            "glucose": 140 + 50 * np.sin(np.arange(n) / 30) + rng.normal(0, 5, n),
            "carbs": np.where(rng.random(n) < 0.01, rng.uniform(10, 80, n), 0.0),
            "insulin": rng.uniform(0.0, 0.1, n),
        },
        index=index,
    )
    record.iloc[rng.random(n) < 0.05, 0] = np.nan  # CGM dropouts
    if patient_id is not None:
        record["patient_id"] = patient_id
    return record


def _best_per_rows(call, rows: int) -> float:
    """Best of three calls, in seconds per 1,000 rows."""
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best / rows * _PER_ROWS


class DataContract:
    """validate / resample / make_target on one patient and on a 100-patient cohort."""

    params = RECORDS
    param_names = ["record"]
    timeout = 300
    number = 1
    repeat = 3

    def setup_cache(self):
        import pandas as pd

        from dt1d.data import validate

        days = size(14, 1)
        one = _record(days, seed=0)
        cohort = pd.concat(
            [_record(days, seed=i, patient_id=f"p{i:03d}") for i in range(size(100, 3))]
        )
        return {"one patient": validate(one), "100 patients": validate(cohort)}

    def setup(self, records, which):
        self.threads = set_threads()
        self.record = records[which]

    def time_validate(self, records, which):
        from dt1d.data import validate

        validate(self.record)

    def time_resample_15min(self, records, which):
        from dt1d.data import resample

        resample(self.record, "15min")

    def time_make_target_30min(self, records, which):
        from dt1d.data import make_target

        make_target(self.record, 30)

    def track_validate_s_per_1000_rows(self, records, which):
        from dt1d.data import validate

        return _best_per_rows(lambda: validate(self.record), len(self.record))

    track_validate_s_per_1000_rows.unit = "s/1000 rows"

    def track_resample_15min_s_per_1000_rows(self, records, which):
        from dt1d.data import resample

        return _best_per_rows(lambda: resample(self.record, "15min"), len(self.record))

    track_resample_15min_s_per_1000_rows.unit = "s/1000 rows"

    def track_make_target_30min_s_per_1000_rows(self, records, which):
        from dt1d.data import make_target

        return _best_per_rows(lambda: make_target(self.record, 30), len(self.record))

    track_make_target_30min_s_per_1000_rows.unit = "s/1000 rows"

    def track_make_target_4_horizons_s_per_1000_rows(self, records, which):
        from dt1d.data import make_target

        return _best_per_rows(
            lambda: make_target(self.record, [30, 60, 90, 120]), len(self.record)
        )

    track_make_target_4_horizons_s_per_1000_rows.unit = "s/1000 rows"

    def track_threads(self, records, which):
        return self.threads

    track_threads.unit = "threads"


class TwinFileIO:
    """Write and read a twin file holding 1 MB of float64 arrays plus a 1 MB blob."""

    timeout = 120
    number = 1
    repeat = 5

    def setup(self):
        self.threads = set_threads()
        rng = np.random.default_rng(0)
        n = size(125_000, 1_000)
        self.arrays = {"weights_": rng.normal(size=n), "lags_": np.arange(12)}
        self.blobs = {"state_dict": rng.bytes(8 * n)}
        self.manifest = {"model": "bench", "params": {"order": 12}, "horizon": 30}
        self.directory = tempfile.TemporaryDirectory()
        self.path = Path(self.directory.name) / "twin.dt1d"
        from dt1d.data.twinfile import write_twin_file

        write_twin_file(self.path, self.manifest, self.arrays, self.blobs)

    def teardown(self):
        self.directory.cleanup()

    def time_write(self):
        from dt1d.data.twinfile import write_twin_file

        write_twin_file(self.path, self.manifest, self.arrays, self.blobs)

    def time_read(self):
        from dt1d.data.twinfile import read_twin_file

        read_twin_file(self.path)

    def track_threads(self):
        return self.threads

    track_threads.unit = "threads"
