"""Values a hair outside a physical bound: clipped to it within a tolerance (anything further is refused by
:mod:`.validation`)."""

from __future__ import annotations

import math
import numbers

import xarray as xr

from .variables import VARIABLE_NAMES, VARIABLES, DataError

#: Values this far outside a physical bound (canonical units) are clipped; further out is an error.
#: 0.01 covers regridding overshoots and rounding of percent concentrations.
DEFAULT_TOLERANCE = 0.01
MAX_TOLERANCE = 0.5  # half the range of a fraction: a wider "tolerance" would switch the bound check off


def check_tolerance(tolerance) -> float:
    """``tolerance`` as a float if it is a finite number in [0, MAX_TOLERANCE] (NaN would disable the check)."""
    ok = isinstance(tolerance, numbers.Real) and not isinstance(tolerance, bool) and math.isfinite(tolerance)
    if not ok or not 0.0 <= tolerance <= MAX_TOLERANCE:
        raise DataError(f"tolerance must be a finite number between 0 and {MAX_TOLERANCE:g} (canonical units; "
                        f"default {DEFAULT_TOLERANCE:g}), got {tolerance!r}: it is how far outside a physical bound "
                        "a value may lie and still be clipped to it")
    return float(tolerance)


def clip_to_bounds(ds: xr.Dataset) -> xr.Dataset:
    """Clip every canonical variable to its physical bounds (NaN stays NaN); attributes are kept."""
    out = ds.copy()
    for name in (n for n in VARIABLE_NAMES if n in ds.data_vars):
        var = VARIABLES[name]
        if var.lower is not None or var.upper is not None:
            out[name] = ds[name].clip(var.lower, var.upper).assign_attrs(ds[name].attrs)
    return out
