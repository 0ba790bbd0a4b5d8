"""Fast CPU inference for a trained :class:`~dt1d.models.lstm._net.LSTMNet` (imports torch lazily).

torch's CPU LSTM spends about half its time outside the matrix products, in the gate
non-linearities (its ``tanh`` costs about 3 ns per element here). This engine keeps the
matrix products in torch (one ``addmm`` per layer and step, on ``[input, h]`` against the
stacked ``[W_ih | W_hh]`` weights, so one GEMM instead of two) and does everything else
of a step in one fused numba kernel per layer:

- every gate goes through one vectorised rational ``tanh`` in a single flat pass: a
  sigmoid is ``0.5 + 0.5 * tanh(x / 2)`` and the factor 1/2 is folded into those gates'
  weights;
- a second pass does the cell update ``c = f * c + i * g`` and ``h = o * tanh(c)`` and
  writes ``h`` straight into the next layer's input buffer.

Chunks of windows run on a pool of Python threads, each using one torch thread (torch
and the numba kernel release the GIL), which scales better on few cores than torch's
intra-op threads. A window's inputs are gathered from a strided view of the feature
array, so only a chunk of windows is ever copied.

Accuracy: the rational ``tanh`` (a degree 9/8 odd/even rational function in ``x``, fitted
for this module by iteratively reweighted least squares on ``|x| <= 9``; ``tanh`` beyond
that rounds to ``±1`` in float32) has an absolute error below ``4e-7`` in float32, a few
units in the last place, against ``1e-7``-ish rounding in torch's own kernels. Tests
check the outputs against ``torch.nn.LSTM`` itself.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import numpy as np

from dt1d._numba import LSTM_FASTMATH, jit

__all__ = ["CPUInference", "fast_tanh"]

_F32 = np.float32
# tanh(x) ~ x * P(u) / Q(u) with u = (x / 9)^2 on |x| <= 9.
_P0, _P1, _P2, _P3, _P4 = (_F32(0.99999998), _F32(10.83860356), _F32(22.93428175),
                           _F32(10.95211706), _F32(0.57482564))
_Q1, _Q2, _Q3, _Q4 = (_F32(37.83858924), _F32(169.77787179), _F32(174.60836378),
                      _F32(33.47363127))
_XMAX = _F32(9.0)
_INV_XMAX = _F32(1.0 / 9.0)
_ONE = _F32(1.0)
_HALF = _F32(0.5)

#: Most windows per chunk: one thread's unit of work (its buffers stay in cache).
CHUNK_WINDOWS = 512

# fastmath without "nnan"/"ninf": the clamp below must still send +-inf to +-1.
_FASTMATH = set(LSTM_FASTMATH)


@jit(fastmath=_FASTMATH)
def _tanh(x):
    """float32 ``tanh`` by a clamped rational approximation in [-1, 1] (vectorises; abs error < 4e-7)."""
    x = min(max(x, -_XMAX), _XMAX)
    u = (x * _INV_XMAX) * (x * _INV_XMAX)
    num = (((_P4 * u + _P3) * u + _P2) * u + _P1) * u + _P0
    den = (((_Q4 * u + _Q3) * u + _Q2) * u + _Q1) * u + _ONE
    # The rational function overshoots 1 by up to 2e-7 near |x| = 9: clamp to [-1, 1].
    return min(max(x * num / den, -_ONE), _ONE)


@jit(fastmath=_FASTMATH, nogil=True)
def _tanh_inplace(a):
    """``a[:] = tanh(a)`` for a 1-D float32 array."""
    for k in range(a.size):
        a[k] = _tanh(a[k])


@jit(fastmath=_FASTMATH, nogil=True)
def _cell(gates, c, out_a, off_a, out_b, off_b):
    """One LSTM step of one layer, after the GEMM and :func:`_tanh_inplace` of the gates.

    ``gates`` (B, 4H): ``tanh`` of the pre-activations in torch's order i, f, g, o, whose
    i, f and o rows were halved (so ``0.5 + 0.5 * gate`` is their sigmoid). ``c`` (B, H):
    cell state, updated in place. The new ``h`` is written to ``out_a[:, off_a:off_a+H]``
    and ``out_b[:, off_b:off_b+H]`` (two distinct arrays: aliasing ones would stop LLVM
    from vectorising the loop). Kept apart from the ``tanh`` pass: fused into one kernel,
    the two loops ran at half the speed.
    """
    n, hidden = c.shape
    for b in range(n):
        for j in range(hidden):
            cc = ((_HALF + _HALF * gates[b, hidden + j]) * c[b, j]
                  + (_HALF + _HALF * gates[b, j]) * gates[b, 2 * hidden + j])
            c[b, j] = cc
            h = (_HALF + _HALF * gates[b, 3 * hidden + j]) * _tanh(cc)
            out_a[b, off_a + j] = h
            out_b[b, off_b + j] = h


def _chunks(n: int) -> list[tuple[int, int]]:
    """Split ``n`` windows into near-equal chunks of at most :data:`CHUNK_WINDOWS`.

    The number of chunks is a multiple of 4, so 1, 2 or 4 threads get equal shares; it
    depends on ``n`` only, so results do not depend on the thread count.
    """
    count = -(-n // CHUNK_WINDOWS)
    count = -(-count // 4) * 4
    size = -(-n // count)
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def fast_tanh(x: np.ndarray) -> np.ndarray:
    """The engine's ``tanh`` applied to a copy of ``x`` as float32 (for checking its accuracy)."""
    out = np.array(x, dtype=np.float32, copy=True).reshape(-1)
    _tanh_inplace(out)
    return out.reshape(np.shape(x))


