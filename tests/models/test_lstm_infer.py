"""The fast CPU LSTM inference engine, checked against torch.nn.LSTM in float64."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dt1d.data import make_target
from dt1d.models.lstm import LSTMModel
from dt1d.models.lstm._infer import CHUNK_WINDOWS, CPUInference, _chunks, fast_tanh
from dt1d.models.lstm._net import LSTMNet, WindowSource
from dt1d.testing import make_synthetic_record


def test_fast_tanh_matches_numpy_everywhere():
    x = np.concatenate([np.linspace(-30.0, 30.0, 1_200_001), [0.0, -0.0, 1e-30, -1e-30, 1e-6]])
    got = fast_tanh(x).astype(np.float64)
    ref = np.tanh(x.astype(np.float32).astype(np.float64))
    assert np.max(np.abs(got - ref)) < 4e-7
    assert np.all(np.abs(got) <= 1.0)
    assert np.array_equal(fast_tanh(-x), -fast_tanh(x))  # odd
    small = np.array([1e-3, 1e-5, 1e-8], dtype=np.float32)
    np.testing.assert_allclose(fast_tanh(small), np.tanh(small.astype(np.float64)), rtol=1e-6)
    edge = fast_tanh(np.array([np.inf, -np.inf, np.nan]))
    assert edge[0] == 1.0 and edge[1] == -1.0 and np.isnan(edge[2])


def _net(n_features, hidden, layers, outputs, weight_scale, seed=1):
    torch.manual_seed(seed)
    net = LSTMNet(n_features, hidden, layers, 0.0, outputs).eval()
    with torch.no_grad():
        for p in net.lstm.parameters():
            p.mul_(weight_scale)
    return net


def _reference(net, feats, ends, lookback, dtype):
    """``net`` itself (torch.nn.LSTM) on the same windows, in ``dtype``."""
    model = copy.deepcopy(net).to(dtype)
    with torch.inference_mode():
        src = WindowSource(torch.from_numpy(feats).to(dtype), lookback)
        return model(src.batch(torch.from_numpy(ends))).double().numpy()


#: fast_tanh's largest error against float32 tanh (test_fast_tanh_matches_numpy_everywhere)
TANH_ERR = 4e-7


def _assert_close_to_float64_truth(net, got, ref32, ref64):
    """No further from the float64 truth than twice torch's own float32 LSTM, plus what the
    engine's tanh approximation can add: its error on the last hidden state (TANH_ERR per
    unit, the cell and gates being as close as float32 allows) through the linear head,
    ``TANH_ERR * (1 + max row sum of |W_head|)`` relative to the output's size."""
    err = np.max(np.abs(got - ref64))
    torch_err = np.max(np.abs(ref32 - ref64))
    w_head = net.head.weight.detach().double().abs().sum(dim=1).max().item()
    scale = max(1.0, float(np.max(np.abs(ref64))))
    assert err <= 2.0 * torch_err + TANH_ERR * (1.0 + w_head) * scale, (err, torch_err, w_head)


@pytest.mark.parametrize(
    ("n_features", "hidden", "layers", "outputs", "lookback", "weight_scale"),
    [
        (7, 64, 2, 1, 24, 1.0),  # the default architecture
        (1, 1, 1, 1, 1, 1.0),  # degenerate sizes: one feature, one unit, one step
        (6, 33, 3, 2, 36, 1.0),  # odd hidden size (vector remainders), three layers
        (3, 17, 2, 3, 12, 10.0),  # large weights: saturated gates
    ],
)
def test_engine_agrees_with_torch_lstm(n_features, hidden, layers, outputs, lookback, weight_scale):
    net = _net(n_features, hidden, layers, outputs, weight_scale)
    rng = np.random.default_rng(0)
    feats = (2.0 * rng.standard_normal((1500, n_features))).astype(np.float32)
    ends = np.sort(rng.choice(np.arange(lookback - 1, 1500), size=900, replace=False))
    got = CPUInference(net).predict(feats, ends, lookback, num_threads=2)
    ref32 = _reference(net, feats, ends, lookback, torch.float32)
    ref64 = _reference(net, feats, ends, lookback, torch.float64)
    assert got.shape == (len(ends), outputs) and got.dtype == np.float64
    _assert_close_to_float64_truth(net, got, ref32, ref64)


@settings(deadline=None, max_examples=25)
@given(
    n_features=st.integers(1, 8), hidden=st.integers(1, 40), layers=st.integers(1, 3),
    outputs=st.integers(1, 3), lookback=st.integers(1, 30),
    weight_scale=st.floats(0.1, 5.0), seed=st.integers(0, 2**16), threads=st.integers(1, 3),
)
def test_engine_agrees_with_torch_on_random_networks(n_features, hidden, layers, outputs, lookback,
                                                     weight_scale, seed, threads):
    net = _net(n_features, hidden, layers, outputs, weight_scale, seed=seed)
    rng = np.random.default_rng(seed)
    n_rows = lookback + int(rng.integers(1, 300))
    feats = (3.0 * rng.standard_normal((n_rows, n_features))).astype(np.float32)
    ends = np.flatnonzero(rng.random(n_rows - lookback + 1) < 0.7) + lookback - 1
    got = CPUInference(net).predict(feats, ends, lookback, num_threads=threads)
    ref32 = _reference(net, feats, ends, lookback, torch.float32)
    ref64 = _reference(net, feats, ends, lookback, torch.float64)
    assert got.shape == ref64.shape
    if len(ends):
        _assert_close_to_float64_truth(net, got, ref32, ref64)


