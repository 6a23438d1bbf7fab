"""The canonical Dataset of docs/DESIGN.md, built in one place and checked in one place.

Every Dataset the package hands out or writes (synthetic data, opened files, reference states, sampled
ensembles, the dashboard's download) is built by :func:`make_dataset` or :func:`with_cf` and passes
:func:`check_canonical`; :func:`cf_encoding` is how it goes to disk as CF-1.8 (proper time units, int32
members, no fill values on coordinates).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pyproj
import xarray as xr

from .dims import SAMPLE_DIMS
from .grid import Grid, get_grid
from .variables import VARIABLE_NAMES, VARIABLES, DataError

CONVENTIONS = "CF-1.8"
HISTORY = "created with seaice-ldm"  # CF's audit trail; readers append what they change
GRID_MAPPING = "crs"
TIME_UNITS = "days since 1970-01-01 00:00:00"
COORDINATE_ATTRS = {
    "time": {"standard_name": "time", "long_name": "time", "axis": "T"},
    "member": {"standard_name": "realization", "long_name": "ensemble member", "units": "1"},
}


def variable_attrs(name: str) -> dict[str, str]:
    """CF attributes of a canonical variable: long_name, units, grid_mapping, standard_name where CF has one."""
    var = VARIABLES[name]
    attrs = {"long_name": var.long_name, "units": var.units, "grid_mapping": GRID_MAPPING}
    if var.standard_name:
        attrs["standard_name"] = var.standard_name
    return attrs


def canonical_coords(grid: Grid, land: np.ndarray | None = None) -> dict[str, xr.DataArray]:
    """Coordinates x, y, lat, lon, cell_area, land and the grid mapping ``crs`` of ``grid``."""
    return {**grid.coords(land), GRID_MAPPING: grid.crs_variable()}


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
    coords = canonical_coords(grid, land)
    ocean = coords["land"] == 0
    dim = "time" if time is not None else "member"
    variables = {}
    for name in (n for n in VARIABLE_NAMES if n in data):
        values = getattr(data[name], "data", data[name])  # DataArray -> its numpy/dask array
        if values.ndim != 3 or values.shape[1:] != grid.shape or values.shape[0] == 0:
            raise DataError(f"variable '{name}' has shape {values.shape}, expected (N, {grid.ny}, {grid.nx}) "
                            "with N >= 1")
        da = xr.DataArray(values, dims=(dim, "y", "x"))
        if not _is_float32_with_nan_land(values, ocean.values):
            da = da.astype(np.float32).where(ocean)
        variables[name] = da.assign_attrs(variable_attrs(name))
    if time is not None:
        coords["time"] = xr.DataArray(np.asarray(time), dims="time", attrs=COORDINATE_ATTRS["time"])
    else:
        n = next(iter(variables.values())).shape[0] if variables else 0
        values = np.arange(n) if member is None else np.asarray(member)
        coords["member"] = xr.DataArray(values.astype(np.int32), dims="member", attrs=COORDINATE_ATTRS["member"])
    ds = xr.Dataset(variables, coords=coords)
    ds.attrs = {"title": "Arctic sea-ice states", "source": "seaice-ldm", "history": HISTORY, **(attrs or {}),
                "Conventions": CONVENTIONS, "grid_name": grid.name}
    return ds


def _is_float32_with_nan_land(values, ocean: np.ndarray) -> bool:
    """True for a numpy float32 array already NaN on land: it can be used as is (no 1 GB copies)."""
    if not isinstance(values, np.ndarray) or values.dtype != np.float32:
        return False
    land = np.flatnonzero(~ocean)
    flat = values.reshape(values.shape[0], -1)
    return all(np.isnan(np.take(flat[i:i + 64], land, axis=1)).all() for i in range(0, flat.shape[0], 64))


def with_cf(ds: xr.Dataset, grid: Grid | str, attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """``ds`` (canonical variables with any extra leading dims) with the CF attributes of the canonical
    layout: variable and coordinate attributes, the grid mapping ``crs`` and the global attributes."""
    grid = get_grid(grid)
    out = ds.assign_coords({GRID_MAPPING: grid.crs_variable()})
    for name in (n for n in VARIABLE_NAMES if n in out.data_vars):
        out[name].attrs.update(variable_attrs(name))
    for name, extra in COORDINATE_ATTRS.items():
        if name in out.coords:
            out[name].attrs.update(extra)
    if "member" in out.coords:
        out = out.assign_coords(member=out["member"].astype(np.int32).assign_attrs(out["member"].attrs))
    out.attrs = {"history": HISTORY, **out.attrs, **(attrs or {}), "Conventions": CONVENTIONS, "grid_name": grid.name}
    return out


def cf_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """How ``ds`` goes to disk as CF-1.8: time as float days since 1970 (not int64), member int32,
    no ``_FillValue`` on coordinates and other non-float variables."""
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        enc: dict[str, Any] = {}
        if name in ds.coords or var.dtype.kind not in "fc":
            enc["_FillValue"] = None
        if var.dtype.kind == "M":
            enc.update(units=TIME_UNITS, calendar="standard", dtype="float64")
        elif name == "member":
            enc["dtype"] = "int32"
        encoding[str(name)] = enc
    return encoding


def with_flag_types(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with every ``flag_values`` attribute in its variable's type, as CF requires (a zarr store's
    JSON attributes come back as int64)."""
    out = ds.copy()
    for name, var in ds.variables.items():
        if "flag_values" in var.attrs:
            out[name].attrs["flag_values"] = np.asarray(var.attrs["flag_values"]).astype(var.dtype)
    return out


