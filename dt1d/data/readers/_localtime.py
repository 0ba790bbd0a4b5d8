"""Naive local times of a device export placed in a time zone, naming the row that cannot be.

Device exports (Dexcom Clarity, LibreView) write the wall-clock time of the
phone or reader with no UTC offset. Across a DST change that time skips an
hour in spring and repeats one in autumn. Placed in ``tz``, the repeated
hour is told apart by file order (pandas' ``ambiguous="infer"``: the second
pass through the hour follows a jump back); a time that does not exist, or a
repeated time that file order cannot place, raises a :class:`ReaderError`
naming its record instead of being shifted or guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from dt1d.data.readers._common import _check_tz
from dt1d.exceptions import ReaderError


def _first_nat(index: pd.DatetimeIndex) -> int | None:
    bad = np.flatnonzero(np.asarray(index.isna()))
    return int(bad[0]) if bad.size else None


def _one_group(naive: pd.DatetimeIndex, tz: Any) -> pd.DatetimeIndex | None:
    """``naive`` in ``tz`` by file order, or None when pandas cannot place it."""
    try:
        return naive.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except Exception:  # pytz's AmbiguousTimeError / NonExistentTimeError, ValueError
        return None


def _localize_rows(
    naive_ns: np.ndarray,
    tz: Any,
    path: Any,
    labels: Sequence[Any],
    field: str,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """UTC nanoseconds of naive local times (int64 ns) in ``tz``.

    The times are first placed all together in file order; when that fails
    (a file not in time order across the repeated hour) each of ``groups``
    (an integer label per time, e.g. the event type) is placed on its own.
    A time skipped by the clock, or a repeated-hour time that neither order
    can place, raises a :class:`ReaderError` naming ``labels[i]`` and ``field``.
    """
    _check_tz(tz, path)
    naive = pd.DatetimeIndex(np.asarray(naive_ns, dtype=np.int64).view("M8[ns]"))
    placed = _one_group(naive, tz)
    if placed is not None:
        return placed.tz_convert("UTC").asi8.copy()
    n = len(naive)
    skipped = _first_nat(naive.tz_localize(tz, ambiguous=np.ones(n, dtype=bool), nonexistent="NaT"))
    if skipped is not None:
        raise ReaderError(
            path,
            f"local time {naive[skipped]} does not exist in time zone {tz!r} "
            "(the clock skips it at the change to daylight saving time)",
            record=labels[skipped],
            field=field,
            fix="check that tz= is the time zone the device was set to",
        )
    if groups is not None:
        out = np.empty(n, dtype=np.int64)
        for code in np.unique(groups):
            where = np.flatnonzero(groups == code)
            part = _one_group(naive[where], tz)
            if part is None:
                break
            out[where] = part.tz_convert("UTC").asi8
        else:
            return out
    ambiguous = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    i = _first_nat(ambiguous)
    raise ReaderError(
        path,
        f"local time {naive[i if i is not None else 0]} falls in the hour that is repeated when "
        f"daylight saving time ends in {tz!r}, and the order of the rows does not tell which "
        "of the two it is",
        record=None if i is None else labels[i],
        field=field,
        fix="keep the rows in time order, or pass tz=None to keep the local times naive",
    )


def _warn_if_clock_jumps(
    naive_ns: np.ndarray, logger: Any, path: Any, labels: Sequence[Any]
) -> None:
    """Log a warning when naive readings in file order jump back by 30-90 min (a DST change).

    Without ``tz`` such a jump merges the repeated hour into the first one on the grid.
    """
    ns = np.asarray(naive_ns, dtype=np.int64)
    if ns.size < 2:
        return
    back = -np.diff(ns)
    minute = 60_000_000_000
    jumps = np.flatnonzero((back >= 30 * minute) & (back <= 90 * minute))
    if jumps.size:
        logger.warning(
            "%s: %s: the local time goes back by %d min (a change from daylight saving time?); "
            "without tz= the repeated hour is merged into the first one: pass tz= to place it",
            path,
            labels[int(jumps[0]) + 1],
            int(back[jumps[0]] // minute),
        )
