"""Atomic writes: a reader never sees a half-written file, a failed or interrupted write (Ctrl-C, or SIGTERM
through :mod:`seaice_ldm.interrupts`) leaves nothing behind, and replacing an output folder never leaves the
path empty: one atomic swap where the system has it, else two renames with interrupts held back between them
and the old folder put back after a hard kill.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from seaice_ldm.interrupts import deferred_interrupt

__all__ = ["atomic_directory", "atomic_file", "deferred_interrupt", "exchange", "replace_directory",
           "restore_set_aside"]

_FILE_MODE = 0o644  # what a plain open() gives under the usual umask (mkstemp would leave 0600)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # renameat2 flag (Linux >= 3.15): swap two paths in one step


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``, on error delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Like :func:`atomic_file` for a folder (zarr store, checkpoint): the caller creates the yielded
    temporary folder; at the end it replaces ``path`` in one step, or leaves the old ``path`` untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    restore_set_aside(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        replace_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def replace_directory(new: Path, path: Path) -> None:
    """Move folder ``new`` onto ``path``: an atomic swap where the system has one; else the old folder is
    renamed aside (``.NAME.*.old``) and the new one moved in with interrupts held back between the two
    renames, the old one put back if the second fails. The old contents are then deleted, also when an
    interrupt held back during the renames is raised at their end (else a hidden copy of the old folder would
    stay behind while the program says nothing was left)."""
    if not path.exists():
        os.replace(new, path)
        return
    if exchange(new, path):
        _remove(new)  # ``new`` now holds the old contents
        return
    old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
    try:
        with deferred_interrupt():
            os.replace(path, old)
            try:
                os.replace(new, path)
            except BaseException:
                os.replace(old, path)
                raise
    finally:
        if path.exists():  # the new folder got in (or the old one was put back): what is aside is garbage
            with deferred_interrupt():
                _remove(old)


def restore_set_aside(path: Path) -> None:
    """Put back an old folder that a replace set aside when the process died between its two renames (a
    hard kill; interrupts are held back there), so the path is never left empty for good."""
    if path.exists():
        return
    aside = sorted((p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.") and p.suffix == ".old"),
                   key=lambda p: p.stat().st_mtime)
    if aside:
        os.replace(aside[-1], path)


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, f"cannot replace {b}: {os.strerror(err)}")
