"""Hostile and tampered twin files: every one is refused with a ``TwinFileError`` naming the
file, before anything from it is set on a model, without running code or reading huge arrays.

The files are real twins (the format-1 fixtures in tests/data/twinfiles_v0 and freshly
saved ones) with one field or member changed, so each test shows that exactly that
change is caught.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dt1d.core.base import BaseModel, ParamsMixin
from dt1d.core.model_registry import ModelNotFoundError, isolated
from dt1d.core.twin import DigitalTwin
from dt1d.data.twinfile import MAX_COMPRESSION_RATIO, TwinFileError, read_twin_file
from dt1d.testing import make_synthetic_record

V0 = Path(__file__).parents[1] / "data" / "twinfiles_v0"
Members = dict[str, bytes]


@pytest.fixture(scope="module")
def record():
    return make_synthetic_record(days=2, seed=4)


@pytest.fixture(scope="module")
def linear_file(record, tmp_path_factory):
    path = tmp_path_factory.mktemp("linear") / "linear.dt1d"
    DigitalTwin("linear", {"lags": 4}, horizon=[30, 60]).fit(record).save(path)
    return path


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    """An LSTM twin in the current layout (weights as arrays), re-saved from the v0 fixture."""
    pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("lstm") / "lstm.dt1d"
    DigitalTwin.load(V0 / "lstm.dt1d").save(path)
    return path


def _members(path: Path) -> tuple[dict[str, Any], Members]:
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    return json.loads(members.pop("manifest.json")), members


def _write(path: Path, manifest: dict[str, Any], members: Members,
           compress: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest), zipfile.ZIP_DEFLATED)
        for name, data in members.items():
            archive.writestr(name, data, (compress or {}).get(name, zipfile.ZIP_STORED))
    return path


def _tampered(src: Path, dst: Path, edit: Callable[[dict[str, Any], Members], Any]) -> Path:
    manifest, members = _members(src)
    edit(manifest, members)
    return _write(dst, manifest, members)


def _npy(array: np.ndarray, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def _set_array(manifest: dict[str, Any], members: Members, name: str, array: np.ndarray) -> None:
    manifest["arrays"][name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
    members[f"arrays/{name}.npy"] = _npy(array)


def _refused(path: Path, match: str, *, loaders=(DigitalTwin.load, BaseModel.load)) -> None:
    """Every loader refuses the file with one short TwinFileError naming it."""
    for load in loaders:
        with pytest.raises(TwinFileError, match=match) as info:
            load(path)
        text = str(info.value)
        assert str(path) in text
        assert len(text) < 1000, "a hostile value must not flood the message"
        assert "weights_only" not in text and "pickle.load" not in text


def _set(field: str, value: Any) -> Callable[[dict[str, Any], Members], None]:
    def edit(manifest: dict[str, Any], members: Members) -> None:
        manifest[field] = value
    return edit


def _set_in(field: str, key: str, value: Any) -> Callable[[dict[str, Any], Members], None]:
    def edit(manifest: dict[str, Any], members: Members) -> None:
        manifest[field][key] = value
    return edit


# -- the manifest's own fields ---------------------------------------------------------

BAD_TOP_LEVEL = [
    ("model_name", 123, "model_name"),
    ("model_name", None, "model_name"),
    ("model_name", ["linear"], "model_name"),
    ("model_name", {"name": "linear"}, "model_name"),
    ("model_name", True, "model_name"),
    ("model_name", "", "model_name"),
    ("model_name", "x" * 5000, "model_name"),
    ("model_name", "linear\n", "model_name"),
    ("model_name", "linear\x00", "model_name"),
    ("params", ["lags", 4], "'params' must be an object"),
    ("params", "lags=4", "'params' must be an object"),
    ("params", None, "'params' must be an object"),
    ("state", ["horizons_", [30]], "'state' must be an object"),
    ("state", "evil", "'state' must be an object"),
    ("state", None, "'state' must be an object"),
    ("state", 7, "'state' must be an object"),
    ("is_fitted", "yes", "is_fitted"),
    ("is_fitted", 1, "is_fitted"),
    ("kind", "pickle", "kind"),
    ("kind", 3, "kind"),
    ("model_class", 42, "model_class"),
    ("horizon", "30", "horizon"),
    ("horizon", -30, "horizon"),
    ("horizon", [], "horizon"),
    ("horizon", [30, 30], "horizon"),
    ("horizon", 45, "horizon"),
    ("horizon", True, "horizon"),
    ("model_type", 5, "model_type"),
    ("model_type", "persistence", "model_type"),
    ("data_summary", ["rows", 3], "data_summary"),
    ("data_summary", {"step_min": -5}, "step_min"),
    ("data_summary", {"step_min": "5"}, "step_min"),
    ("data_summary", {"rows": -1}, "rows"),
]


@pytest.mark.parametrize(("field", "value", "match"), BAD_TOP_LEVEL)
def test_a_bad_top_level_field_is_refused(linear_file, tmp_path, field, value, match):
    loaders = (DigitalTwin.load,) if field in ("horizon", "model_type", "data_summary") else None
    path = _tampered(linear_file, tmp_path / "t.dt1d", _set(field, value))
    _refused(path, match, **({"loaders": loaders} if loaders else {}))


def test_missing_model_fields_are_refused(linear_file, tmp_path):
    for field in ("model_name", "params", "state"):
        path = _tampered(linear_file, tmp_path / f"{field}.dt1d",
                         lambda m, _, f=field: m.pop(f))
        _refused(path, f"no {field!r} field")


def test_an_unregistered_model_name_is_a_lookup_error_with_suggestions(linear_file, tmp_path):
    path = _tampered(linear_file, tmp_path / "t.dt1d", _set("model_name", "lineer"))
    with pytest.raises(ModelNotFoundError, match="linear"):
        DigitalTwin.load(path)


# -- parameters ---------------------------------------------------------------------------

BAD_PARAMS = [
    ("linear", "lags", "6"), ("linear", "lags", -1), ("linear", "lags", 0), ("linear", "lags", 1.5),
    ("linear", "lags", True), ("linear", "lags", None), ("linear", "lags", [4]),
    ("linear", "alpha", -1.0), ("linear", "alpha", "1"), ("linear", "alpha", None),
    ("linear", "depth", 3),
    ("persistence", "max_gap_min", -5), ("persistence", "max_gap_min", "5"),
    ("persistence", "max_gap_min", True), ("persistence", "max_gap_min", 2.5),
    ("mechanistic", "body_weight_kg", 1e-9), ("mechanistic", "body_weight_kg", -70),
    ("mechanistic", "body_weight_kg", "70"), ("mechanistic", "age_group", "martian"),
    ("mechanistic", "method", "exec"), ("mechanistic", "n_starts", 0),
    ("mechanistic", "basal_u_per_h", 1e9), ("mechanistic", "time_of_day", "yes"),
    ("lstm", "hidden_size", 0), ("lstm", "hidden_size", "8"), ("lstm", "num_layers", -1),
    ("lstm", "dropout", 2.0), ("lstm", "device", "tpu"), ("lstm", "cpu_inference", "eval"),
    ("lstm", "learning_rate", -1.0),
]


@pytest.mark.parametrize(("model", "key", "value"), BAD_PARAMS)
def test_a_bad_parameter_is_refused_before_any_state_is_set(tmp_path, model, key, value):
    if model == "lstm":
        pytest.importorskip("torch")
    path = _tampered(V0 / f"{model}.dt1d", tmp_path / "t.dt1d", _set_in("params", key, value))
    _refused(path, "parameters .*do not fit")


# -- learned state ------------------------------------------------------------------------

BAD_STATE_KEYS = [
    "predict", "fit", "save", "_check_step", "__class__", "__dict__", "is_fitted",
    "tags", "_private_", "9lives_", "a-b_", "with space_", "x" * 200 + "_", "",
    "predict_\n", "step_min",
]


@pytest.mark.parametrize("key", BAD_STATE_KEYS)
def test_a_state_key_that_is_no_learned_attribute_is_refused(linear_file, tmp_path, key):
    path = _tampered(linear_file, tmp_path / "t.dt1d", _set_in("state", key, 1))
    _refused(path, "state key|unknown learned state")


@pytest.mark.parametrize("key", ["lags", "alpha"])
def test_a_state_key_naming_a_parameter_is_refused(linear_file, tmp_path, key):
    path = _tampered(linear_file, tmp_path / "t.dt1d", _set_in("state", key, 99))
    _refused(path, "state key")


def test_a_users_model_keeps_its_methods_and_class_attributes(tmp_path, record):
    """For a model without its own checks, the generic rules still protect the class."""
    with isolated():

        class Plain(ParamsMixin, BaseModel, name="plain_user_model"):
            threshold_ = 1.0

            def __init__(self, offset: float = 0.0):
                self.offset = offset

            def fit(self, X, y=None, **kwargs):
                self.mean_ = 5.0
                return self

            def predict(self, X, **kwargs):
                return np.full(len(X), self.mean_ + self.offset)

            def helper_(self):
                return "the real method"

        src = tmp_path / "plain.dt1d"
        Plain().fit(record).save(src)
        assert BaseModel.load(src).mean_ == 5.0
        for key in ("threshold_", "helper_", "predict", "fit"):
            path = _tampered(src, tmp_path / f"{key}.dt1d", _set_in("state", key, 2))
            _refused(path, "state key", loaders=(BaseModel.load,))
        assert Plain().helper_() == "the real method"


BAD_STATE_VALUES = [
    ("linear", "horizons_", "30"), ("linear", "horizons_", []), ("linear", "horizons_", [0, 60]),
    ("linear", "horizons_", [-30, 60]), ("linear", "horizons_", [30, 30]),
    ("linear", "horizons_", [30, 10**12]), ("linear", "horizons_", [True, 60]),
    ("linear", "horizons_", [30.5, 60]), ("linear", "horizons_", 30),
    ("linear", "step_min_", "5"), ("linear", "step_min_", -5), ("linear", "step_min_", 0),
    ("linear", "step_min_", 1e9), ("linear", "step_min_", True),
    ("linear", "multi_output_", "yes"), ("linear", "multi_output_", 1),
    ("linear", "predict_", 1),
    ("persistence", "multi_output_", "no"), ("persistence", "horizons_", [30, 60]),
    ("persistence", "extra_", 1),
    ("mechanistic", "body_weight_kg_", 1e-9), ("mechanistic", "body_weight_kg_", -1),
    ("mechanistic", "body_weight_kg_", "70"), ("mechanistic", "basal_u_per_h_", 1e6),
    ("mechanistic", "step_min_", 0), ("mechanistic", "step_min_", 2.5),
    ("mechanistic", "sensor_sd_mg_dl_", -1), ("mechanistic", "params_", [1, 2]),
    ("mechanistic", "params_", {"kabs": "x"}), ("mechanistic", "fit_report_", "done"),
    ("lstm", "fine_tuned_", "no"), ("lstm", "n_train_windows_", -3),
    ("lstm", "feature_columns_", ["glucose", "__import__"]), ("lstm", "feature_columns_", "glucose"),
    ("lstm", "network_", 1),
]


@pytest.mark.parametrize(("model", "key", "value"), BAD_STATE_VALUES)
def test_a_learned_value_of_the_wrong_type_or_range_is_refused(tmp_path, linear_file, model, key, value):
    if model == "lstm":
        pytest.importorskip("torch")
    src = linear_file if model == "linear" else V0 / f"{model}.dt1d"
    loaders = (BaseModel.load,)  # the twin's own horizon check would hide some of these
    path = _tampered(src, tmp_path / "t.dt1d", _set_in("state", key, value))
    _refused(path, "state does not fit|state key", loaders=loaders)


# -- arrays: declared shapes, model shapes, values ------------------------------------------

def test_declared_shape_that_disagrees_with_the_npy_header_is_refused(linear_file, tmp_path):
    def edit(manifest, members):
        manifest["arrays"]["state.intercept_"]["shape"] = [3]  # member holds 2 values
        members["arrays/state.intercept_.npy"] = _npy(np.zeros(2)) + b"\0" * 8
    _refused(_tampered(linear_file, tmp_path / "t.dt1d", edit), "intercept_")


def test_declared_dtype_that_disagrees_with_the_npy_header_is_refused(linear_file, tmp_path):
    class Marker:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    payload = _npy(np.array([Marker(), Marker()], dtype=object), allow_pickle=True)

    def edit(manifest, members):
        members["arrays/state.intercept_.npy"] = payload
        manifest["arrays"]["state.intercept_"] = {"dtype": "<f8", "shape": [len(payload) // 8]}
    _refused(_tampered(linear_file, tmp_path / "t.dt1d", edit), "intercept_")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("name", "shape"), [
    ("state.coef_", (99, 2)), ("state.coef_", (12, 3)), ("state.coef_", (12,)),
    ("state.intercept_", (5,)), ("state.feature_mean_", (13,)), ("state.feature_scale_", (12, 1)),
])
def test_an_array_whose_shape_does_not_follow_from_the_parameters_is_refused(linear_file, tmp_path,
                                                                           name, shape):
    path = _tampered(linear_file, tmp_path / "t.dt1d",
                     lambda m, mem: _set_array(m, mem, name, np.ones(shape)))
    _refused(path, "shape|state does not fit")


@pytest.mark.parametrize("name", ["evil", "state.predict", "state.lags", "state.unknown_",
                                  "state._hidden_", "weights.lstm.weight_ih_l0"])
def test_an_array_that_is_no_learned_state_of_the_model_is_refused(linear_file, tmp_path, name):
    path = _tampered(linear_file, tmp_path / "t.dt1d", lambda m, mem: _set_array(m, mem, name, np.ones(2)))
    _refused(path, "state|weights|array")


@pytest.mark.parametrize(("name", "value"), [
    ("state.coef_", np.nan), ("state.coef_", np.inf), ("state.intercept_", -np.inf),
    ("state.feature_scale_", 0.0), ("state.feature_scale_", -1.0), ("state.feature_mean_", np.nan),
])
def test_non_finite_or_impossible_array_values_are_refused(linear_file, tmp_path, name, value):
    def edit(manifest, members):
        array = np.load(io.BytesIO(members[f"arrays/{name}.npy"]))
        array.flat[0] = value
        _set_array(manifest, members, name, array)
    _refused(_tampered(linear_file, tmp_path / "t.dt1d", edit), "state does not fit")


@pytest.mark.parametrize(("name", "change"), [
    ("state.initial_state_", lambda a: -np.abs(a) - 1), ("state.initial_state_", lambda a: a[:-1]),
    ("state.param_matrix_", lambda a: np.vstack([a, a])), ("state.param_matrix_", lambda a: a * np.nan),
    ("state.theta_cov_", lambda a: a[:-1]), ("state.correction_coef_", lambda a: np.vstack([a, a])),
    ("state.theta_", lambda a: np.zeros(10_000)),
])
def test_mechanistic_arrays_out_of_shape_or_range_are_refused(tmp_path, name, change):
    def edit(manifest, members):
        array = np.load(io.BytesIO(members[f"arrays/{name}.npy"]))
        _set_array(manifest, members, name, np.asarray(change(array), dtype=float))
    _refused(_tampered(V0 / "mechanistic.dt1d", tmp_path / "t.dt1d", edit), "state does not fit")


# -- LSTM weights -------------------------------------------------------------------------------

def test_an_lstm_saved_now_stores_no_pickle_and_loads_back(lstm_file, record):
    stored = read_twin_file(lstm_file)
    assert stored.blobs == {} and any(k.startswith("weights.") for k in stored.arrays)
    np.testing.assert_array_equal(DigitalTwin.load(lstm_file).predict(record),
                                  DigitalTwin.load(V0 / "lstm.dt1d").predict(record))


@pytest.mark.parametrize("change", ["shape", "missing", "extra", "dtype", "huge"])
def test_lstm_weights_that_do_not_fit_the_parameters_are_refused(lstm_file, tmp_path, change):
    def edit(manifest, members):
        name = "weights.lstm.weight_ih_l0"
        if change == "shape":
            _set_array(manifest, members, name, np.zeros((5, 5), dtype=np.float32))
        elif change == "missing":
            del manifest["arrays"][name], members[f"arrays/{name}.npy"]
        elif change == "extra":
            _set_array(manifest, members, "weights.lstm.weight_ih_l7", np.zeros(3, dtype=np.float32))
        elif change == "dtype":
            _set_array(manifest, members, name, np.zeros((32, 6), dtype=np.int64))
        else:
            _set_array(manifest, members, name, np.zeros((4096, 6), dtype=np.float32))
    _refused(_tampered(lstm_file, tmp_path / "t.dt1d", edit), "state does not fit")


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("payload", ["torch_save", "raw_pickle", "garbage"])
def test_a_pickled_lstm_weights_blob_is_refused_and_never_run(tmp_path, payload):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    if payload == "torch_save":
        buffer = io.BytesIO()
        torch.save({"lstm.weight_ih_l0": _RunsCode(marker)}, buffer)
        data = buffer.getvalue()
    elif payload == "raw_pickle":
        data = pickle.dumps({"lstm.weight_ih_l0": _RunsCode(marker)})
    else:
        data = b"\x80\x05not a pickle at all" * 10

    def edit(manifest, members):
        members["blobs/lstm_state_dict"] = data
        manifest["blobs"]["lstm_state_dict"] = {"bytes": len(data)}
    path = _tampered(V0 / "lstm.dt1d", tmp_path / "t.dt1d", edit)
    _refused(path, "LSTM weights blob is not a plain tensor state dict")
    with pytest.raises(TwinFileError) as info:
        DigitalTwin.load(path)
    assert info.value.__cause__ is None and info.value.__context__ is None or \
        info.value.__suppress_context__
    assert not marker.exists()


@pytest.mark.parametrize("model", ["linear", "persistence", "mechanistic"])
def test_a_blob_the_model_never_stores_is_refused_before_it_is_read(tmp_path, model):
    def edit(manifest, members):
        members["blobs/payload"] = pickle.dumps(_RunsCode(tmp_path / "pwned"))
        manifest["blobs"]["payload"] = {"bytes": len(members["blobs/payload"])}
    _refused(_tampered(V0 / f"{model}.dt1d", tmp_path / "t.dt1d", edit), "blobs .*not stored")
    assert not (tmp_path / "pwned").exists()


# -- sizes: zip bombs and declared arrays -------------------------------------------------------

def test_a_member_that_deflates_over_the_ratio_is_refused_before_it_is_read(linear_file, tmp_path):
    manifest, members = _members(linear_file)
    big = np.zeros(2**18)  # 2 MiB of zeros deflate about a thousand times
    _set_array(manifest, members, "state.coef_", big)
    name = "arrays/state.coef_.npy"
    path = _write(tmp_path / "bomb.dt1d", manifest, members, {name: zipfile.ZIP_DEFLATED})
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        assert info.file_size > MAX_COMPRESSION_RATIO * info.compress_size
    _refused(path, "over 20 times")


def test_small_members_and_mildly_compressed_ones_are_accepted(linear_file, tmp_path, record):
    manifest, members = _members(linear_file)
    path = _write(tmp_path / "deflated.dt1d", manifest, members,
                  {n: zipfile.ZIP_DEFLATED for n in members})  # small: any ratio is fine
    np.testing.assert_array_equal(DigitalTwin.load(path).predict(record),
                                  DigitalTwin.load(linear_file).predict(record))


def test_a_small_file_declaring_a_huge_array_costs_no_memory(linear_file, tmp_path):
    manifest, members = _members(linear_file)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**26,)})  # 512 MiB
    members["arrays/state.coef_.npy"] = header.getvalue() + b"\0" * 2**19
    manifest["arrays"]["state.coef_"] = {"dtype": "<f8", "shape": [2**26]}
    path = _write(tmp_path / "huge.dt1d", manifest, members)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        _refused(path, "declares <f8")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_a_declared_shape_that_is_not_a_shape_is_refused(linear_file, tmp_path):
    for shape in ("12", [-1], [1.5], [True], None, [[12]], [1] * 64):
        path = _tampered(linear_file, tmp_path / "t.dt1d",
                         _set_in("arrays", "state.intercept_", {"dtype": "<f8", "shape": shape}))
        _refused(path, "declares shape")
    for dtype in ("|O", "object", "V8", 5, "<f8" * 20, "not a dtype"):
        path = _tampered(linear_file, tmp_path / "t.dt1d",
                         _set_in("arrays", "state.intercept_", {"dtype": dtype, "shape": [2]}))
        _refused(path, "declares dtype")


def test_a_blob_size_that_disagrees_with_the_manifest_is_refused(tmp_path):
    def edit(manifest, members):
        manifest["blobs"]["lstm_state_dict"]["bytes"] = 1
    _refused(_tampered(V0 / "lstm.dt1d", tmp_path / "t.dt1d", edit), "blob .*unpacks to")


# -- nothing is changed by a refused file ---------------------------------------------------------

def test_the_original_fixtures_still_load(record):
    for name in ("linear", "persistence", "mechanistic"):
        twin = DigitalTwin.load(V0 / f"{name}.dt1d")
        assert twin.model.is_fitted


def test_a_refused_load_leaves_the_class_untouched(linear_file, tmp_path, record):
    from dt1d.models.baselines import LinearModel

    before = {k: v for k, v in vars(LinearModel).items()}
    for key in ("predict", "fit", "predict_"):
        path = _tampered(linear_file, tmp_path / "t.dt1d", _set_in("state", key, None))
        with pytest.raises(TwinFileError):
            DigitalTwin.load(path)
    assert dict(vars(LinearModel)) == before
    shutil.copy(linear_file, tmp_path / "ok.dt1d")
    assert DigitalTwin.load(tmp_path / "ok.dt1d").predict(record).shape == (len(record), 2)


def test_the_cli_reports_a_hostile_twin_in_one_line(linear_file, tmp_path, capsys):
    from dt1d.cli import main

    record = make_synthetic_record(days=1, seed=1)
    data = tmp_path / "r.csv"
    record.to_csv(data)
    path = _tampered(linear_file, tmp_path / "t.dt1d", _set_in("state", "predict", 1))
    code = main(["predict", "--twin", str(path), "--data", str(data), "-o", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "t.dt1d" in err
