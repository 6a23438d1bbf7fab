"""Open sea-ice files into the canonical layout (docs/DESIGN.md, built by :mod:`.canonical`).

Real products name, scale and lay out variables differently; what CF says about them (grid_mapping, units,
flag meanings) is followed, common layouts (``xc``/``yc`` in km, y decreasing) are converted with a
:class:`DataNote`, and anything that cannot be read unambiguously is refused with a message naming the file
and variable. The roles: :mod:`.files` (paths, formats, combining files), :mod:`.axes` (x/y, time, CRS),
:mod:`.land` (land), :mod:`.validation` (values), :mod:`.clipping` (bounds), :mod:`.arrays` (for training).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from .axes import standard_axes, standard_samples, with_stated_crs
from .canonical import make_dataset
from .clipping import DEFAULT_TOLERANCE, check_tolerance, clip_to_bounds
from .dims import sample_dim
from .files import expand, open_raw, reading, refuse_missing_chunks
from .grid import Grid, get_grid, grid_from_dataset
from .land import check_mask_fits, land_from_nan, read_land
from .validation import check_dims, check_grid, select, validate_dataset
from .variables import VARIABLE_NAMES, VARIABLES, DataError, canonical_name, unit_factor


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
    and the CRS: the CF grid mapping, else the one the file's 2-D lat/lon show (never an assumed one).
    Values within ``tolerance`` of a bound are clipped to it; anything else unphysical or implausible
    raises :class:`DataError`. Conversions are reported as :class:`DataNote` warnings and in the
    ``history`` attribute.
    """
    tolerance = check_tolerance(tolerance)
    files = expand(paths)
    where = ", ".join(map(str, files))
    raw = open_raw(files, chunks)
    notes: list[str] = []
    raw, flipped = standard_axes(raw, where, notes)
    named = None if grid is None else get_grid(grid)
    with reading(where):  # values are read from here on
        fields, file_units = _canonical_fields(raw)
        names = select(tuple(fields), variables)
        for name in names:
            check_dims(name, fields[name].dims)
        lead = sample_dim(fields[names[0]])
        raw = standard_samples(raw, lead, where, notes)
        raw = with_stated_crs(raw, [str(fields[n].name) for n in names], named, where, notes)
        grid = named or grid_from_dataset(raw)
        check_grid(raw, grid, where)
        land = _land(raw, files, grid, (land_mask, flipped), {n: fields[n] for n in names}, file_units)
        history = " ".join(filter(None, [raw.attrs.get("history", ""), *(f"seaice-ldm: {n}." for n in notes)]))
        ds = make_dataset(
            {n: fields[n] for n in names}, grid, land=land,
            **({"time": raw["time"].values} if lead == "time" else {"member": raw[lead].values}),
            attrs={**raw.attrs, "grid_name": grid.name, **({"history": history} if history else {})},
        )
        validate_dataset(ds, grid, names, tolerance, where=where,
                         file_units={n: file_units[n] for n in names if n in file_units})
    for note in notes:
        warnings.warn(f"{where}: {note}", DataNote, stacklevel=2)
    return clip_to_bounds(ds)


def _land(raw: xr.Dataset, files: list[Path], grid: Grid, mask: tuple, fields: dict[str, xr.DataArray],
          file_units: dict[str, tuple[str, float]]) -> np.ndarray:
    """The file's land: an explicit mask (``mask`` = (land_mask argument, flipped axes)) checked against the
    fields, else the cells NaN everywhere."""
    land_mask, flipped = mask
    where = ", ".join(map(str, files))
    land = read_land(raw, grid, land_mask, flipped, where)
    if land is None:
        refuse_missing_chunks(files, raw, list(fields))
        return land_from_nan(fields, where, {n: f for n, (_, f) in file_units.items()})
    source = "the array given" if land_mask is not None and not isinstance(land_mask, str) else (
        f"--land-mask {land_mask}" if land_mask else "its mask variable")
    check_mask_fits(list(fields.values()), land, where, source)
    return land


def _canonical_fields(raw: xr.Dataset) -> tuple[dict[str, xr.DataArray], dict[str, tuple[str, float]]]:
    """The file's sea-ice variables under canonical names, in canonical units, float32; and for each the units
    the file wrote and the factor that converted them."""
    sources: dict[str, str] = {}
    for var in raw.data_vars:
        name = canonical_name(str(var))
        if name is None:
            continue
        if name in sources:
            raise DataError(f"variables '{sources[name]}' and '{var}' both map to '{name}'; keep one of them")
        sources[name] = str(var)
    if not sources:
        raise DataError(
            f"no known sea-ice variable in the data set (found: {', '.join(map(str, raw.data_vars)) or 'none'}); "
            f"expected one of {', '.join(VARIABLE_NAMES)} or an alias such as "
            f"{', '.join(VARIABLES[n].aliases[0] for n in VARIABLE_NAMES)}"
        )
    fields, file_units = {}, {}
    for name in (n for n in VARIABLE_NAMES if n in sources):
        da = raw[sources[name]]
        units = da.attrs.get("units")
        factor = unit_factor(name, units)
        field = (da.astype(np.float32) * np.float32(factor)) if factor != 1.0 else da.astype(np.float32)
        fields[name] = field.rename(sources[name])
        file_units[name] = (str(units) if units is not None else VARIABLES[name].units, factor)
    return fields, file_units
