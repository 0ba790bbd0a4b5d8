"""OhioT1DM XML reader: hand-computed basal/temp basal/square-wave bolus, duplicates, errors."""

import numpy as np
import pandas as pd
import pytest

from dt1d.data.readers import ReaderError, read_ohio


def _ts(hhmmss):
    return f"07-12-2021 {hhmmss}"


def _xml(glucose=None, extra="", root='<patient id="559" weight="99" insulin_type="Novalog">'):
    if glucose is None:
        glucose = "".join(
            f'<event ts="{_ts(f"{10 + (1 + 5 * i) // 60}:{(1 + 5 * i) % 60:02d}:00")}" value="{100 + i}"/>'
            for i in range(13)
        )
        # a second reading in the 10:30 step (duplicate time stamps happen in the files)
        glucose += f'<event ts="{_ts("10:31:00")}" value="160"/>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"{root}\n"
        f"<glucose_level>{glucose}</glucose_level>\n"
        '<finger_stick><event ts="07-12-2021 10:02:00" value="120"/></finger_stick>\n'
        f"{extra}</patient>\n"
    )


EVENTS = f"""
<basal>
  <event ts="{_ts("09:00:00")}" value="0.9"/>
  <event ts="{_ts("10:00:00")}" value="1.2"/>
  <event ts="{_ts("10:30:00")}" value="0.6"/>
</basal>
<temp_basal>
  <event ts_begin="{_ts("10:10:00")}" ts_end="{_ts("10:20:00")}" value="0.0"/>
  <event ts_begin="{_ts("10:17:30")}" ts_end="{_ts("10:27:30")}" value="2.4"/>
</temp_basal>
<bolus>
  <event ts_begin="{_ts("10:05:30")}" ts_end="{_ts("10:05:30")}" type="normal" dose="4.0" bwz_carb_input="60"/>
  <event ts_begin="{_ts("10:30:00")}" ts_end="{_ts("10:50:00")}" type="square" dose="2.0"/>
  <event ts_begin="{_ts("10:40:00")}" ts_end="{_ts("10:40:00")}" type="normal dual" dose="1.0"/>
</bolus>
<meal><event ts="{_ts("10:04:00")}" type="Breakfast" carbs="60"/></meal>
<exercise><event ts="{_ts("10:00:00")}" intensity="5" type="" duration="30"/></exercise>
"""


def test_hand_computed_record(tmp_path):
    path = tmp_path / "559-ws-training.xml"
    path.write_text(_xml(extra=EVENTS))
    rec = read_ohio(path)
    assert rec.index.tolist() == list(pd.date_range("2021-12-07 10:00", periods=13, freq="5min"))
    glucose = [100.0 + i for i in range(13)]
    glucose[6] = (106.0 + 160.0) / 2
    assert rec["glucose"].tolist() == glucose
    # 1.2 U/h = 0.1 U per step; temp 0 from 10:10, replaced at 10:17:30 by 2.4 U/h until 10:27:30;
    # 0.6 U/h from 10:30
    basal = [0.1, 0.1, 0.0, 0.1, 0.2, 0.15] + [0.05] * 7
    assert rec["basal"].tolist() == pytest.approx(basal, abs=1e-12)
    bolus = np.zeros(13)
    bolus[1] = 4.0
    bolus[6:10] += 0.5  # square wave: 2 U over 20 min
    bolus[8] += 1.0
    assert rec["bolus"].tolist() == pytest.approx(bolus.tolist(), abs=1e-12)
    carbs = np.zeros(13)
    carbs[0] = 60.0  # from <meal>, not double-counted from bwz_carb_input
    assert rec["carbs"].tolist() == carbs.tolist()
    assert rec.attrs == {"patient_id": "559", "body_weight_kg": 99.0}


def test_only_glucose(tmp_path):
    path = tmp_path / "p.xml"
    path.write_text(_xml())
    rec = read_ohio(path)
    assert rec["insulin"].sum() == 0.0 and rec["carbs"].sum() == 0.0


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            _xml(
                extra=f'<bolus><event ts_begin="{_ts("10:00:00")}" type="normal" dose="1"/><event ts_begin="2021-12-07 10:00" type="normal" dose="1"/></bolus>'
            ),
            r"p.xml: <bolus> event 1: field 'ts_begin': time '2021-12-07 10:00' is not DD-MM-YYYY",
        ),
        (
            _xml(
                extra=f'<bolus><event ts_begin="{_ts("10:00:00")}" type="normal" dose="lots"/></bolus>'
            ),
            r"<bolus> event 0: field 'dose': value 'lots' is not a number",
        ),
        (
            _xml(extra=f'<meal><event ts="{_ts("10:00:00")}" type="Lunch"/></meal>'),
            r"<meal> event 0: field 'carbs': has no 'carbs' attribute",
        ),
        (
            _xml(
                extra=f'<temp_basal><event ts_begin="{_ts("10:20:00")}" ts_end="{_ts("10:10:00")}" value="0"/></temp_basal>'
            ),
            r"<temp_basal> event 0: field 'ts_end': ts_end is before ts_begin",
        ),
        (
            _xml(glucose=f'<event ts="{_ts("10:00:00")}" value="-3"/>'),
            r"<glucose_level> event 0: field 'value': value '-3' is out of range",
        ),
        (_xml(glucose=""), r"has no <glucose_level> events"),
        (_xml(root="<person>").replace("</patient>", "</person>"), r"root element is <person>"),
        ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><patient/>', r"declares a DTD"),
        ("<patient><glucose_level>", r"not well-formed XML"),
    ],
)
def test_bad_files_name_file_event_and_field(tmp_path, content, match):
    path = tmp_path / "p.xml"
    path.write_text(content)
    with pytest.raises(ReaderError, match=match) as info:
        read_ohio(path)
    assert str(path) in str(info.value)
