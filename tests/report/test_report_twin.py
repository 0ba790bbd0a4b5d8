"""The twin page of the AGP report: its numbers are the twin's own, in every format."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dt1d.core.twin import DigitalTwin
from dt1d.exceptions import ReportError
from dt1d.metrics import glycaemic_outcomes
from dt1d.report import agp_report
from dt1d.sim import simulate

from .test_report_agp import _read_html

MECHANISTIC = {"body_weight_kg": 70.0, "n_starts": 1, "error_correction": False, "time_of_day": False}


@pytest.fixture(scope="module")
def record():
    return simulate("adult#001", "random", days=2, seed=4)


@pytest.fixture(scope="module")
def twin(record):
    return DigitalTwin("mechanistic", MECHANISTIC, horizon=[30, 60]).fit(record)


@pytest.fixture(scope="module")
def linear(record):
    return DigitalTwin("linear", {"lags": 6}, horizon=30).fit(record)


def test_twin_numbers_in_the_html_are_the_twins(record, twin, tmp_path):
    page = _read_html(agp_report(record, tmp_path / "agp.html", twin=twin, what_if={"bolus_scale": 0.7}))
    values = page.values
    table = twin.evaluate(record, horizons=[30, 60]).set_index("horizon_min")
    for h in (30, 60):
        assert float(values[f"rmse_{h}min"]) == pytest.approx(table.loc[h, "rmse"], rel=1e-12)
        assert float(values[f"mard_{h}min"]) == pytest.approx(table.loc[h, "mard"], rel=1e-12)
        assert float(values[f"clarke_A_{h}min"]) == pytest.approx(100 * table.loc[h, "clarke_A"], rel=1e-12)
    replay = glycaemic_outcomes(twin.simulate(record)["glucose"])
    what_if = glycaemic_outcomes(twin.simulate(record, bolus_scale=0.7)["glucose"])
    cgm = glycaemic_outcomes(record["glucose"])
    for name, outcomes in (("cgm", cgm), ("replay", replay), ("what_if", what_if)):
        for key in ("mean_mgdl", "time_in_range_70_180_pct", "time_below_70_pct", "cv_pct"):
            assert float(values[f"{name}_{key}"]) == pytest.approx(outcomes[key], rel=1e-12, abs=1e-12)
    # less bolus insulin: higher glucose
    assert float(values["what_if_mean_mgdl"]) > float(values["replay_mean_mgdl"]) + 5
    assert values["model_type"] == "mechanistic"
    assert path_count(tmp_path / "agp.html", "<svg") == 4  # AGP, daily, forecasts, replay


def path_count(path: Path, needle: str) -> int:
    return path.read_text(encoding="utf-8").count(needle)


def test_pdf_has_two_pages_and_png_both_pages(record, twin, tmp_path):
    pdf = agp_report(record, tmp_path / "agp.pdf", twin=twin)
    assert len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf.read_bytes())) == 2
    import matplotlib.image

    one = matplotlib.image.imread(agp_report(record, tmp_path / "one.png"))
    two = matplotlib.image.imread(agp_report(record, tmp_path / "two.png", twin=twin))
    assert two.shape[1] == one.shape[1] and two.shape[0] == pytest.approx(2 * one.shape[0], abs=2)


def test_mmol_twin_page(record, twin, tmp_path):
    page = _read_html(agp_report(record, tmp_path / "agp.html", twin=twin, unit="mmol/L"))
    mmol = (twin.simulate(record)["glucose"] / 18.0156).round(9)
    expected = glycaemic_outcomes(mmol, units="mmol/L")
    assert float(page.values["replay_time_in_range_70_180_pct"]) == pytest.approx(
        expected["time_in_range_70_180_pct"], rel=1e-12
    )
    assert float(page.values["replay_mean_mgdl"]) == pytest.approx(expected["mean_mgdl"] / 18.0156, rel=1e-12)


def test_a_twin_that_cannot_simulate_gets_forecasts_only(record, linear, tmp_path):
    page = _read_html(agp_report(record, tmp_path / "agp.html", twin=linear))
    assert "rmse_30min" in page.values and "replay_mean_mgdl" not in page.values
    assert "cannot replay" in (tmp_path / "agp.html").read_text(encoding="utf-8")
    assert agp_report(record, tmp_path / "agp.png", twin=linear).stat().st_size > 30_000
    with pytest.raises(ReportError, match="needs a twin that can simulate"):
        agp_report(record, tmp_path / "agp.pdf", twin=linear, what_if={"bolus_scale": 0.5})


def test_bad_twins_and_what_ifs(record, twin, tmp_path):
    with pytest.raises(ReportError, match="DigitalTwin"):
        agp_report(record, tmp_path / "agp.pdf", twin="twin.dt1d")
    with pytest.raises(ReportError, match="what_if=.*bolus_scale"):
        agp_report(record, tmp_path / "agp.pdf", twin=twin, what_if={"bolus_scale": -1.0})
    with pytest.raises(ReportError, match="what_if="):
        agp_report(record, tmp_path / "agp.pdf", twin=twin, what_if={"no_such_knob": 1.0})
    assert not (tmp_path / "agp.pdf").exists()


def test_cli_report_with_a_twin_file(record, twin, tmp_path):
    csv, twin_file, out = tmp_path / "record.csv", tmp_path / "twin.dt1d", tmp_path / "agp.html"
    record.to_csv(csv)
    twin.save(twin_file)
    script = Path(sys.executable).with_name("dt1d")
    proc = subprocess.run([str(script), "report", "--data", str(csv), "--twin", str(twin_file), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'data-key="rmse_30min"' in out.read_text(encoding="utf-8")
