"""Twin files (``*.dt1d``): one zip holding a JSON manifest, ``.npy`` arrays and raw blobs.

Layout of the zip::

    manifest.json          {"format": "dt1d-twin", "format_version": 1,
                            "dt1d_version": "...", "arrays": {name: {dtype, shape}},
                            "blobs": {name: {"bytes": n}}, ...caller fields}
    arrays/<name>.npy      one array per member, written without pickle
    blobs/<name>           raw bytes (e.g. a torch state dict saved by the caller)

Loading never unpickles or runs anything from the file; saves are atomic.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dt1d._version import __version__
from dt1d.data.atomic import atomic_path
from dt1d.exceptions import TwinFileError

FORMAT_NAME = "dt1d-twin"
#: Newest twin-file format this dt1d writes and reads.
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
RESERVED_KEYS = frozenset({"format", "format_version", "dt1d_version", "arrays", "blobs"})

#: Limits that keep a damaged or hostile file from exhausting memory.
MAX_MANIFEST_BYTES = 16 * 2**20
MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 4 * 2**30
#: A member that unpacks to more than this many times its stored size (and to at
#: least :data:`RATIO_FLOOR_BYTES`) is refused: dt1d stores arrays uncompressed, so
#: only a crafted file (a "zip bomb") deflates that well.
MAX_COMPRESSION_RATIO = 20
RATIO_FLOOR_BYTES = 2**20
#: Largest .npy header accepted (numpy writes a few hundred bytes).
_MAX_NPY_HEADER = 2**16
_MAX_NDIM = 32

_ARRAY_DIR = "arrays/"
_BLOB_DIR = "blobs/"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")


@attrs.frozen(eq=False)
class TwinFile:
    """The contents of a twin file: its manifest, named arrays and named byte blobs."""

    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]
    blobs: dict[str, bytes]


def to_jsonable(value: Any, *, where: str = "manifest") -> Any:
    """Return ``value`` as plain JSON types (numpy scalars/arrays -> Python); raise if it cannot be.

    Floats must be finite: NaN and infinity are not valid JSON, so store them as
    ``None`` or in an array instead.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise TwinFileError(
                f"{where} is {float(value)}, which JSON cannot hold; "
                "store None or put the value in an array"
            )
        return float(value)
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TwinFileError(f"{where} is an object array; JSON needs plain numbers or text")
        return to_jsonable(value.tolist(), where=where)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TwinFileError(f"{where} has a non-string key {key!r}; JSON keys are text")
            out[key] = to_jsonable(item, where=f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, where=f"{where}[{i}]") for i, item in enumerate(value)]
    raise TwinFileError(
        f"{where} is a {type(value).__name__}, which cannot be stored as JSON; "
        "convert it to numbers, text, lists or dicts"
    )


def _check_name(name: Any, kind: str) -> str:
    """Return a safe member name (letters, digits, ``_.-``; no paths) or raise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise TwinFileError(
            f"{kind} name {_short(name)} is not allowed: use letters, digits, '_', '.', '-' "
            "(no '/', not starting with '.' or '-', at most 200 characters)"
        )
    return name


def _plain_array(name: str, value: Any) -> np.ndarray:
    """Return ``value`` as an ndarray that np.save can store without pickle, or raise."""
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise TwinFileError(
            f"array {name!r} has dtype {array.dtype}, which would need pickle; "
            "store numbers, booleans or fixed-width text only"
        )
    return array


def write_twin_file(
    path: str | os.PathLike[str],
    manifest: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    blobs: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a twin file atomically: the old file stays intact until the new one is complete.

    ``manifest`` holds the caller's JSON-able fields (model name, params, ...);
    the format fields and the array/blob listings are added here. Returns the path.
    """
    path = Path(path)
    if not isinstance(manifest, Mapping):
        raise TwinFileError(f"manifest must be a mapping, got {type(manifest).__name__}")
    clash = sorted(RESERVED_KEYS & set(manifest))
    if clash:
        raise TwinFileError(f"manifest keys {clash} are reserved for the twin-file format")
    stored = {_check_name(k, "array"): _plain_array(k, v) for k, v in arrays.items()}
    raw_blobs = {}
    for key, data in (blobs or {}).items():
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TwinFileError(f"blob {key!r} is a {type(data).__name__}, not bytes")
        raw_blobs[_check_name(key, "blob")] = bytes(data)
    body = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "dt1d_version": __version__,
        **to_jsonable(dict(manifest)),
        "arrays": {k: {"dtype": v.dtype.str, "shape": list(v.shape)} for k, v in stored.items()},
        "blobs": {k: {"bytes": len(v)} for k, v in raw_blobs.items()},
    }
    manifest_bytes = json.dumps(body, allow_nan=False, indent=1, sort_keys=True).encode()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; pass a file path such as twin.dt1d")

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        # Arrays and blobs are stored uncompressed: float weights barely deflate
        # (about 2 %) at fifty times the cost; the JSON manifest deflates well.
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST_NAME, manifest_bytes, zipfile.ZIP_DEFLATED)
            for key, array in stored.items():
                with archive.open(f"{_ARRAY_DIR}{key}.npy", "w", force_zip64=True) as member:
                    np.save(member, array, allow_pickle=False)
            for key, data in raw_blobs.items():
                archive.writestr(f"{_BLOB_DIR}{key}", data)
    return path


