"""Fast, checked loading of a vendor CSV export as a table of text cells.

Vendor exports (Dexcom Clarity, LibreView) are one table, optionally after
title lines. The header is read first, so the reader can check the layout
and pick the columns it needs; those are then read by pandas' C parser with
no missing-value conversion: a blank cell stays ``""``, so a column with
text or blanks is text, and only a column of plain numbers comes back numeric. Every line must have as many
fields as the header: a short line is a cut-off download or an edited
file, and a ``ReaderError`` names it rather than reading its missing cells
as blanks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from dt1d.data.readers._common import _parse_numbers, _quote
from dt1d.exceptions import ReaderError

_DELIMITERS = (",", ";", "\t")


class _Rows(Sequence[str]):
    """Labels ``row <id> (line <n>)`` of chosen table rows, built only when a message needs one.

    ``positions`` are table positions; ``first_line`` the file line of position 0;
    ``ids`` (optional) gives the file's own row number of a file line.
    """

    def __init__(
        self, positions: np.ndarray, first_line: int, ids: Callable[[int], str] | None = None
    ) -> None:
        self._positions = np.asarray(positions)
        self._first_line = first_line
        self._ids = ids

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(len(self))[i]]
        number = int(self._positions[i]) + self._first_line
        line = f"line {number}"
        row_id = "" if self._ids is None else self._ids(number).strip()
        return f"row {row_id} ({line})" if row_id else line

    def subset(self, which: np.ndarray) -> _Rows:
        """The labels of ``self[which]`` (an index array)."""
        return _Rows(self._positions[which], self._first_line, self._ids)


class _Picked(Sequence[str]):
    """``labels[where[k]]`` for each k, looked up only when asked."""

    def __init__(self, labels: Sequence[str], where: np.ndarray) -> None:
        self._labels, self._where = labels, where

    def __len__(self) -> int:
        return len(self._where)

    def __getitem__(self, k: Any) -> Any:
        return self._labels[int(self._where[k])]


def _as_series(values: Any) -> pd.Series:
    """Cells as a Series (pandas' own string arrays stay as they are: factorizing them is fast)."""
    return values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))


