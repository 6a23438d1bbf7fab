"""Quantities derived from the canonical variables, each defined once: drift speed, sea-ice extent, and the
no-ice rule that makes a state physically consistent."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .dims import SPATIAL_DIMS
from .variables import EXTENT_THRESHOLD

#: m2 -> 1e6 km2
M2_TO_MKM2 = 1e-12


def drift_speed(ds: xr.Dataset) -> xr.DataArray:
    """Sea-ice drift speed (m s-1) from the grid components ``siu``, ``siv``; NaN on land."""
    # speed = sqrt(siu^2 + siv^2)
    speed = np.hypot(ds["siu"], ds["siv"])
    return speed.rename("speed").assign_attrs(units="m s-1", long_name="sea-ice drift speed")


def sea_ice_extent(sic: xr.DataArray, cell_area: xr.DataArray) -> xr.DataArray:
    """Sea-ice extent (1e6 km2) per sample: the area of the cells with ``sic > 0.15`` (NaN land never counts)."""
    # extent = sum_{sic > 0.15} A
    extent = cell_area.where(sic > EXTENT_THRESHOLD).sum(SPATIAL_DIMS) * M2_TO_MKM2
    return extent.assign_attrs(units="1e6 km2", long_name="sea-ice extent (sic > 0.15)")


#: the variables that describe ice, and so are 0 where there is none (the data's convention)
ICE_PROPERTIES = ("sit", "sid", "siu", "siv")


def no_ice_rule(ds: xr.Dataset) -> xr.Dataset:
    """Thickness, damage and drift set to exactly 0 where a state has no ice (``sic <= 0``: censored at 0, or
    a Gaussian decoder's concentration at or below it), as in the data; land (NaN) and ``sic`` itself untouched.

    A modelling choice (docs/DESIGN.md, "No ice, no thickness"): the generators learn it only approximately,
    and a cell without ice that carries thickness or drift is physically inconsistent.
    """
    no_ice = ds["sic"] <= 0.0  # NaN (land) compares False
    out = ds.copy()
    for name in (n for n in ICE_PROPERTIES if n in ds.data_vars):
        out[name] = ds[name].where(~no_ice, 0.0).assign_attrs(ds[name].attrs)
    return out
