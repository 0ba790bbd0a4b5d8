"""Write the vendor-export fixtures of tests/readers from ground-truth records.

Run from the repository root: ``python tests/data/readers/make_fixtures.py``.
Each fixture is written from a ground truth built here (readings, doses,
meals at known times), and ``truth.json`` holds what a correct reader must
find in it (counts, totals, means, spot values), computed from that ground
truth and never from a reader. The layouts follow the public descriptions
cited in docs/readers.md; all names and serial numbers are made up.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MGDL_PER_MMOLL = 18.0156

CLARITY_BASE = [
    "Index",
    "Timestamp (YYYY-MM-DDThh:mm:ss)",
    "Event Type",
    "Event Subtype",
    "Patient Info",
    "Device Info",
    "Source Device ID",
    "Glucose Value ({unit})",
    "Insulin Value (u)",
    "Carb Value (grams)",
    "Duration (hh:mm:ss)",
]
CLARITY_NEW = [
    "Glucose Rate of Change ({unit}/min)",
    "Transmitter Time (Long Integer)",
    "Transmitter ID",
]


def _glucose_mgdl(k: int) -> int:
    """Ground-truth sensor glucose of reading ``k`` (mg/dL, integer), with a low and a high spell."""
    value = 150 + 90 * math.sin(2 * math.pi * k / 96) + 25 * math.sin(2 * math.pi * k / 23)
    return int(round(value))


def _clarity_truth(start: datetime, n: int, offset_s: int = 133) -> dict[str, Any]:
    """Readings every 5 min from ``start`` + offset (one per step) and the day's events."""
    readings = []
    for k in range(n):
        mg = _glucose_mgdl(k)
        if 40 <= k < 44:
            mg = 35  # below the sensor's range: written "Low"
        if 150 <= k < 153:
            mg = 420  # above it: "High"
        readings.append((start + timedelta(minutes=5 * k, seconds=offset_s), mg))
    events = [
        ("Insulin", "Fast-Acting", start + timedelta(hours=1, minutes=1), {"insulin": 4.5}),
        ("Carbs", "", start + timedelta(hours=1, minutes=3), {"carbs": 45}),
        ("Insulin", "Long-Acting", start + timedelta(hours=2), {"insulin": 18}),
        ("Insulin", "Fast-Acting", start + timedelta(hours=6, minutes=30), {"insulin": 6}),
        ("Carbs", "", start + timedelta(hours=6, minutes=32), {"carbs": 60}),
        ("Exercise", "Medium", start + timedelta(hours=9, minutes=10), {"duration": "00:30:00"}),
        ("Calibration", "", start + timedelta(hours=10, minutes=1), {"glucose": 123}),
        ("Health", "Stress", start + timedelta(hours=11), {}),
        ("Insulin", "Fast-Acting", start + timedelta(hours=12, minutes=2), {"insulin": 2.5}),
        ("Carbs", "", start + timedelta(hours=12, minutes=4), {"carbs": 30}),
    ]
    return {
        "readings": readings,
        "events": [e for e in events if e[2] < start + timedelta(minutes=5 * n)],
    }


def _clarity_value(mg: int, unit: str) -> str:
    if mg < 40:
        return "Low"
    if mg > 400:
        return "High"
    return str(mg) if unit == "mg/dL" else f"{mg / MGDL_PER_MMOLL:.1f}"


def _as_read(mg: int, unit: str) -> float:
    """What a correct reader gives for one reading (mg/dL)."""
    if mg < 40:
        return 40.0
    if mg > 400:
        return 400.0
    return float(mg) if unit == "mg/dL" else round(mg / MGDL_PER_MMOLL, 1) * MGDL_PER_MMOLL


