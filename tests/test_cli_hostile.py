"""Careless and hostile command lines: every mistake is one line on stderr and exit status 2."""

from __future__ import annotations

import errno
import os

import pytest

from dt1d import cli
from dt1d.testing import make_synthetic_record


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_hostile")
    data = folder / "r.csv"
    make_synthetic_record(days=1, seed=0).to_csv(data)
    twin = folder / "t.dt1d"
    assert cli.main(["fit", "--model", "persistence", "--data", str(data), "-o", str(twin)]) == 0
    return {"data": str(data), "twin": str(twin), "dir": str(folder)}


def _one_line_error(capsys, argv, fragment):
    with pytest.raises(SystemExit) as info:
        code = cli.main(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err.strip()
    assert info.value.code == cli.EXIT_USAGE, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and fragment in lines[0], err
    assert len(lines[0]) < 400
    return lines[0]


BAD_DAYS = ["nan", "NaN", "inf", "-inf", "0", "-1", "-0.5", "1e9", "3651", "abc", "", "1e400", "0x10",
            "0.1", "1e-9"]


@pytest.mark.parametrize("days", BAD_DAYS)
def test_simulate_refuses_bad_days(capsys, tmp_path, days):
    argv = ["simulate", "--patient", "adult#001", "--days", days, "-o", str(tmp_path / "s.csv")]
    _one_line_error(capsys, argv, "--days")
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("days", ["nan", "inf", "0", "-3", "2.5", "99999999999999999999"])
def test_demo_refuses_bad_days(capsys, tmp_path, days):
    _one_line_error(capsys, ["demo", "--days", days, "--out-dir", str(tmp_path)], "--days")


@pytest.mark.parametrize("seed", ["-1", "-99999999999999999999", "4294967296", "1.5", "nan", "seed"])
@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_bad_seeds_are_refused(capsys, tmp_path, seed, command):
    argv = (["simulate", "--patient", "adult#001", "-o", str(tmp_path / "s.csv")] if command == "simulate"
            else ["demo", "--out-dir", str(tmp_path)])
    _one_line_error(capsys, [*argv, "--seed", seed], "--seed")


@pytest.mark.parametrize("horizon", ["99999999999999999999", "10081", "0", "-30", "30,-5", "30,abc",
                                     "nan", "", "30,30"])
def test_fit_refuses_bad_horizons(capsys, files, tmp_path, horizon):
    out = tmp_path / "t.dt1d"
    argv = ["fit", "--model", "linear", "--data", files["data"], "--horizon", horizon, "-o", str(out)]
    _one_line_error(capsys, argv, "horizon")
    assert not out.exists()


@pytest.mark.parametrize(("flag", "value"), [
    ("--scale-bolus", "nan"), ("--scale-bolus", "inf"), ("--scale-bolus", "-1"),
    ("--scale-basal", "1e300"), ("--scale-basal", "x"), ("--shift-meals", "99999999999999999999"),
    ("--shift-meals", "1.5"),
])
def test_replay_refuses_bad_numbers(capsys, files, tmp_path, flag, value):
    argv = ["replay", "--twin", files["twin"], "--data", files["data"], flag, value,
            "-o", str(tmp_path / "w.csv")]
    _one_line_error(capsys, argv, flag if flag != "--scale-basal" else "scale")


def test_argparse_mistakes_are_one_line_too(capsys):
    _one_line_error(capsys, ["fit"], "required")
    _one_line_error(capsys, ["no-such-command"], "invalid choice")
    _one_line_error(capsys, ["models", "--frobnicate"], "unrecognized arguments")


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("command", ["fit", "predict", "simulate"])
def test_a_full_disk_is_one_line_and_keeps_the_old_file(capsys, monkeypatch, files, tmp_path, command):
    out = tmp_path / ("t.dt1d" if command == "fit" else "o.csv")
    out.write_bytes(b"the old file")
    argv = {
        "fit": ["fit", "--model", "persistence", "--data", files["data"], "-o", str(out)],
        "predict": ["predict", "--twin", files["twin"], "--data", files["data"], "-o", str(out)],
        "simulate": ["simulate", "--patient", "adult#001", "--days", "0.25", "-o", str(out)],
    }[command]
    monkeypatch.setattr("dt1d.data.atomic.os.fsync", _disk_full)
    line = _one_line_error(capsys, argv, "No space left on device")
    assert line.startswith(f"dt1d {command}: error:")
    assert out.read_bytes() == b"the old file"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left


@pytest.mark.parametrize("code", [errno.EROFS, errno.EFBIG, errno.EDQUOT])
def test_other_machine_write_failures_are_user_errors(capsys, monkeypatch, files, tmp_path, code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / "t.dt1d"))

    monkeypatch.setattr("dt1d.data.atomic.os.replace", fail)
    argv = ["fit", "--model", "persistence", "--data", files["data"], "-o", str(tmp_path / "t.dt1d")]
    _one_line_error(capsys, argv, os.strerror(code))


def test_an_os_error_that_is_a_bug_keeps_its_traceback(monkeypatch, files, tmp_path):
    def fail(*args, **kwargs):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr("dt1d.data.atomic.os.fsync", fail)
    with pytest.raises(OSError, match="Bad file descriptor"):
        cli.main(["fit", "--model", "persistence", "--data", files["data"], "-o", str(tmp_path / "t.dt1d")])


def test_verbose_shows_the_traceback_of_a_full_disk(monkeypatch, files, tmp_path):
    monkeypatch.setattr("dt1d.data.atomic.os.fsync", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        cli.main(["-v", "fit", "--model", "persistence", "--data", files["data"],
                  "-o", str(tmp_path / "t.dt1d")])
