"""The dimensions of the canonical layout: one sample dimension, then ``y, x``.

Files and reference states are indexed by ``time``, generated ensembles by ``member``.
"""

from __future__ import annotations

import xarray as xr

from .variables import DataError

SAMPLE_DIMS = ("time", "member")
SPATIAL_DIMS = ("y", "x")


def sample_dim(obj: xr.DataArray | xr.Dataset) -> str:
    """The sample dimension (``time`` or ``member``) of a field or data set in the canonical layout."""
    found = [d for d in SAMPLE_DIMS if d in obj.dims]
    if len(found) != 1:
        raise DataError(f"expected exactly one sample dimension of {SAMPLE_DIMS}, got dims {tuple(obj.dims)}")
    return found[0]
