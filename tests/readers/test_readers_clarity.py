"""Dexcom Clarity CSV exports: G6/G7 layouts, units, Low/High, events, DST, duplicates, bad input.

Fixtures are written by tests/data/readers/make_fixtures.py from ground-truth
records; ``truth.json`` holds what the reader must find (computed from that
ground truth, not by a reader).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.data import read, read_dexcom_clarity
from dt1d.data.readers import detect_format
from dt1d.data.readers.clarity import HIGH_MGDL, LOW_MGDL
from dt1d.data.schema import MGDL_PER_MMOLL
from dt1d.exceptions import ReaderError

DATA = Path(__file__).resolve().parents[1] / "data" / "readers"
TRUTH = json.loads((DATA / "truth.json").read_text(encoding="utf-8"))["clarity"]
DAY_FILES = [
    "clarity_g6_mgdl.csv",
    "clarity_g7_mmol.csv",
    "clarity_g6_legacy.csv",
    "clarity_duplicates.csv",
]
HEADER = (
    "Index,Timestamp (YYYY-MM-DDThh:mm:ss),Event Type,Event Subtype,Patient Info,Device Info,"
    "Source Device ID,Glucose Value (mg/dL),Insulin Value (u),Carb Value (grams),Duration (hh:mm:ss),"
    "Glucose Rate of Change (mg/dL/min),Transmitter Time (Long Integer),Transmitter ID\n"
)
META = "1,,FirstName,,Jane,,,,,,,,,\n2,,Device,,,G6 Mobile App,Android G6,,,,,,,\n3,,Alert,High,,,Android G6,250,,,,,,\n"


def _clarity(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + META + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _egv(i: int, time: str, value: str) -> str:
    return f"{i},{time},EGV,,,,Android G6,{value},,,,,{1000 + i},8XXXXX"


@pytest.mark.parametrize("name", DAY_FILES)
def test_day_exports_match_the_ground_truth(name):
    truth = TRUTH[name]
    record = read_dexcom_clarity(DATA / name)
    assert len(record) == 288 and record.index[0] == pd.Timestamp("2024-05-14 00:00")
    assert record["glucose"].count() == truth["readings"]
    assert record["glucose"].mean() == pytest.approx(truth["glucose_mean"], rel=1e-12)
    assert record["glucose"].iloc[0] == pytest.approx(truth["glucose_first"], rel=1e-12)
    assert record["carbs"].sum() == pytest.approx(truth["carbs"])
    assert record["insulin"].sum() == pytest.approx(truth["insulin"])
    assert record["long_acting_insulin"].sum() == pytest.approx(truth["long_acting_insulin"])
    assert record["exercise"].sum() == pytest.approx(truth["exercise_minutes"])
    assert record["calibration_glucose"].count() == truth["calibrations"]
    assert record["health_events"].sum() == truth["health_events"]
    assert (record["glucose_flag"] == -1).sum() == truth["low"]
    assert (record["glucose_flag"] == 1).sum() == truth["high"]


def test_units_come_from_the_header():
    mgdl = read_dexcom_clarity(DATA / "clarity_g6_mgdl.csv")
    mmol = read_dexcom_clarity(DATA / "clarity_g7_mmol.csv")
    assert mgdl.attrs["units_in_file"] == "mg/dL" and mmol.attrs["units_in_file"] == "mmol/L"
    # 150 mg/dL is written 8.3 mmol/L and read back as 8.3 x 18.0156
    assert mgdl["glucose"].iloc[0] == 150.0
    assert mmol["glucose"].iloc[0] == pytest.approx(8.3 * MGDL_PER_MMOLL, rel=1e-12)
    np.testing.assert_allclose(mmol["glucose"], mgdl["glucose"], atol=0.05 * MGDL_PER_MMOLL + 1e-9)
    assert mmol["calibration_glucose"].dropna().iloc[0] == pytest.approx(6.8 * MGDL_PER_MMOLL)


def test_low_and_high_are_the_reporting_limits_with_a_flag():
    record = read_dexcom_clarity(DATA / "clarity_g6_mgdl.csv")
    low = record["glucose_flag"] == -1
    high = record["glucose_flag"] == 1
    assert list(np.flatnonzero(low)) == [40, 41, 42, 43]
    assert list(np.flatnonzero(high)) == [150, 151, 152]
    assert (record.loc[low, "glucose"] == LOW_MGDL).all() and (
        record.loc[high, "glucose"] == HIGH_MGDL
    ).all()
    assert (record.loc[~(low | high), "glucose_flag"] == 0).all()


def test_events_land_in_their_steps():
    record = read_dexcom_clarity(DATA / "clarity_g6_mgdl.csv")
    at = record.loc
    assert at["2024-05-14 01:00", "insulin"] == 4.5 and at["2024-05-14 01:00", "carbs"] == 45
    assert at["2024-05-14 02:00", "long_acting_insulin"] == 18
    assert at["2024-05-14 02:00", "insulin"] == 0, "long-acting insulin is never added into insulin"
    exercise = record["exercise"]
    assert list(exercise[exercise > 0].index.strftime("%H:%M")) == [
        "09:10",
        "09:15",
        "09:20",
        "09:25",
        "09:30",
        "09:35",
    ]
    assert (exercise[exercise > 0] == 5).all()
    assert (record.loc[exercise > 0, "exercise_intensity"] == 2).all()
    assert record["exercise_intensity"].sum() == 12
    assert at["2024-05-14 10:00", "calibration_glucose"] == 123
    assert at["2024-05-14 11:00", "health_events"] == 1


def test_metadata_rows_are_not_readings(tmp_path):
    path = _clarity(
        tmp_path, _egv(4, "2024-05-14T00:00:00", "100"), "5,,Alert,Low,,,Android G6,77,,,,,,"
    )
    record = read_dexcom_clarity(path)
    assert record["glucose"].tolist() == [100.0], "alert thresholds (250, 77) are not readings"


def test_dst_fall_back_keeps_both_passes_of_the_repeated_hour():
    truth = TRUTH["clarity_dst_fall.csv"]
    record = read_dexcom_clarity(DATA / "clarity_dst_fall.csv", tz=truth["tz"])
    assert len(record) == truth["readings"] == 60  # 5 hours of real time, 4 on the wall clock
    assert record["glucose"].notna().all() and record.index.is_unique
    utc = record.index.tz_convert("UTC")
    assert (np.diff(utc.asi8) == 300 * 10**9).all()
    assert utc[0] == pd.Timestamp(truth["first_reading_utc"], tz="UTC").floor("5min")
    assert record["glucose"].mean() == pytest.approx(truth["glucose_mean"])


def test_dst_spring_forward_has_no_missing_hour():
    truth = TRUTH["clarity_dst_spring.csv"]
    record = read_dexcom_clarity(DATA / "clarity_dst_spring.csv", tz=truth["tz"])
    assert len(record) == 48 and record["glucose"].notna().all()
    assert str(record.index[-1]) == "2024-03-31 04:55:00+02:00"


def test_dst_without_tz_warns_about_the_repeated_hour(caplog):
    with caplog.at_level(logging.WARNING):
        record = read_dexcom_clarity(DATA / "clarity_dst_fall.csv")
    assert "goes back by 55 min" in caplog.text and "tz=" in caplog.text
    assert record.index.tz is None


def test_a_time_the_clock_skipped_is_refused_naming_the_row(tmp_path):
    path = _clarity(
        tmp_path, _egv(4, "2024-03-31T01:58:00", "100"), _egv(5, "2024-03-31T02:03:00", "101")
    )
    with pytest.raises(ReaderError, match=r"row 5 \(line 6\).*02:03:00 does not exist"):
        read_dexcom_clarity(path, tz="Europe/Berlin")


def test_a_repeated_hour_time_that_order_cannot_place_is_refused(tmp_path):
    path = _clarity(tmp_path, _egv(4, "2024-10-27T02:30:00", "100"))
    with pytest.raises(ReaderError, match=r"row 4 \(line 5\).*repeated"):
        read_dexcom_clarity(path, tz="Europe/Berlin")
    assert len(read_dexcom_clarity(path)) == 1  # naive: taken as written


def test_exact_duplicates_are_read_once_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        record = read_dexcom_clarity(DATA / "clarity_duplicates.csv")
    assert "3 exact duplicate rows" in caplog.text
    plain = read_dexcom_clarity(DATA / "clarity_g6_mgdl.csv")
    pd.testing.assert_frame_equal(record, plain)


def test_tz_gives_an_aware_index():
    record = read_dexcom_clarity(DATA / "clarity_g6_mgdl.csv", tz="America/New_York")
    assert str(record.index.tz) == "America/New_York" and record.index[0].hour == 0


@pytest.mark.parametrize(
    "name,pattern",
    [
        ("clarity_bad_truncated.csv", r"line 96: has 3 fields, the header has 14.*truncated"),
        ("clarity_bad_year.csv", r"row 100 \(line 101\): field 'Timestamp.*2204"),
        ("clarity_bad_unit.csv", r"line 1: field 'Glucose Value \(mg\)'.*unit.*unknown"),
    ],
)
def test_bad_fixtures_name_file_row_and_column(name, pattern):
    with pytest.raises(ReaderError, match=pattern) as info:
        read_dexcom_clarity(DATA / name)
    assert str(info.value).startswith(str(DATA / name))


@pytest.mark.parametrize(
    "row,pattern",
    [
        (
            _egv(4, "2024-05-14T00:00:00", "abc"),
            r"row 4 \(line 6\): field 'Glucose Value \(mg/dL\)'.*'abc'",
        ),
        (_egv(4, "2024-05-14T00:00:00", ""), r"row 4 \(line 6\): field 'Glucose Value.*missing"),
        (_egv(4, "2024-05-14T00:00:00", "-5"), r"row 4 .*negative"),
        (
            _egv(4, "14/05/2024 00:00", "100"),
            r"row 4 \(line 6\): field 'Timestamp.*'14/05/2024 00:00'",
        ),
        (_egv(4, "9999-05-14T00:00:00", "100"), r"row 4 .*outside"),
        (_egv(4, "", "100"), r"row 4 \(line 6\).*'EGV' row has no time"),
        (
            "4,2024-05-14T00:00:00,Insulin,Rapid,,,Android G6,,3,,,,,",
            r"row 4 .*'Event Subtype'.*Rapid",
        ),
        (
            "4,2024-05-14T00:00:00,Insulin,Fast-Acting,,,Android G6,,,,,,,",
            r"row 4 .*'Insulin Value \(u\)'.*missing",
        ),
        (
            "4,2024-05-14T00:00:00,Carbs,,,,Android G6,,,many,,,,",
            r"row 4 .*'Carb Value \(grams\)'.*'many'",
        ),
        ("4,2024-05-14T00:00:00,Exercise,Light,,,Android G6,,,,1h,,,", r"row 4 .*'Duration.*'1h'"),
        ("4,2024-05-14T00:00:00,,,,,Android G6,,,,,,,", r"row 4 .*'Event Type'.*missing"),
        (_egv(4, "2024-05-14T00:00:00", "5000"), r"glucose"),
    ],
)
def test_bad_cells_name_row_and_column(tmp_path, row, pattern):
    path = _clarity(tmp_path, _egv(9, "2024-05-14T00:05:00", "100"), row)
    with pytest.raises(ReaderError, match=pattern):
        read_dexcom_clarity(path)


def test_mixed_units_and_changed_layouts_are_refused(tmp_path):
    mixed = HEADER.replace("Transmitter ID", "Glucose Value (mmol/L)")
    with pytest.raises(ReaderError, match=r"mg/dL and mmol/L mixed"):
        read_dexcom_clarity(_clarity(tmp_path, _egv(4, "2024-05-14T00:00:00", "100"), header=mixed))
    renamed = HEADER.replace("Event Type", "Kind")
    with pytest.raises(
        ReaderError, match=r"line 1: field 'Event Type'.*not a Dexcom Clarity export"
    ):
        read_dexcom_clarity(
            _clarity(tmp_path, _egv(4, "2024-05-14T00:00:00", "100"), header=renamed)
        )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ReaderError, match="empty"):
        read_dexcom_clarity(empty)
    with pytest.raises(ReaderError, match=r"has no EGV"):
        read_dexcom_clarity(
            _clarity(tmp_path, "4,2024-05-14T00:00:00,Carbs,,,,Android G6,,,10,,,,")
        )


def test_a_mmol_file_labelled_mg_dl_is_caught(tmp_path):
    rows = [_egv(4 + k, f"2024-05-14T00:{5 * k:02d}:00", "6.5") for k in range(6)]
    with pytest.raises(ReaderError, match="glucose"):
        read_dexcom_clarity(_clarity(tmp_path, *rows))


def test_another_vendors_file_is_named(tmp_path):
    other = tmp_path / "day.csv"
    other.write_text("t,glucose,cho,bolus,basal\n11-May-2027 12:00:00,120,0.0,0.0,0.02\n")
    with pytest.raises(ReaderError, match=r"not a Dexcom Clarity export.*looks like a ReplayBG"):
        read_dexcom_clarity(other)


def test_bad_options_are_reader_errors(tmp_path):
    path = DATA / "clarity_g6_mgdl.csv"
    with pytest.raises(ReaderError, match="Mars/Olympus"):
        read_dexcom_clarity(path, tz="Mars/Olympus")
    with pytest.raises(ReaderError, match="step"):
        read_dexcom_clarity(path, step="soon")
    assert len(read_dexcom_clarity(path, step="15min")) == 96


def test_unknown_event_types_are_kept_as_a_count(tmp_path, caplog):
    path = _clarity(
        tmp_path,
        _egv(4, "2024-05-14T00:00:00", "100"),
        "5,2024-05-14T00:06:00,Notes,,,,Android G6,,,,,,,",
    )
    with caplog.at_level(logging.WARNING):
        record = read_dexcom_clarity(path)
    assert record["other_events"].tolist() == [0.0, 1.0] and "Notes" in caplog.text


def test_a_byte_order_mark_and_space_separated_times_are_read(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text(
        "\ufeff" + HEADER + META + _egv(4, "2024-05-14 0:01:47", "100") + "\n", encoding="utf-8"
    )
    assert detect_format(path) == "dexcom_clarity"
    assert read(path)["glucose"].tolist() == [100.0]


@pytest.mark.parametrize("name", [*DAY_FILES, "clarity_dst_fall.csv"])
def test_read_detects_clarity_from_content(name, tmp_path):
    copy = tmp_path / "export.txt"  # not the extension: the content
    copy.write_bytes((DATA / name).read_bytes())
    assert detect_format(copy) == "dexcom_clarity"
    pd.testing.assert_frame_equal(read(copy), read_dexcom_clarity(copy))


def test_fixtures_are_what_the_script_writes(tmp_path):
    """The committed fixtures are reproducible from their ground truth."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.HERE = tmp_path
    module.main()
    for written in sorted(tmp_path.glob("*.csv")) + [tmp_path / "truth.json"]:
        assert written.read_bytes() == (DATA / written.name).read_bytes(), written.name


