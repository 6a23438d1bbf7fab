"""Atomic writes: a reader never sees a half-written file, a failed or interrupted write leaves nothing
behind, and replacing an output folder never leaves a moment in which neither the old nor the new is there.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import signal
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_FILE_MODE = 0o644  # what a plain open() gives under the usual umask (mkstemp would leave 0600)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # renameat2 flag (Linux >= 3.15): swap two paths in one step


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) until the block ends, then raise KeyboardInterrupt.

    A KeyboardInterrupt raised inside a library while it holds a lock (xarray's netCDF/HDF5 lock, taken
    in a Python loop) leaves the lock held, and the file's ``close()`` then waits forever. Deferring the
    signal lets the write finish or fail cleanly; the caller's cleanup runs when the interrupt is raised.
    Only the main thread receives signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


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
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        replace_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_directory(new: Path, path: Path) -> None:
    """Move folder ``new`` onto ``path``: an atomic swap where the system has one, else the old folder is
    renamed aside and put back if the second rename fails. The old contents are then deleted."""
    if not path.exists():
        os.replace(new, path)
        return
    if exchange(new, path):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old contents
        return
    old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
    os.replace(path, old)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
