"""Fit and predict cost of EVERY registered model, per sample, on a 14-day record.

The benchmark is parametrised over the registry, so a new model is benchmarked
without new code. Lower is better: figures are seconds per record row.
``BENCH_PARAMS`` holds benchmark-sized settings for models whose defaults are
meant for long training runs.
"""

from __future__ import annotations

import time

from ._common import set_threads, size

_PERSON = {"body_weight_kg": 70.0}
BENCH_PARAMS: dict[str, dict] = {
    "lstm": {"epochs": 2, "hidden_size": 32},
    "mechanistic": _PERSON,
    "mechanistic_uva_padova": _PERSON,
}
_QUICK_PARAMS: dict[str, dict] = {
    **BENCH_PARAMS,
    "lstm": {"epochs": 1, "hidden_size": 8, "num_layers": 1},
}


def _model_names() -> list[str]:
    """One registered name per model class (aliases dropped), sorted."""
    from dt1d.core.model_registry import list_available_models

    seen: dict[str, str] = {}
    for name, qualified in list_available_models().items():
        seen.setdefault(qualified, name)
    return sorted(seen.values())


def _params(name: str) -> dict:
    from ._common import QUICK

    return dict((_QUICK_PARAMS if QUICK else BENCH_PARAMS).get(name, {}))


class ModelThroughput:
    """Seconds per sample of ``fit`` and ``predict`` for each registered model."""

    params = _model_names()
    param_names = ["model"]
    timeout = 600
    number = 1
    repeat = 3

    def setup_cache(self):
        from dt1d.testing import make_synthetic_record

        return make_synthetic_record(days=size(14, 1), seed=0)

    def setup(self, record, name):
        from dt1d.core.model_registry import create_model
        from dt1d.data import make_target

        self.threads = set_threads()
        self.record = record
        self.y = make_target(record, 30)
        self.model = create_model(name, **_params(name))
        self.fitted = create_model(name, **_params(name)).fit(record, self.y)
        # Load (or compile) numba kernels before timing: the track_ figures run once.
        self.fitted.predict(record.iloc[:300])

    def time_fit(self, record, name):
        self.model.fit(self.record, self.y)

    def time_predict(self, record, name):
        self.fitted.predict(self.record)

    def track_fit_seconds_per_sample(self, record, name):
        start = time.perf_counter()
        self.model.fit(self.record, self.y)
        return (time.perf_counter() - start) / len(self.record)

    track_fit_seconds_per_sample.unit = "s/sample"

    def track_predict_seconds_per_sample(self, record, name):
        start = time.perf_counter()
        self.fitted.predict(self.record)
        return (time.perf_counter() - start) / len(self.record)

    track_predict_seconds_per_sample.unit = "s/sample"
