"""Twin files: round trips, atomic saves, and damaged or hostile files refused without running them."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dt1d._version import __version__
from dt1d.data.twinfile import (
    FORMAT_VERSION,
    TwinFile,
    TwinFileError,
    read_twin_file,
    to_jsonable,
    write_twin_file,
)

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

names = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.\-]{0,20}\Z")
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
manifests = st.dictionaries(
    st.text(max_size=12).filter(
        lambda k: k not in {"format", "format_version", "dt1d_version", "arrays", "blobs"}
    ),
    json_values,
    max_size=5,
)
dtypes = st.one_of(
    hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(),
    hnp.complex_number_dtypes(), hnp.unicode_string_dtypes(max_len=4),
    hnp.byte_string_dtypes(max_len=4), hnp.datetime64_dtypes(),
)
arrays = st.dictionaries(
    names,
    dtypes.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))),
    max_size=4,
)
blobs = st.dictionaries(names, st.binary(max_size=64), max_size=3)


def _leftovers(directory: Path) -> list[str]:
    """Files in ``directory`` other than twin files themselves (temporary files)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".dt1d"))


def _sample(path: Path) -> Path:
    return write_twin_file(
        path,
        {"model": "persistence", "params": {"order": 2}, "horizon": 30},
        {"coef_": np.arange(6.0).reshape(2, 3), "lags_": np.array([1, 2], dtype=np.int32)},
        {"state_dict": b"\x80\x02weights"},
    )


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    """Write a zip with exactly these members (to craft damaged or hostile files)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _manifest(**fields) -> bytes:
    body = {"format": "dt1d-twin", "format_version": 1, "dt1d_version": __version__,
            "arrays": {}, "blobs": {}}
    body.update(fields)
    return json.dumps(body).encode()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


class _MakesMarker:
    """Unpickling this object creates a directory: proof that code from a file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


# --- round trips ---------------------------------------------------------------


@SETTINGS
@given(manifest=manifests, stored=arrays, raw=blobs)
def test_round_trip(tmp_path, manifest, stored, raw):
    path = tmp_path / "twin.dt1d"
    assert write_twin_file(path, manifest, stored, raw) == path
    twin = read_twin_file(path)
    assert isinstance(twin, TwinFile)
    for key, value in manifest.items():
        assert twin.manifest[key] == value
    assert twin.manifest["format"] == "dt1d-twin"
    assert twin.manifest["format_version"] == FORMAT_VERSION
    assert twin.manifest["dt1d_version"] == __version__
    assert set(twin.arrays) == set(stored)
    for key, value in stored.items():
        assert twin.arrays[key].dtype == value.dtype and twin.arrays[key].shape == value.shape
        np.testing.assert_array_equal(twin.arrays[key], value)
    assert twin.blobs == raw
    assert _leftovers(tmp_path) == []


def test_numpy_values_in_manifest_become_plain_python(tmp_path):
    manifest = {"params": {"k": np.int64(3), "w": np.array([0.5, 1.5]), "on": np.bool_(True),
                           "ratio": np.float32(0.25)}, "lags": (1, 2)}
    _ = write_twin_file(tmp_path / "t.dt1d", manifest, {})
    got = read_twin_file(tmp_path / "t.dt1d").manifest
    assert got["params"] == {"k": 3, "w": [0.5, 1.5], "on": True, "ratio": 0.25}
    assert got["lags"] == [1, 2]
    assert type(got["params"]["k"]) is int


def test_to_jsonable_converts_nested_numpy():
    out = to_jsonable({"a": [np.int8(1), {"b": np.zeros((2, 1))}]})
    assert out == {"a": [1, {"b": [[0.0], [0.0]]}]}
    assert json.loads(json.dumps(out)) == out


def test_fortran_order_and_big_endian_arrays_round_trip(tmp_path):
    stored = {"f": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
              "be": np.arange(5, dtype=">i4")}
    write_twin_file(tmp_path / "t.dt1d", {}, stored)
    got = read_twin_file(tmp_path / "t.dt1d").arrays
    np.testing.assert_array_equal(got["f"], stored["f"])
    assert got["be"].dtype == np.dtype(">i4")


def test_overwrite_replaces_the_old_file(tmp_path):
    path = _sample(tmp_path / "t.dt1d")
    write_twin_file(path, {"model": "other"}, {})
    assert read_twin_file(path).manifest["model"] == "other"
    assert _leftovers(tmp_path) == []


