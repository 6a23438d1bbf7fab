"""Which outputs the program wrote itself: a record written with each output, checked before it is replaced.

Attributes inside a file prove nothing (a user's file saved through the package's own reader carries the same
CF attributes), so the program records what it wrote in a hidden sidecar beside the output,
``.NAME.seaice-ldm.json``: for a netCDF file its size, modification time and inode, for a zarr store the size
and modification time of every file in it. An output is the program's only while it is exactly as written: a
file added to the store (a user's notes), a file changed, or a copy elsewhere has no matching record and is
replaced only when the user says so (``overwrite``). The record sits beside the output, not in it, so readers
of the store see nothing new; it is rewritten after each write, and a stale one never matches new contents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .variables import DataError

WRITER = "seaice-ldm"


def sidecar(path: Path) -> Path:
    """Where the record of an output lives: a hidden file beside it."""
    return path.with_name(f".{path.name}.seaice-ldm.json")


def _state(path: Path) -> dict:
    """What the record holds of ``path`` as it is now."""
    if path.is_dir():
        return {"files": {p.relative_to(path).as_posix(): [p.stat().st_size, p.stat().st_mtime_ns]
                          for p in sorted(path.rglob("*")) if p.is_file()}}
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def record_output(path: Path) -> None:
    """Record that the program wrote ``path`` (a file or folder) as it is now."""
    target = sidecar(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"written_by": WRITER, "name": path.name, **_state(path)}))
    os.replace(tmp, target)


def written_here(path: Path) -> bool:
    """Whether ``path`` is an output of this program, unchanged since it was written."""
    try:
        record = json.loads(sidecar(path).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("written_by") != WRITER or record.get("name") != path.name:
        return False
    return path.exists() and {k: v for k, v in record.items() if k not in ("written_by", "name")} == _state(path)


def check_replaceable(path: Path, overwrite: bool = False, flag: str = "--overwrite (overwrite=True)") -> Path:
    """``path`` if writing it loses nothing of the user's: nothing is there, an empty folder, an output of this
    program unchanged since it was written, or ``overwrite``; else a :class:`DataError` naming the path and
    ``flag``."""
    if not path.exists() or overwrite or written_here(path) or (path.is_dir() and not any(path.iterdir())):
        return path
    what = "folder" if path.is_dir() else "file"
    raise DataError(f"output {path} is an existing {what} that seaice-ldm did not write (or that was changed since); "
                    f"refusing to replace it: choose another output name, or pass {flag} to replace it")
