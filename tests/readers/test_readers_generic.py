"""Generic CSV/Parquet reader: mapping, units, rates, time zones, duplicates, errors."""

import numpy as np
import pandas as pd
import pytest

from dt1d.data.readers import ReaderError, read_csv, read_frame, read_parquet

MAPPING = {
    "time": "Timestamp",
    "glucose": "CGM",
    "carbs": "Carbs",
    "bolus": "Bolus",
    "basal": "Basal",
}


def _csv(tmp_path, text, name="log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_event_log_with_mapping_units_and_rates(tmp_path):
    # unsorted rows, one reading per row, events on their own rows, basal as U/h changes
    path = _csv(
        tmp_path,
        "Timestamp,CGM,Carbs,Bolus,Basal\n"
        "2024-01-01 00:07:30,,,,0.6\n"
        "2024-01-01 00:00:00,6.0,,,1.2\n"
        "2024-01-01 00:05:00,7.0,,,\n"
        "2024-01-01 00:06:00,8.0,30,2.5,\n"
        "2024-01-01 00:10:00,9.0,,,\n"
        "2024-01-01 00:14:59,,,0.5,\n",
    )
    rec = read_csv(path, columns=MAPPING, units="mmol/L", basal_unit="U/h")
    assert rec.index.tolist() == list(pd.date_range("2024-01-01", periods=3, freq="5min"))
    # two readings in the 00:05 step are averaged, then mmol/L -> mg/dL
    assert rec["glucose"].tolist() == pytest.approx([6.0 * 18.0156, 7.5 * 18.0156, 9.0 * 18.0156])
    assert rec["carbs"].tolist() == [0.0, 30.0, 0.0]
    assert rec["bolus"].tolist() == [0.0, 2.5, 0.5]
    # 1.2 U/h for 5 min = 0.1 U; then 2.5 min at 1.2 U/h and 2.5 min at 0.6 U/h; then 0.6 U/h
    assert rec["basal"].tolist() == pytest.approx([0.1, 0.05 + 0.025, 0.05])
    assert rec["insulin"].tolist() == pytest.approx((rec["bolus"] + rec["basal"]).tolist())


def test_regular_file_with_rates_per_row(tmp_path):
    path = _csv(
        tmp_path,
        "time,glucose,carbs,insulin\n"
        "2024-01-01 08:00,100,2,0.1\n"
        "2024-01-01 08:05,110,0,0.02\n"
        "2024-01-01 08:10,120,0,0.02\n",
    )
    rec = read_csv(path, carbs_unit="g/min", insulin_unit="U/min")
    assert rec["carbs"].tolist() == pytest.approx([10.0, 0.0, 0.0])
    assert rec["insulin"].tolist() == pytest.approx([0.5, 0.1, 0.1])


def test_offsets_across_spring_dst_give_a_regular_grid(tmp_path):
    # Europe/Berlin jumps from 02:00 (+01:00) to 03:00 (+02:00) on 2024-03-31
    utc = pd.date_range("2024-03-31 00:30", periods=12, freq="5min", tz="UTC")
    local = utc.tz_convert("Europe/Berlin")
    lines = [f"{t.isoformat()},{100 + i}" for i, t in enumerate(local)]
    path = _csv(tmp_path, "time,glucose\n" + "\n".join(lines) + "\n")
    rec = read_csv(path, tz="Europe/Berlin")
    assert len(rec) == 12
    assert str(rec.index.tz) == "Europe/Berlin"
    assert (rec.index.tz_convert("UTC") == utc).all()
    assert rec["glucose"].tolist() == [100.0 + i for i in range(12)]
    # without tz the index stays in UTC
    assert str(read_csv(path).index.tz) == "UTC"


def test_naive_local_times_across_autumn_dst(tmp_path):
    # clocks go back at 03:00 CEST -> 02:00 CET on 2024-10-27: 02:00..02:55 happens twice
    utc = pd.date_range("2024-10-27 00:30", periods=30, freq="5min", tz="UTC")
    local = utc.tz_convert("Europe/Berlin").tz_localize(None)
    assert local.duplicated().sum() > 0
    lines = [f"{t:%Y-%m-%d %H:%M:%S},{100 + i}" for i, t in enumerate(local)]
    path = _csv(tmp_path, "time,glucose\n" + "\n".join(lines) + "\n")
    rec = read_csv(path, tz="Europe/Berlin")
    assert len(rec) == 30
    assert rec["glucose"].tolist() == [100.0 + i for i in range(30)]
    # read as naive, the repeated hour collapses: two readings share each step
    naive = read_csv(path)
    assert len(naive) == 30 - local.duplicated().sum()


def test_cohort_long_format(tmp_path):
    path = _csv(
        tmp_path,
        "pid,time,glucose\n"
        "b,2024-01-01 00:05,150\n"
        "a,2024-01-01 00:00,100\n"
        "a,2024-01-01 00:05,105\n"
        "b,2024-01-01 00:00,140\n",
    )
    rec = read_csv(path, columns={"patient_id": "pid"})
    assert rec["patient_id"].tolist() == ["b", "b", "a", "a"]
    assert rec["glucose"].tolist() == [140.0, 150.0, 100.0, 105.0]


def test_parquet_with_datetimes_and_kept_column(tmp_path):
    pytest.importorskip("pyarrow")
    times = pd.date_range("2024-06-01", periods=4, freq="5min", tz="America/New_York")
    table = pd.DataFrame(
        {
            "ts": times,
            "sg": [100.0, 110.0, np.nan, 130.0],
            "hr": [60, 70, 80, 90],
            "bolus": [0, 1.5, 0, 0],
        }
    )
    path = tmp_path / "x.parquet"
    table.to_parquet(path)
    rec = read_parquet(path, columns={"time": "ts", "glucose": "sg"}, keep=["hr"])
    # tz-aware datetimes keep their zone
    assert str(rec.index.tz) == "America/New_York"
    assert rec["hr"].tolist() == [60.0, 70.0, 80.0, 90.0]
    assert rec["bolus"].tolist() == [0.0, 1.5, 0.0, 0.0]
    assert np.isnan(rec["glucose"].iloc[2])
    # the input table is not modified
    assert list(table.columns) == ["ts", "sg", "hr", "bolus"]


def test_read_frame_does_not_modify_input():
    table = pd.DataFrame(
        {"time": ["2024-01-01 00:05", "2024-01-01 00:00"], "glucose": ["110", "100"]}
    )
    before = table.copy()
    rec = read_frame(table)
    assert rec["glucose"].tolist() == [100.0, 110.0]
    pd.testing.assert_frame_equal(table, before)


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        (
            "time,glucose\n2024-01-01 00:00,abc\n",
            {},
            r"row 1: field 'glucose': value 'abc' is not a number",
        ),
        (
            "time,glucose,carbs\n2024-01-01 00:00,100,\n2024-01-01 00:05,100,-5\n",
            {},
            r"row 2: field 'carbs': value -5 is negative",
        ),
        (
            "time,glucose\n2024-01-01 00:00,100\nyesterday,100\n",
            {},
            r"row 2: field 'time': time 'yesterday' could not be parsed",
        ),
        ("time,glucose\n2024-01-01 00:00,100\n,100\n", {}, r"row 2: field 'time': time is missing"),
        (
            "time,glucose\n2024-01-01T00:00:00+01:00,100\n2024-01-01 00:05,100\n",
            {},
            r"row 2: field 'time': .*no UTC offset",
        ),
        ("Zeit,glucose\n2024-01-01 00:00,100\n", {}, r"no time column"),
        (
            "time,sgv\n2024-01-01 00:00,100\n",
            {"columns": {"glucose": "CGM"}},
            r"field 'CGM': column 'CGM' \(mapped to 'glucose'\) is not in the file",
        ),
        (
            "time,glucose,basal\n2024-01-01 00:00,100,1\n2024-01-01 00:00,100,2\n",
            {"basal_unit": "U/h"},
            r"row 2: field 'basal': two different rates",
        ),
        (
            "time,glucose\n2024-01-01 00:00,6.5\n2024-01-01 00:05,7\n",
            {},
            r"field 'glucose': median glucose is .* looks like mmol/L",
        ),
    ],
)
def test_bad_csv_names_file_row_and_field(tmp_path, text, kwargs, match):
    path = _csv(tmp_path, text)
    with pytest.raises(ReaderError, match=match) as info:
        read_csv(path, **kwargs)
    assert str(info.value).startswith(str(path))


def test_bad_options_and_files(tmp_path):
    path = _csv(tmp_path, "time,glucose\n2024-01-01 00:00,100\n")
    with pytest.raises(ValueError, match="basal_unit must be one of"):
        read_csv(path, basal_unit="IU/h")
    with pytest.raises(ValueError, match="unknown key"):
        read_csv(path, columns={"cgm": "glucose"})
    with pytest.raises(ReaderError, match="does not exist"):
        read_csv(tmp_path / "missing.csv")
    with pytest.raises(ReaderError, match="not a readable Parquet"):
        read_parquet(path)
