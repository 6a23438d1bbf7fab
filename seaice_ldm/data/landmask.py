"""Land masks of the named grids: built once from GLOBE (global-land-mask), shipped as small .npz files.

Build (needs the optional ``global-land-mask`` package, about 1 GB of memory while it runs):
``seaice-ldm data build-masks`` or ``python -m seaice_ldm.data.landmask`` writes
``seaice_ldm/data/masks/{grid}.npz`` for every named grid (about 15 s for all three).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pyproj
from scipy import ndimage

from .atomic import atomic_file
from .grid import GRIDS, get_grid
from .shipped_masks import MASK_DIR
from .variables import DataError

def build_land_mask(grid, supersample: int = 8) -> dict[str, np.ndarray]:
    """Land mask from ``supersample`` x ``supersample`` GLOBE samples per cell.

    Water that is not connected to the North Pole (lakes, GLOBE's inland water) counts as land.
    Connectivity is decided on the fine sample grid, so narrow straits (Bering, Nares, the Canadian
    Archipelago channels) stay open even where they are narrower than one cell. A cell is land when
    its land fraction is at least 0.5.
    """
    from global_land_mask import globe  # slow (about 4 s, 1 GB): only when building

    fine = dataclasses.replace(grid, nx=grid.nx * supersample, ny=grid.ny * supersample,
                               dx=grid.dx / supersample)
    to_lonlat = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    fx = fine.x
    water = np.empty(fine.shape, dtype=bool)
    for start in range(0, fine.ny, supersample):  # row blocks keep the transform's memory small
        xx, yy = np.meshgrid(fx, fine.y[start:start + supersample])
        lon, lat = to_lonlat.transform(xx, yy)
        water[start:start + supersample] = ~globe.is_land(lat, lon)
    ocean = _connected_to_pole(water)
    land_fraction = 1.0 - ocean.reshape(grid.ny, supersample, grid.nx, supersample).mean(axis=(1, 3))
    return {"land": land_fraction >= 0.5, "land_fraction": land_fraction}


def _connected_to_pole(water: np.ndarray) -> np.ndarray:
    """The water component(s) (8-connected) that contain the central cells, where the pole lies."""
    labels, _ = ndimage.label(water, structure=np.ones((3, 3), dtype=bool))
    ny, nx = water.shape
    centre = labels[(ny - 1) // 2:ny // 2 + 1, (nx - 1) // 2:nx // 2 + 1]
    keep = np.unique(centre[centre > 0])
    if keep.size == 0:
        raise DataError("the grid centre is land: a sea-ice grid must be centred on the Arctic Ocean")
    return np.isin(labels, keep)


def save_land_mask(grid, path: str | os.PathLike, supersample: int = 8) -> Path:
    """Build the mask of ``grid`` and write it atomically as a compressed .npz (land, land_fraction as uint8)."""
    mask = build_land_mask(grid, supersample)
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            land=mask["land"].astype(np.uint8),
            land_fraction=np.round(mask["land_fraction"] * 255).astype(np.uint8),
            grid=np.array(grid.name),
            shape=np.array(grid.shape),
            dx=np.array(grid.dx),
        )
    return Path(path)


def build_masks(
    grid_names: Iterable[str] | str | None = None, out_dir: str | os.PathLike | None = None
) -> list[Path]:
    """Build and save the masks of the named grids (default: all) into ``out_dir`` (default: the package's
    shipped masks); returns the written paths."""
    names = [grid_names] if isinstance(grid_names, str) else list(grid_names or GRIDS)
    out_dir = MASK_DIR if out_dir is None else Path(out_dir)
    return [save_land_mask(get_grid(n), out_dir / f"{n}.npz") for n in names]


if __name__ == "__main__":
    for written in build_masks():
        print(f"wrote {written} ({written.stat().st_size / 1024:.1f} KiB)")
