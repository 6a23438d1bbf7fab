"""Atomic writing: a reader never sees a half-written file, and a failed write leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import xarray as xr

_FILE_MODE = 0o644  # what a plain open() gives under the usual umask (mkstemp would leave 0600)
ZARR_TIME_CHUNK = 30  # states per zarr chunk: about a month of daily states


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
    """Like :func:`atomic_file` for a directory store (zarr): an existing target is replaced at the end."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` atomically: netCDF-4 (zlib level 4, one chunk per state) or zarr if ``path`` ends in .zarr."""
    path = Path(path)
    ds = ds.drop_encoding()
    if path.suffix == ".zarr":
        ds = _uniform_dask_chunks(ds)
        encoding = {name: {"chunks": _chunks(ds[name], ZARR_TIME_CHUNK)} for name in _arrays(ds)}
        with atomic_directory(path) as tmp:
            ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
        return path
    encoding = {
        name: {"zlib": True, "complevel": 4, "shuffle": True, "chunksizes": _chunks(ds[name], 1)}
        for name in _arrays(ds)
    }
    with atomic_file(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return path


def _arrays(ds: xr.Dataset) -> list[str]:
    """Data variables that have dimensions (scalars keep the backend's default encoding)."""
    return [name for name in ds.data_vars if ds[name].ndim > 0]


def _chunks(da: xr.DataArray, leading: int) -> tuple[int, ...]:
    """Chunk shape: ``leading`` states along the first dim of a 3-D field, whole arrays otherwise."""
    if da.ndim == 3:
        return (min(leading, da.shape[0]), *da.shape[1:])
    return tuple(max(n, 1) for n in da.shape)


def _uniform_dask_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Re-chunk dask-backed data to the zarr chunks (zarr refuses dask chunks that straddle its own)."""
    if not ds.chunks:
        return ds
    fields = [ds[name] for name in _arrays(ds) if ds[name].ndim == 3]
    leading = {da.dims[0] for da in fields}
    return ds.chunk({dim: (ZARR_TIME_CHUNK if dim in leading else -1) for dim in ds.dims})
