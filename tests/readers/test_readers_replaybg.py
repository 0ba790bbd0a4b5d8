"""ReplayBG CSV reader: the real two-day record, hand-built files, and bad files."""

import csv

import numpy as np
import pytest

from dt1d.data.readers import ReaderError, read_replaybg

HEADER = "t,glucose,cho,bolus,basal,bolus_label,cho_label\n"


def _independent_totals(paths):
    """Totals straight from the CSV text, with the rate x 5 min rule of the README."""
    carbs = bolus = basal = 0.0
    glucose = []
    rows = 0
    for path in paths:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                rows += 1
                carbs += float(row["cho"]) * 5
                bolus += float(row["bolus"]) * 5
                basal += float(row["basal"]) * 5
                if row["glucose"].strip():
                    glucose.append(float(row["glucose"]))
    return rows, carbs, bolus, basal, glucose


@pytest.mark.parametrize(
    "days", [["data_day_1.csv"], ["data_day_2.csv"], ["data_day_1.csv", "data_day_2.csv"]]
)
def test_real_record_loads_exactly(days, real_record_dir):
    paths = [real_record_dir / d for d in days]
    rec = read_replaybg(paths if len(paths) > 1 else paths[0])
    rows, carbs, bolus, basal, glucose = _independent_totals(paths)
    assert len(rec) == rows
    assert rec.index.name == "time"
    assert (np.diff(rec.index.asi8) == np.diff(rec.index.asi8)[0]).all()
    assert rec["carbs"].sum() == pytest.approx(carbs, rel=1e-12)
    assert rec["bolus"].sum() == pytest.approx(bolus, rel=1e-12)
    assert rec["basal"].sum() == pytest.approx(basal, rel=1e-12)
    assert rec["insulin"].sum() == pytest.approx(bolus + basal, rel=1e-12)
    assert rec["glucose"].count() == len(glucose)
    assert rec["glucose"].mean() == pytest.approx(sum(glucose) / len(glucose), rel=1e-12)


def test_real_record_totals_documented(real_record_dir):
    # the figures quoted in docs/readers.md, checked against the files
    paths = [real_record_dir / "data_day_1.csv", real_record_dir / "data_day_2.csv"]
    rows, carbs, bolus, basal, glucose = _independent_totals(paths)
    rec = read_replaybg(paths)
    assert (rows, round(carbs, 6), round(bolus, 6), round(basal, 6)) == (552, 494.0, 88.8, 65.45)
    assert rec["glucose"].count() == 521
    assert round(rec["glucose"].mean(), 2) == 199.47
    assert (
        str(rec.index[0]) == "2027-05-11 06:00:00" and str(rec.index[-1]) == "2027-05-13 03:55:00"
    )


def _write(tmp_path, lines, name="day.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(line + "\n" for line in lines))
    return path


def test_rates_become_amounts(tmp_path):
    path = _write(
        tmp_path,
        [
            "01-Jan-2024 00:00:00,120,0,0,0.02,,",
            "01-Jan-2024 00:05:00,,10,0.8,0.02,B,B",
            "01-Jan-2024 00:10:00,130.5,0,0,0,,",
        ],
    )
    rec = read_replaybg(path)
    assert rec["carbs"].tolist() == [0.0, 50.0, 0.0]
    assert rec["bolus"].tolist() == pytest.approx([0.0, 4.0, 0.0])
    assert rec["basal"].tolist() == pytest.approx([0.1, 0.1, 0.0])
    assert np.isnan(rec["glucose"].iloc[1])
    assert list(rec.columns) == ["glucose", "carbs", "bolus", "basal", "insulin"]


def test_one_minute_rows_use_their_step(tmp_path):
    path = _write(
        tmp_path, ["01-Jan-2024 00:00:00,120,2,0,0.01,,", "01-Jan-2024 00:01:00,121,0,0,0.01,,"]
    )
    rec = read_replaybg(path)
    assert rec["carbs"].tolist() == [2.0, 0.0]
    assert rec["basal"].tolist() == pytest.approx([0.01, 0.01])


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (
            ["01-Jan-2024 00:00:00,120,0,0,0,,", "01-Jan-2024 00:00:00,121,0,0,0,,"],
            r"row 2 \(line 3\): field 't': time .* repeats",
        ),
        (
            ["01-Jan-2024 00:05:00,120,0,0,0,,", "01-Jan-2024 00:00:00,121,0,0,0,,"],
            r"row 2 \(line 3\): field 't': .*goes back",
        ),
        (
            [
                "01-Jan-2024 00:00:00,120,0,0,0,,",
                "01-Jan-2024 00:05:00,121,0,0,0,,",
                "01-Jan-2024 00:15:00,121,0,0,0,,",
            ],
            r"row 3 \(line 4\): field 't': .*off the 0 days 00:05:00 grid",
        ),
        (
            ["01-Jan-2024 00:00:00,abc,0,0,0,,"],
            r"row 1 \(line 2\): field 'glucose': value 'abc' is not a number",
        ),
        (
            ["01-Jan-2024 00:00:00,120,-1,0,0,,"],
            r"row 1 \(line 2\): field 'cho': value -1 is negative",
        ),
        (["01-Jan-2024 00:00:00,120,0,,0,,"], r"row 1 \(line 2\): field 'bolus': rate is missing"),
        (
            ["2024-01-01 00:00:00,120,0,0,0,,"],
            r"row 1 \(line 2\): field 't': time '2024-01-01 00:00:00' is not DD-Mon",
        ),
        (["01-Foo-2024 00:00:00,120,0,0,0,,"], r"field 't'"),
        (["01-Jan-2024 00:00:00,120,0,0"], r"row 1 \(line 2\): has 4 fields, the header has 7"),
        (
            ["01-Jan-2024 00:00:00,5000,0,0,0,,"],
            r"step 2024-01-01 00:00:00: field 'glucose': .*glucose values outside",
        ),
    ],
)
def test_bad_files_name_file_row_and_field(tmp_path, lines, match):
    path = _write(tmp_path, lines)
    with pytest.raises(ReaderError, match=match) as info:
        read_replaybg(path)
    assert str(path) in str(info.value)


def test_bad_header_and_missing_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,glucose\n01-Jan-2024 00:00:00,100\n")
    with pytest.raises(
        ReaderError, match=r"bad.csv: line 1: field 't': header lacks column\(s\) \['t', 'cho'"
    ):
        read_replaybg(path)
    with pytest.raises(ReaderError, match="cannot be read"):
        read_replaybg(tmp_path / "nope.csv")


def test_two_files_must_join(tmp_path):
    a = _write(tmp_path, ["01-Jan-2024 00:00:00,120,0,0,0,,"], "a.csv")
    b = _write(tmp_path, ["01-Jan-2024 00:05:00,120,0,0,0,,"], "b.csv")
    assert len(read_replaybg([a, b])) == 2
    with pytest.raises(ReaderError, match=r"a.csv: row 1 \(line 2\): field 't'.*goes back"):
        read_replaybg([b, a])
