"""The ``dt1d`` console script, run for real in a subprocess."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.testing import make_synthetic_record

SCRIPT = Path(sys.executable).with_name("dt1d")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    assert SCRIPT.exists(), f"the dt1d console script is not installed next to {sys.executable}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def record_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "record.csv"
    make_synthetic_record(days=3, seed=7).to_csv(path)
    return path


def test_models_lists_builtins_with_module_and_tags():
    out = run("models")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert "dt1d.models.baselines.LinearModel" in lines["linear"]
    assert "multi_horizon" in lines["persistence"]
    only = run("models", "lin*")
    assert only.returncode == 0 and [ln.split()[0] for ln in only.stdout.splitlines()] == ["linear"]


def test_fit_predict_evaluate_round_trip(record_csv, tmp_path):
    before = digest(record_csv)
    twin = tmp_path / "twin.dt1d"
    out = run("fit", "--model", "linear", "--data", str(record_csv), "--horizon", "30,60",
              "--param", "lags=6", "-o", str(twin))
    assert out.returncode == 0, out.stderr
    assert twin.exists()

    forecast = tmp_path / "forecast.csv"
    out = run("predict", "--twin", str(twin), "--data", str(record_csv), "-o", str(forecast))
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(forecast, index_col="time")
    assert list(table.columns) == ["glucose", "glucose_30min", "glucose_60min"]
    assert len(table) == 864
    from dt1d import DigitalTwin
    from dt1d.data import read_csv

    expected = DigitalTwin.load(twin).predict(read_csv(record_csv))
    np.testing.assert_allclose(table[["glucose_30min", "glucose_60min"]].to_numpy(), expected, rtol=1e-12)
    assert np.isfinite(expected).all(axis=1).mean() > 0.8

    out = run("evaluate", "--twin", str(twin), "--data", str(record_csv), "--plot", str(tmp_path / "r.png"))
    assert out.returncode == 0, out.stderr
    assert "rmse" in out.stdout and "30" in out.stdout
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert digest(record_csv) == before, "an input file was modified"


@pytest.mark.parametrize(
    "args,message",
    [
        (("fit", "--model", "lineer", "--data", "{csv}", "-o", "{tmp}/t.dt1d"), "linear"),
        (("fit", "--model", "linear", "--data", "{tmp}/missing.csv", "-o", "{tmp}/t.dt1d"), "no such file"),
        (("fit", "--model", "linear", "--data", "{csv}", "--param", "lagz=3", "-o", "{tmp}/t.dt1d"), "lagz"),
        (("predict", "--twin", "{csv}", "--data", "{csv}", "-o", "{tmp}/f.csv"), "{csv}"),
        (("fit", "--model", "linear", "--data", "{bad}", "-o", "{tmp}/t.dt1d"), "glucose"),
        (("replay", "--twin", "{twin}", "--data", "{csv}", "-o", "{tmp}/w.csv"), "cannot simulate"),
    ],
    ids=["unknown-model", "missing-file", "bad-param", "not-a-twin", "bad-column", "cannot-simulate"],
)
def test_user_errors_are_one_line_without_traceback(args, message, record_csv, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,sugar\n2026-01-01 00:00,100\n2026-01-01 00:05,110\n")
    twin = tmp_path / "p.dt1d"
    assert run("fit", "--model", "persistence", "--data", str(record_csv), "-o", str(twin)).returncode == 0
    fill = {"csv": str(record_csv), "tmp": str(tmp_path), "bad": str(bad), "twin": str(twin)}
    out = run(*(a.format(**fill) for a in args))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("dt1d")]
    assert len(lines) == 1 and message.format(**fill) in lines[0], out.stderr
    assert not (tmp_path / "t.dt1d").exists() and not (tmp_path / "f.csv").exists()


def test_output_in_a_missing_folder_is_an_error_and_writes_nothing(record_csv, tmp_path):
    out = run("fit", "--model", "persistence", "--data", str(record_csv), "-o", str(tmp_path / "no" / "t.dt1d"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("dt1d ")
    out = run("--help")
    for command in ("models", "simulate", "fit", "predict", "evaluate", "replay", "demo"):
        assert command in out.stdout


def test_simulate_writes_a_valid_record_and_a_cohort(tmp_path):
    from dt1d.data import read_csv

    out = run("simulate", "--patient", "adult#001", "--days", "1", "--seed", "3", "-o", str(tmp_path / "sim.csv"))
    assert out.returncode == 0, out.stderr
    record = read_csv(tmp_path / "sim.csv")
    assert len(record) == 288 and record["carbs"].sum() > 0
    out = run("simulate", "--patients", "child#00[12]", "--days", "1", "-o", str(tmp_path / "c.csv"))
    assert out.returncode == 0, out.stderr
    cohort = pd.read_csv(tmp_path / "c.csv")
    assert sorted(cohort["patient_id"].unique()) == ["child#001", "child#002"]
    out = run("simulate", "--patient", "adult#099", "-o", str(tmp_path / "x.csv"))
    assert out.returncode == 2 and "adult#0" in out.stderr and "Traceback" not in out.stderr


def test_mechanistic_fit_and_replay_from_the_command_line(tmp_path):
    sim_csv = tmp_path / "sim.csv"
    assert run("simulate", "--patient", "adult#002", "--days", "2", "--seed", "1", "-o", str(sim_csv)).returncode == 0
    twin = tmp_path / "twin.dt1d"
    out = run("fit", "--model", "mechanistic", "--data", str(sim_csv), "--param", "body_weight_kg=70", "-o", str(twin))
    assert out.returncode == 0, out.stderr
    whatif = tmp_path / "whatif.csv"
    out = run("replay", "--twin", str(twin), "--data", str(sim_csv), "--scale-bolus", "0.5", "-o", str(whatif))
    assert out.returncode == 0, out.stderr
    same = tmp_path / "same.csv"
    assert run("replay", "--twin", str(twin), "--data", str(sim_csv), "-o", str(same)).returncode == 0
    half, full = pd.read_csv(whatif), pd.read_csv(same)
    # Half the bolus insulin: higher glucose on average, never markedly lower.
    assert half["glucose"].mean() > full["glucose"].mean() + 5


def test_demo_runs_the_main_job_and_writes_a_report(tmp_path):
    out = run("demo", "--days", "5", "--out-dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    for model in ("persistence", "linear", "mechanistic", "lstm"):
        assert model in out.stdout
    assert (tmp_path / "dt1d_demo_report.png").stat().st_size > 10_000
    agp = tmp_path / "dt1d_demo_agp.pdf"
    assert agp.read_bytes()[:5] == b"%PDF-" and agp.stat().st_size > 10_000
