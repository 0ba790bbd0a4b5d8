"""The AGP report: numbers read back from the HTML equal dt1d.metrics, files are real, errors are clear."""

from __future__ import annotations

import html.parser
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.data.schema import MGDL_PER_MMOLL
from dt1d.exceptions import Dt1dError, ReportError
from dt1d.metrics import glycaemic_outcomes
from dt1d.report import agp_figure, agp_report, agp_summary
from dt1d.testing import make_synthetic_record


class _Tagged(html.parser.HTMLParser):
    """Collects data-key -> data-value and every URL-bearing attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        found = dict(attrs)
        if "data-key" in found:
            self.values[found["data-key"]] = found["data-value"]
        for name in ("src", "href", "xlink:href"):
            if found.get(name):
                self.urls.append(found[name])


def _read_html(path: Path) -> _Tagged:
    parser = _Tagged()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def record() -> pd.DataFrame:
    return make_synthetic_record(days=14, seed=3)


def _expected(glucose: pd.Series, units: str) -> dict[str, float]:
    o = glycaemic_outcomes(glucose, units=units)
    scale = 1.0 if units == "mg/dL" else 1.0 / MGDL_PER_MMOLL
    return {
        "active_pct": o["coverage_pct"],
        "mean": o["mean_mgdl"] * scale,
        "sd": o["sd_mgdl"] * scale,
        "gmi_pct": o["gmi_pct"],
        "cv_pct": o["cv_pct"],
        "in_range_pct": o["time_in_range_70_180_pct"],
        "very_low_pct": o["time_below_54_pct"],
        "low_pct": o["time_below_70_pct"] - o["time_below_54_pct"],
        "high_pct": o["time_above_180_pct"] - o["time_above_250_pct"],
        "very_high_pct": o["time_above_250_pct"],
    }


def test_html_numbers_equal_glycaemic_outcomes(record, tmp_path):
    page = _read_html(agp_report(record, tmp_path / "agp.html"))
    expected = _expected(record["glucose"], "mg/dL")
    for key, value in expected.items():
        assert float(page.values[key]) == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert float(page.values["days"]) == pytest.approx(14.0)
    assert page.values["unit"] == "mg/dL"
    assert pd.Timestamp(page.values["start"]) == record["glucose"].first_valid_index()
    bands = ("very_low_pct", "low_pct", "in_range_pct", "high_pct", "very_high_pct")
    assert sum(float(page.values[k]) for k in bands) == pytest.approx(100.0)


def test_html_is_self_contained(record, tmp_path):
    path = agp_report(record, tmp_path / "agp.html")
    page = _read_html(path)
    text = path.read_text(encoding="utf-8")
    assert {"svg", "table"} <= page.tags
    assert text.count("<svg") == 2  # the AGP and the daily profiles
    assert not {"script", "link", "img", "iframe"} & page.tags
    assert all(url.startswith("#") for url in page.urls), page.urls
    assert "url(http" not in text and "@import" not in text


def test_mmol_report_uses_the_consensus_mmol_bands(tmp_path):
    # readings rounded to 0.1 mmol/L sit on the band limits (3.9 and 10.0 are in range)
    rec = make_synthetic_record(days=3, seed=5)
    mmol = (rec["glucose"] / MGDL_PER_MMOLL).round(1)
    mmol.iloc[:40] = 10.0
    mmol.iloc[40:60] = 3.9
    rec = rec.assign(glucose=mmol * MGDL_PER_MMOLL)
    page = _read_html(agp_report(rec, tmp_path / "agp.html", unit="mmol/L"))
    expected = _expected(mmol, "mmol/L")
    for key, value in expected.items():
        assert float(page.values[key]) == pytest.approx(value, rel=1e-12, abs=1e-12), key
    assert page.values["unit"] == "mmol/L"
    # converting to mg/dL first would put the 10.0 readings above 180 mg/dL
    in_range_mgdl = glycaemic_outcomes(rec["glucose"])["time_in_range_70_180_pct"]
    assert float(page.values["in_range_pct"]) > in_range_mgdl + 40 / len(rec) * 100 - 1e-9
    assert "3.9-10.0 mmol/L" in (tmp_path / "agp.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("suffix, magic", [(".pdf", b"%PDF-"), (".png", b"\x89PNG\r\n\x1a\n")])
def test_pdf_and_png_are_written(record, tmp_path, suffix, magic):
    path = agp_report(record, tmp_path / f"agp{suffix}")
    data = path.read_bytes()
    assert data.startswith(magic)
    assert len(data) > 30_000
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_png_is_one_a4_page_with_drawing_on_it(record, tmp_path):
    import matplotlib.image

    image = matplotlib.image.imread(agp_report(record, tmp_path / "agp.png"))
    height, width = image.shape[:2]
    assert height / width == pytest.approx(11.69 / 8.27, rel=0.01)
    ink = (image[..., :3] < 0.9).any(axis=2)
    assert 0.03 < ink.mean() < 0.6  # not blank, not a solid block
    assert ink[: height // 10].any() and ink[-height // 10 :].any()  # header and daily profiles


def test_format_argument_overrides_the_suffix(record, tmp_path):
    path = agp_report(record, tmp_path / "report.out", format="html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(ReportError, match="suffix"):
        agp_report(record, tmp_path / "report.out")
    with pytest.raises(ReportError, match="format='docx'"):
        agp_report(record, tmp_path / "report.pdf", format="docx")


@pytest.mark.parametrize("days, gap", [(1.0, False), (14.0, True), (90.0, True)])
def test_report_renders_for_short_long_and_gappy_records(tmp_path, days, gap):
    rec = make_synthetic_record(days=days, seed=11)
    if gap:  # three hours of missing CGM
        rec.loc[rec.index[200] : rec.index[236], "glucose"] = np.nan
    summary = agp_summary(rec)
    assert summary.days == pytest.approx(days, abs=0.01)
    assert (days < 14) == any("14" in note for note in summary.notes)
    fig = agp_figure(rec, unit="mmol/L")
    assert len(fig.axes) >= 5
    path = agp_report(rec, tmp_path / "agp.png")
    assert path.stat().st_size > 30_000


def test_daily_profiles_show_at_most_the_last_28_days():
    summary = agp_summary(make_synthetic_record(days=40, seed=2))
    from dt1d.report.figure import _days

    days = _days(summary)
    assert len(days) == 28 and days[-1] == summary.end.normalize()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda r: r.iloc[:0], "no glucose readings"),
        (lambda r: r.drop(columns="glucose"), "no 'glucose' column"),
        (lambda r: r.assign(glucose=np.nan), "no glucose readings"),
        (lambda r: r.iloc[:6], "too short"),
        (lambda r: r.reset_index(), "indexed by time"),
        (lambda r: r.assign(patient_id=["a", "b"] * (len(r) // 2)), "several patients"),
    ],
)
def test_records_that_cannot_be_reported(record, tmp_path, make, match):
    with pytest.raises(ReportError, match=match) as info:
        agp_report(make(record), tmp_path / "agp.pdf")
    assert isinstance(info.value, Dt1dError)
    assert not (tmp_path / "agp.pdf").exists()


def test_bad_unit_and_unwritable_paths(record, tmp_path):
    with pytest.raises(ReportError, match="unit='mmol'"):
        agp_report(record, tmp_path / "agp.pdf", unit="mmol")
    with pytest.raises(ReportError, match="does not exist"):
        agp_report(record, tmp_path / "missing" / "agp.pdf")
    with pytest.raises(ReportError, match="is a folder"):
        agp_report(record, tmp_path)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="does not exist"):
        agp_report(record, blocker / "agp.pdf")
    with pytest.raises(ReportError, match="needs twin="):
        agp_report(record, tmp_path / "agp.pdf", what_if={"bolus_scale": 0.8})


def test_a_failed_write_leaves_the_old_report_in_place(record, tmp_path, monkeypatch):
    path = tmp_path / "agp.png"
    path.write_bytes(b"old report")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(ReportError, match="No space left"):
        agp_report(record, path)
    assert path.read_bytes() == b"old report"
    assert [p.name for p in tmp_path.iterdir()] == ["agp.png"]


def test_importing_the_report_package_does_not_import_matplotlib():
    code = "import sys, dt1d.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
