"""Sliding windows over a long-format record, without materialising them.

A window ending at row ``t`` covers rows ``t - lookback + 1 .. t``. Windows are
never copied out of the record: this module only computes which windows are
usable (one boolean per end row) and, for the data loader, the row offsets
that gather a batch of windows from the feature matrix (a strided view, see
:func:`window_view`).

A window is unusable when it
- starts before the first row of its segment (not enough history), where a
  segment is a run of rows of one patient on a regular grid: a new patient or
  a jump in time starts a new segment;
- contains a row whose glucose is missing and cannot be carried forward
  causally: no earlier reading in the segment, or the gap so far (counted up
  to that row only, never using later rows) is longer than ``max_gap_steps``;
- has no observed glucose at all.

Everything is vectorised NumPy (cumulative sums and maxima): no Python loop
over rows or windows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["GlucoseFill", "segment_starts", "fill_glucose", "valid_window_ends", "window_view"]


class GlucoseFill(NamedTuple):
    """Glucose carried forward within segments, and the rows that break windows."""

    filled: np.ndarray  # float64, last reading carried forward, NaN where impossible
    missing: np.ndarray  # bool, the reading at this row is missing
    bad: np.ndarray  # bool, no usable value at this row (gap too long or no earlier reading)


def segment_starts(patient_codes: np.ndarray, time_ns: np.ndarray, step_ns: int) -> np.ndarray:
    """Boolean per row: ``True`` where a new segment (patient or grid run) starts."""
    n = len(time_ns)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        same_patient = patient_codes[1:] == patient_codes[:-1]
        on_grid = np.diff(time_ns) == step_ns
        starts[1:] = ~(same_patient & on_grid)
    return starts


def _first_row_of_segment(starts: np.ndarray) -> np.ndarray:
    """For every row, the index of the first row of its segment."""
    rows = np.arange(len(starts))
    return np.maximum.accumulate(np.where(starts, rows, 0))


def fill_glucose(glucose: np.ndarray, starts: np.ndarray, max_gap_steps: int) -> GlucoseFill:
    """Carry the last reading forward within segments and flag unusable rows.

    ``max_gap_steps`` is the longest run of missing readings (in grid steps)
    that is bridged by carrying the last reading forward; beyond it the rows
    are flagged ``bad``. Only earlier rows are used, so no future leaks in.
    """
    glucose = np.asarray(glucose, dtype=np.float64)
    rows = np.arange(len(glucose))
    missing = np.isnan(glucose)
    last_obs = np.maximum.accumulate(np.where(missing, -1, rows))
    first = _first_row_of_segment(starts)
    fillable = last_obs >= first
    gap_steps = rows - last_obs  # steps since the last reading (0 where observed)
    bad = ~fillable | (gap_steps > max_gap_steps)
    filled = np.where(fillable, glucose[np.maximum(last_obs, 0)], np.nan)
    return GlucoseFill(filled=filled, missing=missing, bad=bad)


def valid_window_ends(
    starts: np.ndarray, bad: np.ndarray, missing: np.ndarray, lookback_steps: int
) -> np.ndarray:
    """Boolean per row ``t``: the window ``t - lookback_steps + 1 .. t`` is usable."""
    n = len(starts)
    L = int(lookback_steps)
    valid = np.zeros(n, dtype=bool)
    if L < 1 or n < L:
        return valid
    rows = np.arange(n)
    first = _first_row_of_segment(starts)
    enough_history = rows - first >= L - 1
    bad_cs = np.concatenate(([0], np.cumsum(bad, dtype=np.int64)))
    seen_cs = np.concatenate(([0], np.cumsum(~missing, dtype=np.int64)))
    ends = rows[L - 1 :]
    n_bad = bad_cs[ends + 1] - bad_cs[ends + 1 - L]
    n_seen = seen_cs[ends + 1] - seen_cs[ends + 1 - L]
    valid[L - 1 :] = enough_history[L - 1 :] & (n_bad == 0) & (n_seen > 0)
    return valid


def window_view(features: np.ndarray, lookback_steps: int) -> np.ndarray:
    """Read-only ``(n - L + 1, L, f)`` view: row ``i`` is the window ending at row ``i + L - 1``.

    A strided view of ``features`` (no copy): gathering a batch from it copies
    only that batch.
    """
    view = np.lib.stride_tricks.sliding_window_view(features, lookback_steps, axis=0)
    return view.transpose(0, 2, 1)
