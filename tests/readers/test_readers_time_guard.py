"""The shared grid guard: a time far from all others (a typo year) is refused, naming its row.

Every reader builds its grid in ``dt1d.data.readers._common._Grid``, which
first refuses gaps over ``MAX_GAP`` and spans over ``MAX_SPAN``; times outside
the int64-nanosecond years (1677-2262) are refused as ``ReaderError`` too,
never as ``ValueError``/``OutOfBoundsDatetime`` or an 18.9M-row grid.
"""

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dt1d.data.readers import ReaderError, read, read_csv, read_nightscout, read_ohio, read_replaybg
from dt1d.data.readers._common import MAX_GAP, MAX_SPAN, _Grid

BASE = pd.Timestamp("2024-01-01 00:00")


# -- generic CSV ----------------------------------------------------------------------------
def _csv_text(times):
    return "time,glucose\n" + "".join(f"{t:%Y-%m-%d %H:%M:%S},{100 + i % 50}\n" for i, t in enumerate(times))


def _regular(n=12):
    return [BASE + pd.Timedelta(minutes=5 * i) for i in range(n)]


@pytest.mark.parametrize(
    "bad, where",
    [
        ("2204-01-01 01:00:00", "end"),  # typo year after the data
        ("2200-01-01 00:10:00", "middle"),  # typo row in the middle of the file
        ("2121-01-01 00:10:00", "start"),
        ("1924-01-01 00:10:00", "end"),  # typo year before the data
        ("2042-01-01 00:10:00", "middle"),  # swapped digits
        ("2025-01-01 00:10:00", "end"),  # one year off
    ],
)
def test_csv_typo_year_is_refused_naming_its_row(tmp_path, bad, where):
    times = _regular()
    pos = {"start": 0, "middle": 6, "end": len(times)}[where]
    times.insert(pos, pd.Timestamp(bad))
    path = tmp_path / "log.csv"
    path.write_text(_csv_text(times))
    for reader in (read_csv, read):
        with pytest.raises(ReaderError, match=rf"row {pos + 1}: field 'time'.*90 days apart") as info:
            reader(path)
        assert info.value.path == str(path)
        assert info.value.record == f"row {pos + 1}"
        assert bad[:4] in str(info.value)


@pytest.mark.parametrize(
    "times",
    [
        ["1700-01-01 00:00", "2100-01-01 00:05"],  # a span over 292 years (int64 ns overflow)
        ["1678-01-01 00:00", "2261-12-31 00:05"],  # the widest span nanoseconds hold
    ],
)
def test_csv_span_over_292_years_is_a_reader_error(tmp_path, times):
    path = tmp_path / "log.csv"
    path.write_text("time,glucose\n" + "".join(f"{t},100\n" for t in times))
    with pytest.raises(ReaderError, match="row 2: field 'time'.*days apart"):
        read_csv(path)


@pytest.mark.parametrize("bad", ["9999-01-01 00:05", "1600-01-01 00:05", "2263-01-01 00:00"])
def test_csv_year_outside_nanosecond_range_is_a_reader_error(tmp_path, bad):
    path = tmp_path / "log.csv"
    path.write_text(f"time,glucose\n2024-01-01 00:00,100\n{bad},110\n")
    with pytest.raises(ReaderError, match=r"row 2: field 'time'.*outside the years 1677 to 2262"):
        read_csv(path)


