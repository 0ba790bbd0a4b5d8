"""Nightscout entries + treatments + profile: hand-computed basal, DST, duplicates, errors."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from dt1d.data.readers import ReaderError, read_nightscout

START = pd.Timestamp("2024-01-15 23:00", tz="UTC")  # 00:00 in Berlin (winter, +01:00)


def _entries(start=START, n=24, seed=0):
    items = []
    for i in range(n):
        t = start + pd.Timedelta(minutes=5 * i, seconds=17)
        items.append(
            {
                "_id": f"e{i}",
                "type": "sgv",
                "sgv": 100 + i,
                "date": int(t.value // 1_000_000),
                "dateString": t.isoformat(),
                "direction": "Flat",
            }
        )
    items.append(dict(items[3]))  # an exact duplicate from a double upload
    items.append({"type": "mbg", "mbg": 250, "date": items[0]["date"]})  # meter reading: skipped
    random.Random(seed).shuffle(items)  # exports are not sorted
    return items


def _profile(units="mmol", schedule=(("00:00", 0.6), ("01:00", 1.2))):
    return [
        {
            "_id": "p1",
            "defaultProfile": "Default",
            "startDate": "2023-01-01T00:00:00.000Z",
            "store": {
                "Default": {
                    "units": units,
                    "timezone": "Europe/Berlin",
                    "dia": 5,
                    "sens": [{"time": "00:00", "value": 2.5, "timeAsSeconds": 0}],
                    "carbratio": [{"time": "00:00", "value": 10, "timeAsSeconds": 0}],
                    "target_low": [{"time": "00:00", "value": 5.5, "timeAsSeconds": 0}],
                    "target_high": [{"time": "00:00", "value": 6.5, "timeAsSeconds": 0}],
                    "basal": [
                        {
                            "time": hhmm,
                            "value": v,
                            "timeAsSeconds": int(hhmm[:2]) * 3600 + int(hhmm[3:]) * 60,
                        }
                        for hhmm, v in schedule
                    ],
                }
            },
        }
    ]


def _at(minutes, seconds=0):
    return (START + pd.Timedelta(minutes=minutes, seconds=seconds)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )


TREATMENTS = [
    {
        "_id": "t1",
        "eventType": "Temp Basal",
        "created_at": _at(20),
        "duration": 30,
        "absolute": 0,
        "rate": 0,
    },
    {
        "_id": "t2",
        "eventType": "Temp Basal",
        "created_at": _at(30),
        "duration": 10,
        "absolute": 2.4,
    },
    {
        "_id": "t3",
        "eventType": "Temp Basal",
        "created_at": _at(52, 30),
        "duration": 15,
        "percent": 50,
    },
    {
        "_id": "t5",
        "eventType": "Temp Basal",
        "created_at": _at(80),
        "duration": 60,
        "absolute": 0.3,
    },
    {"_id": "t4", "eventType": "Temp Basal", "created_at": _at(90), "duration": 0},
    # a local-offset time: 00:31:10+01:00 is 23:31:10Z
    {
        "_id": "b1",
        "eventType": "Meal Bolus",
        "created_at": "2024-01-16T00:31:10+01:00",
        "insulin": 3.0,
        "carbs": 45,
    },
    {
        "_id": "b1",
        "eventType": "Meal Bolus",
        "created_at": "2024-01-16T00:31:10+01:00",
        "insulin": 3.0,
        "carbs": 45,
    },
    {"_id": "c1", "eventType": "Carb Correction", "created_at": _at(72), "carbs": 15},
    {"_id": "b2", "eventType": "Correction Bolus", "created_at": _at(104, 59), "insulin": 1.0},
    {
        "_id": "b3",
        "eventType": "Combo Bolus",
        "created_at": _at(105),
        "insulin": 1.0,
        "relative": 1.2,
        "duration": 10,
    },
    {"_id": "n1", "eventType": "Note", "created_at": _at(10), "notes": "ate cake"},
]

# U per 5-min step, worked by hand from the profile (0.6 U/h before 01:00 local = 00:00Z,
# 1.2 U/h after) and the temp basals above
BASAL = (
    [0.05] * 4
    + [0.0, 0.0, 0.2, 0.2, 0.05, 0.05, 0.0625, 0.075, 0.15, 0.125, 0.1, 0.1, 0.025, 0.025]
    + [0.1] * 6
)


def _files(tmp_path, entries, treatments=None, profile=None):
    paths = []
    for name, data in (("entries", entries), ("treatments", treatments), ("profile", profile)):
        if data is None:
            paths.append(None)
            continue
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths


def test_hand_computed_record(tmp_path):
    entries, treatments, profile = _files(tmp_path, _entries(), TREATMENTS, _profile())
    rec = read_nightscout(entries, treatments, profile)
    assert len(rec) == 24
    assert str(rec.index.tz) == "Europe/Berlin"
    assert rec.index[0] == pd.Timestamp("2024-01-16 00:00", tz="Europe/Berlin")
    assert rec["glucose"].tolist() == [100.0 + i for i in range(24)]
    assert rec["basal"].tolist() == pytest.approx(BASAL, abs=1e-12)
    bolus = np.zeros(24)
    bolus[6] = 3.0  # 23:31:10Z, the duplicate _id is skipped
    bolus[20] = 1.0  # 00:44:59Z
    bolus[21] = 1.0 + 0.1  # combo: 1 U now, 1.2 U/h over 10 min
    bolus[22] = 0.1
    assert rec["bolus"].tolist() == pytest.approx(bolus.tolist(), abs=1e-12)
    carbs = np.zeros(24)
    carbs[6] = 45.0
    carbs[14] = 15.0
    assert rec["carbs"].tolist() == carbs.tolist()
    assert rec["insulin"].sum() == pytest.approx(sum(BASAL) + 5.2)


def test_parsed_json_and_tz_override():
    rec = read_nightscout(_entries(), TREATMENTS, _profile(), tz="UTC")
    assert str(rec.index.tz) == "UTC"
    assert rec.index[0] == START
    assert rec["basal"].tolist() == pytest.approx(BASAL, abs=1e-12)


def test_mg_dl_profile_gives_same_basal_and_glucose():
    # profile units affect targets/sensitivities only; sgv is always mg/dL in Nightscout
    a = read_nightscout(_entries(), TREATMENTS, _profile(units="mmol"))
    b = read_nightscout(_entries(), TREATMENTS, _profile(units="mg/dl"))
    pd.testing.assert_frame_equal(a, b)


def test_profile_basal_across_spring_dst():
    # 2024-03-31: Berlin jumps 02:00 CET -> 03:00 CEST at 01:00Z. Schedule change at 03:00 local
    start = pd.Timestamp("2024-03-31 00:00", tz="UTC")
    rec = read_nightscout(
        _entries(start, n=24), [], _profile(schedule=(("00:00", 0.6), ("03:00", 1.2)))
    )
    assert len(rec) == 24
    assert (np.diff(rec.index.asi8) == np.diff(rec.index.asi8)[0]).all()
    assert rec["basal"].tolist() == pytest.approx([0.05] * 12 + [0.1] * 12)
    assert rec.index[12].strftime("%H:%M%z") == "03:00+0200"


def test_no_profile_means_only_temp_basal(caplog):
    rec = read_nightscout(_entries(), [TREATMENTS[1]])
    assert rec["basal"].tolist() == pytest.approx([0.0] * 6 + [0.2, 0.2] + [0.0] * 16)
    assert "no profile" in caplog.text
    with pytest.raises(
        ReaderError, match=r"entry 0: field 'percent': a percent temp basal needs the profile"
    ):
        read_nightscout(_entries(), [TREATMENTS[2]])


@pytest.mark.parametrize(
    ("which", "data", "match"),
    [
        (
            "entries",
            [{"type": "sgv", "sgv": "high", "date": 1}],
            r"entries.json: entry 0: field 'sgv': value 'high' is not a number",
        ),
        (
            "entries",
            [{"type": "sgv", "date": 1}],
            r"entry 0: field 'sgv': sgv entry has no 'sgv' value",
        ),
        (
            "entries",
            [{"type": "sgv", "sgv": 100, "dateString": "2024-01-01T00:00:00"}],
            r"entry 0: field 'dateString': time .* has no UTC offset",
        ),
        ("entries", {"sgv": 5}, r"entry 0: field 'dateString': has no time"),
        ("entries", "nonsense", r"entries must be a JSON list"),
        (
            "treatments",
            [{"eventType": "Temp Basal", "created_at": "2024-01-15T23:05:00Z", "absolute": 1}],
            r"treatments.json: entry 0: field 'duration': temp basal has no duration",
        ),
        (
            "treatments",
            [{"eventType": "Meal Bolus", "created_at": "2024-01-15T23:05:00Z", "insulin": -2}],
            r"entry 0: field 'insulin': value -2 is out of range",
        ),
        (
            "treatments",
            [{"eventType": "Meal Bolus", "insulin": 2}],
            r"entry 0: field 'created_at': has no time",
        ),
        (
            "treatments",
            [{"eventType": "Temp Basal", "created_at": "2024-01-15T23:05:00Z", "duration": 30}],
            r"field 'absolute': temp basal has neither",
        ),
        (
            "profile",
            [{"defaultProfile": "X", "store": {"Default": {"basal": []}}}],
            r"profile.json: entry 0: field 'defaultProfile'",
        ),
        (
            "profile",
            [{"store": {"Default": {"basal": [{"time": "25:99", "value": 1}]}}}],
            r"entry 0 store\['Default'\] basal\[0\]: field 'time'",
        ),
    ],
)
def test_bad_files_name_file_entry_and_field(tmp_path, which, data, match):
    files = {"entries": _entries(), "treatments": [], "profile": _profile()}
    files[which] = data
    entries, treatments, profile = _files(
        tmp_path, files["entries"], files["treatments"], files["profile"]
    )
    with pytest.raises(ReaderError, match=match):
        read_nightscout(entries, treatments, profile)


def test_invalid_json_and_missing_file(tmp_path):
    bad = tmp_path / "entries.json"
    bad.write_text("[{")
    with pytest.raises(ReaderError, match=r"entries.json: is not valid JSON"):
        read_nightscout(bad)
    with pytest.raises(ReaderError, match="does not exist"):
        read_nightscout(tmp_path / "none.json")


def test_zero_temp_basal_gives_exact_zeros():
    # a running-sum integration once left +-3e-17 U in "empty" steps; negative would fail validate
    entries = [
        {"type": "sgv", "sgv": 110 + i, "date": 1705359600000 + i * 300000} for i in range(24)
    ]
    temp = {
        "eventType": "Temp Basal",
        "created_at": "2024-01-15T23:20:00Z",
        "duration": 30,
        "absolute": 0,
    }
    rec = read_nightscout(entries, [temp], _profile(schedule=(("00:00", 0.6),)))
    assert rec["basal"].iloc[4:10].tolist() == [0.0] * 6
    assert rec["basal"].iloc[:4].tolist() == [0.05] * 4
    assert (rec["basal"] >= 0).all()
