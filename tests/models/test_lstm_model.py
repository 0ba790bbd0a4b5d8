"""LSTMModel: the model contract, windows in records and cohorts, training, fine-tuning, errors."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from dt1d.data import make_target
from dt1d.metrics import rmse
from dt1d.models.baselines import PersistenceModel
from dt1d.models.lstm import LSTMModel
from dt1d.testing import make_synthetic_record

TINY = dict(hidden_size=8, num_layers=1, epochs=2, num_threads=1)


def _cohort(*records_and_ids):
    parts = []
    for rec, pid in records_and_ids:
        part = rec.copy()
        part["patient_id"] = pid
        parts.append(part)
    return pd.concat(parts)


@pytest.fixture(scope="module")
def record():
    return make_synthetic_record(days=2, seed=3)


@pytest.fixture(scope="module")
def multi(record):
    """A fitted two-horizon model (30 and 60 min)."""
    return LSTMModel(**TINY).fit(record, make_target(record, [30, 60]))


def test_import_and_registry_lookups_do_not_import_torch():
    code = textwrap.dedent(
        """
        import sys
        import dt1d
        names = dt1d.list_available_models()
        assert "lstm" in names, names
        cls = dt1d.get_model_class("lstm")
        model = dt1d.create_model("lstm", hidden_size=4)
        assert cls.__name__ == "LSTMModel" and model.hidden_size == 4
        print("torch" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_multi_horizon_shape_and_missing_history(multi, record):
    pred = multi.predict(record)
    assert pred.shape == (len(record), 2)
    L = 120 // 5
    assert np.isnan(pred[: L - 1]).all()  # not enough history
    assert np.isfinite(pred[L - 1 :][np.isfinite(record["glucose"].to_numpy()[L - 1 :])]).all()
    assert multi.horizons_ == [30, 60] and multi.multi_output_


def test_single_horizon_gives_a_vector(record):
    model = LSTMModel(**TINY).fit(record, make_target(record, 60))
    pred = model.predict(record)
    assert pred.shape == (len(record),) and model.horizons_ == [60]


def test_cohort_windows_never_cross_patients(multi):
    a = make_synthetic_record(days=1, seed=10)
    b = make_synthetic_record(days=1, seed=11)
    cohort = _cohort((a, "a"), (b, "b"))
    pred = multi.predict(cohort)
    alone_a, alone_b = multi.predict(a), multi.predict(b)
    np.testing.assert_array_equal(pred[: len(a)], alone_a)
    np.testing.assert_array_equal(pred[len(a) :], alone_b)
    assert np.isnan(pred[len(a) : len(a) + 23]).all()  # patient b starts without history


def test_a_long_cgm_gap_forecasts_nan_and_a_short_one_does_not(multi, record):
    rec = record.copy()
    g = rec["glucose"].to_numpy().copy()
    g[:] = np.where(np.isnan(g), 150.0, g)
    g[200:203] = np.nan  # 15 min: bridged (max_gap_min=30)
    g[400:410] = np.nan  # 50 min: too long
    rec["glucose"] = g
    pred = multi.predict(rec)[:, 0]
    assert np.isfinite(pred[200:203]).all() and np.isfinite(pred[203:226]).all()
    assert np.isfinite(pred[400:406]).all()  # up to 30 min after the last reading
    # rows 406..409 are more than 30 min after a reading: windows holding them end at 406..432
    assert np.isnan(pred[406:433]).all()
    assert np.isfinite(pred[433:]).all()


def test_same_seed_same_model_other_seed_other_model(record):
    y = make_target(record, 30)
    p1 = LSTMModel(**TINY, seed=7).fit(record, y).predict(record)
    p2 = LSTMModel(**TINY, seed=7).fit(record, y).predict(record)
    p3 = LSTMModel(**TINY, seed=8).fit(record, y).predict(record)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3, equal_nan=True)


