"""What a path holds before any library opens it: netCDF-3, netCDF-4/HDF5 or a zarr store, whole or cut short.

The netCDF and HDF5 libraries answer an empty, a text or a truncated file with their backend's text (or, for a
truncated netCDF-3 file, with zeros where the missing bytes were). The headers say how long a file must be:
the netCDF-3 header gives every variable's offset and size (the classic format specification), the HDF5
superblock the end-of-file address (HDF5 file format specification, "Superblock"). A file shorter than that
is named as truncated before anything is read from it.
"""

from __future__ import annotations

import struct
from pathlib import Path

from .variables import DataError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)  # where a superblock may start (user block before it)
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zattrs", ".zmetadata", ".zarray")
NC3_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
NC3_DIMENSION, NC3_VARIABLE, NC3_ATTRIBUTE = 0x0A, 0x0B, 0x0C
STREAMING = (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
KINDS = "a netCDF-4/HDF5 or netCDF-3 file, or a zarr store (a folder)"


def check_input(path: Path) -> str:
    """``"netcdf3"``, ``"hdf5"`` or ``"zarr"`` for a readable input; a :class:`DataError` naming what is wrong
    (empty, not a data file, truncated, a folder that is not a zarr store) otherwise."""
    if path.is_dir():
        if not any((path / marker).exists() for marker in ZARR_MARKERS):
            raise DataError(f"{path} is a folder but not a zarr store (no zarr.json or .zgroup in it); give {KINDS}")
        return "zarr"
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path} is empty (0 bytes): an interrupted copy or download? Give {KINDS}")
    with path.open("rb") as fh:
        head = fh.read(HDF5_OFFSETS[-1] + 64)
    if head[:3] == b"CDF" and head[3:4] in (b"\x01", b"\x02", b"\x05"):
        _check_length(path, size, _netcdf3_length(head[3], path))
        return "netcdf3"
    start = next((o for o in HDF5_OFFSETS if head[o:o + 8] == HDF5_SIGNATURE), None)
    if start is not None:
        _check_length(path, size, _hdf5_length(head, start))
        return "hdf5"
    raise DataError(f"{path} is not a netCDF file (it starts with {_preview(head)}); give {KINDS}")


def _preview(head: bytes) -> str:
    text = head[:24]
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in text)
    return repr(text.decode("ascii")) + " ..." if printable else f"bytes {text[:8].hex(' ')}"


def _check_length(path: Path, size: int, needed: int | None) -> None:
    if needed is not None and size < needed:
        raise DataError(f"{path} is truncated: it has {size} bytes, its header says it holds {needed} "
                        "(an interrupted copy or download?); copy the whole file again")


def _hdf5_length(head: bytes, start: int) -> int | None:
    """End of the file by its HDF5 superblock (versions 0-3), or None where the header cannot say."""
    version = head[start + 8]
    if version in (0, 1):
        offsets = head[start + 13]
        at = start + 24 + (4 if version == 1 else 0) + 2 * offsets  # base, free-space, then end-of-file address
        base_at = start + 24 + (4 if version == 1 else 0)
    elif version in (2, 3):
        offsets = head[start + 9]
        at, base_at = start + 12 + 2 * offsets, start + 12
    else:
        return None
    if offsets not in (2, 4, 8) or at + offsets > len(head):
        return None
    fmt = {2: "<H", 4: "<I", 8: "<Q"}[offsets]
    end, base = struct.unpack_from(fmt, head, at)[0], struct.unpack_from(fmt, head, base_at)[0]
    if end == 2 ** (8 * offsets) - 1:  # undefined address: a file that was not closed
        return None
    return base + end


class _Reader:
    """Big-endian reads through a netCDF-3 header (format versions 1, 2 and 5)."""

    def __init__(self, fh, version: int):
        self.fh, self.version = fh, version

    def int(self, size: int = 4) -> int:
        data = self.fh.read(size)
        if len(data) < size:
            raise EOFError
        return int.from_bytes(data, "big")

    def count(self) -> int:  # NON_NEG: 8 bytes in CDF-5
        return self.int(8 if self.version == 5 else 4)

    def skip_name(self) -> None:
        n = self.count()
        self.fh.seek(n + (-n % 4), 1)

    def skip_attributes(self) -> None:
        if self.int() not in (0, NC3_ATTRIBUTE):
            raise ValueError("bad attribute list tag")
        for _ in range(self.count()):
            self.skip_name()
            kind = self.int()
            n = self.count() * NC3_TYPE_SIZES[kind]
            self.fh.seek(n + (-n % 4), 1)


def _netcdf3_length(version: int, path: Path) -> int | None:
    """The smallest size a netCDF-3 file can have by its header, or None where the header cannot say."""
    try:
        with path.open("rb") as fh:
            fh.seek(4)
            r = _Reader(fh, version)
            records = r.count()
            r.int()  # dimension list tag
            dims = []
            for _ in range(r.count()):
                r.skip_name()
                dims.append(r.count())
            r.skip_attributes()
            r.int()  # variable list tag
            variables = []
            for _ in range(r.count()):
                r.skip_name()
                ids = [r.count() for _ in range(r.count())]
                r.skip_attributes()
                kind, vsize = r.int(), r.count()
                begin = r.int(4 if version == 1 else 8)
                variables.append((ids, NC3_TYPE_SIZES[kind], vsize, begin))
    except (EOFError, KeyError, ValueError, IndexError):
        return None  # a header that cannot be parsed: the netCDF library will say what is wrong
    if records in STREAMING:
        return None
    record_size = sum(v for ids, _, v, _ in variables if ids and dims[ids[0]] == 0)
    needed = 0
    for ids, item, _, begin in variables:
        shape = [dims[i] for i in ids]
        is_record = bool(shape) and shape[0] == 0
        cells = item
        for n in shape[1:] if is_record else shape:
            cells *= n
        if is_record:
            needed = max(needed, begin + (records - 1) * record_size + cells if records else 0)
        else:
            needed = max(needed, begin + cells)
    return needed
