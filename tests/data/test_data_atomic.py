"""dt1d.data.atomic.atomic_path: all-or-nothing writes shared by every writer in dt1d."""

from __future__ import annotations

import pytest

from dt1d.data.atomic import atomic_path


def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # untouched until the block ends
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(error), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise error()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_missing_folder_and_directory_targets_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="output folder does not exist"), atomic_path(tmp_path / "no" / "x"):
        pass
    with pytest.raises(IsADirectoryError), atomic_path(tmp_path):
        pass
