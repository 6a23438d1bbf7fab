"""A file's axes as the canonical layout has them: x/y in metres and increasing, a decoded time, and a CRS
that the file states (its CF grid mapping), that its 2-D lat/lon show, or that the caller names; never one
assumed.
"""

from __future__ import annotations

import numpy as np
import pyproj
import xarray as xr

from .grid import DEFAULT_CRS, Grid, grid_mapping_name
from .variables import DataError

AXIS_ALIASES = {"x": ("xc",), "y": ("yc",)}  # OSI-SAF, CS2SMOS: dims (time, yc, xc)
LATLON_DIMS = ("lat", "lon", "latitude", "longitude")
METRES = ("m", "meter", "meters", "metre", "metres")
KILOMETRES = ("km", "kilometer", "kilometers", "kilometre", "kilometres")
MIN_SPACING = 100.0  # m: a finer "sea-ice grid" is almost surely mislabelled kilometres or degrees
REGRID_HINT = "regrid the data to EPSG:3413 first (e.g. with xESMF, pyresample or cdo)"
#: CRSs a file without a grid mapping is tried against through its 2-D lat/lon: the polar stereographic and
#: equal-area grids of sea-ice products and models (NSIDC, Hughes 1980, the Arctic and EASE grids, UPS North)
NORTH_POLAR_CRSS = ("EPSG:3413", "EPSG:3411", "EPSG:3995", "EPSG:3408", "EPSG:6931", "EPSG:32661", "EPSG:3571",
                    "EPSG:3572", "EPSG:3573", "EPSG:3574", "EPSG:3575", "EPSG:3576", "EPSG:5936")
LATLON_NAMES = {"lat": ("lat", "latitude", "nav_lat"), "lon": ("lon", "longitude", "nav_lon")}
LATLON_TOLERANCE = 0.01  # of a cell: lat/lon stored as float32 put a point about a metre off
GRID_MAPPING_FIX = ("add a CF grid mapping, e.g. with xarray: ds['crs'] = xr.DataArray(0, attrs=pyproj.CRS("
                    "'EPSG:3413').to_cf()) and ds[name].attrs['grid_mapping'] = 'crs' for each variable")


def standard_axes(raw: xr.Dataset, where: str, notes: list[str]) -> tuple[xr.Dataset, tuple[str, ...]]:
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


def standard_samples(raw: xr.Dataset, lead: str, where: str, notes: list[str]) -> xr.Dataset:
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


# --- the CRS of a file without a grid mapping ---------------------------------------------------------------


def with_stated_crs(raw: xr.Dataset, names: list[str], grid: Grid | None, where: str,
                    notes: list[str]) -> xr.Dataset:
    """``raw`` with a grid mapping its variables name: the file's own; else the CRS whose projection of the
    file's 2-D lat/lon gives its x/y; else that of the ``grid`` the caller named; else refused."""
    if "x" not in raw.coords or "y" not in raw.coords:
        return raw  # refused later with the missing coordinates named
    latlon = _latlon(raw)
    mapping = grid_mapping_name(raw)
    if mapping is not None:
        if latlon is not None:
            notes.extend(_disagreement(raw, mapping, *latlon))
        return raw
    if latlon is not None:
        crs = _crs_of_latlon(raw, *latlon)
        if crs is None:
            raise DataError(f"{where} has no grid mapping, and the x/y that its 2-D lat/lon give in "
                            f"{', '.join(NORTH_POLAR_CRSS[:6])} and the other north polar grids tried are not its "
                            f"own; {GRID_MAPPING_FIX} (or {REGRID_HINT})")
        notes.append(f"no grid mapping in the file: the CRS is {crs}, the one whose projection of the file's 2-D "
                     "lat/lon gives its x/y")
    elif grid is not None:
        crs = grid.crs
        notes.append(f"no grid mapping in the file: taken as {crs}, the CRS of grid '{grid.name}' as given")
    else:
        raise DataError(f"{where} has no grid mapping and no 2-D lat/lon, so where its x/y lie on Earth is unknown "
                        f"(nothing is assumed); {GRID_MAPPING_FIX}, or name the grid (grid=..., --grid) if the file "
                        f"is on one of the {DEFAULT_CRS} grids")
    out = raw.assign({"crs": xr.DataArray(np.int32(0), attrs=pyproj.CRS(crs).to_cf())})
    for name in names:
        out[name].attrs["grid_mapping"] = "crs"
    return out


def _disagreement(raw: xr.Dataset, mapping: str, lat: np.ndarray, lon: np.ndarray) -> list[str]:
    """A note when the file's grid mapping does not project its own 2-D lat/lon onto its x/y (one of them is
    wrong; CF makes the mapping the authority, so the file is read by it)."""
    try:
        crs = pyproj.CRS.from_cf(raw[mapping].attrs)
    except (pyproj.exceptions.CRSError, KeyError, ValueError):
        return []  # an unreadable mapping is refused where the grid is read
    if _projects_onto_xy(raw, lat, lon, crs):
        return []
    fits = _crs_of_latlon(raw, lat, lon)
    return [f"its grid mapping '{mapping}' ({crs.to_string()}) and its own 2-D lat/lon disagree (projected by the "
            f"mapping, lat/lon miss the x/y by more than {LATLON_TOLERANCE:.0%} of a cell"
            + (f"; they fit {fits}" if fits else "") + "): read by the grid mapping, as CF says; if the lat/lon "
            "are right, correct the grid mapping variable"]


def _latlon(raw: xr.Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The file's 2-D latitude and longitude on (y, x), found by name or CF standard name, or None."""
    found = {}
    for key, names in LATLON_NAMES.items():
        standard = "latitude" if key == "lat" else "longitude"
        for name, var in raw.variables.items():
            if (str(name).lower() in names or var.attrs.get("standard_name") == standard) and set(var.dims) == {"y", "x"}:
                found[key] = np.asarray(var.transpose("y", "x").values, dtype=float)
                break
    return (found["lat"], found["lon"]) if len(found) == 2 else None


def _crs_of_latlon(raw: xr.Dataset, lat: np.ndarray, lon: np.ndarray) -> str | None:
    """The first of :data:`NORTH_POLAR_CRSS` that projects lat/lon onto the file's x/y (to 1 % of a cell)."""
    return next((crs for crs in NORTH_POLAR_CRSS if _projects_onto_xy(raw, lat, lon, crs)), None)


def _projects_onto_xy(raw: xr.Dataset, lat: np.ndarray, lon: np.ndarray, crs) -> bool:
    """Whether ``crs`` projects the file's 2-D lat/lon (a sample of 8 x 8 points) onto its x/y to 1 % of a cell."""
    x, y = (np.asarray(raw[c].values, dtype=float) for c in ("x", "y"))
    step = (slice(None, None, max(1, y.size // 8)), slice(None, None, max(1, x.size // 8)))
    xx, yy = np.meshgrid(x, y)
    xx, yy, lat, lon = xx[step], yy[step], lat[step], lon[step]
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return False
    cell = min(np.abs(np.diff(x)).min(), np.abs(np.diff(y)).min())
    px, py = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon[ok], lat[ok])
    return bool(np.nanmax(np.hypot(px - xx[ok], py - yy[ok])) < LATLON_TOLERANCE * cell)