def test_threads_and_chunking_do_not_change_results():
    net = _net(7, 16, 2, 2, 1.0)
    feats = np.random.default_rng(2).standard_normal((3 * CHUNK_WINDOWS + 50, 7)).astype(np.float32)
    ends = np.arange(23, len(feats))
    engine = CPUInference(net)
    one = engine.predict(feats, ends, 24, num_threads=1)
    for threads in (2, 3, 64):
        np.testing.assert_array_equal(engine.predict(feats, ends, 24, num_threads=threads), one)
    # A window's forecast does not depend on which other windows share its chunk.
    part = engine.predict(feats, ends[::7], 24, num_threads=2)
    np.testing.assert_allclose(part, one[::7], rtol=0, atol=1e-6)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 511, 512, 513, 4 * CHUNK_WINDOWS, 5537, 100_003])
def test_chunks_partition_the_windows_evenly(n):
    chunks = _chunks(n)
    sizes = [hi - lo for lo, hi in chunks]
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:], strict=False))
    assert max(sizes) <= CHUNK_WINDOWS and min(sizes) >= 1
    if n >= 4 * CHUNK_WINDOWS:  # big jobs: near-full chunks, shares equal to one chunk for 2 or 4 threads
        assert len(chunks) % 4 <= 1 and max(sizes) > CHUNK_WINDOWS // 2


def test_torch_thread_setting_is_restored():
    before = torch.get_num_threads()
    net = _net(3, 8, 1, 1, 1.0)
    feats = np.zeros((100, 3), np.float32)
    CPUInference(net).predict(feats, np.arange(9, 100), 10, num_threads=2)
    assert torch.get_num_threads() == before


def test_engine_copies_the_weights():
    net = _net(3, 8, 1, 1, 1.0)
    feats = np.random.default_rng(3).standard_normal((60, 3)).astype(np.float32)
    engine = CPUInference(net)
    before = engine.predict(feats, np.arange(9, 60), 10)
    with torch.no_grad():
        net.lstm.weight_hh_l0.add_(1.0)
    np.testing.assert_array_equal(engine.predict(feats, np.arange(9, 60), 10), before)


def test_engine_bad_input():
    net = _net(3, 8, 1, 1, 1.0)
    engine = CPUInference(net)
    feats = np.zeros((50, 3), np.float32)
    with pytest.raises(ValueError, match="shape"):
        engine.predict(np.zeros((50, 4), np.float32), np.arange(9, 50), 10)
    with pytest.raises(ValueError, match="window ends"):
        engine.predict(feats, np.array([3]), 10)
    with pytest.raises(ValueError, match="window ends"):
        engine.predict(feats, np.array([50]), 10)
    assert engine.predict(feats, np.array([], dtype=np.int64), 10).shape == (0, 1)
    bidirectional = torch.nn.Module()
    bidirectional.lstm = torch.nn.LSTM(3, 4, 1, batch_first=True, bidirectional=True)
    bidirectional.head = torch.nn.Linear(8, 1)
    with pytest.raises(ValueError, match="unidirectional"):
        CPUInference(bidirectional)


@pytest.fixture(scope="module")
def fitted():
    rec = make_synthetic_record(days=2, seed=5)
    model = LSTMModel(hidden_size=16, num_layers=2, epochs=2, num_threads=1, seed=0)
    return model.fit(rec, make_target(rec, [30, 60])), rec


def test_lstm_predict_fast_and_torch_paths_agree(fitted):
    model, rec = fitted
    # A CGM gap makes some windows invalid: both paths give NaN there.
    rec = rec.copy()
    rec.iloc[200:220, rec.columns.get_loc("glucose")] = np.nan
    fast = model.predict(rec)
    slow = model.set_params(cpu_inference="torch").predict(rec)
    model.set_params(cpu_inference="fast")
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    assert np.isnan(fast).any() and np.isfinite(fast).sum() > 0.8 * fast.size
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-4)  # mg/dL


def test_lstm_cpu_inference_is_checked(fitted):
    model, rec = fitted
    bad = model.set_params(cpu_inference="numba")
    try:
        with pytest.raises(ValueError, match="cpu_inference"):
            bad.predict(rec)
    finally:
        model.set_params(cpu_inference="fast")
    with pytest.raises(ValueError, match="cpu_inference"):
        LSTMModel(cpu_inference="gpu", epochs=1).fit(rec, make_target(rec, 30))


def test_lstm_files_without_the_parameter_still_load(fitted, tmp_path):
    """Twin files written before ``cpu_inference`` existed load with the default."""
    from dt1d.data.twinfile import RESERVED_KEYS, read_twin_file, write_twin_file

    model, rec = fitted
    path = tmp_path / "m.dt1d"
    model.save(path)
    old = read_twin_file(path)
    manifest = {k: v for k, v in old.manifest.items() if k not in RESERVED_KEYS}
    manifest["params"] = {k: v for k, v in manifest["params"].items() if k != "cpu_inference"}
    write_twin_file(path, manifest, old.arrays, old.blobs)
    loaded = LSTMModel.load(path)
    assert loaded.cpu_inference == "fast"
    np.testing.assert_array_equal(loaded.predict(rec), model.predict(rec))
