"""Which outputs the program wrote itself: a record written with each output, checked before it is replaced.

Attributes inside a file prove nothing (a user's file saved through the package's own reader carries the same
CF attributes), so the program records what it wrote: a zarr store holds ``.seaice-ldm-output.json`` listing
its files with their sizes and modification times, a netCDF file has a hidden sidecar
``.NAME.seaice-ldm.json`` beside it with its size, modification time and inode. An output is the program's
only while it is exactly as written: a file added to the store (a user's notes), a file changed or copied
elsewhere has no matching record and is replaced only when the user says so (``overwrite``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RECORD = ".seaice-ldm-output.json"  # inside a folder the program wrote
WRITER = "seaice-ldm"


def sidecar(path: Path) -> Path:
    """Where the record of a file output lives: a hidden file beside it."""
    return path.with_name(f".{path.name}.seaice-ldm.json")


def _stat(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def folder_listing(folder: Path) -> dict[str, list[int]]:
    """``{relative path: [size, mtime_ns]}`` of every file in ``folder`` except the record itself."""
    return {p.relative_to(folder).as_posix(): _stat(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != RECORD}


def record_folder(folder: Path) -> None:
    """Record that the program wrote ``folder`` as it is now (call it last, before the folder is moved in)."""
    (folder / RECORD).write_text(json.dumps({"written_by": WRITER, "files": folder_listing(folder)}))


def record_file(path: Path) -> None:
    """Record that the program wrote file ``path`` as it is now."""
    st = path.stat()
    entry = {"written_by": WRITER, "name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
             "inode": st.st_ino}
    target = sidecar(path)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, target)


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) and record.get("written_by") == WRITER else {}


def written_here(path: Path) -> bool:
    """Whether ``path`` (a file or folder) is an output of this program, unchanged since it was written."""
    if path.is_dir():
        record = _read(path / RECORD)
        return bool(record) and record.get("files") == folder_listing(path)
    record = _read(sidecar(path))
    if not record or not path.is_file():
        return False
    st = path.stat()
    return [record.get("name"), record.get("size"), record.get("mtime_ns"), record.get("inode")] == \
        [path.name, st.st_size, st.st_mtime_ns, st.st_ino]


def forget_file(path: Path) -> None:
    """Remove the record of a file output (before the file is replaced, so a crash cannot leave a stale one)."""
    sidecar(path).unlink(missing_ok=True)
