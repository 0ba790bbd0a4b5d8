"""Spreadsheet-safe CSV output: text cells a spreadsheet would run as a formula are neutralised.

Following OWASP's CSV-injection guidance, a text cell (or column name, or
index label) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, possibly after leading whitespace, or with the full-width forms of
those signs, gets a leading single quote, so a spreadsheet shows it as text
instead of evaluating it. Numbers are written unchanged (``-3.5`` stays a
number): only text can carry a formula.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FORMULA_TRIGGERS", "neutralise_cell", "neutralise_formulas", "to_csv_safe"]

#: First characters that make a spreadsheet evaluate a cell (with full-width forms).
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_LEADING_SPACE = " \n\t\r\u00a0\u3000"


def neutralise_cell(value: Any) -> Any:
    """``value`` prefixed with ``'`` when it is text a spreadsheet would run; else unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in FORMULA_TRIGGERS or value.lstrip(_LEADING_SPACE)[:1] in FORMULA_TRIGGERS:
        return "'" + value
    return value


def _needs_work(values: pd.Index | pd.Series) -> bool:
    return values.dtype == object or isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype))


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels cannot run as formulas."""
    out = frame.copy(deep=False)
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if _needs_work(column):
            cells = np.array([neutralise_cell(v) for v in column.to_numpy(dtype=object)], dtype=object)
            out.isetitem(position, cells)
    out.columns = out.columns.map(neutralise_cell)
    if _needs_work(out.index):
        out.index = out.index.map(neutralise_cell)
    out.index.names = [neutralise_cell(n) for n in out.index.names]
    return out


def to_csv_safe(frame: pd.DataFrame, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """``frame.to_csv(path)`` after :func:`neutralise_formulas`; the caller's frame is not changed."""
    neutralise_formulas(frame).to_csv(path, **kwargs)
