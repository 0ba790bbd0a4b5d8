"""LSTM forecaster (torch): a population model of a cohort, fine-tuned to one person.

For every time ``t`` the network reads the last ``lookback_min`` minutes of
glucose, insulin, carbs, a missing-glucose indicator and the time of day, and
predicts glucose at every horizon of the target it was fitted on (multi-horizon
head). It learns the change from the current (last known) glucose, so its
outputs are anchored on the latest reading.

torch is imported only inside methods: importing this module, or listing the
registry, never imports it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dt1d.core._state_checks import check_keys
from dt1d.core.base import BaseModel, ParamsMixin
from dt1d.data import DataValidationError, horizons_of, infer_step, make_target, validate
from dt1d.exceptions import NotFittedError
from dt1d.models.lstm._features import (
    FEATURE_NAMES,
    N_FEATURES,
    RecordArrays,
    feature_stats,
    normalised_features,
    record_arrays,
)

__all__ = ["LSTMModel"]

logger = logging.getLogger(__name__)

_INPUT_COLUMNS = ("glucose", "insulin", "carbs")
_BLOB = "lstm_state_dict"
_HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "learning_rate", "seconds")
_LSTM_STATE_JSON = frozenset({"step_min_", "feature_columns_", "horizons_", "multi_output_",
                              "fine_tuned_", "n_train_windows_", "n_val_windows_"})
_LSTM_STATE_ARRAYS = frozenset({"feature_mean_", "feature_std_", "target_scale_", "history_"})
_MAX_HISTORY = 1_000_000


def lstm_weight_shapes(n_features: int, hidden: int, layers: int, n_outputs: int) -> dict[str, tuple[int, ...]]:
    """The state-dict shapes of :class:`~dt1d.models.lstm._net.LSTMNet` (torch's LSTM layout)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(layers):
        inputs = n_features if layer == 0 else hidden
        shapes[f"lstm.weight_ih_l{layer}"] = (4 * hidden, inputs)
        shapes[f"lstm.weight_hh_l{layer}"] = (4 * hidden, hidden)
        shapes[f"lstm.bias_ih_l{layer}"] = (4 * hidden,)
        shapes[f"lstm.bias_hh_l{layer}"] = (4 * hidden,)
    shapes["head.weight"] = (n_outputs, hidden)
    shapes["head.bias"] = (n_outputs,)
    return shapes


#: Called once per epoch with a dict: epoch, epochs, train_loss, val_loss, learning_rate, seconds.
EpochCallback = Callable[[dict[str, Any]], Any]


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _no_extra_arguments(method: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"LSTMModel.{method}() got unexpected keyword argument(s) {sorted(kwargs)}")


def _time_split(arrays: RecordArrays, fraction: float, max_horizon_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Time-ordered split per patient: the last ``fraction`` of each patient's time validates.

    Training rows whose target time reaches the validation period are dropped
    (purged), so no glucose value is both a training target and a validation
    input or target. Returns boolean masks (train_rows, val_rows).
    """
    codes, t = arrays.patient_codes, arrays.time_ns
    n_pat = int(codes.max()) + 1 if len(codes) else 0
    t_min = np.full(n_pat, np.iinfo(np.int64).max)
    t_max = np.full(n_pat, np.iinfo(np.int64).min)
    np.minimum.at(t_min, codes, t)
    np.maximum.at(t_max, codes, t)
    if fraction <= 0:
        return np.ones(len(t), dtype=bool), np.zeros(len(t), dtype=bool)
    cutoff = t_max - ((t_max - t_min) * fraction).astype(np.int64)
    cut = cutoff[codes]
    return t + max_horizon_ns < cut, t >= cut


class LSTMModel(ParamsMixin, BaseModel, name="lstm"):
    """LSTM glucose forecaster with a multi-horizon head; fit on a cohort, fine-tune per person.

    Parameters
    ----------
    lookback_min:
        Minutes of history each forecast reads (a multiple of the grid step).
    hidden_size, num_layers, dropout:
        Size of the stacked LSTM; dropout between LSTM layers.
    epochs:
        Most passes over the training windows (early stopping may end sooner).
    batch_size, learning_rate, weight_decay:
        Adam's mini-batch size, step size and L2 penalty.
    validation_fraction:
        Last fraction of each patient's time held out for early stopping and the
        learning-rate schedule (never a random split of overlapping windows); 0
        trains for ``epochs`` epochs without validation.
    patience:
        Epochs without a better validation loss before training stops; the
        learning rate halves after ``max(1, patience // 2)`` such epochs.
    grad_clip:
        Largest gradient norm (``None``: no clipping).
    max_gap_min:
        Longest run of missing CGM readings bridged by carrying the last reading
        forward; windows that contain a longer gap forecast NaN.
    seed:
        Seeds weights, dropout and shuffling: the same seed gives the same
        model on CPU (``None``: not seeded).
    device:
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    num_threads:
        torch CPU threads during fit/predict (restored after); ``None`` leaves
        torch's setting alone (and ``predict`` uses ``torch.get_num_threads()``).
    cpu_inference:
        How ``predict`` runs on CPU: ``"fast"`` (default) uses dt1d's inference
        engine (:mod:`dt1d.models.lstm._infer`: torch matrix products plus fused numba
        gate kernels, about 1.5x torch's LSTM here; outputs agree with torch to about
        1e-7 relative), ``"torch"`` runs the ``torch.nn.LSTM`` itself. Training and
        CUDA always use torch.
    """

    tags = frozenset({"needs_torch", "multi_horizon", "population"})
    _stored_blobs = frozenset({_BLOB})  # how files written before the weight arrays held them

    def __init__(
        self,
        lookback_min: int = 120,
        hidden_size: int = 64,
        num_layers: int = 2,
        dropout: float = 0.0,
        epochs: int = 50,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        validation_fraction: float = 0.2,
        patience: int = 5,
        grad_clip: float | None = 1.0,
        max_gap_min: int = 30,
        seed: int | None = 0,
        device: str = "cpu",
        num_threads: int | None = None,
        cpu_inference: str = "fast",
    ) -> None:
        self.lookback_min = lookback_min
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.grad_clip = grad_clip
        self.max_gap_min = max_gap_min
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.cpu_inference = cpu_inference

    # -- the contract -----------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series | pd.DataFrame | None = None,
        *,
        callback: EpochCallback | None = None,
        **kwargs: Any,
    ) -> LSTMModel:
        """Train a new network on ``X`` (one patient or a cohort with ``patient_id``) for the horizons of ``y``."""
        _no_extra_arguments("fit", kwargs)
        self._check_params()
        if y is None:
            raise ValueError("LSTMModel.fit needs a target y; build it with dt1d.data.make_target(X, horizon)")
        columns = [c for c in _INPUT_COLUMNS if isinstance(X, pd.DataFrame) and c in X.columns]
        Xv = self._validated(X)
        step = infer_step(Xv)
        self.step_min_ = float(step / pd.Timedelta(minutes=1))
        self.feature_columns_ = columns
        self.horizons_ = horizons_of(y)
        self.multi_output_ = isinstance(y, pd.DataFrame)
        self._train(Xv, y, epochs=self.epochs, learning_rate=self.learning_rate, new_network=True,
                    callback=callback)
        self.fine_tuned_ = False
        return self

    def fine_tune(
        self,
        X: pd.DataFrame,
        y: pd.Series | pd.DataFrame | None = None,
        *,
        epochs: int = 10,
        learning_rate: float | None = None,
        callback: EpochCallback | None = None,
    ) -> LSTMModel:
        """Adapt this fitted (population) model to one person's record; returns a new fitted model.

        Training continues from the current weights with the population's
        normalisation, ``learning_rate`` (default a tenth of the population
        one) and the same time-ordered early stopping. ``y`` defaults to
        targets at this model's horizons. This model is left unchanged, so one
        population model can serve every person.
        """
        self._check_is_fitted()
        if isinstance(X, pd.DataFrame) and "patient_id" in X.columns and X["patient_id"].nunique() > 1:
            raise ValueError(
                f"fine_tune adapts the model to one person, but X holds {X['patient_id'].nunique()} "
                "patients; fine-tune on each person's record separately (dt1d.data.iter_patients)"
            )
        _positive_int("epochs", epochs)
        Xv = self._validated(X)
        self._check_columns_and_step(X, Xv)
        if y is None:
            y = make_target(Xv, self.horizons_ if self.multi_output_ else self.horizons_[0])
        elif horizons_of(y) != list(self.horizons_):
            raise ValueError(
                f"y has horizons {horizons_of(y)} min but the model was fitted for {self.horizons_} min"
            )
        tuned = copy.deepcopy(self)
        lr = self.learning_rate / 10.0 if learning_rate is None else float(learning_rate)
        tuned._train(Xv, y, epochs=epochs, learning_rate=lr, new_network=False, callback=callback)
        tuned.fine_tuned_ = True
        return tuned

    def predict(self, X: pd.DataFrame, **kwargs: Any) -> np.ndarray:
        """Glucose (mg/dL) at ``t + horizon`` per row: ``(n,)`` or ``(n, k)``; NaN without a usable window."""
        _no_extra_arguments("predict", kwargs)
        self._check_is_fitted()
        Xv = self._validated(X)
        self._check_columns_and_step(X, Xv)
        arrays = self._arrays(Xv, purpose="predict")
        ends = np.flatnonzero(arrays.valid)
        feats = normalised_features(arrays.raw, self.feature_mean_, self.feature_std_)

        import torch

        from dt1d.models.lstm import _net as net_mod

        device = net_mod.resolve_device(self.device)
        self._check_cpu_inference()
        if device.type == "cpu" and self.cpu_inference == "fast":
            from dt1d.models.lstm._infer import CPUInference

            threads = self.num_threads if self.num_threads is not None else torch.get_num_threads()
            out = CPUInference(self._network()).predict(feats, ends, self._lookback_steps(), threads)
        else:
            with net_mod.torch_threads(self.num_threads):
                net = self._network().to(device)
                source = net_mod.WindowSource(torch.from_numpy(feats).to(device), self._lookback_steps())
                out = net_mod.predict_windows(net, source, torch.from_numpy(ends).to(device))
        pred = np.full((len(Xv), len(self.horizons_)), np.nan)
        pred[ends] = arrays.last_glucose[ends, None] + out * self.target_scale_
        return pred if self.multi_output_ else pred[:, 0]

    # -- training -------------------------------------------------------------------------
    def _train(
        self,
        Xv: pd.DataFrame,
        y: pd.Series | pd.DataFrame,
        *,
        epochs: int,
        learning_rate: float,
        new_network: bool,
        callback: EpochCallback | None,
    ) -> None:
        targets = y.to_numpy(dtype=np.float64, na_value=np.nan)
        targets = targets[:, None] if targets.ndim == 1 else targets
        if len(targets) != len(Xv) or not y.index.equals(Xv.index):
            raise ValueError(
                f"y ({len(targets)} rows) must be aligned with X ({len(Xv)} rows): same index, same "
                "order; build it with dt1d.data.make_target(X, horizon)"
            )
        arrays = self._arrays(Xv, purpose="fit")
        max_h_ns = int(max(self.horizons_) * 60e9)
        train_rows, val_rows = _time_split(arrays, float(self.validation_fraction), max_h_ns)
        residual = targets - arrays.last_glucose[:, None]
        known = np.isfinite(residual).any(axis=1) & arrays.valid
        train_ends = np.flatnonzero(known & train_rows)
        val_ends = np.flatnonzero(known & val_rows)
        if len(train_ends) == 0:
            raise ValueError(
                "no training window: every window before the validation period lacks history "
                f"({self.lookback_min} min), has a CGM gap longer than {self.max_gap_min} min, "
                "or has no known target; pass a longer record or lower validation_fraction"
            )
        if new_network:
            stats_rows = train_rows if train_rows.any() else slice(None)
            self.feature_mean_, self.feature_std_ = feature_stats(arrays.raw, stats_rows)
            scale = np.nanstd(residual[train_ends], axis=0)
            self.target_scale_ = np.where(np.isfinite(scale) & (scale > 1e-6), scale, 1.0)
        feats = normalised_features(arrays.raw, self.feature_mean_, self.feature_std_)
        norm_targets = (residual / self.target_scale_).astype(np.float32)
        used = np.concatenate([train_ends, val_ends])
        complete = bool(np.isfinite(norm_targets[used]).all())
        mask = None if complete else np.isfinite(norm_targets).astype(np.float32)
        np.nan_to_num(norm_targets, copy=False, nan=0.0)

        import torch

        from dt1d.models.lstm import _net as net_mod

        device = net_mod.resolve_device(self.device)
        logger.info(
            "training LSTM on %d windows (%d for validation), %d features, lookback %d steps, device %s",
            len(train_ends), len(val_ends), N_FEATURES, self._lookback_steps(), device,
        )
        with net_mod.torch_threads(self.num_threads), net_mod.seeded(self.seed, device):
            if new_network:
                net = net_mod.LSTMNet(
                    N_FEATURES, int(self.hidden_size), int(self.num_layers), float(self.dropout),
                    len(self.horizons_),
                )
            else:
                net = self._network()
            net = net.to(device)
            gen = torch.Generator()
            gen.manual_seed(int(self.seed) if self.seed is not None else int(torch.seed()))
            history = net_mod.train_network(
                net,
                net_mod.WindowSource(torch.from_numpy(feats).to(device), self._lookback_steps()),
                torch.from_numpy(norm_targets).to(device),
                None if mask is None else torch.from_numpy(mask).to(device),
                torch.from_numpy(train_ends).to(device),
                torch.from_numpy(val_ends).to(device),
                epochs=int(epochs), batch_size=int(self.batch_size), learning_rate=float(learning_rate),
                weight_decay=float(self.weight_decay), patience=int(self.patience),
                grad_clip=None if self.grad_clip is None else float(self.grad_clip),
                generator=gen, callback=callback,
            )
        self.network_ = net
        self.history_ = history
        self.n_train_windows_ = len(train_ends)
        self.n_val_windows_ = len(val_ends)

    # -- helpers ------------------------------------------------------------------------
    def _check_cpu_inference(self) -> None:
        if self.cpu_inference not in ("fast", "torch"):
            raise ValueError(f"cpu_inference must be 'fast' or 'torch', got {self.cpu_inference!r}")

    def _check_params(self) -> None:
        for name in ("lookback_min", "hidden_size", "num_layers", "epochs", "batch_size", "patience"):
            _positive_int(name, getattr(self, name))
        if isinstance(self.max_gap_min, bool) or not isinstance(self.max_gap_min, (int, np.integer)) \
                or self.max_gap_min < 0:
            raise ValueError(f"max_gap_min must be a non-negative integer of minutes, got {self.max_gap_min!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction!r}")
        for name in ("learning_rate", "weight_decay"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0 or (name == "learning_rate" and value == 0):
                raise ValueError(f"{name} must be a finite positive number, got {value!r}")
        if self.grad_clip is not None and not float(self.grad_clip) > 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip!r}")
        if self.num_threads is not None:
            _positive_int("num_threads", self.num_threads)
        self._check_cpu_inference()
        if self.device not in ("cpu", "auto") and not (isinstance(self.device, str) and self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {self.device!r}")

    @staticmethod
    def _validated(X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"X must be a pandas DataFrame (a patient record), got {type(X).__name__}")
        return validate(X)

    def _lookback_steps(self) -> int:
        steps = self.lookback_min / self.step_min_
        if steps != int(steps):
            raise ValueError(
                f"lookback_min={self.lookback_min} is not a multiple of the record's "
                f"{self.step_min_:g}-minute step"
            )
        return int(steps)

    def _arrays(self, Xv: pd.DataFrame, *, purpose: str) -> RecordArrays:
        """Feature arrays of a validated record; clear errors when no window is usable."""
        L = self._lookback_steps()
        step_ns = int(round(self.step_min_ * 60e9))
        arrays = record_arrays(Xv, step_ns=step_ns, lookback_steps=L,
                               max_gap_steps=int(self.max_gap_min // self.step_min_))
        if not arrays.valid.any():
            seg_lengths = np.diff(np.append(np.flatnonzero(arrays.starts), len(Xv)))
            if seg_lengths.max(initial=0) < L:
                raise ValueError(
                    f"cannot {purpose}: the record is shorter than the lookback: its longest "
                    f"patient run has {seg_lengths.max(initial=0)} rows but lookback_min="
                    f"{self.lookback_min} needs {L} rows at {self.step_min_:g} min"
                )
            raise ValueError(
                f"cannot {purpose}: every {self.lookback_min}-minute window has missing glucose "
                f"beyond what is bridged (gaps longer than max_gap_min={self.max_gap_min} min, "
                "or no reading at all); check the 'glucose' column"
            )
        return arrays

    def _check_columns_and_step(self, X: pd.DataFrame, Xv: pd.DataFrame) -> None:
        missing = [c for c in self.feature_columns_ if c not in X.columns]
        if missing:
            raise ValueError(
                f"X lacks column(s) {missing} that the model was fitted with "
                f"(fitted on {list(self.feature_columns_)}); pass the same feature columns"
            )
        extra = [c for c in _INPUT_COLUMNS if c in X.columns and c not in self.feature_columns_]
        if extra:
            logger.warning("columns %s were absent at fit and are read as zeros by the model", extra)
        try:
            step_min = float(infer_step(Xv) / pd.Timedelta(minutes=1))
        except DataValidationError:
            return  # one row per patient: no step to compare (and no usable window either)
        if step_min != self.step_min_:
            raise ValueError(
                f"the record is on a {step_min:g}-minute grid but the model was fitted on "
                f"{self.step_min_:g} minutes; resample it with dt1d.data.resample"
            )

    def _network(self) -> Any:
        """The fitted network (rebuilt from the stored weights after a load)."""
        net = self.__dict__.get("network_")
        if net is None:
            raise NotFittedError("this LSTMModel has no network; fit it or load a fitted file")
        return net

    # -- persistence ------------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        state = {k: v for k, v in super()._get_state().items() if k not in ("network_", "history_")}
        if "history_" in self.__dict__:
            rows = [[h[c] if h[c] is not None else np.nan for c in _HISTORY_COLUMNS] for h in self.history_]
            state["history_"] = np.asarray(rows, dtype=np.float64).reshape(-1, len(_HISTORY_COLUMNS))
        return state

    def _set_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        history = state.pop("history_", None)
        for key in ("feature_mean_", "feature_std_", "target_scale_"):
            if key in state:
                state[key] = np.asarray(state[key], dtype=np.float64)
        super()._set_state(state)
        if history is not None:
            self.history_ = [
                {c: (None if c == "val_loss" and np.isnan(v) else (int(v) if c == "epoch" else float(v)))
                 for c, v in zip(_HISTORY_COLUMNS, row, strict=True)}
                for row in np.asarray(history)
            ]

    def _get_weights(self) -> dict[str, np.ndarray]:
        """The network's weights as plain float arrays (saved as ``.npy``, never pickled)."""
        net = self.__dict__.get("network_")
        if net is None:
            return {}
        return {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}

    def _set_weights(self, weights: dict[str, np.ndarray]) -> None:
        if not weights:
            return
        import torch

        self._install_network({k: torch.from_numpy(np.array(v)) for k, v in weights.items()})

    def _set_blobs(self, blobs: dict[str, bytes]) -> None:
        """Weights of files written before they were stored as arrays (a torch state dict)."""
        unknown = sorted(set(blobs) - {_BLOB})
        if unknown:
            raise ValueError(f"unexpected blobs {unknown} in an LSTM twin file (expected {_BLOB!r})")
        if _BLOB not in blobs:
            return
        from dt1d.models.lstm import _net as net_mod

        self._install_network(net_mod.state_dict_from_bytes(blobs[_BLOB]))

    def _install_network(self, state: dict[str, Any]) -> None:
        from dt1d.models.lstm import _net as net_mod

        net = net_mod.LSTMNet(
            N_FEATURES, int(self.hidden_size), int(self.num_layers), float(self.dropout), len(self.horizons_)
        )
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"the stored LSTM weights do not fit the stored parameters: {exc}") from None
        net.eval()
        self.network_ = net

    def _check_stored_state(
        self, state: dict[str, Any], arrays: dict[str, tuple[np.dtype, tuple[int, ...]]]
    ) -> None:
        """Known keys with their types, and array shapes that follow from the parameters."""
        check_keys(state, arrays, _LSTM_STATE_JSON, _LSTM_STATE_ARRAYS)
        for key in ("multi_output_", "fine_tuned_"):
            if key in state and not isinstance(state[key], bool):
                raise ValueError(f"{key} is {state[key]!r:.40}; expected true or false")
        for key in ("n_train_windows_", "n_val_windows_"):
            value = state.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} is {value!r:.40}; expected a count")
        columns = state.get("feature_columns_", [])
        if not isinstance(columns, list) or not set(columns) <= set(_INPUT_COLUMNS) \
                or len(set(columns)) != len(columns):
            raise ValueError(f"feature_columns_ is {columns!r:.80}; expected names from {_INPUT_COLUMNS}")
        k = len(state.get("horizons_", [30]))
        expected: dict[str, tuple[int, ...]] = {
            "feature_mean_": (N_FEATURES,), "feature_std_": (N_FEATURES,), "target_scale_": (k,),
        }
        for key, shape in expected.items():
            if key in arrays and arrays[key][1] != shape:
                raise ValueError(f"{key} has shape {list(arrays[key][1])}, expected {list(shape)}")
        if "history_" in arrays:
            shape = arrays["history_"][1]
            if len(shape) != 2 or shape[1] != len(_HISTORY_COLUMNS) or shape[0] > _MAX_HISTORY:
                raise ValueError(
                    f"history_ has shape {list(shape)}, expected [epochs <= {_MAX_HISTORY}, "
                    f"{len(_HISTORY_COLUMNS)}]"
                )
        weights = {k_[len("weights."):]: v for k_, v in arrays.items() if k_.startswith("weights.")}
        if weights:
            want = lstm_weight_shapes(N_FEATURES, int(self.hidden_size), int(self.num_layers), k)
            if set(weights) != set(want):
                raise ValueError(
                    f"the LSTM weights are {sorted(weights)[:4]}...; a network with these "
                    f"parameters has {sorted(want)}"
                )
            for name, (dtype, shape) in weights.items():
                if shape != want[name] or dtype.kind != "f":
                    raise ValueError(
                        f"weight {name} is {dtype.str} {list(shape)}, the parameters need a "
                        f"float {list(want[name])}"
                    )

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the per-step inputs, in the network's order."""
        return FEATURE_NAMES
