"""The reader table: detection from content, dispatch, errors naming the formats tried, plugins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dt1d.data import readers
from dt1d.data.readers import _registry
from dt1d.exceptions import ReaderError

BUILTINS = ["parquet", "ohio", "nightscout", "replaybg", "csv"]


@pytest.fixture
def isolated_table(monkeypatch):
    """A copy of the table and a fresh plugin scan, restored after the test."""
    monkeypatch.setattr(_registry, "_TABLE", dict(_registry._TABLE))
    monkeypatch.setattr(_registry, "_PLUGINS_LOADED", False)
    monkeypatch.delenv("DT1D_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    return _registry._TABLE


def test_builtin_readers_are_in_the_table_generic_csv_last():
    names = readers.list_readers()
    assert set(BUILTINS) <= set(names)
    assert names[-1] == "csv"


def _generic_csv(folder: Path) -> Path:
    path = folder / "record.csv"
    path.write_text("time,glucose,carbs\n2024-01-01 00:00,100,\n2024-01-01 00:05,110,20\n")
    return path


def test_auto_detects_generic_csv_and_replaybg_from_content_not_extension(tmp_path):
    path = _generic_csv(tmp_path)
    record = readers.read(path)
    assert list(record["glucose"]) == [100.0, 110.0] and record["carbs"].sum() == 20
    odd = tmp_path / "export.txt"
    odd.write_text(
        "t,glucose,cho,bolus,basal\n"
        "11-May-2027 12:00:00,120,0.0,0.0,0.02\n"
        "11-May-2027 12:05:00,125,2.0,0.0,0.02\n"
    )
    assert readers.detect_format(odd) == "replaybg"
    assert readers.read(odd)["carbs"].sum() == pytest.approx(10.0)


def test_auto_detects_nightscout_folder_and_file(tmp_path):
    entries = [{"type": "sgv", "sgv": 120 + i, "date": 1705359600000 + i * 300000} for i in range(3)]
    (tmp_path / "entries.json").write_text(json.dumps(entries))
    assert readers.detect_format(tmp_path) == "nightscout"
    assert readers.detect_format(tmp_path / "entries.json") == "nightscout"
    np.testing.assert_array_equal(readers.read(tmp_path)["glucose"], [120.0, 121.0, 122.0])


def test_explicit_format_is_used_and_unknown_format_names_the_known_ones(tmp_path):
    path = _generic_csv(tmp_path)
    assert len(readers.read(path, format="csv", step="10min")) == 1
    with pytest.raises(ReaderError) as info:
        readers.read(path, format="clarty")
    assert str(path) in str(info.value) and "csv" in str(info.value)


def test_nothing_fits_names_the_file_and_every_format_tried(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("when,sugar\n2024-01-01 00:00,100\n")
    with pytest.raises(ReaderError) as info:
        readers.read(path)
    message = str(info.value)
    assert str(path) in message
    for name in readers.list_readers():
        assert name in message


def test_missing_file_is_a_reader_error(tmp_path):
    with pytest.raises(ReaderError, match="does not exist"):
        readers.read(tmp_path / "nope.csv")


def test_registering_a_taken_name_is_refused(isolated_table):
    clash = readers.Reader("csv", lambda p: None, lambda p, h: False)
    with pytest.raises(ValueError, match="already registered"):
        readers.register_reader(clash)
    with pytest.raises(ValueError, match="auto"):
        readers.register_reader(readers.Reader("auto", lambda p: None, lambda p, h: False))


class _FakeEntryPoint:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"fake_pkg:{name}", obj

    def load(self):
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def _install_fake_entry_points(monkeypatch, eps):
    import importlib.metadata as md

    def entry_points(*, group=None, **kw):
        return list(eps) if group == readers.READER_PLUGIN_GROUP else []

    monkeypatch.setattr(md, "entry_points", entry_points)


def _pipe_reader(path, **options):
    rows = [line.split("|") for line in Path(path).read_text().splitlines()[1:]]
    frame = pd.DataFrame({"time": [r[0] for r in rows], "glucose": [r[1] for r in rows]})
    return readers.read_frame(frame, source=path, **options)


def test_entry_point_plugin_joins_the_table_and_is_detected(isolated_table, monkeypatch, tmp_path):
    plugin = readers.Reader(
        "pipes", _pipe_reader, lambda p, head: head.startswith(b"PIPES"), "pipe-separated log"
    )
    _install_fake_entry_points(
        monkeypatch,
        [_FakeEntryPoint("pipes", plugin), _FakeEntryPoint("broken", ImportError("no module"))],
    )
    names = readers.list_readers()
    assert "pipes" in names and "broken" not in names and names[-1] == "csv"
    path = tmp_path / "log.dat"
    path.write_text("PIPES\n2024-01-01 00:00|101\n2024-01-01 00:05|103\n")
    assert list(readers.read(path)["glucose"]) == [101.0, 103.0]


def test_plugins_can_be_disabled(isolated_table, monkeypatch):
    plugin = readers.Reader("pipes", _pipe_reader, lambda p, head: False)
    _install_fake_entry_points(monkeypatch, [_FakeEntryPoint("pipes", plugin)])
    monkeypatch.setenv("DT1D_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "pipes" not in readers.list_readers()


def test_cli_format_choices_come_from_the_table(isolated_table):
    from dt1d.cli import build_parser

    readers.register_reader(readers.Reader("pipes", _pipe_reader, lambda p, h: False))
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["fit"]
    choices = next(a for a in sub._actions if a.dest == "format").choices
    assert choices == ["auto", *readers.list_readers()] and "pipes" in choices