def _fit(data: Path, twin: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("dt1d")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [
            str(script),
            "fit",
            "--model",
            "linear",
            "--data",
            str(data),
            "--horizon",
            "30",
            "--param",
            "lags=3",
            "-o",
            str(twin),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_fit_takes_a_clarity_export(tmp_path):
    pump = tmp_path / "pump_user.csv"  # the day without its long-acting injection
    lines = (DATA / "clarity_g6_mgdl.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    pump.write_text("".join(line for line in lines if "Long-Acting" not in line), encoding="utf-8")
    out = _fit(pump, tmp_path / "twin.dt1d")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "twin.dt1d").exists()
    # with injections, a model that cannot use long-acting insulin says so, naming the column
    out = _fit(DATA / "clarity_g6_mgdl.csv", tmp_path / "mdi.dt1d")
    assert out.returncode != 0 and "long_acting_insulin" in out.stderr
    assert "Traceback" not in out.stderr


def test_overlapping_exercise_sessions_add_exactly(tmp_path):
    path = _clarity(
        tmp_path,
        _egv(4, "2024-05-14T10:00:00", "100"),
        "5,2024-05-14T10:02:30,Exercise,Light,,,Android G6,,,,00:10:00,,,",
        "6,2024-05-14T10:07:30,Exercise,Heavy,,,Android G6,,,,00:05:00,,,",
        _egv(7, "2024-05-14T10:20:00", "110"),
    )
    record = read_dexcom_clarity(path)
    # light 10:02:30-10:12:30 and heavy 10:07:30-10:12:30
    assert record["exercise"].tolist() == [2.5, 7.5, 5.0, 0.0, 0.0]
    assert record["exercise_intensity"].tolist() == [1.0, 3.0, 3.0, 0.0, 0.0]
    assert record["exercise"].sum() == 15.0
