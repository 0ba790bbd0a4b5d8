"""Window bookkeeping of the LSTM, checked against a plain loop written from the definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dt1d.models.lstm._windows import fill_glucose, segment_starts, valid_window_ends, window_view

STEP = 300 * 10**9  # 5 minutes in ns


def _reference(glucose, codes, time_ns, L, max_gap):
    """Row by row, straight from the module's docstring: (filled, bad, valid)."""
    n = len(glucose)
    seg = np.zeros(n, dtype=int)
    for i in range(1, n):
        new = codes[i] != codes[i - 1] or time_ns[i] - time_ns[i - 1] != STEP
        seg[i] = seg[i - 1] + (1 if new else 0)
    filled = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    for i in range(n):
        # last reading at or before i in the same segment
        j = i
        while j >= 0 and seg[j] == seg[i] and np.isnan(glucose[j]):
            j -= 1
        if j < 0 or seg[j] != seg[i]:
            bad[i] = True
        else:
            filled[i] = glucose[j]
            bad[i] = (i - j) > max_gap
    valid = np.zeros(n, dtype=bool)
    for t in range(n):
        lo = t - L + 1
        if lo < 0 or seg[lo] != seg[t]:
            continue
        window = range(lo, t + 1)
        valid[t] = not any(bad[k] for k in window) and any(not np.isnan(glucose[k]) for k in window)
    return filled, bad, valid


@st.composite
def _records(draw):
    n = draw(st.integers(1, 60))
    glucose = np.array(
        draw(st.lists(st.one_of(st.just(np.nan), st.floats(40, 400)), min_size=n, max_size=n))
    )
    codes = np.cumsum(draw(st.lists(st.sampled_from([0, 0, 0, 0, 1]), min_size=n, max_size=n)))
    jumps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 1, 2]), min_size=n, max_size=n))
    time_ns = np.cumsum(np.array(jumps, dtype=np.int64) * STEP)
    L = draw(st.integers(1, 8))
    max_gap = draw(st.integers(0, 5))
    return glucose, codes, time_ns, L, max_gap


@given(_records())
def test_masks_match_the_row_by_row_definition(rec):
    glucose, codes, time_ns, L, max_gap = rec
    starts = segment_starts(codes, time_ns, STEP)
    fill = fill_glucose(glucose, starts, max_gap)
    valid = valid_window_ends(starts, fill.bad, fill.missing, L)
    ref_filled, ref_bad, ref_valid = _reference(glucose, codes, time_ns, L, max_gap)
    np.testing.assert_array_equal(fill.bad, ref_bad)
    np.testing.assert_array_equal(fill.filled[~ref_bad], ref_filled[~ref_bad])
    np.testing.assert_array_equal(valid, ref_valid)
    np.testing.assert_array_equal(fill.missing, np.isnan(glucose))


@given(_records(), st.data())
def test_masks_at_t_ignore_rows_after_t(rec, data):
    glucose, codes, time_ns, L, max_gap = rec
    cut = data.draw(st.integers(0, len(glucose) - 1))
    altered = glucose.copy()
    altered[cut + 1 :] = np.where(np.isnan(altered[cut + 1 :]), 100.0, np.nan)  # flip the future
    starts = segment_starts(codes, time_ns, STEP)
    a = fill_glucose(glucose, starts, max_gap)
    b = fill_glucose(altered, starts, max_gap)
    va = valid_window_ends(starts, a.bad, a.missing, L)
    vb = valid_window_ends(starts, b.bad, b.missing, L)
    np.testing.assert_array_equal(va[: cut + 1], vb[: cut + 1])
    np.testing.assert_array_equal(a.bad[: cut + 1], b.bad[: cut + 1])


def test_a_long_gap_invalidates_windows_until_the_lookback_has_passed():
    glucose = np.full(40, 120.0)
    glucose[10:17] = np.nan  # 7 missing steps = 35 min
    starts = segment_starts(np.zeros(40, dtype=int), np.arange(40) * STEP, STEP)
    fill = fill_glucose(glucose, starts, max_gap_steps=6)  # 30 min bridged
    valid = valid_window_ends(starts, fill.bad, fill.missing, 5)
    # rows 10..15 are within 30 min of the last reading; row 16 is 35 min after it
    assert not fill.bad[10:16].any() and fill.bad[16]
    assert valid[4:14].all()
    assert not valid[14:16].any()  # windows 10..14 and 11..15 hold no reading at all
    assert not valid[16:21].any()  # windows that contain row 16
    assert valid[21:].all()


def test_window_view_is_a_view_with_the_right_rows():
    feats = np.arange(30, dtype=np.float32).reshape(10, 3)
    view = window_view(feats, 4)
    assert view.shape == (7, 4, 3)
    assert np.shares_memory(view, feats)
    for i in range(7):
        np.testing.assert_array_equal(view[i], feats[i : i + 4])


def test_torch_window_source_gathers_the_same_windows():
    import torch

    from dt1d.models.lstm._net import WindowSource

    feats = torch.arange(60, dtype=torch.float32).reshape(20, 3)
    src = WindowSource(feats, 5)
    assert src.windows.data_ptr() == feats.data_ptr()  # a view, nothing copied
    ends = torch.tensor([4, 19, 7])
    batch = src.batch(ends)
    assert batch.shape == (3, 5, 3)
    for k, e in enumerate(ends.tolist()):
        torch.testing.assert_close(batch[k], feats[e - 4 : e + 1])
