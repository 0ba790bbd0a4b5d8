"""How ``dt1d`` reports errors: dt1d's own errors as one line (exit 2), anything else as a bug."""

from __future__ import annotations

import pytest

from dt1d import cli
from dt1d.exceptions import Dt1dError, TwinFileError
from dt1d.testing import make_synthetic_record


def _raiser(exc: BaseException):
    def command(args):
        raise exc

    return command


def test_dt1d_error_is_one_line_with_exit_status_2(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_cmd_models", _raiser(TwinFileError("column 'glucose'\n is missing")))
    assert cli.main(["models"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["dt1d models: error: column 'glucose' is missing"]


def test_cli_error_is_a_dt1d_error():
    assert issubclass(cli.CLIError, Dt1dError)


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("a bug"), RuntimeError("a bug")])
def test_other_exceptions_are_not_hidden(monkeypatch, exc):
    monkeypatch.setattr(cli, "_cmd_models", _raiser(exc))
    with pytest.raises(type(exc), match="a bug"):
        cli.main(["models"])


def test_bad_model_arguments_stay_user_errors(tmp_path, capsys):
    data = tmp_path / "r.csv"
    make_synthetic_record(days=1, seed=0).to_csv(data)
    status = cli.main(["fit", "--model", "persistence", "--data", str(data), "--horizon", "0",
                       "-o", str(tmp_path / "t.dt1d")])
    assert status == cli.EXIT_USAGE
    assert "horizon" in capsys.readouterr().err
    assert not (tmp_path / "t.dt1d").exists()
