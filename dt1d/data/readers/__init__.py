"""Readers that turn device and study exports into validated dt1d records.

Each returns a record checked by :func:`dt1d.data.validate` (glucose in
mg/dL, carbs in g per step, insulin, bolus and basal in U per step) and
raises :class:`ReaderError` (a ``DataValidationError``) naming the file, the
record (row or entry) and the field when a file is bad.
"""

from dt1d.data.readers._common import ReaderError
from dt1d.data.readers._registry import (
    READER_PLUGIN_GROUP,
    Reader,
    detect_format,
    get_reader,
    list_readers,
    read,
    register_reader,
)
from dt1d.data.readers.carelink import read_carelink
from dt1d.data.readers.clarity import read_dexcom_clarity
from dt1d.data.readers.generic import read_csv, read_frame, read_parquet
from dt1d.data.readers.libreview import read_libreview
from dt1d.data.readers.nightscout import read_nightscout
from dt1d.data.readers.ohio import read_ohio
from dt1d.data.readers.replaybg import read_replaybg
from dt1d.data.readers.tidepool import read_tidepool

# isort: split
from dt1d.data.readers import _builtins  # noqa: F401  (registers the readers above)

__all__ = [
    "READER_PLUGIN_GROUP",
    "Reader",
    "ReaderError",
    "detect_format",
    "get_reader",
    "list_readers",
    "read",
    "register_reader",
    "read_csv",
    "read_parquet",
    "read_frame",
    "read_carelink",
    "read_dexcom_clarity",
    "read_libreview",
    "read_nightscout",
    "read_ohio",
    "read_replaybg",
    "read_tidepool",
]
