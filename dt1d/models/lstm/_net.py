"""The LSTM network and its training loop (imports torch: import this module lazily).

The data never leave one feature tensor of shape ``(n_rows, n_features)``.
A batch of windows is gathered from a strided ``unfold`` view of it, so only
the batch is copied, and on a GPU the gather happens on the device.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "LSTMNet",
    "resolve_device",
    "torch_threads",
    "seeded",
    "WindowSource",
    "train_network",
    "predict_windows",
    "state_dict_to_bytes",
    "state_dict_from_bytes",
]

logger = logging.getLogger("dt1d.models.lstm")

_EVAL_BATCH = 1024  # windows per inference batch: bounds temporaries (~25 MB at hidden 64)


class LSTMNet(nn.Module):
    """Stacked LSTM over a window, then a linear head with one output per horizon."""

    def __init__(self, n_features: int, hidden_size: int, num_layers: int, dropout: float, n_outputs: int):
        super().__init__()
        self.lstm = nn.LSTM(
            n_features, hidden_size, num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(hidden_size, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, lookback, n_features)`` -> ``(batch, n_outputs)``."""
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"`` (or ``"cuda:1"``) or ``"auto"`` (CUDA when available)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but torch {torch.__version__} sees no CUDA GPU; "
            "use device='cpu' or device='auto'"
        )
    return torch.device(device)


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run torch's CPU ops on ``num_threads`` threads, restoring the previous setting after."""
    if num_threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's global generators inside the block and restore them after."""
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


class WindowSource:
    """Gathers batches of windows ending at given rows from one feature tensor."""

    def __init__(self, features: torch.Tensor, lookback_steps: int):
        self.lookback_steps = int(lookback_steps)
        # (n - L + 1, L, f) strided view: window i ends at row i + L - 1; nothing is copied.
        self.windows = features.unfold(0, self.lookback_steps, 1).permute(0, 2, 1)

    def batch(self, ends: torch.Tensor) -> torch.Tensor:
        """Windows ending at rows ``ends``: a ``(len(ends), L, f)`` contiguous tensor."""
        return self.windows[ends - (self.lookback_steps - 1)]


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return nn.functional.mse_loss(pred, target)
    diff = (pred - target) * mask
    return (diff * diff).sum() / mask.sum().clamp_min(1.0)


@torch.inference_mode()
def _evaluate(net: nn.Module, source: WindowSource, ends: torch.Tensor, targets: torch.Tensor,
              mask: torch.Tensor | None) -> float:
    """Mean squared error over the windows ending at ``ends`` (masked targets ignored)."""
    net.eval()
    sq = torch.zeros((), device=ends.device)
    count = torch.zeros((), device=ends.device)
    for i in range(0, len(ends), _EVAL_BATCH):
        e = ends[i : i + _EVAL_BATCH]
        diff = net(source.batch(e)) - targets[e]
        if mask is not None:
            diff = diff * mask[e]
            count += mask[e].sum()
        else:
            count += diff.numel()
        sq += (diff * diff).sum()
    return float(sq / count.clamp_min(1.0))


def train_network(
    net: nn.Module,
    source: WindowSource,
    targets: torch.Tensor,
    mask: torch.Tensor | None,
    train_ends: torch.Tensor,
    val_ends: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    patience: int,
    grad_clip: float | None,
    generator: torch.Generator,
    callback: Callable[[dict[str, Any]], Any] | None = None,
) -> list[dict[str, Any]]:
    """Adam with plateau LR decay, gradient clipping and early stopping on ``val_ends``.

    ``targets``/``mask`` are indexed by row (the end row of a window); ``mask``
    is ``None`` when every target is known. The best weights (lowest validation
    loss, or training loss without validation) are restored at the end.
    Returns the per-epoch history.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=learning_rate, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(1, patience // 2))
    has_val = len(val_ends) > 0
    n_train = len(train_ends)
    best_loss, best_state, best_epoch, since_best = float("inf"), None, 0, 0
    history: list[dict[str, Any]] = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = train_ends[torch.randperm(n_train, generator=generator).to(train_ends.device)]
        total = torch.zeros((), device=train_ends.device)
        for i in range(0, n_train, batch_size):
            e = order[i : i + batch_size]
            loss = _masked_mse(net(source.batch(e)), targets[e], None if mask is None else mask[e])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
            opt.step()
            total += loss.detach() * len(e)
        train_loss = float(total) / n_train
        val_loss = _evaluate(net, source, val_ends, targets, mask) if has_val else None
        monitored = val_loss if has_val else train_loss
        sched.step(monitored)
        if monitored < best_loss:
            best_loss, best_epoch, since_best = monitored, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            since_best += 1
        entry = {
            "epoch": epoch, "epochs": epochs, "train_loss": train_loss, "val_loss": val_loss,
            "learning_rate": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0,
        }
        history.append(entry)
        logger.info(
            "epoch %d/%d: train loss %.5f, validation loss %s, lr %.2g (%.1f s)",
            epoch, epochs, train_loss, "n/a" if val_loss is None else f"{val_loss:.5f}",
            entry["learning_rate"], entry["seconds"],
        )
        if callback is not None:
            callback(dict(entry))
        if has_val and since_best >= patience:
            logger.info("early stop after epoch %d: best epoch %d", epoch, best_epoch)
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return history


@torch.inference_mode()
def predict_windows(net: nn.Module, source: WindowSource, ends: torch.Tensor) -> np.ndarray:
    """Network outputs for the windows ending at ``ends``, as a float64 ``(m, k)`` array."""
    net.eval()
    outs = [net(source.batch(ends[i : i + _EVAL_BATCH])).cpu() for i in range(0, len(ends), _EVAL_BATCH)]
    if not outs:
        return np.empty((0, net.head.out_features))
    return torch.cat(outs).to(torch.float64).numpy()


def state_dict_to_bytes(net: nn.Module) -> bytes:
    """The network's weights as ``torch.save`` bytes, always on CPU so any machine can load them."""
    import io

    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, buf)
    return buf.getvalue()


def state_dict_from_bytes(data: bytes) -> dict[str, torch.Tensor]:
    """Weights saved by :func:`state_dict_to_bytes`; tensors only, mapped to CPU (no pickle code)."""
    import io
    import warnings

    try:
        # torch's restricted loader: it builds tensors and plain containers only and
        # refuses any other pickled object instead of running it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its protocol notes speak of loading modes
            state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception:  # noqa: BLE001 - any failure means the blob is not plain weights
        # torch's own message advises a loading mode that would run the payload: not shown.
        raise ValueError(
            "the LSTM weights blob is not a plain tensor state dict (it is damaged or holds "
            "other pickled objects); refusing to load it"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("the LSTM weights blob is not a state dict of tensors")
    return state
