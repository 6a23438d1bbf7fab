"""Canonical Datasets as the arrays the training code turns into tensors."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

from .dims import sample_dim
from .land import land_of
from .sizes import check_memory, field_bytes
from .variables import VARIABLE_NAMES


def to_arrays(ds: xr.Dataset, names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``x`` ``(N, C, H, W)`` float32 in the order of ``names`` (default: all present) with land set to 0,
    and ``ocean`` ``(H, W)`` bool. The memory the arrays need is checked before they are loaded."""
    names = tuple(names) if names is not None else tuple(n for n in VARIABLE_NAMES if n in ds.data_vars)
    ocean = ~land_of(ds)
    states = ds.sizes[sample_dim(ds[names[0]])]
    # the stacked copy and the fields it is read from are both held for a moment
    check_memory(2 * field_bytes(states, len(names), *ocean.shape), f"loading {states} states of {len(names)} "
                 f"variables on a {ocean.shape[0]} x {ocean.shape[1]} grid",
                 "use fewer years (a shorter file) or fewer variables, or a machine with more memory")
    x = np.stack([np.asarray(ds[n].values, dtype=np.float32) for n in names], axis=1)
    x[..., ~ocean] = 0.0
    return x, ocean
