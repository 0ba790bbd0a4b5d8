"""Speed of the mechanistic UVA/Padova twin: MAP fit per patient-day, forecasts per second.

Targets (issue 4): a MAP fit of one day in <= 2 s and of 14 days in <= 10 s on one core
(ReplayBG's MAP: 481 s for one day on the same machine kind); >= 20,000 30-minute
forecasts per second per core, the Kalman update and the learned model-error correction
included (the fit includes learning that correction). Lower is better everywhere:
seconds per fit, seconds per patient-day, seconds per forecast. numba threads: 1.
"""

from __future__ import annotations

import time

from ._common import set_threads, size

_PARAMS = {"body_weight_kg": 70.0, "basal_u_per_h": 1.0}


def _records():
    from dt1d.testing import make_synthetic_record

    return {days: make_synthetic_record(days=days, seed=2, missing_fraction=0.02)
            for days in (1, size(14, 2))}


def _warm_up(record) -> None:
    """Compile (or load from cache) every kernel once, outside the timed region."""
    from dt1d.models.mechanistic import MechanisticModel

    MechanisticModel(**_PARAMS, n_starts=1).fit(record.iloc[:144]).predict(record.iloc[:24])


class MechanisticFit:
    """MAP fit (3 starts, sensor-noise refinement) of a 1-day and a 14-day record."""

    params = ["1", "14"]
    param_names = ["days"]
    timeout = 300
    number = 1
    repeat = 3

    def setup_cache(self):
        return _records()

    def setup(self, records, days):
        self.threads = set_threads(1)
        key = 1 if days == "1" else max(records)
        self.record = records[key]
        self.days = len(self.record) / 288.0
        _warm_up(self.record)

    def time_fit(self, records, days):
        from dt1d.models.mechanistic import MechanisticModel

        MechanisticModel(**_PARAMS).fit(self.record)

    def track_fit_seconds_per_patient_day(self, records, days):
        from dt1d.models.mechanistic import MechanisticModel

        start = time.perf_counter()
        MechanisticModel(**_PARAMS).fit(self.record)
        return (time.perf_counter() - start) / self.days

    track_fit_seconds_per_patient_day.unit = "s/patient-day"


class MechanisticForecast:
    """Kalman filter, forecast and correction from every row of a record (30 and 30+60 minutes)."""

    params = ["30", "30,60"]
    param_names = ["horizons_min"]
    timeout = 300
    number = 1
    repeat = 3

    def setup_cache(self):
        return _records()

    def setup(self, records, horizons):
        from dt1d.data import make_target
        from dt1d.models.mechanistic import MechanisticModel

        self.threads = set_threads(1)
        record = records[max(records)]
        self.record = record
        self.model = MechanisticModel(**_PARAMS, n_starts=1).fit(
            record.iloc[:288], make_target(record.iloc[:288], [int(h) for h in horizons.split(",")]))
        self.model.predict(record.iloc[:12])

    def time_predict(self, records, horizons):
        self.model.predict(self.record)

    def track_seconds_per_forecast(self, records, horizons):
        start = time.perf_counter()
        self.model.predict(self.record)
        return (time.perf_counter() - start) / len(self.record)

    track_seconds_per_forecast.unit = "s/forecast"
