"""The one table of readers: names, content sniffers, ``read()`` and reader plugins.

Every reader is registered here by name with a ``sniff(path, head)``
function that looks at the file's first bytes (not only its extension).
``read(path)`` tries the sniffers in table order, vendor formats first and
the generic CSV last, and dispatches to the first that recognises the file.
The CLI's ``--format`` choices and the docs come from this table.

Third-party packages add readers through the entry-point group
``dt1d.readers``: each entry point names a :class:`Reader` (or a function
returning one). Plugins are found on first use; setting
``DT1D_DISABLE_PLUGIN_AUTOLOAD`` turns them off, as for models.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from dt1d.exceptions import Dt1dError, ReaderError

logger = logging.getLogger(__name__)

__all__ = ["Reader", "READER_PLUGIN_GROUP", "detect_format", "list_readers", "read", "register_reader"]

#: Entry-point group through which packages add readers.
READER_PLUGIN_GROUP = "dt1d.readers"
_DISABLE_PLUGINS_ENV = "DT1D_DISABLE_PLUGIN_AUTOLOAD"
#: How much of a file the sniffers see.
HEAD_BYTES = 65536


@dataclass(frozen=True)
class Reader:
    """One input format: its name, its reader and its content detector.

    ``read(path, **options)`` returns a validated record; ``sniff(path, head)``
    gets the path and the file's first bytes (``b""`` for a folder) and says
    whether the file is in this format. ``fallback`` readers are tried after
    all others (the generic CSV).
    """

    name: str
    read: Callable[..., pd.DataFrame]
    sniff: Callable[[Path, bytes], bool]
    description: str = ""
    fallback: bool = False


_TABLE: dict[str, Reader] = {}
_PLUGINS_LOADED = False


def register_reader(reader: Reader, *, replace: bool = False) -> Reader:
    """Add a reader to the table (a name already taken is refused unless ``replace``)."""
    if not isinstance(reader, Reader):
        raise TypeError(f"expected a dt1d.data.readers.Reader, got {type(reader).__name__}")
    if not reader.name or not reader.name.replace("_", "").isalnum() or reader.name == "auto":
        raise ValueError(f"reader name {reader.name!r} must be a non-empty identifier other than 'auto'")
    if reader.name in _TABLE and not replace and _TABLE[reader.name] != reader:
        raise ValueError(f"a reader named {reader.name!r} is already registered")
    _TABLE[reader.name] = reader
    return reader


def _plugins_disabled() -> bool:
    return os.environ.get(_DISABLE_PLUGINS_ENV, "").strip() not in ("", "0")


def _load_plugins() -> None:
    """Register the readers that installed packages declare (once; bad ones are logged)."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    if _plugins_disabled():
        return
    try:
        from importlib.metadata import entry_points

        found = list(entry_points(group=READER_PLUGIN_GROUP))
    except Exception as exc:  # broken metadata on sys.path must not break dt1d
        logger.warning("could not read %r entry points: %s", READER_PLUGIN_GROUP, exc)
        return
    for ep in found:
        if ep.name in _TABLE:
            logger.warning("ignoring reader plugin %r (%s): the name is taken", ep.name, ep.value)
            continue
        try:
            obj = ep.load()
            reader = obj if isinstance(obj, Reader) else obj()
            if not isinstance(reader, Reader) or reader.name != ep.name:
                raise TypeError(f"it gave {reader!r}, not a Reader named {ep.name!r}")
            register_reader(reader)
        except Exception as exc:  # a broken plugin must not break the other readers
            logger.warning("ignoring reader plugin %r (%s): %s", ep.name, ep.value, exc)


def _ordered() -> list[Reader]:
    _load_plugins()
    readers = list(_TABLE.values())
    return [r for r in readers if not r.fallback] + [r for r in readers if r.fallback]


def list_readers() -> list[str]:
    """Names of the registered readers (plugins included), in the order ``read()`` tries them."""
    return [r.name for r in _ordered()]


def get_reader(name: str) -> Reader:
    """The reader registered as ``name``; a ``ValueError`` lists the known names otherwise."""
    _load_plugins()
    if name not in _TABLE:
        raise ValueError(f"unknown format {name!r}; formats are {list_readers()} (or 'auto')")
    return _TABLE[name]


def _head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    try:
        with open(path, "rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError as exc:
        raise ReaderError(path, f"cannot be opened: {exc}") from exc


def _sniffs(reader: Reader, path: Path, head: bytes) -> bool:
    try:
        return bool(reader.sniff(path, head))
    except Exception as exc:  # a sniffer that fails simply does not recognise the file
        logger.debug("sniffer of %r failed on %s: %s", reader.name, path, exc)
        return False


def detect_format(path: str | os.PathLike[str], *, exclude: tuple[str, ...] = ()) -> str | None:
    """The name of the first reader whose sniffer recognises the file, or None."""
    source = Path(path)
    head = _head(source)
    for reader in _ordered():
        if reader.name not in exclude and _sniffs(reader, source, head):
            return reader.name
    return None


def looks_like(path: str | os.PathLike[str], expected: str) -> str:
    """A sentence for a reader's error: which other format the file looks like, if any."""
    try:
        found = detect_format(path, exclude=(expected,))
    except Exception:  # only a hint: never let it hide the real error
        return ""
    if found is None or _TABLE[found].fallback:
        return ""
    return f"; it looks like a {_TABLE[found].description or found} file: read it with format={found!r}"


def read(path: str | os.PathLike[str], format: str = "auto", **options: Any) -> pd.DataFrame:
    """Read any supported export into a validated record, detecting its format from its content.

    ``format`` names a reader (see :func:`list_readers`) or ``"auto"``;
    ``options`` go to that reader (``tz=``, ``step=``, ...). Raises
    :class:`ReaderError` naming the file and the formats tried when none fits.
    """
    source = Path(path)
    if not source.exists():
        raise ReaderError(source, "does not exist")
    if format != "auto":
        try:
            reader = get_reader(format)
        except ValueError as exc:
            raise ReaderError(source, str(exc), field="format") from None
        return _run(reader, source, options)
    head = _head(source)
    tried = []
    for reader in _ordered():
        tried.append(reader.name)
        if _sniffs(reader, source, head):
            logger.info("%s: read as %s", source, reader.name)
            return _run(reader, source, options)
    raise ReaderError(
        source,
        f"is in none of the formats tried ({', '.join(tried)})",
        fix="pass format= naming the reader, or map the columns with read_csv(columns=...)",
    )


def _run(reader: Reader, source: Path, options: dict[str, Any]) -> pd.DataFrame:
    """``reader.read(source)``, with any failure it did not foresee as a ``ReaderError``.

    dt1d's own errors pass unchanged. Anything else a parser raises on strange
    input (a csv field limit, a recursion limit, an overflow, an unknown time
    zone...) becomes a one-line ``ReaderError`` naming the file and the
    reader, with the original exception chained as its cause, so ``dt1d -v``
    and a debugger still show where it came from.
    """
    try:
        return reader.read(source, **options)
    except Dt1dError:
        raise
    except Exception as exc:
        text = str(exc)
        if len(text) > 200:
            text = text[:197] + "..."
        raise ReaderError(
            source,
            f"could not be read as {reader.name} ({type(exc).__name__}: {text})",
            fix="check that the file is a complete, unedited export; if it is, please report this",
        ) from exc

