"""A cohort's output folder: one ``.dt1d`` per twin plus a Parquet summary, saved atomically.

The summary is rewritten whole (temporary file, then ``os.replace``) at most
every few seconds while a run goes on and once at its end, so a reader never
sees half a file and an interrupted run leaves every finished twin usable.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dt1d.data.atomic import atomic_path

logger = logging.getLogger(__name__)

SUMMARY_NAME = "summary.parquet"
#: Columns of the fit table, in order (model report fields follow as ``report_*``).
BASE_COLUMNS = (
    "patient_id", "status", "reason", "fit_seconds", "cpu_seconds", "rows", "path", "warnings", "resumed",
)


def flatten_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """``report_<key>`` columns: scalars as they are, anything else as JSON text."""
    flat: dict[str, Any] = {}
    for key, value in report.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            flat[f"report_{key}"] = value
        else:
            try:
                flat[f"report_{key}"] = json.dumps(value, default=_json_default)
            except (TypeError, ValueError):
                flat[f"report_{key}"] = repr(value)
    return flat


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def table_from_rows(rows: list[dict[str, Any]], keep_twins: bool) -> pd.DataFrame:
    """The fit table: one row per patient, base columns, then ``report_*``, then ``twin``."""
    records = []
    for row in rows:
        flat = {col: row.get(col) for col in BASE_COLUMNS}
        flat["resumed"] = bool(row.get("resumed", False))
        flat.update(flatten_report(row.get("report") or {}))
        if keep_twins:
            flat["twin"] = row.get("twin")
        records.append(flat)
    table = pd.DataFrame.from_records(records)
    if table.empty:
        table = pd.DataFrame(columns=[*BASE_COLUMNS, *(["twin"] if keep_twins else [])])
    for col in ("fit_seconds", "cpu_seconds"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["rows"] = pd.to_numeric(table["rows"], errors="coerce").astype("Int64")
    report_cols = sorted(c for c in table.columns if c.startswith("report_"))
    ordered = [*BASE_COLUMNS, *report_cols, *(["twin"] if keep_twins else [])]
    return table[ordered].reset_index(drop=True)


def write_summary(table: pd.DataFrame, out_dir: Path) -> Path:
    """Write the table (without twin objects) to ``out_dir/summary.parquet`` atomically."""
    path = out_dir / SUMMARY_NAME
    frame = _parquet_safe(table.drop(columns="twin", errors="ignore"))
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns Arrow cannot type (mixed values) become text; the input is not modified."""
    import pyarrow as pa

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            try:
                pa.array(out[col], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                out[col] = out[col].map(lambda v: None if v is None else str(v))
    return out


def read_summary(out_dir: Path) -> pd.DataFrame | None:
    """The summary of an earlier run in ``out_dir``, or None when absent or unreadable."""
    path = out_dir / SUMMARY_NAME
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # a damaged summary only costs the earlier fit reports
        logger.warning("ignoring unreadable cohort summary %s: %s", path, exc)
        return None


class SummaryWriter:
    """Rewrites the summary as rows arrive, at most every ``every_s`` seconds."""

    def __init__(self, out_dir: Path | None, keep_twins: bool, every_s: float = 2.0) -> None:
        self.out_dir = out_dir
        self.keep_twins = keep_twins
        self.every_s = every_s
        self.rows: list[dict[str, Any]] = []
        self._last = time.monotonic()
        self._interval = every_s

    def add(self, row: dict[str, Any]) -> None:
        """Keep ``row``; rewrite the summary when the last write is old enough."""
        self.rows.append(row)
        if self.out_dir is not None and time.monotonic() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Write the summary now (no-op without an output folder)."""
        if self.out_dir is None:
            return
        start = time.monotonic()
        write_summary(table_from_rows(self.rows, keep_twins=False), self.out_dir)
        self._last = time.monotonic()
        # a large cohort's summary takes a while to write: spend at most ~10 % of the time on it
        self._interval = max(self.every_s, 10.0 * (self._last - start))
