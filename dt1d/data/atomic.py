"""Atomic file writes: the old file stays intact until the new one is complete.

Every output dt1d writes (twin files, CSV and Parquet records, cohort
summaries, PNG reports) goes through :func:`atomic_path`, so an interrupted
run never leaves a half-written file in place of a good one.

A saved file behaves like one written with ``open(path, "w")``:

* writing to a symbolic link replaces the file the link points to and keeps
  the link;
* a new file gets the mode the process umask gives ordinary files
  (``0o666 & ~umask``); replacing a file keeps that file's permission bits.

A temporary file is named ``.<name>.<pid>.<random>.tmp`` next to the target.
One left behind by a process that was killed mid-save (SIGKILL, power loss)
is removed by the next save of the same file once its process is gone and it
has not been touched for :data:`STALE_AFTER_S` seconds.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["STALE_AFTER_S", "atomic_path"]

#: Age in seconds after which a dead process's temporary file counts as stale.
STALE_AFTER_S = 60.0


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it onto ``path`` when the block succeeds.

    The temporary file is flushed to disk before the rename and removed if the
    block raises (Ctrl-C included), so ``path`` is either the old file or the
    complete new one. A symbolic link at ``path`` is followed (its target is
    replaced, the link stays).
    """
    target = _resolve_link(Path(path))
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a directory; pass a file path")
    if not target.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {target.parent}")
    _remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
    )
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, _mode_for(target))  # mkstemp creates 0600; give an ordinary file's mode
    finally:
        os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def _resolve_link(path: Path) -> Path:
    """The file a (chain of) symbolic link(s) at ``path`` leads to; ``path`` itself otherwise."""
    if not path.is_symlink():
        return path
    return Path(os.path.realpath(path))


def _mode_for(target: Path) -> int:
    """Permission bits for the new file: the replaced file's, else ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(target.stat().st_mode) & 0o777
    except OSError:
        return 0o666 & ~_current_umask()


def _current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it; restore at once
    os.umask(mask)
    return mask


def _remove_stale_temporaries(target: Path) -> None:
    """Delete temporaries of ``target`` left by processes that died during a save."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[^.]+\.tmp\Z")
    now = time.time()
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or _process_alive(int(match.group(1))):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_AFTER_S:
                os.unlink(entry.path)
        except OSError:
            continue  # another process removed it, or we may not: leave it


def _process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (errs towards yes)."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) sends Ctrl-C
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable where the platform allows fsync on a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
