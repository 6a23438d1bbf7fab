"""Writing Datasets: netCDF-4 or zarr, CF-1.8 on disk, atomic, safe against Ctrl-C, never over a user's folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import xarray as xr

from .atomic import atomic_directory, atomic_file, deferred_interrupt
from .canonical import cf_encoding, with_flag_types
from .variables import DataError

__all__ = ["atomic_directory", "atomic_file", "check_output", "write_dataset"]

ZARR_TIME_CHUNK = 30  # states per zarr chunk: about a month of daily states
OUTPUT_SUFFIXES = (".nc", ".zarr")


def check_output(path: str | os.PathLike) -> Path:
    """``path`` as a Path if :func:`write_dataset` may write it: ends in .nc or .zarr, and an existing
    folder there is empty or a zarr store this package wrote (never someone's own folder)."""
    path = Path(path)
    if path.suffix not in OUTPUT_SUFFIXES:
        raise DataError(f"output {path} must end in .nc (netCDF) or .zarr (zarr store)")
    if path.suffix == ".nc" and path.is_dir():
        raise DataError(f"output {path} is an existing folder; choose a file name")
    if path.suffix == ".zarr" and path.exists():
        if not path.is_dir():
            raise DataError(f"output {path} exists and is not a folder; refusing to replace it")
        if any(path.iterdir()) and not _written_here(path):
            raise DataError(f"output {path} exists and is not a zarr store written by seaice-ldm; "
                            "refusing to replace it: choose another output name")
    return path


def _written_here(store: Path) -> bool:
    """A zarr store (v3 or v2) whose global attributes are those of a canonical Dataset."""
    for meta, key in ((store / "zarr.json", "attributes"), (store / ".zattrs", None)):
        try:
            attrs = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        attrs = attrs.get(key, {}) if key else attrs
        return isinstance(attrs, dict) and str(attrs.get("Conventions", "")).startswith("CF-") \
            and "grid_name" in attrs
    return False


def write_dataset(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` atomically with CF encodings: netCDF-4 (zlib level 4, one chunk per state), or zarr
    if ``path`` ends in .zarr. Ctrl-C during the write removes the partial output and re-raises."""
    path = check_output(path)
    ds = with_flag_types(ds.drop_encoding())
    encoding = cf_encoding(ds)
    if path.suffix == ".zarr":
        ds = _uniform_dask_chunks(ds)
        for name in _arrays(ds):
            encoding[name]["chunks"] = _chunks(ds[name], ZARR_TIME_CHUNK)
        with atomic_directory(path) as tmp, deferred_interrupt():
            ds.to_zarr(tmp, mode="w", encoding=encoding, consolidated=False)
        return path
    for name in _arrays(ds):
        encoding[name].update(zlib=True, complevel=4, shuffle=True, chunksizes=_chunks(ds[name], 1))
    with atomic_file(path) as tmp, deferred_interrupt():
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
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
