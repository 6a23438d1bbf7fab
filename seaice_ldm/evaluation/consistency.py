"""Physical consistency between the variables of a state: no ice, no thickness, damage or drift; ice, some
thickness.

In the data, every field is exactly 0 where sic = 0. A generated state breaks this when it puts thickness,
damage or drift into open water (cells with ``sic <= 0``: censored at 0, or a Gaussian decoder's value at or
below it), or zero thickness under ice. Thresholds are those a map shows: 1 cm of thickness, damage 0.01,
1 cm/s of drift.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from seaice_ldm.data.derived import drift_speed
from seaice_ldm.data.dims import SPATIAL_DIMS
from seaice_ldm.data.variables import EXTENT_THRESHOLD

#: what counts as "some" of each property in open water
OPEN_WATER_LIMITS = {"sit": 0.01, "sid": 0.01, "speed": 0.01}  # m, 1, m/s


def _values(da: xr.DataArray) -> np.ndarray:
    return da.transpose(..., *SPATIAL_DIMS).values.astype(np.float64)


def open_water_properties(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """Per property present (sit, sid, drift speed): the share of open-water cells (``sic <= 0``, pooled over
    states) where it exceeds :data:`OPEN_WATER_LIMITS`, and its 95th percentile there."""
    sic = _values(ds["sic"])
    with np.errstate(invalid="ignore"):
        water = np.isfinite(sic) & (sic <= 0.0)
    fields = {n: _values(ds[n]) for n in ("sit", "sid") if n in ds.data_vars}
    if "siu" in ds.data_vars and "siv" in ds.data_vars:
        fields["speed"] = _values(drift_speed(ds))
    out = {}
    for name, values in fields.items():
        v = np.abs(values[water])
        out[name] = {"share": float(np.mean(v > OPEN_WATER_LIMITS[name])) if v.size else float("nan"),
                     "p95": float(np.percentile(v, 95)) if v.size else float("nan")}
    return out


def ice_without_thickness(ds: xr.Dataset) -> float:
    """Share of ice cells (sic > 0.15) with ``sit <= 0``: ice that has no thickness (NaN without sit)."""
    if "sit" not in ds.data_vars:
        return float("nan")
    sic, sit = _values(ds["sic"]), _values(ds["sit"])
    with np.errstate(invalid="ignore"):
        ice = np.isfinite(sic) & (sic > EXTENT_THRESHOLD) & np.isfinite(sit)
    return float(np.mean(sit[ice] <= 0.0)) if ice.any() else float("nan")


def consistency(ds: xr.Dataset) -> dict[str, object]:
    """Both checks of a state or ensemble: :func:`open_water_properties` and :func:`ice_without_thickness`."""
    return {"open_water": open_water_properties(ds), "ice_without_thickness": ice_without_thickness(ds)}
