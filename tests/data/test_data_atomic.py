"""dt1d.data.atomic.atomic_path: all-or-nothing writes shared by every writer in dt1d."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from dt1d.data.atomic import STALE_AFTER_S, atomic_path


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


def _tmp_names(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with atomic_path(link) as tmp:
        tmp.write_text("new")
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == "new"
    assert _tmp_names(tmp_path) == []


def test_a_dangling_symlink_creates_the_file_it_points_to(tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "new.csv")
    with atomic_path(link) as tmp:
        tmp.write_text("x")
    assert link.is_symlink() and (tmp_path / "new.csv").read_text() == "x"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_mode_the_umask_gives_ordinary_files(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "a.csv") as tmp:
            tmp.write_text("x")
        with open(tmp_path / "b.csv", "w") as handle:
            handle.write("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "a.csv").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "b.csv").stat().st_mode) == 0o666 & ~umask


def test_replacing_a_file_keeps_its_permission_bits(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_temporary_left_by_a_killed_save_is_removed_by_the_next_save(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    stale = tmp_path / f".out.csv.{_dead_pid()}.abc123.tmp"
    stale.write_text("half")
    old = time.time() - 2 * STALE_AFTER_S
    os.utime(stale, (old, old))
    other = tmp_path / f".other.csv.{_dead_pid()}.abc123.tmp"  # another file's: not ours to remove
    other.write_text("half")
    os.utime(other, (old, old))
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert not stale.exists() and other.exists()
    assert target.read_text() == "new"


def test_a_live_or_fresh_temporary_is_left_alone(tmp_path):
    target = tmp_path / "out.csv"
    live = tmp_path / f".out.csv.{os.getppid()}.abc123.tmp"  # a running process's save
    fresh = tmp_path / f".out.csv.{_dead_pid()}.def456.tmp"  # too recent to call stale
    old = time.time() - 2 * STALE_AFTER_S
    for path in (live, fresh):
        path.write_text("half")
    os.utime(live, (old, old))
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert live.exists() and fresh.exists()


def test_sigkill_during_a_save_keeps_the_old_file_and_the_next_save_cleans_up(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    code = (
        "import os, signal, sys\n"
        "from dt1d.data.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], env={**os.environ}, check=False)
    assert proc.returncode == -signal.SIGKILL
    (left,) = _tmp_names(tmp_path)
    assert target.read_text() == "old"
    old = time.time() - 2 * STALE_AFTER_S
    os.utime(tmp_path / left, (old, old))
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert _tmp_names(tmp_path) == [] and target.read_text() == "new"
