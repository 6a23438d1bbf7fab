"""Values that mark missing data in files without being declared: what they look like, and the fix to name."""

from __future__ import annotations

import numpy as np

NETCDF_DEFAULT_FILL = 9.969209968386869e36  # NC_FILL_FLOAT / NC_FILL_DOUBLE
KNOWN_FILLS = {NETCDF_DEFAULT_FILL: "the netCDF default fill value", 1e20: "a common model fill value",
               1e30: "a common fill value", -999.0: "a common fill value", -9999.0: "a common fill value",
               -32767.0: "the int16 fill value", -32768.0: "the int16 fill value", 32767.0: "the int16 fill value",
               65535.0: "the uint16 fill value"}
NSIDC_FLAGS = {251: "pole hole", 252: "unused", 253: "coast", 254: "land", 255: "missing"}
DECLARE = ("declare it in the variable's _FillValue or missing_value attribute (or set those cells to NaN)")


def fill_hint(value: float) -> str:
    """Why ``value`` (as written in the file) looks like a marker rather than data, or "" when it does not."""
    if not np.isfinite(value):
        return ""
    for fill, what in KNOWN_FILLS.items():
        if np.isclose(value, fill, rtol=1e-6, atol=0):
            return f"{value:.6g} is {what}"
    if abs(value) >= 1e15:
        return f"{value:.6g} is no physical value"
    if float(value).is_integer() and int(value) in NSIDC_FLAGS:
        flags = ", ".join(f"{k} {v}" for k, v in NSIDC_FLAGS.items())
        return f"{value:.6g} is an NSIDC flag value ({flags})"
    return ""