def test_gap_just_under_the_limit_is_kept_and_just_over_refused(tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text(_csv_text([BASE, BASE + MAX_GAP]))
    rec = read_csv(ok)
    assert len(rec) == MAX_GAP // pd.Timedelta("5min") + 1
    bad = tmp_path / "bad.csv"
    bad.write_text(_csv_text([BASE, BASE + MAX_GAP + pd.Timedelta("1min")]))
    with pytest.raises(ReaderError, match="row 2"):
        read_csv(bad)


def test_span_over_the_maximum_is_refused_even_without_a_gap(tmp_path):
    # one reading every 80 days (no gap over 90 days) for longer than MAX_SPAN
    step = pd.Timedelta(days=80)
    n = MAX_SPAN // step + 2
    times = [BASE - MAX_SPAN + step * i for i in range(n)]
    path = tmp_path / "long.csv"
    path.write_text(_csv_text(times))
    with pytest.raises(ReaderError, match=rf"row {n}: .*spans .* years, more than the 20 years"):
        read_csv(path)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 30),
    pos=st.integers(0, 30),
    years=st.integers(1, 230),
    before=st.booleans(),
    minutes=st.integers(0, 60 * 24 * 30),
)
def test_any_lone_far_time_is_refused_naming_its_row(n, pos, years, before, minutes):
    times = [BASE + pd.Timedelta(minutes=5 * i) for i in range(n)]
    offset = pd.DateOffset(years=years)
    far = (BASE - offset - pd.Timedelta(minutes=minutes)) if before else (
        times[-1] + offset + pd.Timedelta(minutes=minutes)
    )
    if not pd.Timestamp("1678-01-01") < far < pd.Timestamp("2262-01-01"):
        return
    pos = min(pos, n)
    times.insert(pos, far)
    frame = pd.DataFrame({"time": times, "glucose": [100.0] * len(times)})
    from dt1d.data.readers import read_frame

    with pytest.raises(ReaderError) as info:
        read_frame(frame)
    assert info.value.record == f"row {pos + 1}"


def test_grid_without_labels_still_refuses_naming_the_time():
    # a reader that does not pass labels (a plugin, a new reader) still gets the guard
    ns = pd.DatetimeIndex([BASE, BASE + pd.Timedelta("5min"), pd.Timestamp("2204-01-01")]).as_unit("ns").asi8
    with pytest.raises(ReaderError, match="the event at 2204-01-01"):
        _Grid([ns], 300 * 10**9, path="x.csv")


# -- Nightscout -----------------------------------------------------------------------------
def _sgv(t, value=100):
    return {"type": "sgv", "sgv": value, "dateString": pd.Timestamp(t, tz="UTC").isoformat()}


def _ns_entries(n=6):
    return [_sgv(BASE + pd.Timedelta(minutes=5 * i)) for i in range(n)]


def test_nightscout_typo_year_in_entries(tmp_path):
    entries = _ns_entries()
    entries.insert(3, _sgv("2200-01-01 00:10"))
    path = tmp_path / "entries.json"
    path.write_text(json.dumps(entries))
    for reader in (read_nightscout, read):
        with pytest.raises(ReaderError, match=r"entry 3: field 'date'.*2200-01-01.*90 days"):
            reader(path)


def test_nightscout_epoch_date_typo_and_overflow(tmp_path):
    entries = _ns_entries()
    entries.append({"type": "sgv", "sgv": 100, "date": 7258118400000})  # 2200-01-01 in ms
    with pytest.raises(ReaderError, match=r"entry 6: field 'date'.*90 days"):
        read_nightscout(entries)
    for date in (1e30, 9.3e15, float("1e308")):
        with pytest.raises(ReaderError, match=r"entry 0: field 'date'.*outside the years"):
            read_nightscout([{"type": "sgv", "sgv": 100, "date": date}])
    with pytest.raises(ReaderError, match=r"entry 0: field 'date'.*out of range"):
        read_nightscout([{"type": "sgv", "sgv": 100, "date": -1e30}])


@pytest.mark.parametrize("when", ["9999-01-01T00:00:00Z", "1600-01-01T00:00:00Z"])
def test_nightscout_date_string_outside_nanoseconds(when):
    with pytest.raises(ReaderError, match=r"entry 1: field 'dateString'.*outside the years"):
        read_nightscout([_sgv(BASE), {"type": "sgv", "sgv": 1, "dateString": when}])


@pytest.mark.parametrize(
    "treatment, field",
    [
        ({"eventType": "Meal Bolus", "created_at": "2200-01-01T00:00:00Z", "carbs": 30}, "created_at"),
        ({"eventType": "Correction Bolus", "created_at": "2121-01-01T00:00:00Z", "insulin": 1}, "created_at"),
        (
            {"eventType": "Temp Basal", "created_at": "2204-01-01T00:00:00Z", "duration": 30, "absolute": 0},
            "created_at",
        ),
        ({"eventType": "Meal Bolus", "created_at": 7258118400000, "carbs": 30}, "created_at"),
    ],
)
def test_nightscout_typo_year_in_treatments_names_the_treatment_file(tmp_path, treatment, field):
    (tmp_path / "entries.json").write_text(json.dumps(_ns_entries()))
    ok = {"eventType": "Meal Bolus", "created_at": "2024-01-01T00:01:00Z", "carbs": 10}
    (tmp_path / "treatments.json").write_text(json.dumps([ok, treatment]))
    with pytest.raises(ReaderError, match=rf"treatments.json: entry 1: field '{field}'.*90 days"):
        read(tmp_path)