def _write_clarity(
    name: str,
    truth: dict[str, Any],
    *,
    unit: str = "mg/dL",
    device: str = "G6",
    transmitter: bool = True,
    duplicates: int = 0,
    times: list[str] | None = None,
) -> dict[str, Any]:
    """One Clarity export of ``truth`` and what reading it must give."""
    header = [h.format(unit=unit) for h in CLARITY_BASE + (CLARITY_NEW if transmitter else [])]
    width = len(header)
    app = {"G6": ("G6 Mobile App", "Android G6"), "G7": ("G7 Mobile App", "iOS G7")}[device]

    def row(**cells: str) -> list[str]:
        out = [""] * width
        for key, value in cells.items():
            out[header.index(key.format(unit=unit))] = value
        return out

    gcol, tcol = "Glucose Value ({unit})", "Timestamp (YYYY-MM-DDThh:mm:ss)"
    meta = [
        row(**{"Event Type": "FirstName", "Patient Info": "Jane"}),
        row(**{"Event Type": "LastName", "Patient Info": "Example"}),
        row(**{"Event Type": "DateOfBirth", "Patient Info": ""}),
        row(**{"Event Type": "Device", "Device Info": app[0], "Source Device ID": app[1]}),
        row(
            **{
                "Event Type": "Alert",
                "Event Subtype": "High",
                "Source Device ID": app[1],
                gcol: "250" if unit == "mg/dL" else "13.9",
            }
        ),
        row(
            **{
                "Event Type": "Alert",
                "Event Subtype": "Low",
                "Source Device ID": app[1],
                gcol: "70" if unit == "mg/dL" else "3.9",
            }
        ),
        row(
            **{
                "Event Type": "Alert",
                "Event Subtype": "Urgent Low",
                "Source Device ID": app[1],
                gcol: "55" if unit == "mg/dL" else "3.1",
            }
        ),
        row(
            **{
                "Event Type": "Alert",
                "Event Subtype": "Signal Loss",
                "Source Device ID": app[1],
                "Duration (hh:mm:ss)": "00:20:00",
            }
        ),
    ]
    timed: list[tuple[datetime, list[str]]] = []
    for k, (t, mg) in enumerate(truth["readings"]):
        cells = {"Event Type": "EGV", "Source Device ID": app[1], gcol: _clarity_value(mg, unit)}
        if transmitter:
            cells["Transmitter Time (Long Integer)"] = str(3_000_000 + 300 * k)
            cells["Transmitter ID"] = "8XXXXX" if device == "G6" else ""
        timed.append((t, row(**cells)))
    for kind, sub, t, vals in truth["events"]:
        cells = {"Event Type": kind, "Event Subtype": sub, "Source Device ID": app[1]}
        if "insulin" in vals:
            cells["Insulin Value (u)"] = f"{vals['insulin']:g}"
        if "carbs" in vals:
            cells["Carb Value (grams)"] = f"{vals['carbs']:g}"
        if "duration" in vals:
            cells["Duration (hh:mm:ss)"] = vals["duration"]
        if "glucose" in vals:
            cells[gcol] = _clarity_value(vals["glucose"], unit)
        timed.append((t, row(**cells)))
    timed.sort(key=lambda item: item[0])
    lines = []
    for j, (t, cells) in enumerate(timed):
        cells[header.index(tcol)] = times[j] if times else t.strftime("%Y-%m-%dT%H:%M:%S")
        lines.append(cells)
    for j in range(duplicates):  # the export tool wrote some rows twice
        lines.insert(20 + 7 * j, list(lines[20 + 6 * j]))
    body = meta + lines
    for i, cells in enumerate(body, start=1):
        cells[0] = str(i)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(body)
    (HERE / name).write_text(buffer.getvalue(), encoding="utf-8")

    values = [_as_read(mg, unit) for _, mg in truth["readings"]]
    events = truth["events"]
    return {
        "readings": len(values),
        "glucose_mean": sum(values) / len(values),
        "glucose_first": values[0],
        "low": sum(mg < 40 for _, mg in truth["readings"]),
        "high": sum(mg > 400 for _, mg in truth["readings"]),
        "carbs": sum(v.get("carbs", 0) for k, _, _, v in events),
        "insulin": sum(v["insulin"] for k, s, _, v in events if s == "Fast-Acting"),
        "long_acting_insulin": sum(v["insulin"] for k, s, _, v in events if s == "Long-Acting"),
        "exercise_minutes": 30.0 * sum(k == "Exercise" for k, *_ in events),
        "calibrations": sum(k == "Calibration" for k, *_ in events),
        "health_events": sum(k == "Health" for k, *_ in events),
        "first_reading": truth["readings"][0][0].strftime("%Y-%m-%d %H:%M:%S"),
        "duplicates": duplicates,
    }


