"""Named regions of the Arctic maps: square boxes in the grid's projected metres (EPSG:3413).

A region is a centre (longitude, latitude) and a half width in km; its box is the projected centre plus
or minus the half width, so every region is square on the map (the maps keep a 1:1 data aspect) and the
box stays a pure function of the CRS. ``Pan-Arctic`` is the whole grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geography import project_lonlat


@dataclass(frozen=True)
class Region:
    """A named view: centre (lon, lat in degrees) and half width (km) of a square box."""

    name: str
    lon: float
    lat: float
    half_width_km: float
    note: str = ""


PAN_ARCTIC = "Pan-Arctic"
REGIONS: dict[str, Region | None] = {
    PAN_ARCTIC: None,  # the whole grid
    "Fram Strait": Region("Fram Strait", 0.0, 79.0, 450.0, "ice export between Greenland and Svalbard"),
    "Barents Sea": Region("Barents Sea", 42.0, 75.0, 750.0, "seasonal ice, Atlantic inflow"),
    "Greenland Sea": Region("Greenland Sea", -8.0, 74.0, 650.0, "East Greenland ice edge and Odden"),
    "Beaufort Sea": Region("Beaufort Sea", -145.0, 73.0, 650.0, "Beaufort Gyre, summer MIZ"),
    "Chukchi/Bering": Region("Chukchi/Bering", -172.0, 66.0, 900.0, "Chukchi Sea and Bering Strait"),
    "Baffin Bay": Region("Baffin Bay", -63.0, 70.0, 750.0, "seasonal ice between Greenland and Baffin Island"),
}


def region_box(name: str, x: np.ndarray, y: np.ndarray, crs: str = "EPSG:3413") -> tuple[float, float, float, float]:
    """``(x0, x1, y0, y1)`` in metres of region ``name`` on a grid with cell centres ``x``, ``y``.

    Pan-Arctic is the grid's outer cell edges; the other boxes are clipped to them (a region that reaches
    past the grid keeps its size by shifting inward where possible).
    """
    if name not in REGIONS:
        raise KeyError(f"unknown region {name!r}; choose one of {list(REGIONS)}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    dx, dy = abs(x[1] - x[0]), abs(y[1] - y[0])
    gx0, gx1 = float(x.min() - dx / 2), float(x.max() + dx / 2)
    gy0, gy1 = float(y.min() - dy / 2), float(y.max() + dy / 2)
    region = REGIONS[name]
    if region is None:
        return gx0, gx1, gy0, gy1
    cx, cy = (float(v[()]) for v in project_lonlat(region.lon, region.lat, crs))
    half = region.half_width_km * 1e3
    return (*fit_inside(cx - half, cx + half, gx0, gx1), *fit_inside(cy - half, cy + half, gy0, gy1))


def fit_inside(lo: float, hi: float, glo: float, ghi: float) -> tuple[float, float]:
    """Shift [lo, hi] inside [glo, ghi] (shrinking only when it is wider than the grid)."""
    if hi - lo >= ghi - glo:
        return glo, ghi
    if lo < glo:
        lo, hi = glo, hi + (glo - lo)
    if hi > ghi:
        lo, hi = lo - (hi - ghi), ghi
    return lo, hi
