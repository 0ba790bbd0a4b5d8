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
from collections.abc import Mapping
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
            f"{kind} name {name!r} is not allowed: use letters, digits, '_', '.', '-' "
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
            f"{where}: manifest format is {found!r}, not {FORMAT_NAME!r}: not a dt1d twin file"
        )
    version = body.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TwinFileError(f"{where}: format_version {version!r} is not a positive integer")
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


def read_twin_file(path: str | os.PathLike[str]) -> TwinFile:
    """Load a twin file, checking format, version and members; never unpickles anything."""
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
            return _read_members(archive, where)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
                NotImplementedError) as err:
            raise TwinFileError(f"{where}: damaged or unsupported member ({err})") from None


def _read_members(archive: zipfile.ZipFile, where: str) -> TwinFile:
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
    arrays = {}
    for name in array_names:
        arrays[name] = _load_npy(archive.read(f"{_ARRAY_DIR}{name}.npy"), name, where)
        listed = body["arrays"][name]
        if (listed.get("dtype") != arrays[name].dtype.str
                or listed.get("shape") != list(arrays[name].shape)):
            raise TwinFileError(
                f"{where}: array {name!r} is {arrays[name].dtype.str} "
                f"{list(arrays[name].shape)}, the manifest says {listed}"
            )
    blobs = {name: archive.read(f"{_BLOB_DIR}{name}") for name in blob_names}
    return TwinFile(manifest=body, arrays=arrays, blobs=blobs)


def _check_stored_name(name: str, kind: str, where: str) -> str:
    """Check a name listed in a file's manifest, reporting the file on failure."""
    try:
        return _check_name(name, kind)
    except TwinFileError as err:
        raise TwinFileError(f"{where}: {err}") from None
