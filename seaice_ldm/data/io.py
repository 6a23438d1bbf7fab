"""Writing Datasets: netCDF-4 or zarr, CF-1.8 on disk, atomic, safe against Ctrl-C and SIGTERM, never over a
file or folder the program did not write (:mod:`.ownership`) unless asked to."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from .atomic import atomic_directory, atomic_file, deferred_interrupt
from .canonical import cf_encoding, with_flag_types
from .ownership import check_replaceable, record_output
from .variables import DataError

__all__ = ["atomic_directory", "atomic_file", "check_output", "check_parent", "check_replaceable", "record_output",
           "write_dataset"]

ZARR_TIME_CHUNK = 30  # states per zarr chunk: about a month of daily states
OUTPUT_SUFFIXES = (".nc", ".zarr")


def check_parent(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it can be created: its nearest existing ancestor is a folder this process may
    write into (checked before any work, so an impossible output is not found only at the end)."""
    path = Path(path)
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(f"output {path}: {parent} is a file, not a folder; choose another output path")
    try:  # a real probe: permission bits say nothing for root, on read-only mounts or in /proc
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".seaice-ldm-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise DataError(f"output {path}: cannot write into {parent} ({err.strerror}); choose another output "
                        "path") from None
    return path


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """``path`` as a Path if :func:`write_dataset` may write it: ends in .nc or .zarr, can be created, and what
    is there already is nothing, an empty folder, or an output this program wrote and nobody changed since
    (``overwrite=True`` replaces anything but a folder given a .nc name)."""
    path = check_parent(path)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise DataError(f"output {path} must end in .nc (netCDF) or .zarr (zarr store)")
    if path.suffix == ".nc" and path.is_dir():
        raise DataError(f"output {path} is an existing folder; choose a file name")
    return check_replaceable(path, overwrite)


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``ds`` atomically with CF encodings: netCDF-4 (zlib level 4, one chunk per state), or zarr
    if ``path`` ends in .zarr, and record it as the program's (:mod:`.ownership`). Ctrl-C or SIGTERM during
    the write removes the partial output and re-raises. An existing output is replaced only as
    :func:`check_output` allows."""
    path = check_output(path, overwrite)
    ds = with_flag_types(ds.drop_encoding())
    encoding = cf_encoding(ds)
    if path.suffix == ".zarr":
        ds = _uniform_dask_chunks(ds)
        for name in _arrays(ds):
            encoding[name]["chunks"] = _chunks(ds[name], ZARR_TIME_CHUNK)
        with atomic_directory(path) as tmp, deferred_interrupt():
            ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
        record_output(path)
        return path
    for name in _arrays(ds):
        encoding[name].update(zlib=True, complevel=4, shuffle=True, chunksizes=_chunks(ds[name], 1))
    with atomic_file(path) as tmp, deferred_interrupt():
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    record_output(path)
    return path


def _arrays(ds: xr.Dataset) -> list[str]:
    """Data variables that have dimensions (scalars keep the backend's default encoding)."""
    return [str(name) for name in ds.data_vars if ds[name].ndim > 0]


def _chunks(da: xr.DataArray, leading: int) -> tuple[int, ...]:
    """Chunk shape: ``leading`` states along the first dim of a 3-D field, whole arrays otherwise."""
    if da.ndim >= 3:
        return (*(1 for _ in da.shape[:-3]), min(leading, da.shape[-3]), *da.shape[-2:])
    return tuple(max(n, 1) for n in da.shape)


def _uniform_dask_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Re-chunk dask-backed data to the zarr chunks (zarr refuses dask chunks that straddle its own)."""
    if not ds.chunks:
        return ds
    fields = [ds[name] for name in _arrays(ds) if ds[name].ndim >= 3]
    leading = {da.dims[-3] for da in fields}
    outer = {d for da in fields for d in da.dims[:-3]}
    return ds.chunk({dim: (ZARR_TIME_CHUNK if dim in leading else 1 if dim in outer else -1) for dim in ds.dims})
