"""Write the CareLink and Tidepool test fixtures from ground-truth events, and what they hold.

Run from the repository root: ``python tests/data/readers/make_fixtures_carelink_tidepool.py``.
The files are synthetic (no person's data) and follow the layouts described in
``docs/readers.md``. Next to them, ``expected_carelink_tidepool.json`` holds the
truth per 5-minute step, computed here by brute force (basal and square-wave
boluses integrated second by second), independently of the reader's grid code.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEP_S = 300
MGDL_PER_MMOLL = 18.0156

# -- CareLink ------------------------------------------------------------------------------------
CARELINK_HEADER = [
    "Index",
    "Date",
    "Time",
    "New Device Time",
    "BG Source",
    "BG Reading (mg/dL)",
    "Linked BG Meter ID",
    "Basal Rate (U/h)",
    "Temp Basal Amount",
    "Temp Basal Type",
    "Temp Basal Duration (h:mm:ss)",
    "Bolus Type",
    "Bolus Volume Selected (U)",
    "Bolus Volume Delivered (U)",
    "Bolus Duration (h:mm:ss)",
    "Prime Type",
    "Prime Volume Delivered (U)",
    "Alert",
    "Suspend",
    "Rewind",
    "BWZ Estimate (U)",
    "BWZ Target High BG (mg/dL)",
    "BWZ Target Low BG (mg/dL)",
    "BWZ Carb Ratio (g/U)",
    "BWZ Insulin Sensitivity (mg/dL/U)",
    "BWZ Carb Input (grams)",
    "BWZ BG/SG Input (mg/dL)",
    "BWZ Correction Estimate (U)",
    "BWZ Food Estimate (U)",
    "BWZ Active Insulin (U)",
    "BWZ Status",
    "Sensor Calibration BG (mg/dL)",
    "Sensor Glucose (mg/dL)",
    "ISIG Value",
    "Event Marker",
    "Bolus Number",
    "Bolus Cancellation Reason",
    "BWZ Unabsorbed Insulin Total (U)",
    "Final Bolus Estimate",
    "Scroll Step Size",
    "Insulin Action Curve Time",
    "Sensor Calibration Rejected Reason",
    "Preset Bolus",
    "Bolus Source",
    "BLE Network Device",
    "Device Update Event",
    "Network Device Associated Reason",
    "Network Device Disassociated Reason",
    "Network Device Disconnected Reason",
    "Sensor Exception",
    "Preset Temp Basal Name",
]


def _mmol_header() -> list[str]:
    return [h.replace("mg/dL", "mmol/L") for h in CARELINK_HEADER]


def _row(
    header: list[str], index: str, when: datetime, date_fmt: str, cells: dict[str, str]
) -> list[str]:
    out = {h: "" for h in header}
    out["Index"] = index
    out["Date"] = when.strftime(date_fmt)
    out["Time"] = when.strftime("%H:%M:%S")
    for key, value in cells.items():
        assert key in out, key
        out[key] = value
    return [out[h] for h in header]


def _write_carelink(
    path: Path,
    device: str,
    sections: list[tuple[str, list[tuple[datetime, dict[str, str]]]]],
    *,
    header: list[str],
    sep: str = ",",
    date_fmt: str = "%Y/%m/%d",
    comma_decimal: bool = False,
) -> None:
    """Preamble, then each (marker, rows) section newest row first, Index counting up."""
    lines = [
        sep.join(
            ["Last Name", "First Name", "Patient ID", "Start Date", "End Date", "Device", device]
        ),
        sep.join(
            [
                '"Synthetic"',
                '"Fixture"',
                "",
                "2024/03/01 00:00:00",
                "2024/03/02 00:00:00",
                '"Serial Number"',
                "NG0000000H",
            ]
        ),
        sep.join(["Patient DOB", "", "", "", "", "", "CGM", "Guardian Sensor (3)"]),
        "",
        "",
    ]
    index = 0
    for marker, rows in sections:
        lines.append(
            sep.join([_MARKER, device, marker.split("|")[0], "NG0000000H", marker.split("|")[1]])
        )
        lines.append(sep.join(header))
        for when, cells in sorted(rows, key=lambda r: r[0], reverse=True):
            if comma_decimal:
                cells = {k: v.replace(".", ",") if _is_number(v) else v for k, v in cells.items()}
            text = f"{index},00000" if comma_decimal else str(index)
            lines.append(sep.join(_row(header, text, when, date_fmt, cells)))
            index += 1
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_MARKER = "-------"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _brute(
    start: datetime,
    n_steps: int,
    basal: list[tuple[datetime, float]],
    temps: list[tuple[datetime, float, bool, float]],
    suspends: list[tuple[datetime, datetime]],
    squares: list[tuple[datetime, float, float]],
) -> tuple[list[float], list[float]]:
    """Basal and square-wave bolus U per step, integrating the rates second by second.

    basal: (time, U/h) scheduled; temps: (start, amount, is_percent, minutes), a later
    one replacing the one running; suspends: [start, end); squares: (start, U, minutes).
    """
    basal_steps = [0.0] * n_steps
    square_steps = [0.0] * n_steps
    temps = sorted(temps)
    for s in range(n_steps * STEP_S):
        now = start + timedelta(seconds=s + 0.5)
        if any(a <= now < b for a, b in suspends):
            rate = 0.0
        else:
            sched = [r for t, r in basal if t <= now and not any(a <= t < b for a, b in suspends)]
            rate = sched[-1] if sched else 0.0
            running = [x for x in temps if x[0] <= now]
            if running:
                t0, amount, is_percent, minutes = running[-1]
                if now < t0 + timedelta(minutes=minutes):
                    rate = rate * amount / 100.0 if is_percent else amount
        basal_steps[s // STEP_S] += rate / 3600.0
        for t0, units, minutes in squares:
            if t0 <= now < t0 + timedelta(minutes=minutes):
                square_steps[s // STEP_S] += units / (minutes * 60.0)
    return [round(x, 9) for x in basal_steps], [round(x, 9) for x in square_steps]


def _slot(start: datetime, when: datetime) -> int:
    return int((when - start).total_seconds() // STEP_S)


def carelink_mgdl(expected: dict) -> None:
    """A US 670G export: mg/dL, pump and sensor sections, every kind of basal and bolus."""
    day = datetime(2024, 3, 1)
    at = lambda h, m, s=0: day + timedelta(hours=h, minutes=m, seconds=s)  # noqa: E731
    n = 72  # 00:00 - 05:55
    sensor = []
    glucose = []
    for i in range(n):
        value = 100 + (i * 7) % 90
        glucose.append(float(value))
        sensor.append(
            (
                day + timedelta(minutes=5 * i),
                {
                    "Sensor Glucose (mg/dL)": str(value),
                    "ISIG Value": f"{value / 5:.2f}",
                },
            )
        )
    basal = [(at(0, 0), 0.8), (at(2, 0), 0.0), (at(3, 0), 1.2)]  # the 0 is logged while suspended
    temps = [
        (at(1, 0), 50.0, True, 30.0),
        (at(4, 0), 2.0, False, 60.0),
        (at(4, 30), 0.0, False, 15.0),
    ]
    suspends = [(at(2, 0), at(2, 20))]
    squares = [
        (at(2, 40), 2.0, 60.0),
        (at(5, 0), 1.5, 60.0),
    ]  # the second: 3 U for 2 h, stopped at 1.5 U
    pump = [
        (at(0, 0), {"Basal Rate (U/h)": "0.8"}),
        (at(3, 0), {"Basal Rate (U/h)": "1.2"}),
        (
            at(1, 0),
            {
                "Temp Basal Amount": "50",
                "Temp Basal Type": "Percent",
                "Temp Basal Duration (h:mm:ss)": "0:30:00",
            },
        ),
        (
            at(4, 0),
            {
                "Temp Basal Amount": "2.0",
                "Temp Basal Type": "Insulin Rate",
                "Temp Basal Duration (h:mm:ss)": "1:00:00",
            },
        ),
        (
            at(4, 30),
            {
                "Temp Basal Amount": "0.0",
                "Temp Basal Type": "Insulin Rate",
                "Temp Basal Duration (h:mm:ss)": "0:15:00",
            },
        ),
        (at(2, 0), {"Suspend": "USER_SUSPEND", "Basal Rate (U/h)": "0"}),
        (at(2, 20), {"Suspend": "NORMAL_PUMPING"}),
        # the bolus wizard, then the bolus: first as programmed, then as delivered
        (
            at(0, 32, 5),
            {
                "BWZ Carb Input (grams)": "45",
                "BWZ Estimate (U)": "3.5",
                "BWZ Carb Ratio (g/U)": "13",
                "BWZ Food Estimate (U)": "3.5",
                "BWZ Status": "Delivered",
            },
        ),
        (
            at(0, 32, 10),
            {
                "Bolus Type": "Normal",
                "Bolus Volume Selected (U)": "3.5",
                "Bolus Source": "BOLUS_WIZARD",
            },
        ),
        (
            at(0, 32, 10),
            {
                "Bolus Type": "Normal",
                "Bolus Volume Selected (U)": "3.5",
                "Bolus Volume Delivered (U)": "3.5",
                "Bolus Source": "BOLUS_WIZARD",
            },
        ),
        (
            at(2, 40),
            {
                "Bolus Type": "Dual (normal part)",
                "Bolus Volume Selected (U)": "1.0",
                "Bolus Volume Delivered (U)": "1.0",
            },
        ),
        (
            at(2, 40),
            {
                "Bolus Type": "Dual (square part)",
                "Bolus Volume Selected (U)": "2.0",
                "Bolus Volume Delivered (U)": "2.0",
                "Bolus Duration (h:mm:ss)": "1:00:00",
            },
        ),
        (
            at(5, 0),
            {
                "Bolus Type": "Square",
                "Bolus Volume Selected (U)": "3.0",
                "Bolus Volume Delivered (U)": "1.5",
                "Bolus Duration (h:mm:ss)": "2:00:00",
            },
        ),
        (
            at(4, 10),
            {
                "Bolus Type": "Normal",
                "Bolus Volume Selected (U)": "0.5",
                "Bolus Volume Delivered (U)": "0.5",
                "Bolus Source": "MANUAL",
            },
        ),
        (at(3, 10), {"BG Reading (mg/dL)": "112", "BG Source": "BG_LINK"}),
        (at(3, 30), {"Alert": "Low SG Alarm"}),
    ]
    # rows repeated across sections: the BG reading and a bolus also sit in the sensor section
    sensor += [pump[-3], pump[-2]]
    _write_carelink(
        HERE / "carelink_mgdl.csv",
        "MiniMed 670G MMT-1780",
        [("Pump|-------", pump), ("Sensor|-------", sensor)],
        header=CARELINK_HEADER,
    )
    basal_u, square_u = _brute(day, n, basal, temps, suspends, squares)
    bolus_u = list(square_u)
    for when, units in [(at(0, 32, 10), 3.5), (at(2, 40), 1.0), (at(4, 10), 0.5)]:
        bolus_u[_slot(day, when)] += units
    carbs = [0.0] * n
    carbs[_slot(day, at(0, 32, 5))] = 45.0
    expected["carelink_mgdl.csv"] = {
        "start": day.isoformat(),
        "glucose": glucose,
        "basal": basal_u,
        "bolus": bolus_u,
        "carbs": carbs,
        "bg_reading": {str(_slot(day, at(3, 10))): 112.0},
    }


def carelink_mmol_780g(expected: dict) -> None:
    """A European 780G export: ';', decimal commas, mmol/L, the aggregated auto-insulin section."""
    day = datetime(2024, 3, 13)
    at = lambda h, m, s=0: day + timedelta(hours=h, minutes=m, seconds=s)  # noqa: E731
    n = 36  # 00:00 - 02:55
    sensor, glucose = [], []
    for i in range(n):
        mmol = round(5.5 + 2.0 * math.sin(i / 6), 1)
        glucose.append(mmol * MGDL_PER_MMOLL)
        sensor.append(
            (
                day + timedelta(minutes=5 * i, seconds=11),
                {
                    "Sensor Glucose (mmol/L)": f"{mmol:.1f}",
                    "ISIG Value": f"{mmol * 4:.2f}",
                },
            )
        )
    pump = [
        (at(0, 0), {"Basal Rate (U/h)": "0.9"}),
        (at(1, 49, 9), {"BWZ Carb Input (grams)": "40", "BWZ BG/SG Input (mmol/L)": "7.2"}),
        (
            at(1, 54, 31),
            {
                "Bolus Type": "Normal",
                "Bolus Volume Selected (U)": "2.5",
                "Bolus Volume Delivered (U)": "2.5",
                "Bolus Source": "CLOSED_LOOP_BG_CORRECTION_AND_FOOD_BOLUS",
            },
        ),
    ]
    auto = [
        (
            at(0, 0),
            {
                "Bolus Type": "Normal",
                "Bolus Volume Selected (U)": "27.895",
                "Bolus Volume Delivered (U)": "27.895",
                "Bolus Source": "CLOSED_LOOP_AUTO_INSULIN",
            },
        )
    ]
    _write_carelink(
        HERE / "carelink_mmol_780g.csv",
        "MiniMed 780G MMT-1886",
        [
            ("Pump|-------", pump),
            ("Pump|Aggregated Auto Insulin Data", auto),
            ("Sensor|-------", sensor),
        ],
        header=_mmol_header(),
        sep=";",
        comma_decimal=True,
    )
    basal_u, _ = _brute(day, n, [(at(0, 0), 0.9)], [], [], [])
    bolus_u = [0.0] * n
    bolus_u[_slot(day, at(1, 54, 31))] = 2.5
    carbs = [0.0] * n
    carbs[_slot(day, at(1, 49, 9))] = 40.0
    expected["carelink_mmol_780g.csv"] = {
        "start": day.isoformat(),
        "glucose": glucose,
        "basal": basal_u,
        "bolus": bolus_u,
        "carbs": carbs,
        "auto_insulin_daily": 27.895,
    }


def carelink_dst(expected: dict) -> None:
    """Sensor rows through the US fall-back night (01:00-01:59 twice), newest first."""
    # true instants, UTC: 2024-11-03 04:00Z (00:00 EDT) to 07:55Z (02:55 EST), 48 readings
    utc0 = datetime(2024, 11, 3, 4, 0)
    rows, glucose = [], []
    for i in range(48):
        true = utc0 + timedelta(minutes=5 * i)
        offset = timedelta(hours=-4) if true < datetime(2024, 11, 3, 6, 0) else timedelta(hours=-5)
        value = 90 + i
        glucose.append(float(value))
        rows.append((true + offset, {"Sensor Glucose (mg/dL)": str(value)}, true))
    pump = [(datetime(2024, 11, 3, 0, 0), {"Basal Rate (U/h)": "1.2"})]
    # sort by the true instant (newest first): _write_carelink sorts by clock time, so write here
    header = CARELINK_HEADER
    lines = [
        "Last Name,First Name,Patient ID,Start Date,End Date,Device,MiniMed 770G MMT-1885",
        "",
        _MARKER + ",MiniMed 770G MMT-1885,Pump,NG0000000H," + _MARKER,
        ",".join(header),
        ",".join(_row(header, "0", pump[0][0], "%Y/%m/%d", pump[0][1])),
        "",
        _MARKER + ",MiniMed 770G MMT-1885,Sensor,NG0000000H," + _MARKER,
        ",".join(header),
    ]
    for k, (clock, cells, _) in enumerate(sorted(rows, key=lambda r: r[2], reverse=True)):
        lines.append(",".join(_row(header, str(k + 1), clock, "%Y/%m/%d", cells)))
    (HERE / "carelink_dst.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected["carelink_dst.csv"] = {
        "start_utc": utc0.isoformat() + "+00:00",
        "tz": "America/New_York",
        "glucose": glucose,
        "basal_per_step": 0.1,
    }


# -- Tidepool ------------------------------------------------------------------------------------
TIDEPOOL_MGDL_PER_MMOLL = 18.01559


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _intervals_brute(
    start: datetime, n_steps: int, intervals: list[tuple[datetime, datetime, float]]
) -> list[float]:
    """U per step of (start, end, U/h) intervals, second by second."""
    out = [0.0] * n_steps
    for s in range(n_steps * STEP_S):
        now = start + timedelta(seconds=s + 0.5)
        out[s // STEP_S] += sum(r for a, b, r in intervals if a <= now < b) / 3600.0
    return [round(x, 9) for x in out]


def tidepool_json(expected: dict) -> None:
    """A pump + CGM account in UTC across the Europe/Berlin spring-forward night (01:00Z)."""
    t0 = datetime(2024, 3, 30, 22, 0)
    at = lambda h, m, s=0: t0 + timedelta(hours=h, minutes=m, seconds=s)  # noqa: E731
    n = 72  # 22:00Z - 03:55Z
    data: list[dict] = [
        {
            "type": "upload",
            "id": "up1",
            "time": _iso(t0),
            "timezone": "Europe/Berlin",
            "deviceManufacturers": ["Synthetic"],
            "deviceTags": ["insulin-pump", "cgm"],
        }
    ]
    glucose = []
    for i in range(n):
        mgdl = 90 + (i * 5) % 120
        glucose.append(float(mgdl))
        data.append(
            {
                "type": "cbg",
                "id": f"cbg{i}",
                "time": _iso(t0 + timedelta(minutes=5 * i, seconds=20)),
                "units": "mmol/L",
                "value": mgdl / TIDEPOOL_MGDL_PER_MMOLL,
                "uploadId": "up1",
            }
        )
    data.append(dict(data[5]))  # the same object uploaded twice: read once
    data.append(
        {
            "type": "smbg",
            "id": "smbg1",
            "time": _iso(at(1, 12)),
            "units": "mmol/L",
            "value": 126 / TIDEPOOL_MGDL_PER_MMOLL,
            "subType": "manual",
        }
    )
    basal = [  # a gapless basal stream, as the data model describes it
        (at(0, 0), at(2, 0), 0.8, {"deliveryType": "scheduled", "rate": 0.8}),
        (
            at(2, 0),
            at(2, 30),
            0.4,
            {
                "deliveryType": "temp",
                "percent": 0.5,
                "suppressed": {"type": "basal", "deliveryType": "scheduled", "rate": 0.8},
            },
        ),
        (at(2, 30), at(3, 0), 0.8, {"deliveryType": "scheduled", "rate": 0.8}),
        (at(3, 0), at(3, 20), 0.0, {"deliveryType": "suspend"}),
        (at(3, 20), at(5, 0), 1.0, {"deliveryType": "scheduled", "rate": 1.0}),
        (at(5, 0), at(6, 0), 1.5, {"deliveryType": "automated", "rate": 1.5}),
    ]
    for k, (a, b, _, fields) in enumerate(basal):
        data.append(
            {
                "type": "basal",
                "id": f"basal{k}",
                "time": _iso(a),
                "duration": int((b - a).total_seconds() * 1000),
                **fields,
            }
        )
    data += [
        {
            "type": "wizard",
            "id": "wiz1",
            "time": _iso(at(0, 32, 5)),
            "carbInput": 50,
            "units": "mmol/L",
            "insulinCarbRatio": 12.5,
            "bolus": "bolus1",
        },
        {
            "type": "bolus",
            "id": "bolus1",
            "subType": "normal",
            "time": _iso(at(0, 32, 10)),
            "normal": 4.0,
        },
        {
            "type": "bolus",
            "id": "bolus2",
            "subType": "square",
            "time": _iso(at(1, 10)),
            "extended": 2.0,
            "duration": 3600000,
        },
        # interrupted combination bolus: 1.5 of 3 U extended, over half the programmed hour
        {
            "type": "bolus",
            "id": "bolus3",
            "subType": "dual/square",
            "time": _iso(at(3, 40)),
            "normal": 1.0,
            "extended": 1.5,
            "expectedExtended": 3.0,
            "duration": 1800000,
            "expectedDuration": 3600000,
        },
        {
            "type": "bolus",
            "id": "bolus4",
            "subType": "automated",
            "time": _iso(at(4, 5)),
            "normal": 0.3,
        },
        {
            "type": "food",
            "id": "food1",
            "time": _iso(at(4, 30)),
            "nutrition": {"carbohydrate": {"net": 20, "units": "grams"}},
        },
        {
            "type": "insulin",
            "id": "pen1",
            "time": _iso(at(0, 15)),
            "dose": {"total": 14, "units": "Units"},
            "formulation": {"simple": {"actingType": "long", "brand": "glargine"}},
        },
        {
            "type": "insulin",
            "id": "pen2",
            "time": _iso(at(5, 20)),
            "dose": {"total": 2, "units": "Units"},
            "formulation": {"simple": {"actingType": "rapid"}},
        },
        {"type": "deviceEvent", "id": "ev1", "subType": "reservoirChange", "time": _iso(at(3, 5))},
        {"type": "pumpSettings", "id": "ps1", "time": _iso(t0), "activeSchedule": "standard"},
    ]
    (HERE / "tidepool.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    grid0 = t0
    basal_u = _intervals_brute(grid0, n, [(a, b, r) for a, b, r, _ in basal])
    ext = _intervals_brute(grid0, n, [(at(1, 10), at(2, 10), 2.0), (at(3, 40), at(4, 10), 3.0)])
    bolus_u = list(ext)
    for when, units in [(at(0, 32, 10), 4.0), (at(3, 40), 1.0), (at(4, 5), 0.3), (at(5, 20), 2.0)]:
        bolus_u[_slot(grid0, when)] += units
    carbs = [0.0] * n
    carbs[_slot(grid0, at(0, 32, 5))] += 50.0
    carbs[_slot(grid0, at(4, 30))] += 20.0
    long_acting = [0.0] * n
    long_acting[_slot(grid0, at(0, 15))] = 14.0
    expected["tidepool.json"] = {
        "start_utc": t0.isoformat() + "+00:00",
        "tz": "Europe/Berlin",
        "glucose": glucose,
        "basal": basal_u,
        "bolus": bolus_u,
        "carbs": carbs,
        "long_acting_insulin": long_acting,
        "smbg": {str(_slot(grid0, at(1, 12))): 126.0},
        "events": {str(_slot(grid0, at(3, 5))): "deviceEvent/reservoirChange"},
    }


def tidepool_device_time(expected: dict) -> None:
    """CGM objects with only a local deviceTime (mg/dL) through the Europe/Berlin fall-back night."""
    utc0 = datetime(2024, 10, 26, 23, 0)  # 01:00 CEST; clocks go back at 01:00Z (03:00 -> 02:00)
    data, glucose = [], []
    for i in range(48):
        true = utc0 + timedelta(minutes=5 * i)
        local = true + (
            timedelta(hours=2) if true < datetime(2024, 10, 27, 1, 0) else timedelta(hours=1)
        )
        glucose.append(float(100 + i))
        data.append(
            {
                "type": "cbg",
                "id": f"c{i}",
                "deviceTime": local.strftime("%Y-%m-%dT%H:%M:%S"),
                "units": "mg/dL",
                "value": 100 + i,
            }
        )
    (HERE / "tidepool_devicetime.json").write_text(json.dumps(data) + "\n", encoding="utf-8")
    expected["tidepool_devicetime.json"] = {
        "start_utc": utc0.isoformat() + "+00:00",
        "tz": "Europe/Berlin",
        "glucose": glucose,
    }


def main() -> None:
    expected: dict = {}
    carelink_mgdl(expected)
    carelink_mmol_780g(expected)
    carelink_dst(expected)
    tidepool_json(expected)
    tidepool_device_time(expected)
    target = HERE / "expected_carelink_tidepool.json"
    old = json.loads(target.read_text()) if target.exists() else {}
    old.update(expected)
    target.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
