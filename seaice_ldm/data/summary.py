"""A human-readable report of a data set (``seaice-ldm data check PATH``)."""

from __future__ import annotations

import calendar
import os
import warnings

import xarray as xr

from .derived import sea_ice_extent
from .dims import sample_dim
from .grid import grid_from_dataset
from .land import land_of
from .opening import DataNote, open_dataset
from .variables import VARIABLE_NAMES, VARIABLES


def summarize(ds: xr.Dataset) -> str:
    """Variables with units, time range, grid, land share, per-variable ocean statistics, share of ocean
    cells at each physical bound, and mean sea-ice extent per calendar month (million km2)."""
    names = [n for n in VARIABLE_NAMES if n in ds.data_vars]
    land = land_of(ds)
    ocean = xr.DataArray(~land, dims=("y", "x"))
    grid = grid_from_dataset(ds)
    lines = []
    if ds.attrs.get("synthetic") == "yes":
        lines.append(f"SYNTHETIC DATA: {ds.attrs.get('title', '')}")
    lines.append("variables: " + ", ".join(f"{n} [{VARIABLES[n].units}]" for n in names))
    lines.append(_sample_line(ds))
    lines.append(
        f"grid: {grid.name}, {grid.ny} x {grid.nx} cells of {grid.dx / 1000:g} km, {grid.crs}"
    )
    lines.append(f"land: {land.mean():.1%} of cells ({int(land.sum())} land, {int((~land).sum())} ocean)")
    lines.append("ocean statistics:")
    for name in names:
        lines.append("  " + _variable_line(ds[name].where(ocean), VARIABLES[name]))
    if "sic" in names and "time" in ds.dims:
        lines.append("mean sea-ice extent (sic > 0.15) per calendar month, million km2:")
        lines.append("  " + _extent_line(ds))
    return "\n".join(lines)


def check_path(path: str | os.PathLike, land_mask: str | None = None, grid: str | None = None) -> str:
    """Open, validate and summarize a file (raises :class:`DataError` naming any problem); conversions made
    while reading (:class:`DataNote`) are listed first."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataNote)
        ds = open_dataset(path, land_mask=land_mask, grid=grid)
    notes = [f"note: {w.message}" for w in caught if issubclass(w.category, DataNote)]
    return "\n".join([*notes, summarize(ds)])


def _sample_line(ds: xr.Dataset) -> str:
    if "time" in ds.dims:
        t = ds["time"].values
        return f"time: {ds.sizes['time']} states from {str(t[0])[:10]} to {str(t[-1])[:10]}"
    dim = sample_dim(ds)
    return f"{dim}: {ds.sizes[dim]} states"


def _variable_line(da: xr.DataArray, var) -> str:
    """min / mean / max over ocean cells, and the share of ocean cells exactly at each bound."""
    stats = xr.Dataset({"min": da.min(), "mean": da.mean(), "max": da.max(), "count": da.count(),
                        **({"at_lower": (da == var.lower).sum()} if var.lower is not None else {}),
                        **({"at_upper": (da == var.upper).sum()} if var.upper is not None else {})}).compute()
    count = max(int(stats["count"]), 1)
    units = "" if var.units == "1" else f" {var.units}"
    text = (f"{var.name}: min {float(stats['min']):.4g}, mean {float(stats['mean']):.4g}, "
            f"max {float(stats['max']):.4g}{units}")
    at_bounds = [f"{int(stats[key]) / count:.1%} at {bound:g}"
                 for key, bound in (("at_lower", var.lower), ("at_upper", var.upper)) if key in stats]
    return text + (f" ({', '.join(at_bounds)})" if at_bounds else "")


def _extent_line(ds: xr.Dataset) -> str:
    monthly = sea_ice_extent(ds["sic"], ds["cell_area"]).groupby("time.month").mean().compute()
    by_month = dict(zip(monthly["month"].values.tolist(), monthly.values.tolist()))
    return ", ".join(f"{calendar.month_abbr[m]} {by_month[m]:.2f}" for m in sorted(by_month))
