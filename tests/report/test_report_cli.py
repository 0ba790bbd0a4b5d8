"""``dt1d report``, run for real in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dt1d.testing import make_synthetic_record

SCRIPT = Path(sys.executable).with_name("dt1d")


def run(*args: str) -> subprocess.CompletedProcess:
    assert SCRIPT.exists(), f"the dt1d console script is not installed next to {sys.executable}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def record_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "record.csv"
    make_synthetic_record(days=3, seed=7).to_csv(path)
    return path


def test_report_writes_each_format(record_csv, tmp_path):
    html = tmp_path / "agp.html"
    out = run("report", "--data", str(record_csv), "-o", str(html), "--units", "mmol/L")
    assert out.returncode == 0, out.stderr
    text = html.read_text(encoding="utf-8")
    assert 'data-key="unit" data-value="mmol/L"' in text
    pdf = tmp_path / "agp.bin"
    out = run("report", "--data", str(record_csv), "-o", str(pdf), "--output-format", "pdf")
    assert out.returncode == 0, out.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_report_errors_are_one_line(record_csv, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("time,glucose\n2026-01-01 00:00,\n2026-01-01 00:05,\n")
    for args, needle in (
        (["--data", str(record_csv), "-o", str(tmp_path / "agp.docx")], "suffix"),
        (["--data", str(record_csv), "-o", str(tmp_path / "no" / "agp.pdf")], "does not exist"),
        (["--data", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "agp.pdf")], "no such file"),
    ):
        out = run("report", *args)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert lines[-1].startswith("dt1d report: error:") and needle in lines[-1], out.stderr
        assert "Traceback" not in out.stderr
    out = run("report", "--data", str(empty), "-o", str(tmp_path / "agp.pdf"))
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert not (tmp_path / "agp.pdf").exists()
