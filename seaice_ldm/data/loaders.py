"""Open sea-ice files into the canonical layout, validate them, and turn them into arrays for training.

Canonical layout (docs/DESIGN.md, built by :mod:`.canonical`): dims ``(time, y, x)`` (``(member, y, x)``
for ensembles), float32 variables from ``VARIABLE_NAMES`` in canonical units, land NaN, coordinates x, y,
lat, lon, cell_area, land, grid mapping ``crs``. Real products name, scale and lay out variables
differently; what CF says about them (grid_mapping, units, flag meanings) is followed, common layouts
(``xc``/``yc`` in km, y decreasing) are converted with a :class:`DataNote`, and anything that cannot be
read unambiguously is refused with a message naming the file and variable.
"""

from __future__ import annotations

import glob
import os
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import xarray as xr
import zarr

from .canonical import make_dataset
from .dims import SAMPLE_DIMS, sample_dim
from .grid import Grid, crs_name, dataset_crs, get_grid, grid_from_dataset, same_crs
from .variables import VARIABLE_NAMES, VARIABLES, DataError, bounds_array, canonical_name, unit_factor

__all__ = [
    "DataError", "DataNote", "DEFAULT_TOLERANCE", "LAND_MASK_CONVENTIONS", "make_dataset", "open_dataset",
    "validate_dataset", "clip_to_bounds", "land_of", "to_arrays",
]

#: Values this far outside a physical bound (canonical units) are clipped; further out is an error.
#: 0.01 covers regridding overshoots and rounding of percent concentrations.
DEFAULT_TOLERANCE = 0.01
LAND_MASK_NAMES = ("land", "land_mask", "mask")  # file variables read as a land mask
UNAMBIGUOUS_MASKS = ("land", "land_mask")  # names that say 1 = land; "mask" alone says nothing
LAND_MASK_CONVENTIONS = ("1=land", "1=ocean")
AXIS_ALIASES = {"x": ("xc",), "y": ("yc",)}  # OSI-SAF, CS2SMOS: dims (time, yc, xc)
LATLON_DIMS = ("lat", "lon", "latitude", "longitude")
METRES = ("m", "meter", "meters", "metre", "metres")
KILOMETRES = ("km", "kilometer", "kilometers", "kilometre", "kilometres")
MIN_SPACING = 100.0  # m: a finer "sea-ice grid" is almost surely mislabelled kilometres or degrees
REGRID_HINT = "regrid the data to EPSG:3413 first (e.g. with xESMF, pyresample or cdo)"


class DataNote(UserWarning):
    """A conversion made while reading a file (a flipped axis, renamed dims, km converted to m)."""


