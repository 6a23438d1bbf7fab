"""Where a file's land is: an explicit mask (array, or a mask variable read by its CF flags, its name or the
convention given), else the cells NaN at every time in every variable; and the checks that catch a mask read
the wrong way round, land filled with 0, and land filled with an undeclared fill value.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import xarray as xr

from .dims import sample_dim
from .fills import DECLARE, fill_hint
from .grid import Grid
from .variables import VARIABLE_NAMES, VARIABLES, DataError

LAND_MASK_NAMES = ("land", "land_mask", "mask")  # file variables read as a land mask
UNAMBIGUOUS_MASKS = ("land", "land_mask")  # names that say 1 = land; "mask" alone says nothing
LAND_MASK_CONVENTIONS = ("1=land", "1=ocean")
MASK_FIX = "pass land_mask='1=land' or land_mask='1=ocean' (--land-mask on the command line)"


def read_land(raw: xr.Dataset, grid: Grid, land_mask, flipped: tuple[str, ...], where: str) -> np.ndarray | None:
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
                    f"flag_meanings); {MASK_FIX}")


def check_mask_fits(fields: Sequence[xr.DataArray], land: np.ndarray, where: str, source: str) -> None:
    """Refuse a land mask that the fields contradict: ocean that is 0 in every variable at every time
    (land filled with 0 where the mask says ocean), or mask land that holds values changing in time in most of
    its cells (the sea ice is where the mask says land): both are a mask read the wrong way round."""
    if land.all():
        raise DataError(f"the land mask of {where} ({source}) makes every cell land; if 1 means ocean in it, "
                        f"{MASK_FIX}")
    ocean = xr.DataArray(~land, dims=("y", "x"))
    zero = np.logical_and.reduce([((f == 0) | ~ocean).all().values for f in fields])
    moving = np.logical_or.reduce([(f.max(sample_dim(f)) > f.min(sample_dim(f))).values for f in fields])
    moving_share = moving[land].mean() if land.any() else 0.0
    if bool(zero) or moving_share > 0.5:
        found = ("every variable is 0 in every ocean cell at every time" if bool(zero)
                 else f"{moving_share:.0%} of the cells it calls land hold values that change in time")
        raise DataError(f"the land mask of {where} ({source}) does not fit the data: {found}. The mask is probably "
                        f"read the wrong way round; {MASK_FIX} to say what 1 means in it")


def land_from_nan(named: Mapping[str, xr.DataArray], where: str,
                  factors: Mapping[str, float] | None = None) -> np.ndarray:
    """Cells NaN at every time in every variable (``{canonical name: field}`` in canonical units, converted from
    the file's by ``factors``); refused when land looks filled with an undeclared fill value or with 0."""
    fields = list(named.values())
    land = _nan_everywhere(fields)
    if land.any():
        return land
    for name, field in named.items():
        _refuse_constant_fill(name, field, where, (factors or {}).get(name, 1.0))
    zero = np.logical_and.reduce([(f == 0).all(sample_dim(f)).values for f in fields])
    if zero.any():
        raise DataError(f"{where} has no cell that is NaN at every time, but {int(zero.sum())} cells "
                        f"({zero.mean():.1%}) are 0 in every variable at every time: land looks filled with 0, "
                        "which would be read as open water. Give a land mask (land_mask=array, or a 'land' "
                        "variable in the file) or set land cells to NaN")
    return land


def _refuse_constant_fill(name: str, field: xr.DataArray, where: str, factor: float) -> None:
    """Cells that hold one value outside the variable's plausible range at every time: land (or a flag) filled
    with a value the file does not declare."""
    var = VARIABLES[name]
    low, high = var.plausible
    dim = sample_dim(field)
    low_cell, high_cell = field.min(dim), field.max(dim)
    bad = ((low_cell == high_cell) & ((high_cell > high) | (low_cell < low))).values
    if bad.any():
        values = np.unique(np.asarray(high_cell.values)[bad]) / factor  # as the file writes them
        hints = [h for h in map(fill_hint, values[:4]) if h]
        raise DataError(f"{where}: variable '{var.name}' holds {', '.join(f'{v:.6g}' for v in values[:4])} (as "
                        f"written in the file) in {int(bad.sum())} cells at every time, outside what a real product "
                        f"holds ([{low:g}, {high:g}] {var.units}){': ' + '; '.join(hints) if hints else ''}. This "
                        f"looks like land or missing data marked with a value the file does not declare: {DECLARE}, "
                        "or give a land mask")


def _nan_everywhere(fields: Sequence[xr.DataArray]) -> np.ndarray:
    """Cells that are NaN at every time in every variable: land when the file gives no mask."""
    return np.logical_and.reduce([f.isnull().all(sample_dim(f)).values for f in fields])


def land_of(ds: xr.Dataset) -> np.ndarray:
    """Land (bool ``(ny, nx)``) of a Dataset: its ``land`` coordinate, else cells NaN everywhere."""
    if "land" in ds.variables:
        return np.asarray(ds["land"].values) != 0
    return _nan_everywhere([ds[n] for n in VARIABLE_NAMES if n in ds.data_vars])
