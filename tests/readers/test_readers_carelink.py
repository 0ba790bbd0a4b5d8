"""Medtronic CareLink CSV reader: fixtures against their ground truth, hand-computed basal and
boluses, mmol/L and ';' exports, DST nights, detection by ``read()``, ``dt1d fit``, bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dt1d import cli
from dt1d.data import readers
from dt1d.data.readers import ReaderError, read_carelink

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "readers"
EXPECTED = json.loads((FIXTURES / "expected_carelink_tidepool.json").read_text())
MGDL = FIXTURES / "carelink_mgdl.csv"
MMOL = FIXTURES / "carelink_mmol_780g.csv"
DST = FIXTURES / "carelink_dst.csv"


def _step(record: pd.DataFrame, hhmm: str) -> pd.Series:
    return record.loc[pd.Timestamp(f"{record.index[0].date()} {hhmm}")]


# -- the fixtures against their ground truth --------------------------------------------------------
@pytest.mark.parametrize("name", ["carelink_mgdl.csv", "carelink_mmol_780g.csv"])
def test_fixture_matches_its_ground_truth_step_by_step(name):
    truth = EXPECTED[name]
    record = read_carelink(FIXTURES / name)
    n = len(truth["glucose"])
    assert record.index.tolist() == list(pd.date_range(truth["start"], periods=n, freq="5min"))
    for column in ("glucose", "basal", "bolus", "carbs"):
        np.testing.assert_allclose(record[column], truth[column], rtol=0, atol=1e-8, err_msg=column)
    np.testing.assert_allclose(record["insulin"], record["bolus"] + record["basal"], atol=1e-12)


def test_basal_and_boluses_by_hand():
    record = read_carelink(MGDL)
    # 0.8 U/h scheduled = 0.8/12 U per step; a 50 % temp basal 01:00-01:30
    assert _step(record, "00:00")["basal"] == pytest.approx(0.8 / 12)
    assert _step(record, "01:05")["basal"] == pytest.approx(0.4 / 12)
    assert _step(record, "01:30")["basal"] == pytest.approx(0.8 / 12)
    # suspended 02:00-02:20; the 0 U/h logged while suspended does not outlast it
    assert _step(record, "02:10")["basal"] == 0.0
    assert _step(record, "02:20")["basal"] == pytest.approx(0.8 / 12)
    # 2 U/h temp from 04:00, replaced at 04:30 by 0 U/h for 15 min, then the 1.2 U/h schedule
    assert _step(record, "04:25")["basal"] == pytest.approx(2.0 / 12)
    assert _step(record, "04:40")["basal"] == 0.0
    assert _step(record, "04:45")["basal"] == pytest.approx(1.2 / 12)
    # rate x duration, piece by piece: 0.8 + 0.2 + 0.4 + 0 + 0.8*40/60 + 1.2 + 1.0 + 0 + 0.3 + 1.2
    assert record["basal"].sum() == pytest.approx(
        0.8 + 0.2 + 0.4 + 0.8 * 40 / 60 + 1.2 + 1.0 + 0.3 + 1.2
    )
    # the 3.5 U bolus is listed as programmed and as delivered: counted once, with its 45 g
    assert _step(record, "00:30")["bolus"] == pytest.approx(3.5)
    assert _step(record, "00:30")["carbs"] == 45.0 and record["carbs"].sum() == 45.0
    # dual wave at 02:40: 1 U now, 2 U over an hour (1/6 U per step)
    assert _step(record, "02:40")["bolus"] == pytest.approx(1.0 + 2.0 / 12)
    assert _step(record, "03:35")["bolus"] == pytest.approx(2.0 / 12)
    assert _step(record, "03:40")["bolus"] == 0.0
    # square wave of 3 U over 2 h stopped at 1.5 U: delivered at its rate over the first hour
    assert _step(record, "05:00")["bolus"] == pytest.approx(1.5 / 12)
    assert _step(record, "05:55")["bolus"] == pytest.approx(1.5 / 12)
    # the 0.5 U bolus at 04:10 sits in the pump and the sensor section: counted once
    assert _step(record, "04:10")["bolus"] == pytest.approx(0.5)
    assert record["bolus"].sum() == pytest.approx(3.5 + 1.0 + 2.0 + 0.5 + 1.5)


def test_unmapped_columns_are_kept():
    record = read_carelink(MGDL)
    assert _step(record, "03:10")["bg_reading"] == 112.0 and record["bg_reading"].count() == 1
    assert _step(record, "00:00")["isig"] == pytest.approx(20.0)
    assert _step(record, "03:30")["carelink_alert"] == "Low SG Alarm"
    assert _step(record, "00:30")["carelink_bwz_estimate_u"] == pytest.approx(3.5)
    assert record.attrs["device"] == "MiniMed 670G MMT-1780"


def test_mmol_semicolon_export_with_aggregated_auto_insulin(caplog):
    with caplog.at_level(logging.WARNING):
        record = read_carelink(MMOL)
    assert "auto_insulin_daily" in caplog.text
    # mmol/L with decimal commas, converted with 18.0156
    assert record["glucose"].iloc[0] == pytest.approx(5.5 * 18.0156)
    assert record["carbs"].sum() == 40.0 and record["bolus"].sum() == pytest.approx(2.5)
    # the day's SmartGuard total cannot be placed in time: kept, never added into insulin
    assert record["auto_insulin_daily"].iloc[0] == pytest.approx(27.895)
    assert record["auto_insulin_daily"].sum() == pytest.approx(27.895)
    assert record["insulin"].sum() == pytest.approx(2.5 + 0.9 * 3)


def test_basal_rate_vs_delivered_units_per_step_with_another_step():
    record = read_carelink(MGDL, step="15min")
    assert len(record) == 24
    assert record["basal"].iloc[0] == pytest.approx(0.8 / 4)  # U per 15-min step, not U/h
    assert record["basal"].sum() == pytest.approx(read_carelink(MGDL)["basal"].sum())


# -- DST -------------------------------------------------------------------------------------------
def test_fall_back_night_in_a_time_zone_has_every_step_once():
    truth = EXPECTED["carelink_dst.csv"]
    record = read_carelink(DST, tz=truth["tz"])
    assert str(record.index.tz) == truth["tz"]
    utc = record.index.tz_convert("UTC")
    assert utc[0] == pd.Timestamp(truth["start_utc"]) and utc.is_unique
    assert (np.diff(utc.asi8) == 300 * 10**9).all() and len(record) == 48
    np.testing.assert_array_equal(record["glucose"], truth["glucose"])
    np.testing.assert_allclose(record["basal"], truth["basal_per_step"])  # 25 h night: 4 h of basal
    assert record["basal"].sum() == pytest.approx(1.2 * 4)


def test_fall_back_night_without_time_zone_merges_the_repeated_hour():
    record = read_carelink(DST)
    assert len(record) == 36 and record.index.tz is None
    # naive 01:00 holds the 01:00 EDT (102) and 01:00 EST (114) readings
    assert _step(record, "01:00")["glucose"] == pytest.approx((102 + 114) / 2)


def _one_section(rows: list[tuple[str, str, str]], header: str = "Sensor Glucose (mg/dL)") -> str:
    lines = ["-------,MiniMed 770G MMT-1885,Sensor,NG1,-------", f"Index,Date,Time,{header}"]
    lines += [f"{i},{d},{t},{v}" for i, (d, t, v) in enumerate(rows)]
    return "\n".join(lines) + "\n"


def test_spring_forward_time_that_does_not_exist_is_refused(tmp_path):
    path = tmp_path / "spring.csv"
    path.write_text(
        _one_section([("2024/03/10", "03:05:00", "110"), ("2024/03/10", "02:30:00", "108")])
    )
    with pytest.raises(ReaderError) as info:
        read_carelink(path, tz="America/New_York")
    assert "line 4" in str(info.value) and "does not exist" in str(info.value)
    assert len(read_carelink(path)) == 8  # without tz the pump clock is read as it is


def test_lone_reading_in_the_repeated_hour_is_read_as_summer_time_with_a_warning(tmp_path, caplog):
    path = tmp_path / "lone.csv"
    path.write_text(
        _one_section([("2024/11/03", "01:30:00", "120"), ("2024/11/03", "00:50:00", "110")])
    )
    with caplog.at_level(logging.WARNING):
        record = read_carelink(path, tz="America/New_York")
    assert "line 3" in caplog.text and "repeated" in caplog.text
    assert record.index[-1] == pd.Timestamp("2024-11-03 05:30", tz="UTC")  # 01:30 EDT


# -- read() and the CLI ----------------------------------------------------------------------------
def test_read_detects_carelink_from_content(tmp_path):
    assert readers.detect_format(MGDL) == "carelink" and readers.detect_format(MMOL) == "carelink"
    odd = tmp_path / "export.txt"
    odd.write_bytes(MMOL.read_bytes())
    assert readers.detect_format(odd) == "carelink"
    pd.testing.assert_frame_equal(readers.read(odd), read_carelink(MMOL))
    assert "carelink" in readers.list_readers()
    assert len(readers.read(MGDL, step="10min")) == 36


def test_dt1d_fit_takes_a_carelink_export(tmp_path):
    out = tmp_path / "twin.dt1d"
    assert (
        cli.main(["--quiet", "fit", "--model", "linear", "--data", str(MGDL), "-o", str(out)]) == 0
    )
    assert out.stat().st_size > 0


# -- bad input -------------------------------------------------------------------------------------
def _edit(tmp_path: Path, source: Path, old: str, new: str, count: int = 1) -> Path:
    text = source.read_text()
    assert old in text, old
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, count))
    return path


def _error(path: Path, **options) -> str:
    with pytest.raises(ReaderError) as info:
        read_carelink(path, **options)
    message = str(info.value)
    assert message.startswith(str(path))
    return message


def test_truncated_file(tmp_path):
    text = MGDL.read_text().rstrip("\n")
    path = tmp_path / "cut.csv"
    path.write_text(text[: text.rindex("\n") + 25])
    message = _error(path)
    assert "middle of a row" in message and "line" in message


def test_changed_layout_unknown_units_and_mixed_units(tmp_path):
    message = _error(_edit(tmp_path, MGDL, "Sensor Glucose (mg/dL)", "Sensor Glucose (mg)", 2))
    assert "'Sensor Glucose (mg)'" in message and "unit" in message
    gone = _edit(tmp_path, MGDL, "Index,Date,Time", "Row,Day,Clock", 2)
    assert "section header" in _error(gone)
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(
        _one_section([("2024/03/01", "00:05:00", "110")])
        + _one_section([("2024/03/01", "00:00:00", "6.2")], header="Sensor Glucose (mmol/L)")
    )
    message = _error(mixed)
    assert "Sensor Glucose (mg/dL)" in message and "Sensor Glucose (mmol/L)" in message
    big = _edit(tmp_path, MMOL, ";5,5;", ";99,1;")
    message = _error(big)
    assert "mg/dL in a mmol/L column" in message and "line" in message


def test_dates_in_an_unexpected_locale_and_ambiguous_order(tmp_path):
    message = _error(_edit(tmp_path, MGDL, ",2024/03/01,05:55:00,", ",01-Mär-2024,05:55:00,"))
    assert "field 'Date'" in message and "01-Mär-2024" in message
    path = tmp_path / "slash.csv"
    path.write_text(
        _one_section([("03/01/2024", "00:05:00", "110"), ("03/01/2024", "00:00:00", "108")])
    )
    assert "dayfirst" in _error(path)
    assert read_carelink(path, dayfirst=True).index[0] == pd.Timestamp("2024-01-03")
    assert read_carelink(path, dayfirst=False).index[0] == pd.Timestamp("2024-03-01")
    path.write_text(
        _one_section([("13/03/2024", "00:05:00", "110"), ("13/03/2024", "00:00:00", "108")])
    )
    assert read_carelink(path).index[0] == pd.Timestamp("2024-03-13")


def test_typo_year_is_refused_naming_its_line(tmp_path):
    text = MGDL.read_text().splitlines()
    k = next(i for i, line in enumerate(text) if ",USER_SUSPEND," in line)
    text[k] = text[k].replace("2024/03/01", "2204/03/01")
    path = tmp_path / "typo.csv"
    path.write_text("\n".join(text) + "\n")
    message = _error(path)
    assert f"line {k + 1}" in message and "2204" in message


def test_unknown_values_name_line_and_column(tmp_path):
    cases = [
        (",Normal,0.5,0.5,", ",Turbo,0.5,0.5,", "Bolus Type"),
        (",USER_SUSPEND,", ",NAP_TIME,", "Suspend"),
        (",Insulin Rate,1:00:00,", ",Insulin Speed,1:00:00,", "Temp Basal Type"),
        (",3.0,1.5,2:00:00,", ",3.0,1.5,,", "Bolus Duration (h:mm:ss)"),
        (",3.0,1.5,2:00:00,", ",3.0,1.5,2 hours,", "Bolus Duration (h:mm:ss)"),
        (",3.0,1.5,2:00:00,", ",3.0,abc,2:00:00,", "Bolus Volume Delivered (U)"),
        (",3.0,1.5,2:00:00,", ",3.0,-1.5,2:00:00,", "Bolus Volume Delivered (U)"),
    ]
    for old, new, column in cases:
        message = _error(_edit(tmp_path, MGDL, old, new))
        assert f"field {column!r}" in message and "line " in message, message


def test_extra_fields_exchanges_empty_binary_and_other_formats(tmp_path):
    message = _error(
        _edit(
            tmp_path,
            MGDL,
            ",Low SG Alarm,",
            ",Low SG Alarm,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,",
        )
    )
    assert "fields where its section header has" in message
    ex = _edit(tmp_path, MGDL, "BWZ Carb Input (grams)", "BWZ Carb Input (exchanges)", 2)
    ex.write_text(ex.read_text().replace(",13,,45,", ",13,,4,"))
    assert "grams_per_exchange" in _error(ex)
    assert read_carelink(ex, grams_per_exchange=12)["carbs"].sum() == 4 * 12
    (tmp_path / "empty.csv").write_text("")
    _error(tmp_path / "empty.csv")
    (tmp_path / "blob.csv").write_bytes(b"\x00\x01PK\x03" * 100)
    _error(tmp_path / "blob.csv")
    ns = tmp_path / "entries.json"
    ns.write_text(json.dumps([{"type": "sgv", "sgv": 120, "date": 1705359600000}]))
    assert "looks like a Nightscout JSON file" in _error(ns)
    headers_only = tmp_path / "headers.csv"
    headers_only.write_text(
        "-------,MiniMed,Pump,NG1,-------\nIndex,Date,Time,Sensor Glucose (mg/dL)\n"
    )
    assert "no rows" in _error(headers_only)
    with pytest.raises(ReaderError, match="time zone"):
        read_carelink(MGDL, tz="Mars/Olympus")


@settings(max_examples=60)
@given(st.data())
def test_damaged_files_give_a_record_or_a_reader_error(tmp_path_factory, data):
    raw = bytearray(MGDL.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        kind = data.draw(st.sampled_from(["delete", "replace", "cut"]))
        if kind == "cut":
            raw = raw[:at]
        elif kind == "delete":
            del raw[at : at + data.draw(st.integers(1, 40))]
        elif raw:
            raw[at % len(raw)] = data.draw(st.sampled_from(list(b',;\n"9:/-x\x00')))
        if not raw:
            break
    path = tmp_path_factory.mktemp("fuzz") / "damaged.csv"
    path.write_bytes(bytes(raw))
    try:
        record = read_carelink(path)
    except ReaderError:
        return
    assert isinstance(record, pd.DataFrame) and len(record) > 0


def test_pump_clock_changes_are_kept_not_applied(tmp_path):
    path = _edit(tmp_path, MGDL, ",2024/03/01,03:30:00,,", ",2024/03/01,03:30:00,2024/03/01 04:30:00,")
    record = read_carelink(path)
    assert _step(record, "03:30")["carelink_new_device_time"] == "2024/03/01 04:30:00"
    pd.testing.assert_index_equal(record.index, read_carelink(MGDL).index)
