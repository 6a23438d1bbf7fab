"""Transects: fields read along a straight line on the map, e.g. a section across the ice edge.

Pure numpy (and pyproj for true distances) on ``(..., y, x)`` fields in the canonical layout (projected
metres, cell centres ``x``, ``y`` increasing, land NaN):

- :func:`transect_points`: points every ``spacing`` metres along the straight projected line A -> B;
- :func:`sample_along`: the fields at those points, by the cell the point falls in (``"nearest"``: the
  values are the grid's own, so a censored decoder's exact 0 and 1 stay exact) or bilinear (``"linear"``:
  NaN when any of the four surrounding cells is NaN, i.e. next to land);
- :func:`along_distance`: the true (geodesic, WGS84) distance of each point from A, in km: a straight
  projected line is not a geodesic, and polar stereographic lengths are off by the map scale factor.
"""

from __future__ import annotations

import numpy as np


def transect_points(start, end, spacing: float) -> np.ndarray:
    """``(n, 2)`` points (metres) from ``start`` to ``end`` (both ``(x, y)``), ``spacing`` metres apart or
    closer (the end point is always included; at least two points)."""
    a, b = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing!r}")
    n = max(2, int(np.ceil(np.hypot(*(b - a)) / spacing)) + 1)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return a + t * (b - a)


def _fractional_index(coord: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Fractional cell index of ``values`` on the regular, increasing centres ``coord`` (NaN outside)."""
    c = np.asarray(coord, dtype=np.float64)
    step = c[1] - c[0]
    index = (np.asarray(values, dtype=np.float64) - c[0]) / step
    inside = (index >= -0.5) & (index <= len(c) - 0.5)
    return np.where(inside, index, np.nan)


def sample_along(fields: np.ndarray, x: np.ndarray, y: np.ndarray, points: np.ndarray,
                 method: str = "nearest") -> np.ndarray:
    """``fields`` ``(..., y, x)`` read at ``points`` ``(n, 2)``: an array ``(..., n)``; NaN outside the grid.

    ``"nearest"``: the value of the cell each point falls in. ``"linear"``: bilinear between the four
    surrounding cell centres (clamped at the outer half cell); NaN if any of the four is NaN.
    """
    f = np.asarray(fields)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ix, iy = _fractional_index(x, p[:, 0]), _fractional_index(y, p[:, 1])
    out_shape = (*f.shape[:-2], len(p))
    ok = np.isfinite(ix) & np.isfinite(iy)
    out = np.full(out_shape, np.nan, dtype=np.float64)
    if not ok.any():
        return out
    nx, ny = f.shape[-1], f.shape[-2]
    if method == "nearest":
        cx = np.clip(np.rint(ix[ok]).astype(int), 0, nx - 1)
        cy = np.clip(np.rint(iy[ok]).astype(int), 0, ny - 1)
        out[..., ok] = f[..., cy, cx]
        return out
    if method != "linear":
        raise ValueError(f"method must be 'nearest' or 'linear', got {method!r}")
    fx = np.clip(ix[ok], 0.0, nx - 1.0)
    fy = np.clip(iy[ok], 0.0, ny - 1.0)
    x0 = np.minimum(np.floor(fx).astype(int), nx - 2)
    y0 = np.minimum(np.floor(fy).astype(int), ny - 2)
    tx, ty = fx - x0, fy - y0
    out[..., ok] = (f[..., y0, x0] * (1 - tx) * (1 - ty) + f[..., y0, x0 + 1] * tx * (1 - ty)
                    + f[..., y0 + 1, x0] * (1 - tx) * ty + f[..., y0 + 1, x0 + 1] * tx * ty)
    return out


def along_distance(points: np.ndarray, crs: str = "EPSG:3413") -> np.ndarray:
    """True distance (km) of each point from the first, summed over the geodesic segments between points."""
    import pyproj

    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(p[:, 0], p[:, 1])
    _, _, seg = pyproj.Geod(ellps="WGS84").inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return np.concatenate([[0.0], np.cumsum(np.abs(seg))]) / 1e3


__all__ = ["along_distance", "sample_along", "transect_points"]