# --- refused at save: nothing written ------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "stored", "raw", "match"),
    [
        ({}, {"x": np.array([object()])}, None, "pickle"),
        ({}, {"x": [{"a": 1}, None]}, None, "pickle"),
        ({"w": float("nan")}, {}, None, "JSON cannot hold"),
        ({"w": {"deep": [1.0, float("inf")]}}, {}, None, r"manifest\['w'\]\['deep'\]\[1\]"),
        ({"w": np.array([1.0, np.nan])}, {}, None, "JSON cannot hold"),
        ({"s": {1, 2}}, {}, None, "set"),
        ({"d": {1: "a"}}, {}, None, "non-string key"),
        ({"format": "mine"}, {}, None, "reserved"),
        ({"arrays": {}}, {}, None, "reserved"),
        ({}, {"../evil": np.zeros(2)}, None, "not allowed"),
        ({}, {"a/b": np.zeros(2)}, None, "not allowed"),
        ({}, {".hidden": np.zeros(2)}, None, "not allowed"),
        ({}, {"": np.zeros(2)}, None, "not allowed"),
        ({}, {}, {"../blob": b""}, "not allowed"),
        ({}, {}, {"state": "text, not bytes"}, "not bytes"),
        ([("a", 1)], {}, None, "mapping"),
    ],
)
def test_unsafe_contents_are_refused_before_writing(tmp_path, manifest, stored, raw, match):
    path = tmp_path / "t.dt1d"
    with pytest.raises(TwinFileError, match=match):
        write_twin_file(path, manifest, stored, raw)
    assert list(tmp_path.iterdir()) == []


def test_directory_path_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        write_twin_file(tmp_path, {}, {})
    assert list(tmp_path.iterdir()) == []


# --- atomic saves ---------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_failure_while_writing_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, error):
    path = _sample(tmp_path / "t.dt1d")
    before = path.read_bytes()
    calls = []

    def failing_save(file, arr, allow_pickle=True):
        calls.append(arr)
        file.write(b"partial")
        raise error

    monkeypatch.setattr(np, "save", failing_save)
    with pytest.raises(type(error)):
        write_twin_file(path, {"model": "new"}, {"a": np.zeros(3)})
    assert calls, "the failure was injected while writing"
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_failure_at_rename_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = _sample(tmp_path / "t.dt1d")
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise PermissionError("cannot rename")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        write_twin_file(path, {"model": "new"}, {})
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


# --- damaged, foreign and hostile files -------------------------------------------


@SETTINGS
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_truncated_file_names_the_path(tmp_path, cut):
    full = _sample(tmp_path / "full.dt1d").read_bytes()
    path = tmp_path / "cut.dt1d"
    path.write_bytes(full[: int(cut * len(full))])
    with pytest.raises(TwinFileError, match="cut.dt1d"):
        read_twin_file(path)


@SETTINGS
@given(position=st.floats(0.0, 1.0, exclude_max=True), flip=st.integers(1, 255))
def test_corrupted_byte_loads_the_same_or_is_refused(tmp_path, position, flip):
    path = _sample(tmp_path / "t.dt1d")
    original = read_twin_file(path)
    data = bytearray(path.read_bytes())
    data[int(position * len(data))] ^= flip
    path.write_bytes(bytes(data))
    try:
        twin = read_twin_file(path)
    except TwinFileError:
        return
    assert twin.manifest == original.manifest and twin.blobs == original.blobs
    for key, value in original.arrays.items():
        np.testing.assert_array_equal(twin.arrays[key], value)


def test_not_a_zip(tmp_path):
    path = tmp_path / "notes.dt1d"
    path.write_text("hello")
    with pytest.raises(TwinFileError, match="not a readable zip"):
        read_twin_file(path)