def test_training_learns_beyond_persistence():
    train = make_synthetic_record(days=4, seed=1, missing_fraction=0.0)
    test = make_synthetic_record(days=1, seed=2, start="2026-02-01", missing_fraction=0.0)
    y_train, y_test = make_target(train, 30), make_target(test, 30).to_numpy()
    model = LSTMModel(hidden_size=16, num_layers=1, epochs=15, learning_rate=3e-3, num_threads=1)
    model.fit(train, y_train)
    lstm_rmse = rmse(y_test, model.predict(test))
    persistence_rmse = rmse(y_test, PersistenceModel().fit(train, y_train).predict(test))
    assert lstm_rmse < 0.85 * persistence_rmse, (lstm_rmse, persistence_rmse)
    losses = [h["train_loss"] for h in model.history_]
    assert losses[-1] < losses[0]


def test_normalisation_is_learned_from_the_training_period(record):
    model = LSTMModel(**TINY, validation_fraction=0.25).fit(record, make_target(record, 30))
    t = record.index
    cutoff = t[-1] - (t[-1] - t[0]) * 0.25
    horizon = pd.Timedelta(minutes=30)
    train_part = record[t + horizon < cutoff]
    g = train_part["glucose"].ffill()
    assert model.feature_mean_[0] == pytest.approx(g.mean(), rel=1e-9)
    assert model.feature_std_[0] == pytest.approx(g.std(ddof=0), rel=1e-9)
    assert model.feature_mean_[2] == pytest.approx(train_part["carbs"].mean(), rel=1e-9)
    np.testing.assert_array_equal(model.feature_mean_[3:], 0.0)


def test_time_ordered_split_and_purge():
    from dt1d.models.lstm._features import record_arrays
    from dt1d.models.lstm._model import _time_split

    a = make_synthetic_record(days=1, seed=1)
    b = make_synthetic_record(days=2, seed=2, start="2026-03-01")
    cohort = _cohort((a, "a"), (b, "b"))
    arrays = record_arrays(cohort, step_ns=300 * 10**9, lookback_steps=24, max_gap_steps=6)
    horizon_ns = 60 * 60 * 10**9
    train, val = _time_split(arrays, 0.2, horizon_ns)
    assert not (train & val).any()
    for pid in ("a", "b"):
        rows = (cohort["patient_id"] == pid).to_numpy()
        times = cohort.index[rows]
        span = times[-1] - times[0]
        expected_val = times >= times[-1] - span * 0.2
        np.testing.assert_array_equal(val[rows], expected_val)
        first_val = times[expected_val][0]
        # training targets (t + 60 min) stay before the validation period
        assert (times[train[rows]] + pd.Timedelta(minutes=60) < first_val).all()
        assert train[rows].sum() == (times + pd.Timedelta(minutes=60) < first_val).sum()


def test_callback_history_and_logging(record, caplog):
    seen = []
    with caplog.at_level(logging.INFO, logger="dt1d.models.lstm"):
        model = LSTMModel(**{**TINY, "epochs": 3}, validation_fraction=0.0).fit(
            record, make_target(record, 30), callback=seen.append
        )
    assert [e["epoch"] for e in seen] == [1, 2, 3]  # no validation: every epoch runs
    assert all(e["val_loss"] is None and e["train_loss"] > 0 for e in seen)
    assert [h["train_loss"] for h in model.history_] == [e["train_loss"] for e in seen]
    assert sum("epoch" in r.getMessage() and "train loss" in r.getMessage() for r in caplog.records) == 3


def test_thread_setting_is_restored(record):
    before = torch.get_num_threads()
    LSTMModel(**{**TINY, "num_threads": 2}).fit(record, make_target(record, 30))
    assert torch.get_num_threads() == before