def check_canonical(ds: xr.Dataset) -> None:
    """Raise :class:`DataError` naming everything that keeps ``ds`` from the canonical CF layout.

    The contract every output of the package meets: canonical variables float32 with dims
    ``(..., time|member, y, x)`` and their CF attributes, x/y in metres with CF axis attributes, datetime
    ``time`` or int32 ``member``, a ``crs`` grid mapping that pyproj reads and whose polar stereographic
    form names ``latitude_of_projection_origin``, ``Conventions = "CF-1.8"``.
    """
    problems = []
    names = [n for n in VARIABLE_NAMES if n in ds.data_vars]
    if not names:
        problems.append("no canonical variable (sit, sic, sid, siu, siv)")
    if ds.attrs.get("Conventions") != CONVENTIONS:
        problems.append(f"global attribute Conventions is {ds.attrs.get('Conventions')!r}, expected {CONVENTIONS!r}")
    for name in names:
        da = ds[name]
        if da.dtype != np.float32:
            problems.append(f"variable '{name}' is {da.dtype}, expected float32")
        if da.ndim < 3 or da.dims[-2:] != ("y", "x") or da.dims[-3] not in SAMPLE_DIMS:
            problems.append(f"variable '{name}' has dims {da.dims}, expected (..., time|member, y, x)")
        for key, value in variable_attrs(name).items():
            if da.attrs.get(key) != value:
                problems.append(f"variable '{name}' has {key} = {da.attrs.get(key)!r}, expected {value!r}")
    for axis in ("x", "y"):
        if axis not in ds.coords or ds[axis].attrs.get("units") != "m" \
                or ds[axis].attrs.get("standard_name") != f"projection_{axis}_coordinate":
            problems.append(f"coordinate '{axis}' is missing or lacks units 'm' and its standard_name")
    if "time" in ds.dims and ("time" not in ds.coords or ds["time"].dtype.kind != "M"):
        problems.append("coordinate 'time' is missing or not datetime64")
    if "member" in ds.dims and ("member" not in ds.coords or ds["member"].dtype != np.int32):
        problems.append("coordinate 'member' is missing or not int32")
    problems += _grid_mapping_problems(ds)
    if problems:
        raise DataError("not a canonical data set:\n  - " + "\n  - ".join(problems))


def _grid_mapping_problems(ds: xr.Dataset) -> list[str]:
    if GRID_MAPPING not in ds.variables:
        return [f"no grid mapping variable '{GRID_MAPPING}'"]
    attrs = dict(ds[GRID_MAPPING].attrs)
    problems = []
    if not attrs.get("long_name"):
        problems.append(f"grid mapping '{GRID_MAPPING}' has no long_name")
    if attrs.get("grid_mapping_name") == "polar_stereographic" and "latitude_of_projection_origin" not in attrs:
        problems.append(f"grid mapping '{GRID_MAPPING}' lacks latitude_of_projection_origin")
    try:
        pyproj.CRS.from_cf(attrs)
    except pyproj.exceptions.CRSError as err:
        problems.append(f"pyproj cannot read grid mapping '{GRID_MAPPING}': {err}")
    return problems