class CPUInference:
    """Forward pass of a trained ``LSTMNet`` on CPU, from a feature array and window ends.

    Built once per ``predict`` from the network's weights (copied, so the network may
    change afterwards). Matches ``net(windows)`` to float32 rounding plus the ``tanh``
    approximation (see the module docstring).
    """

    def __init__(self, net: Any):
        import torch

        lstm = net.lstm
        if lstm.bidirectional or getattr(lstm, "proj_size", 0) or not lstm.batch_first:
            raise ValueError("CPUInference supports batch-first, unidirectional LSTMs without projections")
        self.hidden = int(lstm.hidden_size)
        self.n_features = int(lstm.input_size)
        h = self.hidden
        # The sigmoid gates (i, f, o) are evaluated as 0.5 + 0.5*tanh(z/2): halve their rows.
        scale = torch.full((4 * h,), 0.5, dtype=torch.float32)
        scale[2 * h : 3 * h] = 1.0
        self.layers: list[tuple[Any, Any, int]] = []
        with torch.no_grad():
            for layer in range(lstm.num_layers):
                w_ih = getattr(lstm, f"weight_ih_l{layer}").detach().to("cpu", torch.float32)
                w_hh = getattr(lstm, f"weight_hh_l{layer}").detach().to("cpu", torch.float32)
                bias = torch.zeros(4 * h, dtype=torch.float32)
                if lstm.bias:
                    bias = (getattr(lstm, f"bias_ih_l{layer}").detach().to("cpu", torch.float32)
                            + getattr(lstm, f"bias_hh_l{layer}").detach().to("cpu", torch.float32))
                w = torch.cat([w_ih, w_hh], dim=1) * scale[:, None]
                # (in + H, 4H), contiguous: gates = [input, h] @ w + bias.
                self.layers.append((w.t().contiguous(), (bias * scale).contiguous(), int(w_ih.shape[1])))
            self.head_w = net.head.weight.detach().to("cpu", torch.float32).numpy().T.copy()
            self.head_b = net.head.bias.detach().to("cpu", torch.float32).numpy().copy()

    @property
    def n_outputs(self) -> int:
        """Outputs per window (one per horizon)."""
        return int(self.head_b.shape[0])

    def predict(self, features: np.ndarray, ends: np.ndarray, lookback_steps: int,
                num_threads: int = 1) -> np.ndarray:
        """Outputs ``(len(ends), k)`` float64 for the windows of ``lookback_steps`` rows ending at ``ends``.

        ``features``: ``(n_rows, n_features)`` float32 (normalised); ``ends``: int row
        indices, each at least ``lookback_steps - 1``. ``num_threads`` threads share the chunks.
        """
        import torch

        feats = np.ascontiguousarray(features, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.n_features:
            raise ValueError(f"features must have shape (n_rows, {self.n_features}); got {feats.shape}")
        ends = np.asarray(ends, dtype=np.int64)
        lookback = int(lookback_steps)
        if lookback < 1:
            raise ValueError(f"lookback_steps must be >= 1; got {lookback_steps}")
        out = np.empty((len(ends), self.n_outputs), dtype=np.float64)
        if len(ends) == 0:
            return out
        if ends.min() < lookback - 1 or ends.max() >= len(feats):
            raise ValueError(f"window ends must lie in [{lookback - 1}, {len(feats) - 1}]")
        # (n - L + 1, F, L) strided view: nothing is copied until a chunk gathers its windows.
        windows = np.lib.stride_tricks.sliding_window_view(feats, lookback, axis=0)
        starts = ends - (lookback - 1)
        bounds = _chunks(len(ends))

        def run(bound: tuple[int, int]) -> None:
            lo, hi = bound
            # Time-major copy of this chunk's windows: (L, B, F).
            x = np.ascontiguousarray(windows[starts[lo:hi]].transpose(2, 0, 1))
            out[lo:hi] = self._forward(x)

        threads = max(1, min(int(num_threads), len(bounds)))
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if threads == 1:
                for bound in bounds:
                    run(bound)
            else:
                with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="dt1d-lstm") as pool:
                    list(pool.map(run, bounds))
        finally:
            torch.set_num_threads(before)
        return out

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """One chunk: ``x`` (L, B, F) float32 -> ``(B, k)`` float64."""
        import torch

        steps, n, f = x.shape
        h = self.hidden
        # Per layer a (B, in + H) buffer [input_t, h_{t-1}]: layer l writes its h into its own
        # recurrent slot and into layer l+1's input slot.
        bufs = [np.zeros((n, width + h), dtype=np.float32) for (_, _, width) in self.layers]
        tbufs = [torch.from_numpy(b) for b in bufs]
        cells = [np.zeros((n, h), dtype=np.float32) for _ in self.layers]
        gates = np.empty((n, 4 * h), dtype=np.float32)
        tgates = torch.from_numpy(gates)
        flat_gates = gates.reshape(-1)
        # The last layer's h also goes to its own array: two outputs that alias each other
        # would stop LLVM from vectorising the cell kernel.
        h_last = np.empty((n, h), dtype=np.float32)
        last = len(self.layers) - 1
        with torch.inference_mode():
            for t in range(steps):
                bufs[0][:, :f] = x[t]
                for layer, (w, bias, width) in enumerate(self.layers):
                    if t == 0:  # h_{-1} = 0: only the input part of the product
                        torch.addmm(bias, tbufs[layer][:, :width], w[:width], out=tgates)
                    else:
                        torch.addmm(bias, tbufs[layer], w, out=tgates)
                    _tanh_inplace(flat_gates)
                    nxt = bufs[layer + 1] if layer < last else h_last
                    _cell(gates, cells[layer], bufs[layer], width, nxt, 0)
        return (h_last @ self.head_w + self.head_b).astype(np.float64)

