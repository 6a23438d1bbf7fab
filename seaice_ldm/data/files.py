"""Which files an input names, and opening them: one file, a glob pattern or a list combined along time.

Every refusal names the file: an empty, text or truncated file (:mod:`.formats`), files of one input that do
not fit together (another grid, other variables, overlapping times), a zarr store with an array whose metadata
is gone (xarray would silently leave that variable out) or with missing chunks (read as NaN, taken for land).
"""

from __future__ import annotations

import glob
import os
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import xarray as xr
import zarr

from .formats import ZARR_MARKERS, check_input
from .variables import DataError, canonical_name

ZARR_NODE_MARKERS = ("zarr.json", ".zarray", ".zgroup")  # what makes a folder an array or group; `.zattrs` does not


def expand(paths) -> list[Path]:
    """One path, a glob pattern or a list of paths, as existing paths (sorted for a pattern)."""
    if isinstance(paths, (str, os.PathLike)):
        text = os.fspath(paths)
        if glob.has_magic(text):
            files = sorted(glob.glob(text))
            if not files:
                raise DataError(f"no file matches '{text}'")
            return [Path(f) for f in files]
        paths = [text]
    files = [Path(p) for p in paths]
    if not files:
        raise DataError("no input paths given")
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise DataError(f"no such file: {', '.join(missing)}")
    return files


def open_raw(files: list[Path], chunks) -> xr.Dataset:
    """The files as one lazy Dataset, each checked first (format, length, zarr metadata), several combined
    along time after checking that they fit together."""
    kinds = {path: check_input(path) for path in files}
    for path in (p for p, kind in kinds.items() if kind == "zarr"):
        refuse_arrays_without_metadata(path)
    backend = {"engine": "zarr", "consolidated": False} if kinds[files[0]] == "zarr" else {}
    if len(files) == 1:
        return _open(files[0], chunks, backend)
    parts = [_open(f, {}, backend) for f in files]
    _check_parts_fit(files, parts)
    try:
        return xr.open_mfdataset(
            files, chunks=chunks or {}, **backend, combine="by_coords",
            data_vars="minimal", coords="minimal", compat="override", join="exact",
        )
    except (ValueError, OSError, RuntimeError) as err:
        raise DataError(f"cannot combine {', '.join(map(str, files))} along time: {err}") from err


def _open(path: Path, chunks, backend: dict) -> xr.Dataset:
    try:
        return xr.open_dataset(path, chunks=chunks, **backend)
    except (ValueError, OSError, RuntimeError) as err:
        raise DataError(f"cannot open {path}: {err}") from err


def _check_parts_fit(files: Sequence[Path], parts: Sequence[xr.Dataset]) -> None:
    """The files of one input must share their grid and variables, and their times must not overlap."""
    first, ref = files[0], parts[0]
    names = sorted(str(v) for v in ref.data_vars)
    for path, ds in zip(files[1:], parts[1:]):
        for dim in (d for d in ref.dims if d != "time"):
            if dim in ref.coords and (dim not in ds.coords or not np.array_equal(ds[dim].values, ref[dim].values)):
                raise DataError(f"{path} is on another grid than {first} (coordinate '{dim}' differs); files combined "
                                "along time must share one grid")
        other = sorted(str(v) for v in ds.data_vars)
        if other != names:
            raise DataError(f"{path} holds variables {other}, {first} holds {names}; files combined along time "
                            "must hold the same variables")
    spans = [(ds["time"].values.min(), ds["time"].values.max(), path)
             for path, ds in zip(files, parts) if "time" in ds.coords and ds.sizes.get("time")]
    spans.sort(key=lambda s: s[0])
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        if start <= end:
            raise DataError(f"{a} and {b} overlap in time ({str(start)[:10]} is in both ranges); give each state "
                            "once: leave one of the files out or cut one of them")


@contextmanager
def reading(where: str) -> Iterator[None]:
    """Errors of the netCDF/HDF5 or zarr codecs while values are read, as a DataError naming the file."""
    try:
        yield
    except DataError:
        raise
    except (RuntimeError, OSError, EOFError, zlib.error) as err:  # HDF errors, codec errors, truncation
        raise DataError(f"cannot read the values of {where}: {type(err).__name__}: {err} "
                        "(a corrupt or truncated compressed chunk?)") from err


def refuse_arrays_without_metadata(store: Path) -> None:
    """A sub-folder of a zarr store that holds chunks but no array metadata is an array xarray cannot see:
    a sea-ice variable there would be left out without a word, so it is refused. A zarr v2 folder that kept
    only its attributes (``.zattrs``) is no array either: zarr merely warns "not recognized" and skips it."""
    for folder in sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any((folder / marker).exists() for marker in ZARR_NODE_MARKERS):
            continue
        name = canonical_name(folder.name)
        if name is not None or folder.name in ("x", "y", "time", "xc", "yc"):
            left = [m for m in ZARR_MARKERS if (folder / m).exists()]
            kept = f"; only {', '.join(left)} is left" if left else ""
            raise DataError(f"zarr store {store}: folder '{folder.name}' has no zarr array metadata (zarr.json for "
                            f"zarr v3, .zarray for v2{kept}), so its values cannot be read and '{folder.name}' "
                            "would be left out; restore the metadata (copy the store again) or remove the folder")


def refuse_missing_chunks(files: list[Path], raw: xr.Dataset, names: Sequence[str]) -> None:
    """Zarr reads a missing chunk as NaN, which would be taken as land: name it unless a land mask is given."""
    for path in (f for f in files if f.is_dir()):
        try:
            group = zarr.open_group(str(path), mode="r")
        except Exception:  # noqa: BLE001 - opened fine by xarray; nothing more to learn here
            continue
        for name in names:
            source = source_name(raw, name)
            if source not in group:
                continue
            array = group[source]
            if array.nchunks_initialized >= array.nchunks:
                continue
            missing = [idx for idx in np.ndindex(*array.cdata_shape)
                       if not (path / source / array.metadata.encode_chunk_key(idx)).exists()]
            example = ", ".join(f"[{i * c}:{min((i + 1) * c, n)}]"
                                for i, c, n in zip(missing[0], array.chunks, array.shape)) if missing else "?"
            raise DataError(f"zarr store {path}: variable '{source}' is missing {len(missing)} of {array.nchunks} "
                            f"chunks (e.g. index ranges {example}); zarr reads them as NaN, which would be taken "
                            "as land. Restore the chunks, or give a land mask (then missing chunks must be land)")


def source_name(raw: xr.Dataset, name: str) -> str:
    """The file's name of canonical variable ``name``."""
    return next((str(v) for v in raw.data_vars if canonical_name(str(v)) == name), name)
