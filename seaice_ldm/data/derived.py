"""Quantities derived from the canonical variables, each defined once: drift speed and sea-ice extent."""

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
