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


def _write_clarity_year(path: Path, readings: int) -> None:
    """A Dexcom Clarity export: metadata rows, 5-minute EGVs, and 6 events a day."""
    header = (
        "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
        "Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),"
        "Duration (hh:mm:ss),Glucose Rate of Change (mg/dL/min),Transmitter Time (Long Integer),"
        "Transmitter ID"
    )
    import pandas as pd

    times = pd.date_range("2025-01-01 00:02:13", periods=readings, freq="5min")
    stamps = times.strftime("%Y-%m-%dT%H:%M:%S")
    glucose = (140 + 60 * np.sin(np.arange(readings) / 30)).round().astype(int).astype(str)
    glucose[::500] = "Low"
    lines = [header, "1,,FirstName,,Jane,,,,,,,,,", "2,,Device,,,G6 Mobile App,Android G6,,,,,,,"]
    lines += [
        f"{k + 3},{stamps[k]},EGV,,,,Android G6,{glucose[k]},,,,,{3_000_000 + 300 * k},8XXXXX"
        for k in range(readings)
    ]
    row = len(lines)
    for day in pd.date_range(times[0].normalize(), times[-1], freq="D"):
        for hour, kind, cells in (
            (7, "Insulin,Fast-Acting", ",,6,,"), (7, "Carbs,", ",,,50,"),
            (12, "Insulin,Fast-Acting", ",,4,,"), (12, "Carbs,", ",,,40,"),
            (22, "Insulin,Long-Acting", ",,18,,"), (17, "Exercise,Light", ",,,,00:30:00"),
        ):
            stamp = (day + pd.Timedelta(hours=hour, minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
            lines.append(f"{row},{stamp},{kind},,,Android G6{cells},,,")
            row += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _plain_read_csv(path: Path, **options) -> None:
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' DtypeWarning about the mixed metadata columns
        pd.read_csv(path, **options)


class ClarityRead:
    """read_dexcom_clarity of one year of 5-minute readings (105,120 EGVs plus events).

    The ``track_ratio_*`` figures are its time over pandas.read_csv of the same
    file, both best of 3 in the same run: a plain ``read_csv(path)`` (the target
    is at most 3) and the faster ``read_csv(path, low_memory=False)``.
    """

    timeout = 300
    number = 1
    repeat = 3

    def setup(self):
        self.threads = set_threads()
        self.directory = tempfile.TemporaryDirectory()
        self.path = Path(self.directory.name) / "clarity.csv"
        _write_clarity_year(self.path, size(105_120, 2_000))

    def teardown(self):
        self.directory.cleanup()

    def time_read_dexcom_clarity(self):
        from dt1d.data import read_dexcom_clarity

        read_dexcom_clarity(self.path)

    def time_pandas_read_csv(self):
        _plain_read_csv(self.path)

    def _ratio(self, **options) -> float:
        from dt1d.data import read_dexcom_clarity

        reader = _best_per_rows(lambda: read_dexcom_clarity(self.path), _PER_ROWS)
        plain = _best_per_rows(lambda: _plain_read_csv(self.path, **options), _PER_ROWS)
        return reader / plain

    def track_ratio_to_pandas_read_csv(self):
        return self._ratio()

    def track_ratio_to_pandas_read_csv_low_memory_false(self):
        return self._ratio(low_memory=False)

    track_ratio_to_pandas_read_csv.unit = "ratio"
    track_ratio_to_pandas_read_csv_low_memory_false.unit = "ratio"
