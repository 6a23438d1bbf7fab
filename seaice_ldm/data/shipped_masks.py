"""The land masks shipped with the package, ``masks/{grid}.npz`` (built by :mod:`.landmask`): read-only, cached.

Apart from the builder so that the grid module, which fills in a named grid's land, does not import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .variables import DataError

MASK_DIR = Path(__file__).with_name("masks")
BUILD_COMMAND = "seaice-ldm data build-masks"  # or: python -m seaice_ldm.data.landmask


@dataclass(frozen=True)
class LandMask:
    """``land`` (bool, True = land) and ``land_fraction`` (float in [0, 1]) on a grid, each ``(ny, nx)``."""

    land: np.ndarray
    land_fraction: np.ndarray


def load_land_mask(grid) -> LandMask:
    """The shipped land mask of a named grid (read-only arrays, cached)."""
    return _load(grid.name, grid.shape)


@lru_cache(maxsize=8)
def _load(name: str, shape: tuple[int, int]) -> LandMask:
    path = MASK_DIR / f"{name}.npz"
    if not path.is_file():
        raise DataError(
            f"no land mask for grid '{name}' at {path}; build it with `{BUILD_COMMAND}` "
            "or pass a land mask explicitly"
        )
    with np.load(path) as f:
        land = f["land"].astype(bool)
        fraction = f["land_fraction"].astype(np.float32) / 255.0
    if land.shape != shape:
        raise DataError(f"land mask {path} has shape {land.shape}, grid '{name}' has {shape}")
    for a in (land, fraction):
        a.flags.writeable = False
    return LandMask(land, fraction)