def test_early_stopping_restores_the_best_epoch(monkeypatch):
    from dt1d.models.lstm import _net as net_mod

    scripted = iter([1.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
    monkeypatch.setattr(net_mod, "_evaluate", lambda *a, **k: next(scripted))
    feats = torch.randn(200, 6)
    net = net_mod.LSTMNet(6, 4, 1, 0.0, 1)
    snapshots = []
    history = net_mod.train_network(
        net, net_mod.WindowSource(feats, 5), torch.randn(200, 1), None,
        torch.arange(4, 150), torch.arange(160, 200),
        epochs=20, batch_size=32, learning_rate=1e-2, weight_decay=0.0, patience=3,
        grad_clip=1.0, generator=torch.Generator().manual_seed(0),
        callback=lambda e: snapshots.append({k: v.clone() for k, v in net.state_dict().items()}),
    )
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]  # 3 epochs without improvement
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, snapshots[1][key], rtol=0, atol=0)
    assert history[-1]["learning_rate"] < 1e-2  # the plateau schedule lowered it


def test_fine_tune_returns_a_new_personal_model():
    pop_a = make_synthetic_record(days=2, seed=20)
    pop_b = make_synthetic_record(days=2, seed=21)
    cohort = _cohort((pop_a, "a"), (pop_b, "b"))
    population = LSTMModel(**TINY).fit(cohort, make_target(cohort, [30, 60]))
    person = make_synthetic_record(days=2, seed=22, start="2026-05-01")
    before = population.predict(person)
    personal = population.fine_tune(person, epochs=2)
    assert personal is not population and personal.fine_tuned_ and not population.fine_tuned_
    np.testing.assert_array_equal(population.predict(person), before)  # population untouched
    after = personal.predict(person)
    assert after.shape == before.shape and not np.allclose(after, before, equal_nan=True)
    np.testing.assert_array_equal(personal.feature_mean_, population.feature_mean_)
    with pytest.raises(ValueError, match="one person"):
        population.fine_tune(cohort)
    with pytest.raises(ValueError, match="horizons"):
        population.fine_tune(person, make_target(person, 30))


def test_fine_tuning_adapts_to_a_different_person():
    """A person whose glucose responds twice as strongly: fine-tuning must reduce the error."""
    base = make_synthetic_record(days=3, seed=30, missing_fraction=0.0)
    population = LSTMModel(hidden_size=16, num_layers=1, epochs=12, learning_rate=3e-3, num_threads=1)
    population.fit(base, make_target(base, 30))
    person = make_synthetic_record(days=3, seed=31, start="2026-06-01", missing_fraction=0.0)
    mean = person["glucose"].mean()
    person["glucose"] = (mean + 2.5 * (person["glucose"] - mean)).clip(40, 600)
    train, test = person.iloc[: 2 * 288], person.iloc[2 * 288 :]
    y_test = make_target(test, 30).to_numpy()
    personal = population.fine_tune(train, epochs=15, learning_rate=3e-3)
    assert rmse(y_test, personal.predict(test)) < 0.9 * rmse(y_test, population.predict(test))


def test_save_load_round_trip_and_weights_only(multi, record, tmp_path):
    path = tmp_path / "lstm.dt1d"
    multi.save(path)
    loaded = LSTMModel.load(path)
    np.testing.assert_array_equal(loaded.predict(record), multi.predict(record))
    assert loaded.horizons_ == [30, 60] and loaded.step_min_ == 5.0
    assert [h["train_loss"] for h in loaded.history_] == [h["train_loss"] for h in multi.history_]
    for tensor in loaded.network_.state_dict().values():
        assert tensor.device.type == "cpu"


