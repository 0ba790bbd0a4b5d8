"""Hypothesis strategies and builders for patient records used by the tests/data suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import strategies as st

STEPS_MIN = (1, 5, 15)
TIMEZONES = (None, "UTC", "Europe/Paris", "America/New_York")


def make_record(
    n: int = 12,
    *,
    step: str = "5min",
    start: str = "2025-03-30 00:00",
    tz: str | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """A small valid single-patient record with varied glucose, carbs and insulin."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq=step, tz=tz, name="time")
    return pd.DataFrame(
        {
            "glucose": rng.uniform(60.0, 300.0, n),
            "carbs": np.where(rng.random(n) < 0.2, rng.uniform(5, 80, n), 0.0),
            "insulin": rng.uniform(0.0, 2.0, n),
        },
        index=index,
    )


@st.composite
def patient_blocks(draw, min_rows: int = 1, max_rows: int = 30):
    """A list of per-patient frames on one shared step, with optional covariates.

    Sizes, grid, time zone and columns are drawn by hypothesis; the values come
    from a drawn seed (fast to generate, still reproducible when shrunk).
    """
    n_patients = draw(st.integers(1, 3))
    step_min = draw(st.sampled_from(STEPS_MIN))
    tz = draw(st.sampled_from(TIMEZONES))
    with_split = draw(st.booleans())
    with_hr = draw(st.booleans())
    nan_share = draw(st.sampled_from([0.0, 0.3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    blocks = []
    for _ in range(n_patients):
        n = draw(st.integers(min_rows, max_rows))
        start_min = draw(st.integers(0, 60 * 24 * 3650)) // step_min * step_min
        start = pd.Timestamp("2020-01-01") + pd.Timedelta(minutes=start_min)
        index = pd.date_range(start, periods=n, freq=f"{step_min}min", name="time")
        if tz is not None:
            index = index.tz_localize("UTC").tz_convert(tz)
        glucose = rng.uniform(40.0, 400.0, n)
        glucose[rng.random(n) < nan_share] = np.nan
        glucose[rng.integers(n)] = rng.uniform(40.0, 400.0)  # at least one reading
        frame = pd.DataFrame(
            {"glucose": glucose, "carbs": np.where(rng.random(n) < 0.3, rng.uniform(0, 90, n), 0)},
            index=index,
        )
        if with_split:
            frame["bolus"] = np.where(rng.random(n) < 0.2, rng.uniform(0, 10, n), 0.0)
            frame["basal"] = rng.uniform(0.0, 0.2, n)
            frame["insulin"] = frame["bolus"] + frame["basal"]
        else:
            frame["insulin"] = rng.uniform(0.0, 5.0, n)
        if with_hr:
            frame["heart_rate"] = rng.integers(40, 180, n)
        blocks.append(frame)
    return blocks


def join_blocks(blocks: list[pd.DataFrame]) -> pd.DataFrame:
    """One record from per-patient frames: the frame itself for one, long format for more."""
    if len(blocks) == 1:
        return blocks[0]
    return pd.concat(
        [b.assign(patient_id=f"p{i}") for i, b in enumerate(blocks)]
    )


@st.composite
def valid_records(draw, min_rows: int = 1, max_rows: int = 30):
    """A valid record: one patient, or a long-format cohort with a patient_id column."""
    return join_blocks(draw(patient_blocks(min_rows=min_rows, max_rows=max_rows)))