# -- OhioT1DM -------------------------------------------------------------------------------
def _ohio(glucose_extra="", extra=""):
    g = "".join(
        f'<event ts="01-01-2024 00:{5 * i:02d}:00" value="{100 + i}"/>' for i in range(6)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<patient id="1" weight="80">'
        f"<glucose_level>{g}{glucose_extra}</glucose_level>"
        f'<basal><event ts="01-01-2024 00:00:00" value="1.0"/></basal>{extra}</patient>'
    )


@pytest.mark.parametrize(
    "glucose_extra, extra, match",
    [
        ('<event ts="01-01-2121 00:30:00" value="98"/>', "", r"<glucose_level> event 6: field 'ts'"),
        ("", '<meal><event ts="01-01-2204 08:00:00" carbs="50"/></meal>', r"<meal> event 0: field 'ts'"),
        (
            "",
            '<bolus><event ts_begin="01-01-2200 00:10:00" ts_end="01-01-2200 00:10:00" type="normal" dose="2"/></bolus>',
            r"<bolus> event 0: field 'ts_begin'",
        ),
        # clipped to the grid, so only the guard sees them
        ("", '<basal><event ts="01-01-2121 00:00:00" value="0.5"/></basal>', r"<basal> event 1: field 'ts'"),
        (
            "",
            '<temp_basal><event ts_begin="01-01-2121 00:00:00" ts_end="01-01-2121 01:00:00" value="0"/></temp_basal>',
            r"<temp_basal> event 0: field 'ts_begin'",
        ),
        (
            "",
            '<temp_basal><event ts_begin="01-01-2024 00:00:00" ts_end="01-01-2121 01:00:00" value="0"/></temp_basal>',
            r"<temp_basal> event 0: field 'ts_end'",
        ),
    ],
)
def test_ohio_typo_year_is_refused_naming_the_event(tmp_path, glucose_extra, extra, match):
    path = tmp_path / "559-ws-training.xml"
    path.write_text(_ohio(glucose_extra, extra))
    for reader in (read_ohio, read):
        with pytest.raises(ReaderError, match=match + ".*90 days apart"):
            reader(path)


def test_ohio_year_9999_is_a_reader_error(tmp_path):
    path = tmp_path / "p.xml"
    path.write_text(_ohio('<event ts="01-01-9999 00:30:00" value="98"/>'))
    with pytest.raises(ReaderError, match=r"<glucose_level> event 6: field 'ts'.*outside the years"):
        read_ohio(path)


# -- ReplayBG -------------------------------------------------------------------------------
def _replaybg(times):
    return "t,glucose,cho,bolus,basal\n" + "".join(f"{t},100,0,0,0.01\n" for t in times)


def _rbg_times(n=6, year=2024):
    return [f"01-Jan-{year} 00:{5 * i:02d}:00" for i in range(n)]


@pytest.mark.parametrize("bad", ["01-Jan-2204 00:30:00", "01-Jan-2121 00:30:00"])
def test_replaybg_typo_year_is_refused_as_a_gap(tmp_path, bad):
    path = tmp_path / "data_day_1.csv"
    path.write_text(_replaybg(_rbg_times() + [bad]))
    for reader in (read_replaybg, read):
        with pytest.raises(ReaderError, match=r"row 7 \(line 8\): field 't'.*90 days apart"):
            reader(path)


def test_replaybg_year_9999_is_a_reader_error(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(_replaybg(_rbg_times() + ["01-Jan-9999 00:30:00"]))
    with pytest.raises(ReaderError, match=r"row 7 \(line 8\): field 't'.*outside the years"):
        read_replaybg(path)


def test_replaybg_second_file_far_away_names_that_file(tmp_path):
    day1, day2 = tmp_path / "day1.csv", tmp_path / "day2.csv"
    day1.write_text(_replaybg(_rbg_times()))
    day2.write_text(_replaybg(_rbg_times(year=2204)))
    with pytest.raises(ReaderError, match=r"day2.csv: row 1 \(line 2\): field 't'.*90 days") as info:
        read_replaybg([day1, day2])
    assert info.value.path == str(day2)
