"""LSTM speed: ``fit`` against a bare torch loop on the same windows, inference, peak memory.

Figures are costs (lower is better): seconds per training window, seconds per
forecast window, and the ratio of ``LSTMModel.fit``'s cost to a plain torch
loop's (hidden 64, 2 layers, batch 256, Adam) on the same data, measured side
by side and interleaved so that machine load hits both alike. The issue asks
for a ratio at most 1.15 and at least 40k forecast windows/s (2.5e-5 s/window)
on 2 threads. ``predict`` runs dt1d's CPU inference engine
(:mod:`dt1d.models.lstm._infer`); its cost is also tracked as a ratio to a bare
``torch.nn.LSTM`` inference loop over the same windows (lower is better). Thread
counts are set explicitly (the ``threads`` parameter) and recorded by ``track_threads``.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import QUICK, set_threads, size

_ARCH = {"hidden_size": 64, "num_layers": 2, "batch_size": 256}
_LOOKBACK_MIN = 120
_EPOCHS = 2
_REPEATS = 3


def _cohort(patients: int, days: float):
    """A synthetic cohort in long format (``patient_id``), 5-minute grid."""
    import pandas as pd

    from dt1d.testing import make_synthetic_record

    parts = []
    for p in range(patients):
        rec = make_synthetic_record(days=days, seed=100 + p, start="2026-01-01")
        rec["patient_id"] = f"p{p:03d}"
        parts.append(rec)
    return pd.concat(parts)


def _bare_data(record, y, model):
    """The windows ``LSTMModel.fit`` trains on, materialised as plain tensors (N, L, f) and (N, 1)."""
    import torch

    from dt1d.models.lstm._features import normalised_features, record_arrays

    arrays = record_arrays(record, step_ns=300 * 10**9, lookback_steps=_LOOKBACK_MIN // 5, max_gap_steps=6)
    residual = y.to_numpy()[:, None] - arrays.last_glucose[:, None]
    ends = np.flatnonzero(arrays.valid & np.isfinite(residual[:, 0]))
    feats = normalised_features(arrays.raw, model.feature_mean_, model.feature_std_)
    L = _LOOKBACK_MIN // 5
    X = np.lib.stride_tricks.sliding_window_view(feats, L, axis=0).transpose(0, 2, 1)[ends - (L - 1)]
    Y = (residual[ends] / model.target_scale_).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(Y)


def _bare_fit(X, Y, epochs: int, seed: int = 0) -> float:
    """A plain torch training loop; returns its wall time in seconds."""
    import torch
    from torch import nn

    start = time.perf_counter()
    torch.manual_seed(seed)
    lstm = nn.LSTM(X.shape[2], _ARCH["hidden_size"], _ARCH["num_layers"], batch_first=True)
    head = nn.Linear(_ARCH["hidden_size"], Y.shape[1])
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), _ARCH["batch_size"]):
            idx = perm[i : i + _ARCH["batch_size"]]
            _, (h, _) = lstm(X[idx])
            loss = nn.functional.mse_loss(head(h[-1]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def _bare_predict(X) -> float:
    """Plain batched inference over materialised windows; returns its wall time in seconds."""
    import torch
    from torch import nn

    lstm = nn.LSTM(X.shape[2], _ARCH["hidden_size"], _ARCH["num_layers"], batch_first=True)
    head = nn.Linear(_ARCH["hidden_size"], 1)
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(X), 1024):  # the batch LSTMModel.predict uses
            _, (h, _) = lstm(X[i : i + 1024])
            head(h[-1])
    return time.perf_counter() - start


class LSTMSpeed:
    """Training and inference cost of ``LSTMModel`` next to a bare torch loop."""

    params = [1] if QUICK else [1, 2]
    param_names = ["threads"]
    timeout = 900
    number = 1
    repeat = 1

    def setup_cache(self):
        from dt1d.data import make_target
        from dt1d.models.lstm import LSTMModel

        record = _cohort(patients=size(4, 1), days=size(5, 1))
        y = make_target(record, 30)
        fitted = LSTMModel(**_ARCH, lookback_min=_LOOKBACK_MIN, epochs=1, validation_fraction=0.0)
        return record, y, fitted.fit(record, y)

    def setup(self, cache, threads):
        import torch  # noqa: F401  (set_threads pins torch only once it is imported)

        from dt1d.models.lstm import LSTMModel

        record, y, fitted = cache
        self.threads = set_threads(threads)
        self.record, self.y = record, y
        self.epochs = size(_EPOCHS, 1)
        self.params = dict(_ARCH, lookback_min=_LOOKBACK_MIN, epochs=self.epochs, num_threads=threads)
        self.fitted = fitted.set_params(num_threads=threads)
        self.fitted.predict(record.iloc[:300])  # load (or compile) the engine's numba kernels
        # One-time costs of a first fit in a process (torch.optim's lazy imports: about 1.7 s
        # here) would otherwise land in whichever track_ method runs first.
        LSTMModel(**dict(self.params, epochs=1), validation_fraction=0.0).fit(record.iloc[:600], y.iloc[:600])
        self.X, self.Y = _bare_data(record, y, fitted)
        self.n_windows = self.fitted.n_train_windows_
        assert self.n_windows == len(self.X), (self.n_windows, len(self.X))

    def _fit_seconds(self, validation_fraction: float = 0.0) -> tuple[float, int]:
        from dt1d.models.lstm import LSTMModel

        model = LSTMModel(**self.params, validation_fraction=validation_fraction)
        start = time.perf_counter()
        model.fit(self.record, self.y)
        return time.perf_counter() - start, model.n_train_windows_ * len(model.history_)

    def _side_by_side(self) -> tuple[float, float]:
        """Median seconds per training window of fit and of the bare loop, interleaved runs."""
        ours, bare = [], []
        for _ in range(size(_REPEATS, 1)):
            seconds, windows = self._fit_seconds()
            ours.append(seconds / windows)
            bare.append(_bare_fit(self.X, self.Y, self.epochs) / (len(self.X) * self.epochs))
        return float(np.median(ours)), float(np.median(bare))

    def track_threads(self, cache, threads):
        import torch

        return torch.get_num_threads()

    track_threads.unit = "threads"

    def track_fit_over_bare_loop(self, cache, threads):
        ours, bare = self._side_by_side()
        return ours / bare

    track_fit_over_bare_loop.unit = "ratio"

    def track_fit_seconds_per_window(self, cache, threads):
        return self._side_by_side()[0]

    track_fit_seconds_per_window.unit = "s/window"

    def track_bare_loop_seconds_per_window(self, cache, threads):
        return self._side_by_side()[1]

    track_bare_loop_seconds_per_window.unit = "s/window"

    def track_fit_with_validation_seconds_per_window(self, cache, threads):
        seconds, windows = self._fit_seconds(validation_fraction=0.2)
        return seconds / windows

    track_fit_with_validation_seconds_per_window.unit = "s/window"

    def track_predict_seconds_per_window(self, cache, threads):
        start = time.perf_counter()
        pred = self.fitted.predict(self.record)
        return (time.perf_counter() - start) / int(np.isfinite(pred).sum())

    track_predict_seconds_per_window.unit = "s/window"

    def track_bare_predict_seconds_per_window(self, cache, threads):
        return _bare_predict(self.X) / len(self.X)

    track_bare_predict_seconds_per_window.unit = "s/window"

    def track_predict_over_bare_predict(self, cache, threads):
        """``LSTMModel.predict`` (fast CPU engine) over the bare torch loop, interleaved medians."""
        ours, bare = [], []
        for _ in range(size(_REPEATS, 1)):
            ours.append(self.track_predict_seconds_per_window(cache, threads))
            bare.append(self.track_bare_predict_seconds_per_window(cache, threads))
        return float(np.median(ours) / np.median(bare))

    track_predict_over_bare_predict.unit = "ratio"


class LSTMMemory:
    """Peak memory of forecasting a 1M-row cohort (windows are never materialised)."""

    timeout = 900
    number = 1
    repeat = 1

    def setup_cache(self):
        from dt1d.data import make_target
        from dt1d.models.lstm import LSTMModel

        small = _cohort(patients=1, days=2)
        model = LSTMModel(hidden_size=64, num_layers=2, epochs=1, num_threads=2)
        model.fit(small, make_target(small, 30))
        return model

    def setup(self, model):
        set_threads(2)
        rows = size(1_000_000, 2_000)
        days = rows / 288 / 10
        self.record = _cohort(patients=10, days=days)
        self.model = model

    def peakmem_predict_1m_rows(self, model):
        self.model.predict(self.record)