def _categories(values: Any, *, lower: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(codes, names): text cells as codes into their distinct values, stripped (and lower-cased).

    ``names[codes]`` gives the cleaned cell of every row; the work is done on distinct values only.
    """
    codes, uniques = pd.factorize(_as_series(values))
    done = [str(u).strip().lower() if lower else str(u).strip() for u in uniques]
    return codes, np.array(done + [""], dtype=object)


def _numbers(
    values: Any,
    path: Any,
    field: str,
    labels: Sequence[str],
    *,
    special: dict[str, float] | None = None,
    allow_missing: bool = True,
    decimal_comma: bool = False,
) -> np.ndarray:
    """Numbers of a text column, parsed once per distinct value (a CGM column has few).

    ``special`` maps lower-case words (``"low"``) to values; ``decimal_comma``
    reads ``5,6`` as 5.6. Errors name the first record holding a bad value,
    as :func:`dt1d.data.readers._common._parse_numbers` does.
    """
    codes, uniques = pd.factorize(_as_series(values))
    n = len(uniques)
    first = np.zeros(n, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    text = [str(u).strip() for u in uniques]
    fixed = np.full(n, np.nan)
    if special:
        for k, t in enumerate(text):
            if t.lower() in special:
                fixed[k] = special[t.lower()]
                text[k] = "0"
    if decimal_comma:
        text = [t.replace(",", ".") if t.count(",") == 1 and "." not in t else t for t in text]
    parsed = _parse_numbers(
        np.array(text, dtype=object),
        path,
        field,
        _Picked(labels, first),
        allow_missing=allow_missing,
    )
    parsed = np.where(np.isnan(fixed), parsed, fixed)
    return parsed[codes] if len(codes) else np.zeros(0)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReaderError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if not data or data.isspace():
        raise ReaderError(path, f"is empty; expected {what}")
    return data


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    return max(_DELIMITERS, key=lambda d: counts[d])


def _short_line(data: bytes, sep: str, width: int, title_lines: int) -> tuple[int, int] | None:
    """(file line, fields) of the first non-blank line after the titles whose field count is
    not ``width``; None when all match. Whole-file counts first, line by line only on a mismatch."""
    if b'"' in data:
        text = data.decode("utf-8-sig", errors="replace")
        reader = csv.reader(io.StringIO(text), delimiter=sep)
        for row in reader:
            if reader.line_num > title_lines and row and len(row) != width:
                return reader.line_num, len(row)
        return None
    size = len(data)
    while size and data[size - 1] in b"\r\n":
        size -= 1
    raw = np.frombuffer(data, dtype=np.uint8, count=size)
    is_sep = raw == ord(sep)
    ends = np.flatnonzero(raw == 10)
    title_seps = int(np.count_nonzero(is_sep[: ends[title_lines - 1]])) if title_lines else 0
    body_lines = ends.size + 1 - title_lines
    if np.count_nonzero(is_sep) - title_seps == body_lines * (width - 1):
        return None  # every line has width fields (pandas refuses lines with more)
    ends = np.append(ends, raw.size)
    before = np.searchsorted(np.flatnonzero(is_sep), ends)  # separators before each line end
    fields = np.diff(np.concatenate([[0], before])) + 1
    starts = np.concatenate([[0], ends[:-1] + 1])
    length = ends - starts - (raw[np.maximum(ends - 1, 0)] == 13)
    wrong = (fields != width) & (length > 0)
    wrong[:title_lines] = False
    if not wrong.any():
        return None
    j = int(np.flatnonzero(wrong)[0])
    return j + 1, int(fields[j])


class _Table(NamedTuple):
    """A loaded export: its header, the chosen columns as text, and where rows are in the file."""

    header: list[str]
    frame: pd.DataFrame
    first_line: int  # file line (from 1) of frame row 0
    data: bytes  # the whole file, for quoting one line in a message
    sep: str

    def cell(self, line: int, column: str) -> str:
        """The text of ``column`` on file line ``line`` (for messages; "" when absent)."""
        try:
            text = self.data.split(b"\n", line)[line - 1].decode("utf-8-sig", errors="replace")
            fields = next(csv.reader([text.rstrip("\r")], delimiter=self.sep))
            return fields[self.header.index(column)]
        except (IndexError, ValueError, StopIteration, csv.Error):
            return ""


def _read_table(
    path: Path,
    *,
    what: str,
    title_lines: int,
    choose: Callable[[list[str]], list[str]],
) -> _Table:
    """The export's header and chosen columns (as text), checked for its field counts.

    ``title_lines`` lines come before the header; ``choose(header)`` checks
    the layout (raising its own errors) and names the columns to read.
    """
    data = _read_bytes(path, what)
    start = 0
    for _ in range(title_lines):
        start = data.find(b"\n", start) + 1 if data.find(b"\n", start) >= 0 else len(data)
    stop = data.find(b"\n", start)
    try:
        header_line = data[start : len(data) if stop < 0 else stop].decode(
            "utf-8-sig" if title_lines == 0 else "utf-8"
        )
    except UnicodeDecodeError as exc:
        raise ReaderError(
            path, f"is not UTF-8 text: {exc}", record=f"line {title_lines + 1}"
        ) from exc
    header_line = header_line.rstrip("\r")
    if not header_line.strip():
        raise ReaderError(
            path, f"has no header line; expected {what}", record=f"line {title_lines + 1}"
        )
    sep = _delimiter(header_line)
    header = [h.strip().strip('"').strip() for h in next(csv.reader([header_line], delimiter=sep))]
    wanted = choose(header)
    short = _short_line(data, sep, len(header), title_lines + 1)
    if short is not None:
        raise ReaderError(
            path,
            f"has {short[1]} fields, the header has {len(header)}",
            record=f"line {short[0]}",
            fix="the file may be cut short (a truncated download?) or edited: export it again",
        )
    try:
        table = pd.read_csv(
            io.BytesIO(data),
            sep=sep,
            skiprows=title_lines,
            header=0,
            names=header,
            usecols=wanted,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            low_memory=False,
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as exc:
        raise ReaderError(path, f"is not UTF-8 text: {exc}") from exc
    except (ValueError, csv.Error) as exc:  # pandas' ParserError is a ValueError
        raise ReaderError(path, f"is not a readable CSV table: {_quote(str(exc), 200)}") from exc
    return _Table(header, table, title_lines + 2, data, sep)


def _exact_duplicates(table: pd.DataFrame, keep: np.ndarray, times_ns: np.ndarray) -> np.ndarray:
    """Which rows ``table.iloc[keep]`` equal an earlier one in every column (rows sharing a time)."""
    dup = np.zeros(keep.size, dtype=bool)
    order = np.argsort(times_ns, kind="stable")
    tied = np.flatnonzero(times_ns[order][1:] == times_ns[order][:-1])
    if tied.size:
        candidates = np.unique(np.concatenate([order[tied], order[tied + 1]]))
        dup[candidates] = table.iloc[keep[candidates]].duplicated(keep="first").to_numpy()
    return dup
