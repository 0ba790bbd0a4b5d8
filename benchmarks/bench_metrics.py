"""Cost of evaluation and of reading files: metrics and error grids per 1,000 points,
readers per 1,000 rows.

Lower is better: ``track_*`` figures are seconds per 1,000 points (or rows),
best of 3 calls; ``time_*`` figures time one call on the whole input
(100,000 forecast/reference pairs; files of 10,000 five-minute rows).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import set_threads, size

_PER = 1_000


def _best_per(call, count: int) -> float:
    """Best of three calls, in seconds per 1,000 items."""
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best / count * _PER


def _pairs(n: int):
    rng = np.random.default_rng(0)
    ref = 140 + 60 * np.sin(np.arange(n) / 40) + rng.normal(0, 10, n)
    pred = np.r_[ref[:3], ref[:-3]] * rng.normal(1.0, 0.1, n)
    ref[rng.random(n) < 0.03] = np.nan
    return np.clip(ref, 40, 400), np.clip(pred, 40, 400)


class Metrics:
    """Accuracy metrics, error grids, time lag, outcomes and the accuracy table."""

    timeout = 300
    number = 1
    repeat = 3

    def setup(self):
        self.threads = set_threads()
        self.n = size(100_000, 2_000)
        self.ref, self.pred = _pairs(self.n)

    def time_rmse(self):
        from dt1d.metrics import rmse

        rmse(self.ref, self.pred)

    def time_clarke_zones(self):
        from dt1d.metrics import clarke_zones

        clarke_zones(self.ref, self.pred)

    def time_parkes_zones(self):
        from dt1d.metrics import parkes_zones

        parkes_zones(self.ref, self.pred)

    def track_rmse_mae_me_mard_s_per_1000_points(self):
        from dt1d.metrics import mae, mard, me, rmse

        def all_four():
            rmse(self.ref, self.pred)
            mae(self.ref, self.pred)
            me(self.ref, self.pred)
            mard(self.ref, self.pred)

        return _best_per(all_four, self.n)

    track_rmse_mae_me_mard_s_per_1000_points.unit = "s/1000 points"

    def track_grmse_s_per_1000_points(self):
        from dt1d.metrics import grmse

        return _best_per(lambda: grmse(self.ref, self.pred), self.n)

    track_grmse_s_per_1000_points.unit = "s/1000 points"

    def track_clarke_s_per_1000_points(self):
        from dt1d.metrics import clarke_zones

        return _best_per(lambda: clarke_zones(self.ref, self.pred), self.n)

    track_clarke_s_per_1000_points.unit = "s/1000 points"

    def track_parkes_s_per_1000_points(self):
        from dt1d.metrics import parkes_zones

        return _best_per(lambda: parkes_zones(self.ref, self.pred, 1), self.n)

    track_parkes_s_per_1000_points.unit = "s/1000 points"

    def track_time_lag_s_per_1000_points(self):
        from dt1d.metrics import time_lag

        return _best_per(lambda: time_lag(self.ref, self.pred, max_lag_min=90), self.n)

    track_time_lag_s_per_1000_points.unit = "s/1000 points"

    def track_glycaemic_outcomes_s_per_1000_points(self):
        from dt1d.metrics import glycaemic_outcomes

        return _best_per(lambda: glycaemic_outcomes(self.ref), self.n)

    track_glycaemic_outcomes_s_per_1000_points.unit = "s/1000 points"

    def track_glycaemic_outcomes_90_days_s(self):
        """Every outcome (MAGE, CONGA, MODD, GRI, ADRR, events...) of 90 days of 5-minute CGM.

        Target: at most 0.05 s. iglu-python is not in the benchmark environment,
        so no same-run ratio against it is reported here.
        """
        import pandas as pd

        from dt1d.metrics import glycaemic_outcomes

        n = size(90 * 288, 2 * 288)
        times = pd.date_range("2026-01-01", periods=n, freq="5min")
        series = pd.Series(_pairs(n)[0], index=times)
        glycaemic_outcomes(series)  # warm
        return _best_per(lambda: glycaemic_outcomes(series), _PER)

    track_glycaemic_outcomes_90_days_s.unit = "s"

    def track_accuracy_table_s_per_1000_points(self):
        from dt1d.metrics import forecast_accuracy_table

        return _best_per(
            lambda: forecast_accuracy_table(self.ref, self.pred, horizons=[30]), self.n
        )

    track_accuracy_table_s_per_1000_points.unit = "s/1000 points"

    def track_threads(self):
        return self.threads

    track_threads.unit = "threads"


def _write_files(directory: Path, rows: int) -> dict[str, Path]:
    """The same synthetic record in each supported format."""
    import pandas as pd

    rng = np.random.default_rng(1)
    times = pd.date_range("2024-01-01", periods=rows, freq="5min")
    glucose = np.round(140 + 50 * np.sin(np.arange(rows) / 30) + rng.normal(0, 5, rows))
    meal = rng.random(rows) < 0.01
    paths = {}

    lines = ["t,glucose,cho,bolus,basal,bolus_label,cho_label"]
    for t, g, m in zip(times, glucose, meal, strict=True):
        lines.append(f"{t:%d-%b-%Y %H:%M:%S},{g},{8.0 if m else 0.0},{0.8 if m else 0.0},0.02,,")
    paths["replaybg"] = directory / "replaybg.csv"
    paths["replaybg"].write_text("\n".join(lines) + "\n")

    table = pd.DataFrame(
        {
            "time": times.strftime("%Y-%m-%d %H:%M:%S"),
            "glucose": glucose,
            "carbs": np.where(meal, 40.0, 0.0),
            "bolus": np.where(meal, 4.0, 0.0),
            "basal": 1.2,
        }
    )
    paths["csv"] = directory / "generic.csv"
    table.to_csv(paths["csv"], index=False)

    utc = times.tz_localize("UTC")
    entries = [
        {"type": "sgv", "sgv": float(g), "date": int(t.value // 1_000_000)}
        for t, g in zip(utc, glucose, strict=True)
    ]
    treatments = []
    for k in np.flatnonzero(meal):
        stamp = utc[k].strftime("%Y-%m-%dT%H:%M:%SZ")
        treatments.append(
            {"eventType": "Meal Bolus", "created_at": stamp, "insulin": 4.0, "carbs": 40}
        )
        treatments.append(
            {"eventType": "Temp Basal", "created_at": stamp, "duration": 30, "absolute": 0.5}
        )
    profile = [
        {
            "defaultProfile": "D",
            "store": {
                "D": {
                    "timezone": "UTC",
                    "basal": [{"time": "00:00", "value": 1.2}, {"time": "06:00", "value": 0.9}],
                }
            },
        }
    ]
    for name, data in (("entries", entries), ("treatments", treatments), ("profile", profile)):
        paths[name] = directory / f"{name}.json"
        paths[name].write_text(json.dumps(data))

    fmt = "%d-%m-%Y %H:%M:%S"
    xml = ['<patient id="1" weight="80">', "<glucose_level>"]
    xml += [f'<event ts="{t:{fmt}}" value="{g:.0f}"/>' for t, g in zip(times, glucose, strict=True)]
    xml += [
        "</glucose_level>",
        "<basal>",
        f'<event ts="{times[0]:{fmt}}" value="1.2"/>',
        "</basal>",
        "<bolus>",
    ]
    xml += [
        f'<event ts_begin="{times[k]:{fmt}}" ts_end="{times[k]:{fmt}}" type="normal" dose="4"/>'
        for k in np.flatnonzero(meal)
    ]
    xml += ["</bolus>", "<meal>"]
    xml += [f'<event ts="{times[k]:{fmt}}" carbs="40"/>' for k in np.flatnonzero(meal)]
    xml += ["</meal>", "</patient>"]
    paths["ohio"] = directory / "ohio.xml"
    paths["ohio"].write_text("\n".join(xml))
    return paths


class Readers:
    """Each reader on a 10,000-row record (about 35 days of 5-minute data)."""

    timeout = 300
    number = 1
    repeat = 3

    def setup(self):
        self.threads = set_threads()
        self.rows = size(10_000, 300)
        self.directory = Path(tempfile.mkdtemp(prefix="dt1d-bench-"))
        self.paths = _write_files(self.directory, self.rows)

    def teardown(self):
        shutil.rmtree(self.directory, ignore_errors=True)

    def track_read_replaybg_s_per_1000_rows(self):
        from dt1d.data.readers import read_replaybg

        return _best_per(lambda: read_replaybg(self.paths["replaybg"]), self.rows)

    track_read_replaybg_s_per_1000_rows.unit = "s/1000 rows"

    def track_read_csv_s_per_1000_rows(self):
        from dt1d.data.readers import read_csv

        return _best_per(lambda: read_csv(self.paths["csv"], basal_unit="U/h"), self.rows)

    track_read_csv_s_per_1000_rows.unit = "s/1000 rows"

    def track_read_nightscout_s_per_1000_rows(self):
        from dt1d.data.readers import read_nightscout

        p = self.paths
        return _best_per(
            lambda: read_nightscout(p["entries"], p["treatments"], p["profile"]), self.rows
        )

    track_read_nightscout_s_per_1000_rows.unit = "s/1000 rows"

    def track_read_ohio_s_per_1000_rows(self):
        from dt1d.data.readers import read_ohio

        return _best_per(lambda: read_ohio(self.paths["ohio"]), self.rows)

    track_read_ohio_s_per_1000_rows.unit = "s/1000 rows"

    def track_threads(self):
        return self.threads

    track_threads.unit = "threads"