def _dst_times(
    start_local: datetime, n: int, offset_s: int, tz: str
) -> tuple[list[datetime], list[str]]:
    """UTC instants every 5 min and their local wall-clock text in ``tz`` (file order)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    first = start_local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))
    instants = [first + timedelta(minutes=5 * k, seconds=offset_s) for k in range(n)]
    texts = [t.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") for t in instants]
    return instants, texts


def clarity() -> dict[str, Any]:
    truth: dict[str, Any] = {}
    day = _clarity_truth(datetime(2024, 5, 14, 0, 0), 288)
    truth["clarity_g6_mgdl.csv"] = _write_clarity("clarity_g6_mgdl.csv", day)
    truth["clarity_g7_mmol.csv"] = _write_clarity(
        "clarity_g7_mmol.csv", day, unit="mmol/L", device="G7"
    )
    truth["clarity_g6_legacy.csv"] = _write_clarity("clarity_g6_legacy.csv", day, transmitter=False)
    truth["clarity_duplicates.csv"] = _write_clarity("clarity_duplicates.csv", day, duplicates=3)
    for name, start, n in (
        ("clarity_dst_fall.csv", datetime(2024, 10, 27, 0, 0), 60),  # 02:00-03:00 twice
        ("clarity_dst_spring.csv", datetime(2024, 3, 31, 0, 0), 48),  # 02:00-03:00 skipped
    ):
        instants, texts = _dst_times(start, n, 133, "Europe/Berlin")
        naive_utc = [t.replace(tzinfo=None) for t in instants]
        short = {"readings": [(t, _glucose_mgdl(k)) for k, t in enumerate(naive_utc)], "events": []}
        entry = _write_clarity(name, short, times=texts)
        entry["first_reading"] = texts[0].replace("T", " ")
        entry["first_reading_utc"] = naive_utc[0].strftime("%Y-%m-%d %H:%M:%S")
        entry["tz"] = "Europe/Berlin"
        truth[name] = entry
    # bad inputs
    good = (HERE / "clarity_g6_mgdl.csv").read_text(encoding="utf-8")
    (HERE / "clarity_bad_truncated.csv").write_text(
        good[: good.index("\n", 6000) + 25], encoding="utf-8"
    )
    lines = good.splitlines(keepends=True)
    lines[100] = lines[100].replace("2024-05-14", "2204-05-14")
    (HERE / "clarity_bad_year.csv").write_text("".join(lines), encoding="utf-8")
    (HERE / "clarity_bad_unit.csv").write_text(good.replace("(mg/dL)", "(mg)", 1), encoding="utf-8")
    return truth


LIBRE_HEADER = {
    "English": [
        "Device",
        "Serial Number",
        "Device Timestamp",
        "Record Type",
        "Historic Glucose {unit}",
        "Scan Glucose {unit}",
        "Non-numeric Rapid-Acting Insulin",
        "Rapid-Acting Insulin (units)",
        "Non-numeric Food",
        "Carbohydrates (grams)",
        "Carbohydrates (servings)",
        "Non-numeric Long-Acting Insulin",
        "Long-Acting Insulin (units)",
        "Notes",
        "Strip Glucose {unit}",
        "Ketone mmol/L",
        "Meal Insulin (units)",
        "Correction Insulin (units)",
        "User Change Insulin (units)",
    ],
    "German": [
        "Gerät",
        "Seriennummer",
        "Gerätezeitstempel",
        "Aufzeichnungstyp",
        "Glukosewert-Verlauf {unit}",
        "Glukose-Scan {unit}",
        "Nicht numerisches schnellwirkendes Insulin",
        "Schnellwirkendes Insulin (Einheiten)",
        "Nicht numerische Nahrungsdaten",
        "Kohlenhydrate (Gramm)",
        "Kohlenhydrate (Portionen)",
        "Nicht numerisches Depotinsulin",
        "Depotinsulin (Einheiten)",
        "Notizen",
        "Glukose-Teststreifen {unit}",
        "Keton mmol/L",
        "Mahlzeiteninsulin (Einheiten)",
        "Korrekturinsulin (Einheiten)",
        "Insulin-Änderung durch Anwender (Einheiten)",
    ],
}
LIBRE_TITLE = {
    "English": ["Glucose Data", "Generated on", "{generated}", "Generated by", "Jane Example"],
    "German": ["Glukose-Werte", "Erstellt am", "{generated}", "Erstellt von", "Jane Example"],
}


def _libre_truth(start: datetime, days: int, servings: bool = False) -> dict[str, Any]:
    """Historic readings every 15 min (+2 min), scans at +8 min (their own 5-min steps), events."""
    historic = []
    n = days * 96
    for k in range(n):
        mg = _glucose_mgdl(3 * k)
        if 30 <= k < 32:
            mg = 35  # "LO"
        if 70 <= k < 71:
            mg = 520  # "HI"
        historic.append((start + timedelta(minutes=15 * k + 2), mg))
    scans = [
        (start + timedelta(hours=h, minutes=8), _glucose_mgdl(h * 12 + 2))
        for h in range(0, 24 * days, 5)
    ]
    events: list[tuple[str, datetime, dict[str, Any]]] = []
    for day in range(days):
        base = start + timedelta(days=day)
        events += [
            ("4", base + timedelta(hours=7, minutes=1), {"rapid": 5.5}),
            (
                "5",
                base + timedelta(hours=7, minutes=3),
                {"servings": 4} if servings else {"grams": 50},
            ),
            ("4", base + timedelta(hours=12, minutes=31), {"rapid": 4}),
            (
                "5",
                base + timedelta(hours=12, minutes=33),
                {"servings": 3} if servings else {"grams": 35},
            ),
            ("4", base + timedelta(hours=22, minutes=1), {"long": 16}),
            ("4", base + timedelta(hours=18, minutes=46), {"rapid_nn": "1"}),
            ("5", base + timedelta(hours=15, minutes=16), {"food_nn": "1"}),
        ]
    events += [
        ("2", start + timedelta(hours=9, minutes=41), {"strip": 131}),
        ("3", start + timedelta(hours=9, minutes=43), {"ketone": 0.4}),
        ("6", start + timedelta(hours=10, minutes=11), {"notes": "felt low"}),
    ]
    return {"historic": historic, "scans": scans, "events": events}


def _libre_number(mg: float, unit: str, comma: bool) -> str:
    if mg < 40:
        return "LO"
    if mg > 500:
        return "HI"
    text = str(int(mg)) if unit == "mg/dL" else f"{mg / MGDL_PER_MMOLL:.1f}"
    return text.replace(".", ",") if comma else text


def _libre_as_read(mg: float, unit: str) -> float:
    if mg < 40:
        return 40.0
    if mg > 500:
        return 500.0
    return float(mg) if unit == "mg/dL" else round(mg / MGDL_PER_MMOLL, 1) * MGDL_PER_MMOLL


def _write_libre(
    name: str,
    truth: dict[str, Any],
    *,
    language: str = "English",
    unit: str = "mg/dL",
    device: str = "FreeStyle LibreLink",
    date: str = "%d-%m-%Y %H:%M",
    comma: bool = False,
    columns: int = 19,
    times: dict[datetime, str] | None = None,
) -> dict[str, Any]:
    """One LibreView export of ``truth`` and what reading it must give."""
    header = [h.format(unit=unit) for h in LIBRE_HEADER[language][:columns]]
    serial = "A1B2C3D4-0000-1111-2222-333344445555" if "Link" in device else "JGMA123-T4567"
    rows: list[tuple[datetime, list[str]]] = []

    def add(t: datetime, kind: str, **cells: str) -> None:
        row = [""] * columns
        row[0], row[1], row[3] = device, serial, kind
        for index, value in cells.items():
            row[int(index)] = value
        rows.append((t, row))

    for t, mg in truth["historic"]:
        add(t, "0", **{"4": _libre_number(mg, unit, comma)})
    for t, mg in truth["scans"]:
        add(t, "1", **{"5": _libre_number(mg, unit, comma)})
    dec = (lambda v: f"{v:g}".replace(".", ",")) if comma else (lambda v: f"{v:g}")
    for kind, t, vals in truth["events"]:
        cells = {}
        if "rapid" in vals:
            cells["7"] = dec(vals["rapid"])
            if columns > 16:
                cells["16"] = dec(
                    vals["rapid"]
                )  # the bolus calculator's meal part: not added again
        if "rapid_nn" in vals:
            cells["6"] = vals["rapid_nn"]
        if "grams" in vals:
            cells["9"] = dec(vals["grams"])
        if "servings" in vals:
            cells["10"] = dec(vals["servings"])
        if "food_nn" in vals:
            cells["8"] = vals["food_nn"]
        if "long" in vals:
            cells["12"] = dec(vals["long"])
        if "notes" in vals:
            cells["13"] = vals["notes"]
        if "strip" in vals:
            cells["14"] = _libre_number(vals["strip"], unit, comma)
        if "ketone" in vals:
            cells["15"] = dec(vals["ketone"])
        add(t, kind, **cells)
    rows.sort(key=lambda item: item[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    generated = (times or {}).get(None, "") or truth["historic"][-1][0].strftime(date) + " UTC"
    writer.writerow([c.format(generated=generated) for c in LIBRE_TITLE[language]])
    writer.writerow(header)
    for t, row in rows:
        row[2] = times[t] if times else t.strftime(date)
        writer.writerow(row)
    (HERE / name).write_text(buffer.getvalue(), encoding="utf-8")

    values = [_libre_as_read(mg, unit) for _, mg in truth["historic"] + truth["scans"]]
    events = truth["events"]
    grams = sum(v.get("grams", 0) for _, _, v in events)
    return {
        "readings": len(values),
        "scans": len(truth["scans"]),
        "glucose_mean": sum(values) / len(values),
        "low": sum(mg < 40 for _, mg in truth["historic"] + truth["scans"]),
        "high": sum(mg > 500 for _, mg in truth["historic"] + truth["scans"]),
        "carbs_grams": grams,
        "servings": sum(v.get("servings", 0) for _, _, v in events),
        "insulin": sum(v.get("rapid", 0) for _, _, v in events),
        "long_acting_insulin": sum(v.get("long", 0) for _, _, v in events),
        "rapid_no_dose": sum("rapid_nn" in v for _, _, v in events),
        "food_no_amount": sum("food_nn" in v for _, _, v in events),
        "strip_glucose": [_libre_as_read(v["strip"], unit) for _, _, v in events if "strip" in v],
        "ketone": [v["ketone"] for _, _, v in events if "ketone" in v],
        "notes": sum(k == "6" for k, _, _ in events),
        "first_reading": truth["historic"][0][0].strftime("%Y-%m-%d %H:%M:%S"),
        "unit": unit,
    }


def libreview() -> dict[str, Any]:
    truth: dict[str, Any] = {}
    two_days = _libre_truth(datetime(2024, 3, 14, 0, 0), 2)
    truth["libreview_libre1_us_mgdl.csv"] = _write_libre(
        "libreview_libre1_us_mgdl.csv", two_days, device="FreeStyle Libre", date="%m-%d-%Y %H:%M"
    )
    truth["libreview_libre2_eu_mmol.csv"] = _write_libre(
        "libreview_libre2_eu_mmol.csv",
        two_days,
        unit="mmol/L",
        device="FreeStyle LibreLink",
        columns=16,
    )
    truth["libreview_libre3_de_mmol.csv"] = _write_libre(
        "libreview_libre3_de_mmol.csv",
        two_days,
        language="German",
        unit="mmol/L",
        device="FreeStyle Libre 3",
        comma=True,
    )
    truth["libreview_servings.csv"] = _write_libre(
        "libreview_servings.csv", _libre_truth(datetime(2024, 3, 14, 0, 0), 1, servings=True)
    )
    early = _libre_truth(datetime(2024, 2, 1, 0, 0), 1)
    truth["libreview_ambiguous_dates.csv"] = _write_libre("libreview_ambiguous_dates.csv", early)
    # DST: 2024-10-27 in Berlin, historic every 15 min for 6 real hours from 00:00 local
    from zoneinfo import ZoneInfo

    zone, utc = ZoneInfo("Europe/Berlin"), ZoneInfo("UTC")
    first = datetime(2024, 10, 27, 0, 0, tzinfo=zone).astimezone(utc).replace(tzinfo=None)
    dst = {
        "historic": [
            (first + timedelta(minutes=15 * k + 2), _glucose_mgdl(3 * k)) for k in range(24)
        ],
        "scans": [],
        "events": [],
    }
    local = {
        t: t.replace(tzinfo=utc).astimezone(zone).strftime("%d-%m-%Y %H:%M")
        for t, _ in dst["historic"]
    }
    entry = _write_libre("libreview_dst_fall.csv", dst, times=local)
    entry["first_reading"] = local[dst["historic"][0][0]]
    entry["first_reading_utc"] = dst["historic"][0][0].strftime("%Y-%m-%d %H:%M:%S")
    entry["tz"] = "Europe/Berlin"
    truth["libreview_dst_fall.csv"] = entry
    good = (HERE / "libreview_libre1_us_mgdl.csv").read_text(encoding="utf-8")
    (HERE / "libreview_bad_truncated.csv").write_text(
        good[: good.index("\n", 3000) + 30], encoding="utf-8"
    )
    (HERE / "libreview_bad_mixed_units.csv").write_text(
        good.replace("Scan Glucose mg/dL", "Scan Glucose mmol/L", 1), encoding="utf-8"
    )
    return truth


def main() -> None:
    truth = {"clarity": clarity(), "libreview": libreview()}
    (HERE / "truth.json").write_text(
        json.dumps(truth, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