def _as_if_saved_on_gpu(blob: bytes) -> bytes:
    """Rewrite a CPU torch.save archive so that every storage says it lived on cuda:0."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                cpu, gpu = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"  # pickle strings
                assert data.count(cpu) > 0
                data = data.replace(cpu, gpu)
            dst.writestr(info.filename, data)
    return out.getvalue()


def test_weights_saved_on_a_gpu_load_on_cpu(multi, record):
    blob = _as_if_saved_on_gpu(multi._get_blobs()["lstm_state_dict"])
    if not torch.cuda.is_available():  # what a plain torch.load would do on this machine
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(io.BytesIO(blob), weights_only=True)
    loaded = LSTMModel(**multi.get_params())
    loaded._set_state(multi._get_state())
    loaded._set_blobs({"lstm_state_dict": blob})
    assert all(t.device.type == "cpu" for t in loaded.network_.state_dict().values())
    np.testing.assert_array_equal(loaded.predict(record), multi.predict(record))


class _Payload:
    def __reduce__(self):
        return (print, ("code from a file ran",))


def test_weights_blob_with_code_is_refused(multi, capsys):
    from dt1d.models.lstm._net import state_dict_from_bytes

    buf = io.BytesIO()
    torch.save({"lstm.weight_ih_l0": _Payload()}, buf)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        state_dict_from_bytes(buf.getvalue())
    assert "code from a file ran" not in capsys.readouterr().out
    buf = io.BytesIO()
    torch.save({"w": [1, 2]}, buf)
    with pytest.raises(ValueError, match="state dict of tensors"):
        state_dict_from_bytes(buf.getvalue())
    good = multi._get_blobs()
    clone = LSTMModel(**{**TINY, "hidden_size": 5})
    clone._set_state(multi._get_state())
    with pytest.raises(ValueError, match="do not fit"):
        clone._set_blobs(good)


def test_device_choice():
    from dt1d.models.lstm._net import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")


def test_bad_input_errors(multi, record):
    y = make_target(record, 30)
    with pytest.raises(ValueError, match="shorter than the lookback"):
        LSTMModel(**TINY).fit(record.iloc[:20], y.iloc[:20])
    with pytest.raises(ValueError, match="shorter than the lookback"):
        multi.predict(record.iloc[:20])
    sparse = record.copy()
    g = np.full(len(sparse), np.nan)
    g[::12] = 120.0  # one reading an hour: every window holds a gap longer than 30 min
    sparse["glucose"] = g
    with pytest.raises(ValueError, match="missing glucose"):
        multi.predict(sparse)
    with pytest.raises(ValueError, match="missing glucose"):
        LSTMModel(**TINY).fit(sparse, make_target(sparse, 30))
    sparse["glucose"] = np.nan
    with pytest.raises(ValueError, match="every glucose value is NaN"):
        multi.predict(sparse)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['insulin'\]"):
        multi.predict(record.drop(columns=["insulin", "bolus", "basal"]))
    coarse = record.resample("10min").first()
    with pytest.raises(ValueError, match="10-minute grid"):
        multi.predict(coarse)
    with pytest.raises(ValueError, match="aligned"):
        LSTMModel(**TINY).fit(record, y.iloc[::-1])
    with pytest.raises(ValueError, match="needs a target"):
        LSTMModel(**TINY).fit(record)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMModel(hidden_size=0).fit(record, y)
    with pytest.raises(ValueError, match="device"):
        LSTMModel(device="tpu").fit(record, y)
    with pytest.raises(ValueError, match="multiple of the record's 5-minute step"):
        LSTMModel(**TINY, lookback_min=62).fit(record, y)
    with pytest.raises(TypeError, match="DataFrame"):
        multi.predict(record.to_numpy())
    with pytest.raises(TypeError, match="callbak"):
        LSTMModel(**TINY).fit(record, y, callbak=print)
    with pytest.raises(TypeError, match="batch"):
        multi.predict(record, batch=3)


def test_digital_twin_with_the_lstm_round_trips(record, tmp_path):
    from dt1d import DigitalTwin

    twin = DigitalTwin("lstm", model_params=TINY, horizon=[30, 60]).fit(record)
    pred = twin.predict(record)
    assert pred.shape == (len(record), 2)
    twin.save(tmp_path / "twin.dt1d")
    again = DigitalTwin.load(tmp_path / "twin.dt1d")
    np.testing.assert_array_equal(again.predict(record), pred)
    scores = again.evaluate(record)
    assert set(scores) == {"30min", "60min"} and scores["60min"]["n"] > 0
