"""Open sea-ice files into the canonical layout, validate them, and turn them into arrays for training.

Canonical layout (docs/DESIGN.md): dims ``(time, y, x)`` (``(member, y, x)`` for ensembles), float32
variables from ``VARIABLE_NAMES`` in canonical units, land NaN, coordinates x, y, lat, lon, cell_area,
land, grid mapping ``crs``. Real products name and scale variables differently, so names and units are
mapped explicitly and anything that cannot be mapped is refused with a message naming it.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from .grid import Grid, get_grid, grid_from_dataset
from .variables import VARIABLE_NAMES, VARIABLES, DataError, bounds_array, canonical_name, unit_factor

__all__ = [
    "DataError", "DEFAULT_TOLERANCE", "make_dataset", "open_dataset", "validate_dataset",
    "clip_to_bounds", "land_of", "to_arrays",
]

#: Values this far outside a physical bound (canonical units) are clipped; further out is an error.
#: 0.01 covers regridding overshoots and rounding of percent concentrations.
DEFAULT_TOLERANCE = 0.01
SAMPLE_DIMS = ("time", "member")  # leading dim of files (time) and of generated ensembles (member)
LAND_MASK_NAMES = ("land", "land_mask", "mask")  # file variables read as a land mask (nonzero = land)


def make_dataset(
    data: Mapping[str, Any],
    grid: Grid | str,
    *,
    time: Sequence | np.ndarray | None = None,
    member: Sequence | np.ndarray | None = None,
    land: np.ndarray | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """A canonical Dataset from ``{name: array (N, ny, nx)}`` (numpy or dask) on ``grid``.

    The leading dim is ``time`` when ``time`` is given, else ``member`` (0..N-1 unless given).
    Variables are cast to float32, put in canonical order with CF attributes, and land is set to NaN.
    ``land`` defaults to the grid's shipped mask.
    """
    grid = get_grid(grid)
    unknown = [n for n in data if n not in VARIABLES]
    if unknown:
        raise DataError(f"unknown variables {unknown}; known: {', '.join(VARIABLE_NAMES)}")
    coords = grid.coords(land)
    ocean = coords["land"] == 0
    dim = "time" if time is not None else "member"
    variables = {}
    for name in (n for n in VARIABLE_NAMES if n in data):
        values = getattr(data[name], "data", data[name])  # DataArray -> its numpy/dask array
        if values.shape[1:] != grid.shape:
            raise DataError(f"variable '{name}' has shape {values.shape}, expected (N, {grid.ny}, {grid.nx})")
        da = xr.DataArray(values, dims=(dim, "y", "x"))
        if not _is_float32_with_nan_land(values, ocean.values):
            da = da.astype(np.float32).where(ocean)
        variables[name] = da.assign_attrs(_variable_attrs(name))
    if time is not None:
        coords["time"] = np.asarray(time)
    else:
        n = next(iter(variables.values())).shape[0] if variables else 0
        coords["member"] = np.arange(n) if member is None else np.asarray(member)
    coords["crs"] = grid.crs_variable()
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs = {"Conventions": "CF-1.8", "grid_name": grid.name, "title": "Arctic sea-ice states",
                "source": "", **(attrs or {})}
    return ds


def _is_float32_with_nan_land(values, ocean: np.ndarray) -> bool:
    """True for a numpy float32 array already NaN on land: it can be used as is (no 1 GB copies)."""
    if not isinstance(values, np.ndarray) or values.dtype != np.float32:
        return False
    land = np.flatnonzero(~ocean)
    flat = values.reshape(values.shape[0], -1)
    return all(np.isnan(np.take(flat[i:i + 64], land, axis=1)).all() for i in range(0, flat.shape[0], 64))


def _variable_attrs(name: str) -> dict[str, str]:
    var = VARIABLES[name]
    attrs = {"long_name": var.long_name, "units": var.units, "grid_mapping": "crs"}
    if var.standard_name:
        attrs["standard_name"] = var.standard_name
    return attrs


def open_dataset(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    variables: Iterable[str] | None = None,
    land_mask: np.ndarray | xr.DataArray | None = None,
    chunks: Mapping[str, int] | int | str | None = None,
    grid: Grid | str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> xr.Dataset:
    """Open netCDF/zarr file(s) as a validated canonical Dataset.

    ``paths``: one path, a glob pattern or a list (combined along time; dask-backed when ``chunks`` is
    given). Variable aliases are mapped to canonical names and values converted to canonical units
    (by each variable's ``units`` attribute; none = canonical). ``variables`` selects a subset.
    Land comes from ``land_mask`` (True/nonzero = land), else from a ``land``/``land_mask``/``mask``
    variable in the file, else from cells that are NaN at every time in every selected variable.
    The grid is ``grid`` or read from the x/y coordinates. Values within ``tolerance`` of a bound are
    clipped to it; anything else unphysical raises :class:`DataError`.
    """
    raw = _open_raw(paths, chunks)
    fields = _canonical_fields(raw)
    names = _select(tuple(fields), variables)
    for name in names:
        _check_dims(name, fields[name].dims)
    grid = grid_from_dataset(raw) if grid is None else get_grid(grid)
    _check_grid(raw, grid)
    land = _read_land(raw, grid, land_mask)
    if land is None:
        land = _nan_everywhere([fields[n] for n in names])
    lead = fields[names[0]].dims[0]
    ds = make_dataset(
        {n: fields[n] for n in names}, grid, land=land,
        **({"time": raw["time"].values} if lead == "time" else {"member": raw[lead].values}),
        attrs={**raw.attrs, "Conventions": "CF-1.8", "grid_name": grid.name},
    )
    validate_dataset(ds, grid, names, tolerance)
    return clip_to_bounds(ds)


def _open_raw(paths, chunks) -> xr.Dataset:
    files = _expand(paths)
    # Zarr v3 has no consolidated metadata (write_dataset writes none): do not look for it.
    backend = {"engine": "zarr", "consolidated": False} if files[0].suffix == ".zarr" else {}
    try:
        if len(files) == 1:
            return xr.open_dataset(files[0], chunks=chunks, **backend)
        return xr.open_mfdataset(
            files, chunks=chunks or {}, **backend, combine="by_coords",
            data_vars="minimal", coords="minimal", compat="override", join="exact",
        )
    except (ValueError, OSError) as err:
        raise DataError(f"cannot open {', '.join(map(str, files))}: {err}") from err


def _expand(paths) -> list[Path]:
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


def _canonical_fields(raw: xr.Dataset) -> dict[str, xr.DataArray]:
    """The file's sea-ice variables under canonical names, in canonical units, float32."""
    sources: dict[str, str] = {}
    for var in raw.data_vars:
        name = canonical_name(str(var))
        if name is None:
            continue
        if name in sources:
            raise DataError(f"variables '{sources[name]}' and '{var}' both map to '{name}'")
        sources[name] = str(var)
    if not sources:
        raise DataError(
            f"no known sea-ice variable in the data set (found: {', '.join(map(str, raw.data_vars)) or 'none'}); "
            f"expected one of {', '.join(VARIABLE_NAMES)} or an alias such as "
            f"{', '.join(VARIABLES[n].aliases[0] for n in VARIABLE_NAMES)}"
        )
    fields = {}
    for name in (n for n in VARIABLE_NAMES if n in sources):
        da = raw[sources[name]]
        factor = unit_factor(name, da.attrs.get("units"))
        fields[name] = (da.astype(np.float32) * np.float32(factor)) if factor != 1.0 else da.astype(np.float32)
    return fields


def _select(available: tuple[str, ...], variables: Iterable[str] | None) -> tuple[str, ...]:
    """The requested variables (canonical names or aliases), or all available ones."""
    if variables is None:
        return available
    if isinstance(variables, str):
        variables = (variables,)
    requested = []
    for v in variables:
        name = canonical_name(v)
        if name is None:
            raise DataError(f"unknown variable '{v}' requested; known: {', '.join(VARIABLE_NAMES)}")
        requested.append(name)
    missing = [n for n in requested if n not in available]
    if missing:
        raise DataError(
            f"requested variables {missing} are missing from the data set (found: {', '.join(available)})"
        )
    if not requested:
        raise DataError("no variables requested")
    return tuple(n for n in VARIABLE_NAMES if n in requested)


def _check_dims(name: str, dims: tuple) -> None:
    if len(dims) != 3 or dims[0] not in SAMPLE_DIMS or tuple(dims[1:]) != ("y", "x"):
        raise DataError(
            f"variable '{name}' has dims {tuple(dims)}, expected ('time', 'y', 'x') "
            "(or ('member', 'y', 'x') for an ensemble)"
        )


def _check_grid(ds: xr.Dataset, grid: Grid) -> None:
    """Shape and (when present) x/y coordinates agree with ``grid`` to a thousandth of a cell."""
    shape = (ds.sizes.get("y"), ds.sizes.get("x"))
    if shape != grid.shape:
        raise DataError(f"grid mismatch: data set has (y, x) = {shape}, grid '{grid.name}' has {grid.shape}")
    for axis, expected in (("x", grid.x), ("y", grid.y)):
        if axis in ds.coords:
            err = np.max(np.abs(np.asarray(ds[axis].values, dtype=float) - expected))
            if err > 1e-3 * grid.dx:
                raise DataError(
                    f"grid mismatch: coordinate '{axis}' differs from grid '{grid.name}' by up to {err:.6g} m"
                )


def _read_land(raw: xr.Dataset, grid: Grid, land_mask) -> np.ndarray | None:
    """An explicit land mask (argument or file variable) as bool (ny, nx), or None when there is none."""
    if land_mask is None:
        name = next((n for n in LAND_MASK_NAMES if n in raw.variables), None)
        if name is None:
            return None
        land_mask = raw[name]
    values = np.squeeze(np.asarray(getattr(land_mask, "values", land_mask)))
    if values.shape != grid.shape:
        raise DataError(f"land mask has shape {values.shape}, expected {grid.shape}")
    return ~np.isfinite(values.astype(float)) | (values != 0)


def _nan_everywhere(fields: Sequence[xr.DataArray]) -> np.ndarray:
    """Cells that are NaN at every time in every variable: land when the file gives no mask."""
    return np.logical_and.reduce([f.isnull().all(f.dims[0]).values for f in fields])


def land_of(ds: xr.Dataset) -> np.ndarray:
    """Land (bool ``(ny, nx)``) of a Dataset: its ``land`` coordinate, else cells NaN everywhere."""
    if "land" in ds.variables:
        return np.asarray(ds["land"].values) != 0
    return _nan_everywhere([ds[n] for n in VARIABLE_NAMES if n in ds.data_vars])


def validate_dataset(
    ds: xr.Dataset,
    grid: Grid | str | None = None,
    variables: Iterable[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
    """Raise :class:`DataError` naming every problem that keeps ``ds`` from being canonical and physical.

    Checks: known variables present (and the ``variables`` requested), dims, grid (``grid`` or a uniform
    x/y grid), strictly increasing time, no all-NaN fields, no NaN in ocean cells, and values within
    the physical bounds up to ``tolerance`` (negative thickness, concentration/damage outside [0, 1]).
    """
    present = tuple(n for n in VARIABLE_NAMES if n in ds.data_vars)
    names = present if variables is None else _select(present, variables)
    if not names:
        raise DataError(
            f"no known sea-ice variable in the data set (found: {', '.join(map(str, ds.data_vars)) or 'none'}); "
            f"expected one of {', '.join(VARIABLE_NAMES)}"
        )
    for name in names:
        _check_dims(name, ds[name].dims)
    _check_grid(ds, grid_from_dataset(ds) if grid is None else get_grid(grid))
    if "time" in ds.dims:
        _check_time(ds["time"].values)
    problems = _value_problems(ds, names, land_of(ds), tolerance)
    if problems:
        raise DataError("invalid data set:\n  - " + "\n  - ".join(problems))


def _check_time(time: np.ndarray) -> None:
    values, counts = np.unique(time, return_counts=True)
    if (counts > 1).any():
        dup = values[counts > 1]
        raise DataError(f"duplicate time values: {', '.join(map(str, dup[:5]))} ({dup.size} in all)")
    decreasing = ~(time[1:] > time[:-1])
    if decreasing.any():
        i = int(np.argmax(decreasing))
        raise DataError(f"time is not increasing: {time[i]} is followed by {time[i + 1]} (index {i + 1})")


def _value_problems(ds: xr.Dataset, names: Sequence[str], land: np.ndarray, tolerance: float) -> list[str]:
    """All value problems; the reductions are computed together (one graph when dask-backed)."""
    ocean = xr.DataArray(~land, dims=("y", "x"))
    lower, upper = bounds_array(names)
    reductions = {}
    for name, lo, hi in zip(names, lower, upper):
        da = ds[name]
        nan = da.isnull()
        reductions[f"{name}/all_nan"] = nan.all(("y", "x")).sum()
        reductions[f"{name}/nan_ocean"] = (nan & ocean).sum()
        reductions[f"{name}/min"] = da.min()
        reductions[f"{name}/max"] = da.max()
        reductions[f"{name}/below"] = (da < lo - tolerance).sum()
        reductions[f"{name}/above"] = (da > hi + tolerance).sum()
    r = {k: v.item() for k, v in xr.Dataset(reductions).compute().data_vars.items()}
    problems = []
    for name, lo, hi in zip(names, lower, upper):
        var = VARIABLES[name]
        units = "" if var.units == "1" else f" {var.units}"
        if r[f"{name}/all_nan"]:
            problems.append(f"variable '{name}' is all-NaN in {r[f'{name}/all_nan']} fields")
        elif r[f"{name}/nan_ocean"]:
            problems.append(f"variable '{name}' has {r[f'{name}/nan_ocean']} NaN values in ocean cells")
        for side, bound, worst, fmt in (("below", lo, "min", "lower"), ("above", hi, "max", "upper")):
            if r[f"{name}/{side}"]:
                problems.append(
                    f"variable '{name}' ({var.long_name}) has {r[f'{name}/{side}']} values {side} its "
                    f"{fmt} bound {bound:g}{units} (worst {r[f'{name}/{worst}']:.4g}{units}, "
                    f"tolerance {tolerance:g})"
                )
    return problems


def clip_to_bounds(ds: xr.Dataset) -> xr.Dataset:
    """Clip every canonical variable to its physical bounds (NaN stays NaN); attributes are kept."""
    out = ds.copy()
    for name in (n for n in VARIABLE_NAMES if n in ds.data_vars):
        var = VARIABLES[name]
        if var.lower is not None or var.upper is not None:
            out[name] = ds[name].clip(var.lower, var.upper).assign_attrs(ds[name].attrs)
    return out


def to_arrays(ds: xr.Dataset, names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``x`` ``(N, C, H, W)`` float32 in the order of ``names`` (default: all present) with land set to 0,
    and ``ocean`` ``(H, W)`` bool: the arrays the training code turns into tensors."""
    names = tuple(names) if names is not None else tuple(n for n in VARIABLE_NAMES if n in ds.data_vars)
    ocean = ~land_of(ds)
    x = np.stack([np.asarray(ds[n].values, dtype=np.float32) for n in names], axis=1)
    x[..., ~ocean] = 0.0
    return x, ocean
