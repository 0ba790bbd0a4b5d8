"""Content sniffers for the readers that predate the table, and their registration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from dt1d.data.readers._registry import Reader, register_reader
from dt1d.data.readers.carelink import read_carelink, sniff_carelink
from dt1d.data.readers.clarity import read_dexcom_clarity
from dt1d.data.readers.generic import read_csv, read_parquet
from dt1d.data.readers.libreview import read_libreview
from dt1d.data.readers.nightscout import read_nightscout
from dt1d.data.readers.ohio import read_ohio
from dt1d.data.readers.replaybg import read_replaybg
from dt1d.data.readers.tidepool import read_tidepool, sniff_tidepool
from dt1d.exceptions import ReaderError

_REPLAYBG_COLUMNS = {"t", "glucose", "cho", "bolus", "basal"}


def header_fields(head: bytes, sep: str = ",") -> list[str]:
    """The first line of a text file split into stripped, unquoted fields."""
    text = head.decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text else ""
    return [f.strip().strip('"').strip() for f in first.split(sep)]


def _sniff_parquet(path: Path, head: bytes) -> bool:
    return head[:4] == b"PAR1"


def _sniff_ohio(path: Path, head: bytes) -> bool:
    return b"<patient" in head[:4096]


def _sniff_nightscout(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return (path / "entries.json").exists()
    text = head.lstrip()[:1]
    return text in (b"[", b"{") and b'"sgv"' in head


def _sniff_replaybg(path: Path, head: bytes) -> bool:
    return _REPLAYBG_COLUMNS <= set(header_fields(head))


def _sniff_clarity(path: Path, head: bytes) -> bool:
    fields = set(header_fields(head))
    return {"Index", "Event Type", "Event Subtype"} <= fields and any(
        f.startswith("Glucose Value (") for f in fields
    )


def _sniff_libreview(path: Path, head: bytes) -> bool:
    lines = head.decode("utf-8-sig", errors="replace").splitlines()[:2]
    return any(
        ("Device Timestamp" in line and "Record Type" in line)
        or ("Gerätezeitstempel" in line and "Aufzeichnungstyp" in line)
        for line in lines
    )


def _sniff_csv(path: Path, head: bytes) -> bool:
    return "time" in header_fields(head)


def _read_nightscout_path(path: str | os.PathLike[str], **options: Any) -> pd.DataFrame:
    """A Nightscout export folder (entries.json, optional treatments.json and profile.json) or an entries file."""
    source = Path(path)
    if not source.is_dir():
        return read_nightscout(source, **options)
    parts = {name: source / f"{name}.json" for name in ("entries", "treatments", "profile")}
    if not parts["entries"].exists():
        raise ReaderError(source, "has no entries.json (a Nightscout export folder needs one)")
    return read_nightscout(*(p if p.exists() else None for p in parts.values()), **options)


register_reader(Reader("parquet", read_parquet, _sniff_parquet, "Parquet table"))
register_reader(Reader("ohio", read_ohio, _sniff_ohio, "OhioT1DM XML"))
register_reader(Reader("nightscout", _read_nightscout_path, _sniff_nightscout, "Nightscout JSON"))
register_reader(Reader("replaybg", read_replaybg, _sniff_replaybg, "ReplayBG CSV"))
register_reader(
    Reader("dexcom_clarity", read_dexcom_clarity, _sniff_clarity, "Dexcom Clarity CSV export")
)
register_reader(Reader("libreview", read_libreview, _sniff_libreview, "LibreView CSV export"))
register_reader(Reader("carelink", read_carelink, sniff_carelink, "Medtronic CareLink CSV"))
register_reader(Reader("tidepool", read_tidepool, sniff_tidepool, "Tidepool JSON"))
register_reader(Reader("csv", read_csv, _sniff_csv, "generic CSV", fallback=True))
