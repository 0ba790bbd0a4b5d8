"""Cohort outputs are checked before any twin is fitted, so no work is lost at the end."""

from __future__ import annotations

import pytest
from _cohort_helpers import cohort

from dt1d.cohort import fit_twins


def _no_twins(folder):
    return not any(p.suffix == ".dt1d" and p.is_file() for p in folder.rglob("*"))


def test_summary_path_that_is_a_folder_fails_before_any_fit(tmp_path):
    (tmp_path / "summary.parquet").mkdir()
    with pytest.raises(IsADirectoryError, match="summary.parquet"):
        fit_twins(cohort(3, days=0.5), "persistence", backend="serial", out_dir=tmp_path)
    assert _no_twins(tmp_path)


def test_out_dir_that_is_a_file_fails_clearly(tmp_path):
    target = tmp_path / "out"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="out"):
        fit_twins(cohort(2, days=0.5), "persistence", backend="serial", out_dir=target)


def test_a_twin_path_that_is_a_folder_fails_before_any_fit(tmp_path):
    record = cohort(3, days=0.5)
    pids = list(dict.fromkeys(record["patient_id"]))
    from dt1d.cohort._tasks import twin_path

    twin_path(tmp_path, pids[-1]).mkdir()
    with pytest.raises(IsADirectoryError, match="twin path"):
        fit_twins(record, "persistence", backend="serial", out_dir=tmp_path)
    assert _no_twins(tmp_path)


def test_unwritable_out_dir_fails_before_any_fit(tmp_path, monkeypatch):
    import errno
    import tempfile

    folder = tmp_path / "ro"
    folder.mkdir()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)  # a read-only mount, even for root
    with pytest.raises(PermissionError, match="cannot write"):
        fit_twins(cohort(2, days=0.5), "persistence", backend="serial", out_dir=folder)
    assert _no_twins(folder)