def test_zip_needing_an_unsupported_zip_version(tmp_path):
    path = _sample(tmp_path / "t.dt1d")
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6: central + 8] = (99).to_bytes(2, "little")  # "version needed": 9.9
    path.write_bytes(bytes(data))
    with pytest.raises(TwinFileError, match="zip file version"):
        read_twin_file(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_twin_file(tmp_path / "absent.dt1d")


def test_foreign_zip_without_manifest(tmp_path):
    path = _zip(tmp_path / "f.dt1d", {"readme.txt": b"hi"})
    with pytest.raises(TwinFileError, match="no manifest.json"):
        read_twin_file(path)


@pytest.mark.parametrize(
    ("manifest", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a dt1d twin file"),
        (json.dumps({"format": "other-tool"}).encode(), "'other-tool'"),
        (_manifest(format_version="1"), "not a positive integer"),
        (_manifest(format_version=0), "not a positive integer"),
        (_manifest(format_version=True), "not a positive integer"),
        (_manifest(horizon=float("nan")), "NaN"),
        (_manifest(arrays=["a"]), "'arrays' is not a mapping"),
        (_manifest(blobs={"b": 3}), "'blobs' is not a mapping"),
        (_manifest(arrays={"../../x": {}}), "not allowed"),
    ],
)
def test_bad_manifest(tmp_path, manifest, match):
    path = _zip(tmp_path / "m.dt1d", {"manifest.json": manifest})
    with pytest.raises(TwinFileError, match=match):
        read_twin_file(path)


def test_newer_format_says_which_dt1d_to_upgrade_to(tmp_path):
    manifest = _manifest(format_version=FORMAT_VERSION + 1, dt1d_version="9.4.0")
    path = _zip(tmp_path / "new.dt1d", {"manifest.json": manifest})
    with pytest.raises(TwinFileError, match=r"Upgrade dt1d to 9\.4\.0"):
        read_twin_file(path)


def test_listed_array_missing(tmp_path):
    manifest = _manifest(arrays={"coef_": {"dtype": "<f8", "shape": [2]}})
    path = _zip(tmp_path / "m.dt1d", {"manifest.json": manifest})
    with pytest.raises(TwinFileError, match="missing.*arrays/coef_.npy"):
        read_twin_file(path)


def test_array_not_matching_its_listing(tmp_path):
    manifest = _manifest(arrays={"coef_": {"dtype": "<f8", "shape": [3]}})
    path = _zip(tmp_path / "m.dt1d", {"manifest.json": manifest,
                                      "arrays/coef_.npy": _npy(np.zeros(2))})
    with pytest.raises(TwinFileError, match="the manifest says"):
        read_twin_file(path)


def test_npy_header_claiming_more_data_than_stored(tmp_path):
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
    np.lib.format.write_array_header_1_0(buffer, header)
    buffer.write(np.zeros(2).tobytes())  # 16 bytes where the header promises 8 GB
    manifest = _manifest(arrays={"a": {"dtype": "<f8", "shape": [10**9]}})
    path = _zip(tmp_path / "m.dt1d", {"manifest.json": manifest,
                                      "arrays/a.npy": buffer.getvalue()})
    with pytest.raises(TwinFileError, match=r"declares <f8 \[1000000000\] \(8000000000 bytes\)"):
        read_twin_file(path)


def test_extra_member_is_refused(tmp_path):
    path = _sample(tmp_path / "t.dt1d")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("arrays/extra.npy", _npy(np.zeros(1)))
    with pytest.raises(TwinFileError, match="unexpected members"):
        read_twin_file(path)


def test_zip_slip_member_is_refused(tmp_path):
    path = _zip(tmp_path / "s.dt1d", {"manifest.json": _manifest(),
                                      "../../outside.txt": b"x"})
    with pytest.raises(TwinFileError, match="unexpected members"):
        read_twin_file(path)
    assert not (tmp_path.parent.parent / "outside.txt").exists()


def test_repeated_member_names_are_refused(tmp_path):
    path = tmp_path / "d.dt1d"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _zip(path, {"manifest.json": _manifest()})
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("manifest.json", _manifest(model="evil"))
    with pytest.raises(TwinFileError, match="repeats"):
        read_twin_file(path)


def test_object_array_holding_a_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = np.array([_MakesMarker(marker)], dtype=object)
    manifest = _manifest(arrays={"coef_": {"dtype": "|O", "shape": [1]}})
    path = _zip(tmp_path / "e.dt1d", {"manifest.json": manifest,
                                      "arrays/coef_.npy": _npy(evil, allow_pickle=True)})
    with pytest.raises(TwinFileError, match="numbers, booleans and fixed-width text only"):
        read_twin_file(path)
    assert not marker.exists()
    # the crafted member really is a live pickle: numpy runs it when allowed to
    with zipfile.ZipFile(path) as archive:
        np.load(io.BytesIO(archive.read("arrays/coef_.npy")), allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("member", ["model.pkl", "arrays/coef_.npy", "blobs/state"])
def test_raw_pickle_members_are_refused_and_never_run(tmp_path, member):
    marker = tmp_path / "pwned"
    arrays = {"coef_": {"dtype": "<f8", "shape": [1]}} if member.startswith("arrays") else {}
    payload = pickle.dumps(_MakesMarker(marker))
    blobs = {"state": {"bytes": len(payload)}} if member.startswith("blobs") else {}
    members = {"manifest.json": _manifest(arrays=arrays, blobs=blobs), member: payload}
    if member.startswith("blobs"):
        twin = read_twin_file(_zip(tmp_path / "p.dt1d", members))
        assert twin.blobs["state"] == members[member]  # bytes handed back, never unpickled
    else:
        with pytest.raises(TwinFileError):
            read_twin_file(_zip(tmp_path / "p.dt1d", members))
    assert not marker.exists()