def _reject_constant(token: str) -> None:
    raise ValueError(f"non-standard JSON constant {token}")


def _read_manifest(archive: zipfile.ZipFile, where: str) -> dict[str, Any]:
    """Parse and check manifest.json: JSON object, our format, a version we can read."""
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError:
        raise TwinFileError(f"{where}: no manifest.json, so not a dt1d twin file") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise TwinFileError(f"{where}: manifest.json is {info.file_size} bytes, over the limit")
    try:
        body = json.loads(archive.read(info), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as err:
        raise TwinFileError(f"{where}: manifest.json is not valid JSON ({err})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        found = body.get("format") if isinstance(body, dict) else type(body).__name__
        raise TwinFileError(
            f"{where}: manifest format is {_short(found)}, not {FORMAT_NAME!r}: not a dt1d twin file"
        )
    version = body.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TwinFileError(f"{where}: format_version {_short(version)} is not a positive integer")
    if version > FORMAT_VERSION:
        raise TwinFileError(
            f"{where}: written in twin-file format {version} by dt1d "
            f"{body.get('dt1d_version', '?')}; this dt1d {__version__} reads format "
            f"{FORMAT_VERSION} at most. Upgrade dt1d to {body.get('dt1d_version', 'a newer one')} "
            "or newer"
        )
    for key in ("arrays", "blobs"):
        listing = body.get(key)
        if not isinstance(listing, dict) or not all(isinstance(v, dict) for v in listing.values()):
            raise TwinFileError(f"{where}: manifest {key!r} is not a mapping of name to details")
    return body


def _load_npy(data: bytes, name: str, where: str) -> np.ndarray:
    """Read one .npy member without pickle, checking its header against its size first."""
    fp = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as err:
        raise TwinFileError(f"{where}: array {name!r} is not a valid .npy ({err})") from None
    if dtype.hasobject:
        raise TwinFileError(
            f"{where}: array {name!r} has dtype {dtype}, which holds pickled objects; "
            "refusing to load it"
        )
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - fp.tell() != expected:
        raise TwinFileError(
            f"{where}: array {name!r} holds {len(data) - fp.tell()} data bytes, "
            f"its header says {expected}"
        )
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def read_twin_file(
    path: str | os.PathLike[str],
    check_manifest: Callable[[dict[str, Any]], None] | None = None,
) -> TwinFile:
    """Load a twin file, checking format, version and members; never unpickles anything.

    ``check_manifest`` (for example a model's schema) is called with the parsed
    manifest after the format checks and before any array or blob is read, so a
    file it refuses costs no more than its manifest. Every member's unpacked size
    is checked first: against its stored size (:data:`MAX_COMPRESSION_RATIO`), and
    for arrays against the dtype and shape the manifest declares.
    """
    path = Path(path)
    where = str(path)
    try:
        archive = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as err:
        raise TwinFileError(
            f"{where}: not a readable zip archive (truncated, damaged, or not a dt1d "
            f"twin file: {err})"
        ) from None
    with archive:
        try:
            return _read_members(archive, where, check_manifest)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                NotImplementedError) as err:
            raise TwinFileError(f"{where}: damaged or unsupported member ({err})") from None


def _read_members(
    archive: zipfile.ZipFile, where: str, check_manifest: Callable[[dict[str, Any]], None] | None
) -> TwinFile:
    """Check the members of an open twin-file zip and load them."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(infos) > MAX_MEMBERS:
        raise TwinFileError(f"{where}: {len(infos)} members, over the limit of {MAX_MEMBERS}")
    if len(set(names)) != len(names):
        raise TwinFileError(f"{where}: the zip repeats member names")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        raise TwinFileError(f"{where}: {total} bytes unpacked, over the limit")
    for info in infos:
        _check_ratio(info, where)
    body = _read_manifest(archive, where)
    array_names = [_check_stored_name(n, "array", where) for n in body["arrays"]]
    blob_names = [_check_stored_name(n, "blob", where) for n in body["blobs"]]
    expected = {MANIFEST_NAME}
    expected.update(f"{_ARRAY_DIR}{n}.npy" for n in array_names)
    expected.update(f"{_BLOB_DIR}{n}" for n in blob_names)
    unexpected = sorted(set(names) - expected)
    if unexpected:
        raise TwinFileError(
            f"{where}: unexpected members {unexpected[:5]}; a twin file holds only "
            "manifest.json and the arrays and blobs its manifest lists"
        )
    missing = sorted(expected - set(names))
    if missing:
        raise TwinFileError(f"{where}: members listed in the manifest are missing: {missing[:5]}")
    declared = {name: _declared_array(name, body["arrays"][name], where) for name in array_names}
    for name, (dtype, shape) in declared.items():
        _check_member_size(archive.getinfo(f"{_ARRAY_DIR}{name}.npy"), name, dtype, shape, where)
    for name in blob_names:
        size = body["blobs"][name].get("bytes")
        stored = archive.getinfo(f"{_BLOB_DIR}{name}").file_size
        if isinstance(size, bool) or not isinstance(size, int) or size != stored:
            raise TwinFileError(
                f"{where}: blob {name!r} unpacks to {stored} bytes, the manifest says {size!r}"
            )
    if check_manifest is not None:
        check_manifest(body)
    arrays = {}
    for name, (dtype, shape) in declared.items():
        member = f"{_ARRAY_DIR}{name}.npy"
        with archive.open(member) as handle:
            _check_npy_header(handle, name, dtype, shape, where)
        arrays[name] = _load_npy(archive.read(member), name, where)
    blobs = {name: archive.read(f"{_BLOB_DIR}{name}") for name in blob_names}
    return TwinFile(manifest=body, arrays=arrays, blobs=blobs)


def _check_ratio(info: zipfile.ZipInfo, where: str) -> None:
    """Refuse a member that unpacks to far more than it stores (a zip bomb)."""
    if (info.file_size >= RATIO_FLOOR_BYTES
            and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1)):
        raise TwinFileError(
            f"{where}: member {info.filename!r} unpacks {info.compress_size} stored bytes to "
            f"{info.file_size}, over {MAX_COMPRESSION_RATIO} times; dt1d writes arrays "
            "uncompressed, so the file was crafted or damaged"
        )


def _declared_array(name: str, listed: Mapping[str, Any], where: str) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape the manifest declares for array ``name``, checked."""
    dtype_str, shape = listed.get("dtype"), listed.get("shape")
    try:
        if not isinstance(dtype_str, str) or len(dtype_str) > 16:
            raise TypeError
        dtype = np.dtype(dtype_str)
    except (TypeError, ValueError):
        raise TwinFileError(
            f"{where}: array {name!r} declares dtype {_short(dtype_str)}, not a numpy dtype"
        ) from None
    if dtype.hasobject or dtype.kind not in "biufcSUmM" or dtype.fields is not None:
        raise TwinFileError(
            f"{where}: array {name!r} declares dtype {dtype_str!r}; twin files hold numbers, "
            "booleans and fixed-width text only"
        )
    if (not isinstance(shape, list) or len(shape) > _MAX_NDIM
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise TwinFileError(
            f"{where}: array {name!r} declares shape {_short(shape)}; a shape is a list of "
            f"at most {_MAX_NDIM} non-negative integers"
        )
    return dtype, tuple(shape)


def _check_member_size(
    info: zipfile.ZipInfo, name: str, dtype: np.dtype, shape: tuple[int, ...], where: str
) -> None:
    """The member must hold a .npy header plus exactly the declared data, before it is read."""
    expected = math.prod(shape) * dtype.itemsize
    if expected > MAX_TOTAL_BYTES or not expected <= info.file_size <= expected + _MAX_NPY_HEADER:
        raise TwinFileError(
            f"{where}: array {name!r} declares {dtype.str} {list(shape)} ({expected} bytes) but "
            f"its member unpacks to {info.file_size} bytes"
        )


def _check_npy_header(
    handle: Any, name: str, dtype: np.dtype, shape: tuple[int, ...], where: str
) -> None:
    """Read only the .npy header and compare it with the manifest's declaration."""
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            found_shape, _, found_dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            found_shape, _, found_dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as err:
        raise TwinFileError(f"{where}: array {name!r} is not a valid .npy ({err})") from None
    if found_dtype != dtype or tuple(found_shape) != shape:
        raise TwinFileError(
            f"{where}: array {name!r} is {found_dtype.str} {list(found_shape)}, the manifest "
            f"says {dtype.str} {list(shape)}"
        )


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters so hostile input cannot flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_stored_name(name: str, kind: str, where: str) -> str:
    """Check a name listed in a file's manifest, reporting the file on failure."""
    try:
        return _check_name(name, kind)
    except TwinFileError as err:
        raise TwinFileError(f"{where}: {err}") from None