def open_dataset(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    variables: Iterable[str] | None = None,
    land_mask: np.ndarray | xr.DataArray | str | None = None,
    chunks: Mapping[str, int] | int | str | None = None,
    grid: Grid | str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> xr.Dataset:
    """Open netCDF/zarr file(s) as a validated canonical Dataset.

    ``paths``: one path, a glob pattern or a list (combined along time; dask-backed when ``chunks`` is
    given). Variable aliases are mapped to canonical names and values converted to canonical units
    (by each variable's ``units`` attribute; none = canonical). ``variables`` selects a subset.
    Land comes from ``land_mask`` as an array (True/nonzero = land), else from a ``land``/``land_mask``/
    ``mask`` variable in the file read by its CF flag meanings, its name, or ``land_mask`` given as
    ``"1=land"`` or ``"1=ocean"``; else from cells that are NaN at every time in every selected variable.
    The grid is ``grid`` (refused unless the file's x/y and CRS agree) or read from the x/y coordinates
    and the CF grid mapping. Values within ``tolerance`` of a bound are clipped to it; anything else
    unphysical raises :class:`DataError`. Conversions are reported as :class:`DataNote` warnings and in
    the ``history`` attribute.
    """
    files = _expand(paths)
    where = ", ".join(map(str, files))
    raw = _open_raw(files, chunks)
    notes: list[str] = []
    raw, flipped = _standard_axes(raw, where, notes)
    with _reading(where):  # values are read from here on
        fields = _canonical_fields(raw)
        names = _select(tuple(fields), variables)
        for name in names:
            _check_dims(name, fields[name].dims)
        lead = sample_dim(fields[names[0]])
        raw = _standard_samples(raw, lead, where, notes)
        grid = grid_from_dataset(raw) if grid is None else get_grid(grid)
        _check_grid(raw, grid, where)
        land = _read_land(raw, grid, land_mask, flipped, where)
        if land is None:
            _refuse_missing_chunks(files, raw, names)
            land = _land_from_nan([fields[n] for n in names], where)
        history = " ".join(filter(None, [raw.attrs.get("history", ""), *(f"seaice-ldm: {n}." for n in notes)]))
        ds = make_dataset(
            {n: fields[n] for n in names}, grid, land=land,
            **({"time": raw["time"].values} if lead == "time" else {"member": raw[lead].values}),
            attrs={**raw.attrs, "grid_name": grid.name, **({"history": history} if history else {})},
        )
        validate_dataset(ds, grid, names, tolerance)
    for note in notes:
        warnings.warn(f"{where}: {note}", DataNote, stacklevel=2)
    return clip_to_bounds(ds)


def _open_raw(files: list[Path], chunks) -> xr.Dataset:
    # Zarr v3 has no consolidated metadata (write_dataset writes none): do not look for it.
    backend = {"engine": "zarr", "consolidated": False} if files[0].suffix == ".zarr" else {}
    try:
        if len(files) == 1:
            return xr.open_dataset(files[0], chunks=chunks, **backend)
        return xr.open_mfdataset(
            files, chunks=chunks or {}, **backend, combine="by_coords",
            data_vars="minimal", coords="minimal", compat="override", join="exact",
        )
    except (ValueError, OSError, RuntimeError) as err:
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


@contextmanager
def _reading(where: str) -> Iterator[None]:
    """Errors of the netCDF/HDF5 or zarr codecs while values are read, as a DataError naming the file."""
    try:
        yield
    except DataError:
        raise
    except (RuntimeError, OSError, EOFError, zlib.error) as err:  # HDF errors, codec errors, truncation
        raise DataError(f"cannot read the values of {where}: {type(err).__name__}: {err} "
                        "(a corrupt or truncated compressed chunk?)") from err


# --- axes and samples ---------------------------------------------------------------------------------


def _standard_axes(raw: xr.Dataset, where: str, notes: list[str]) -> tuple[xr.Dataset, tuple[str, ...]]:
    """x/y as CF says they are: alias dims renamed, units converted to metres, increasing (flipped if not).

    Returns the data set and the axes that were flipped."""
    found = [d for d in raw.dims if str(d).lower() in LATLON_DIMS]
    if found:
        raise DataError(f"{where} is on a latitude-longitude grid (dims {found}); this package reads projected "
                        f"x/y grids in metres: {REGRID_HINT}")
    renames = {}
    for axis in ("x", "y"):
        if axis in raw.dims:
            continue
        standard = f"projection_{axis}_coordinate"
        candidates = [d for d in raw.dims if str(d) in AXIS_ALIASES[axis]
                      or (d in raw.coords and raw[d].attrs.get("standard_name") == standard)]
        if len(candidates) == 1:
            renames[candidates[0]] = axis
    if renames:
        raw = raw.rename(renames)
        notes.append(f"dims {', '.join(map(str, renames))} renamed to {', '.join(renames.values())}")
    flipped = []
    for axis in ("x", "y"):
        if axis not in raw.coords:
            continue
        raw = raw.assign_coords({axis: _in_metres(raw[axis], where, notes)})
        values = raw[axis].values
        if values.size > 1 and (np.diff(values) < 0).all():
            raw = raw.isel({axis: slice(None, None, -1)})
            flipped.append(axis)
    if flipped:
        notes.append(f"{' and '.join(flipped)} decreasing in the file (e.g. OSI-SAF layout): flipped to increasing")
    return raw, tuple(flipped)


def _in_metres(coord: xr.DataArray, where: str, notes: list[str]) -> xr.DataArray:
    """A projected x/y coordinate in metres (km converted; degrees, other units and implausible spacing refused)."""
    name = coord.name
    units = str(coord.attrs.get("units", "")).strip()
    values = np.asarray(coord.values, dtype=float)
    if units.lower().startswith("degree"):
        raise DataError(f"{where}: coordinate '{name}' is in {units}, not a projected coordinate in metres; "
                        f"{REGRID_HINT}")
    if units.lower() in KILOMETRES:
        notes.append(f"coordinate '{name}' converted from {units} to m")
        values = values * 1000.0
    elif units and units.lower() not in METRES:
        raise DataError(f"{where}: coordinate '{name}' has units '{units}'; expected m or km")
    step = np.abs(np.diff(values)).min() if values.size > 1 else MIN_SPACING
    if step < MIN_SPACING:
        raise DataError(f"{where}: coordinate '{name}' has a spacing of {step:g} {units or 'm (no units given)'}, "
                        f"implausible for a sea-ice grid; give its units (m or km) or {REGRID_HINT}")
    attrs = {**coord.attrs, "units": "m"}
    return xr.DataArray(values, dims=coord.dims, attrs=attrs)


def _standard_samples(raw: xr.Dataset, lead: str, where: str, notes: list[str]) -> xr.Dataset:
    """A non-empty sample dim; for ``time`` a CF time decoded to datetime64 (other calendars converted)."""
    if raw.sizes[lead] == 0:
        raise DataError(f"{where}: the '{lead}' dimension is empty (no states)")
    if lead != "time":
        return raw
    if "time" not in raw.coords:
        raise DataError(f"{where}: dimension 'time' has no coordinate variable; CF needs time values with units "
                        "such as 'days since 2000-01-01'")
    time = raw["time"]
    if time.dtype.kind == "M":
        return raw
    if time.dtype.kind in "iuf":
        raise DataError(f"{where}: time has no usable units (units = {time.attrs.get('units')!r}, first value "
                        f"{time.values[0]!r}); CF needs e.g. units = 'days since 2000-01-01'")
    try:
        index = raw.indexes["time"].to_datetimeindex(unsafe=True, time_unit="ns")
    except (AttributeError, TypeError, ValueError) as err:
        raise DataError(f"{where}: cannot convert the time coordinate to standard dates: {err}") from None
    notes.append(f"time in the '{getattr(time.values[0], 'calendar', '?')}' calendar converted to standard dates")
    return raw.assign_coords(time=index.values)


# --- variables ------------------------------------------------------------------------------------------


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


def _check_grid(ds: xr.Dataset, grid: Grid, where: str = "the data set") -> None:
    """Shape, x/y coordinates (to a thousandth of a cell) and CRS agree with ``grid``."""
    shape = (ds.sizes.get("y"), ds.sizes.get("x"))
    if shape != grid.shape:
        raise DataError(f"grid mismatch: {where} has (y, x) = {shape}, grid '{grid.name}' has {grid.shape}")
    for axis, expected in (("x", grid.x), ("y", grid.y)):
        if axis in ds.coords:
            err = np.max(np.abs(np.asarray(ds[axis].values, dtype=float) - expected))
            if err > 1e-3 * grid.dx:
                raise DataError(f"grid mismatch: coordinate '{axis}' of {where} differs from grid '{grid.name}' "
                                f"by up to {err:.6g} m")
    crs = dataset_crs(ds)
    if not same_crs(crs, grid.crs, grid.x, grid.y):
        raise DataError(f"CRS mismatch: {where} is on {crs.name} ({crs_name(crs, grid.x, grid.y)[:40]}), "
                        f"grid '{grid.name}' is on {grid.crs}; the same x/y would be other places on Earth: "
                        f"{REGRID_HINT}")


# --- land -----------------------------------------------------------------------------------------------


def _read_land(raw: xr.Dataset, grid: Grid, land_mask, flipped: tuple[str, ...], where: str) -> np.ndarray | None:
    """An explicit land mask (array argument or file variable) as bool (ny, nx), or None when there is none."""
    if land_mask is not None and not isinstance(land_mask, str):
        values = np.squeeze(np.asarray(getattr(land_mask, "values", land_mask)))
        if values.shape != grid.shape:
            raise DataError(f"land mask has shape {values.shape}, expected {grid.shape}")
        for axis in flipped:  # the array is laid out like the file
            values = np.flip(values, axis=("y", "x").index(axis))
        return ~np.isfinite(values.astype(float)) | (values != 0)
    if land_mask is not None and land_mask not in LAND_MASK_CONVENTIONS:
        raise DataError(f"land_mask {land_mask!r}: give an array or one of {LAND_MASK_CONVENTIONS}")
    name = next((n for n in LAND_MASK_NAMES if n in raw.variables), None)
    if name is None:
        if land_mask is not None:
            raise DataError(f"land_mask={land_mask!r} given, but {where} has no "
                            f"{'/'.join(LAND_MASK_NAMES)} variable")
        return None
    mask = raw[name]
    values = np.squeeze(np.asarray(mask.values, dtype=float))
    if values.shape != grid.shape:
        raise DataError(f"land mask '{name}' of {where} has shape {values.shape}, expected {grid.shape}")
    one_is_land = _one_is_land(mask, land_mask, where)
    found = set(np.unique(values[np.isfinite(values)]).tolist())
    if not found <= {0.0, 1.0}:
        raise DataError(f"land mask '{name}' of {where} has values {sorted(found)[:6]}; expected 0 and 1")
    return ~np.isfinite(values) | ((values == 1) == one_is_land)


def _one_is_land(mask: xr.DataArray, convention: str | None, where: str) -> bool:
    """Whether 1 means land in ``mask``: the convention given, else CF flag meanings, else the name."""
    if convention is not None:
        return convention == "1=land"
    meanings = str(mask.attrs.get("flag_meanings", "")).lower().split()
    flags = np.atleast_1d(mask.attrs.get("flag_values", [])).tolist()
    if len(meanings) == len(flags) == 2 and 1 in flags:
        meaning = meanings[flags.index(1)]
        if "land" in meaning or meaning in ("ocean", "sea", "water"):
            return "land" in meaning
    if mask.name in UNAMBIGUOUS_MASKS:
        return True
    raise DataError(f"variable '{mask.name}' of {where} does not say whether 1 means land or ocean (no CF "
                    f"flag_meanings); pass land_mask='1=land' or land_mask='1=ocean' (--land-mask on the command line)")


def _land_from_nan(fields: Sequence[xr.DataArray], where: str) -> np.ndarray:
    """Cells NaN at every time in every variable; refused when land looks filled with 0 instead of NaN."""
    land = _nan_everywhere(fields)
    if land.any():
        return land
    zero = np.logical_and.reduce([(f == 0).all(sample_dim(f)).values for f in fields])
    if zero.any():
        raise DataError(f"{where} has no cell that is NaN at every time, but {int(zero.sum())} cells "
                        f"({zero.mean():.1%}) are 0 in every variable at every time: land looks filled with 0, "
                        "which would be read as open water. Give a land mask (land_mask=array, or a 'land' "
                        "variable in the file) or set land cells to NaN")
    return land


def _refuse_missing_chunks(files: list[Path], raw: xr.Dataset, names: Sequence[str]) -> None:
    """Zarr reads a missing chunk as NaN, which would be taken as land: name it unless a land mask is given."""
    for path in (f for f in files if f.suffix == ".zarr"):
        try:
            group = zarr.open_group(str(path), mode="r")
        except Exception:  # noqa: BLE001 - opened fine by xarray; nothing more to learn here
            continue
        for name in names:
            source = _source_name(raw, name)
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


def _source_name(raw: xr.Dataset, name: str) -> str:
    return next((str(v) for v in raw.data_vars if canonical_name(str(v)) == name), name)


def _nan_everywhere(fields: Sequence[xr.DataArray]) -> np.ndarray:
    """Cells that are NaN at every time in every variable: land when the file gives no mask."""
    return np.logical_and.reduce([f.isnull().all(sample_dim(f)).values for f in fields])


def land_of(ds: xr.Dataset) -> np.ndarray:
    """Land (bool ``(ny, nx)``) of a Dataset: its ``land`` coordinate, else cells NaN everywhere."""
    if "land" in ds.variables:
        return np.asarray(ds["land"].values) != 0
    return _nan_everywhere([ds[n] for n in VARIABLE_NAMES if n in ds.data_vars])


# --- values ---------------------------------------------------------------------------------------------


def validate_dataset(
    ds: xr.Dataset,
    grid: Grid | str | None = None,
    variables: Iterable[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> None:
    """Raise :class:`DataError` naming every problem that keeps ``ds`` from being canonical and physical.

    Checks: known variables present (and the ``variables`` requested), dims, grid (``grid`` or a uniform
    x/y grid) and its CRS, strictly increasing time, no all-NaN fields, no NaN in ocean cells, no +/-inf,
    and values within the physical bounds up to ``tolerance`` (negative thickness, concentration/damage
    outside [0, 1]).
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
        finite = da.where(np.isfinite(da))
        reductions[f"{name}/all_nan"] = nan.all(("y", "x")).sum()
        reductions[f"{name}/nan_ocean"] = (nan & ocean).sum()
        reductions[f"{name}/inf"] = np.isinf(da).sum()
        reductions[f"{name}/min"] = finite.min()
        reductions[f"{name}/max"] = finite.max()
        reductions[f"{name}/below"] = (finite < lo - tolerance).sum()
        reductions[f"{name}/above"] = (finite > hi + tolerance).sum()
    r = {k: v.item() for k, v in xr.Dataset(reductions).compute().data_vars.items()}
    problems = []
    for name, lo, hi in zip(names, lower, upper):
        var = VARIABLES[name]
        units = "" if var.units == "1" else f" {var.units}"
        if r[f"{name}/all_nan"]:
            problems.append(f"variable '{name}' is all-NaN in {r[f'{name}/all_nan']} fields")
        elif r[f"{name}/nan_ocean"]:
            problems.append(f"variable '{name}' has {r[f'{name}/nan_ocean']} NaN values in ocean cells")
        if r[f"{name}/inf"]:
            problems.append(f"variable '{name}' ({var.long_name}) has {r[f'{name}/inf']} non-finite values "
                            "(+inf or -inf)")
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
