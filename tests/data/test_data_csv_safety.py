"""CSV injection: cells a spreadsheet would run are neutralised in every CSV dt1d writes."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from dt1d.cli import main
from dt1d.data.csv_safety import FORMULA_TRIGGERS, neutralise_cell, neutralise_formulas

HOSTILE = [
    '=HYPERLINK("http://x.example","click")', "@SUM(1+1)", "+1+1", "-1+1", "=cmd|' /C calc'!A0",
    "\t=1+1", "\r=1+1", "  =1+1", "\n@A1", "\uff1d1+1", "\uff0b1", "\uff20SUM(A1)", "\uff0d2",
    "\u00a0=1", "=", "@", "+", "-",
]
HARMLESS = ["ana", "patient 7", "a=b", "1+1", "", "x@y.org", "'=already quoted"]


@pytest.mark.parametrize("cell", HOSTILE)
def test_hostile_cells_get_a_leading_quote(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", HARMLESS)
def test_harmless_cells_are_unchanged(cell):
    assert neutralise_cell(cell) == cell


@pytest.mark.parametrize("value", [-3.5, -1, 0, np.nan, None, 2.0])
def test_numbers_stay_numbers(value):
    assert neutralise_cell(value) is value


def test_every_trigger_is_covered():
    for ch in FORMULA_TRIGGERS:
        assert neutralise_cell(ch + "1").startswith("'")


def test_frame_cells_columns_and_index_are_neutralised_without_changing_the_input():
    frame = pd.DataFrame(
        {"patient_id": np.array(HOSTILE + HARMLESS, dtype=object),
         "=bad column": np.arange(len(HOSTILE) + len(HARMLESS), dtype=float) - 5,
         "label": pd.Categorical(["@x"] * (len(HOSTILE) + len(HARMLESS))),
         "text": pd.array(["+1"] * (len(HOSTILE) + len(HARMLESS)), dtype="string")},
        index=pd.Index(["-i"] * (len(HOSTILE) + len(HARMLESS)), name="=idx"),
    )
    before = frame.copy(deep=True)
    out = neutralise_formulas(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(out["patient_id"]) == ["'" + c for c in HOSTILE] + HARMLESS
    assert list(out.columns) == ["patient_id", "'=bad column", "label", "text"]
    assert (out["'=bad column"].to_numpy() == before["=bad column"].to_numpy()).all()
    assert set(out["label"]) == {"'@x"} and set(out["text"]) == {"'+1"}
    assert set(out.index) == {"'-i"} and out.index.name == "'=idx"


def _cells(path):
    with open(path, newline="") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_dt1d_predict_writes_no_runnable_cell(tmp_path):
    rng = np.random.default_rng(0)
    ids = HOSTILE[:6]
    frames = []
    for k, pid in enumerate(ids):
        time = pd.date_range("2025-01-01", periods=60, freq="5min", name="time")
        frames.append(pd.DataFrame(
            {"glucose": 120 + 20 * np.sin(np.arange(60) / 6 + k) + rng.normal(0, 2, 60),
             "carbs": 0.0, "insulin": 0.05, "patient_id": pid}, index=time))
    record = tmp_path / "cohort.csv"
    pd.concat(frames).to_csv(record)
    twin, forecast = tmp_path / "twin.dt1d", tmp_path / "forecast.csv"
    assert main(["fit", "--model", "persistence", "--data", str(record), "-o", str(twin)]) == 0
    assert main(["predict", "--twin", str(twin), "--data", str(record), "-o", str(forecast)]) == 0
    cells = _cells(forecast)
    text = [c for c in cells if c and c[0] in FORMULA_TRIGGERS]
    # only numbers may start with '-' or '+'
    for cell in text:
        float(cell)
    assert {"'" + pid for pid in ids} <= set(cells)
