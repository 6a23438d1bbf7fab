"""The marginal ice zone (MIZ, ``0.15 < sic < 0.8``) of an ensemble: where it is, how wide, region by region.

Pure numpy on ``(..., y, x)`` sic fields in the canonical layout (projected metres, land NaN):

- :func:`miz_probability`: P(lower < sic < upper) over the members, the MIZ analogue of
  :func:`seaice_ldm.evaluation.edge_probability`;
- :func:`box_mask` and :func:`miz_width_in_box`: MIZ width (MIZ area / ice-edge length, as
  :func:`seaice_ldm.evaluation.miz_width`) of the part of a field inside a map box, e.g. a named region;
- :func:`miz_widths_by_region`: that width for every member and every box;
- :func:`miz_box`: the smallest square box that holds a box and all the MIZ near it in a set of states, so
  a regional view keeps its MIZ in sight through the year; :func:`nearest_region` says which cells are nearer
  one box's centre than any other's (each region's own MIZ).
"""

from __future__ import annotations

import numpy as np

from seaice_ldm.data.regions import fit_inside
from seaice_ldm.data.variables import MIZ_LOWER, MIZ_UPPER

from .edges import miz_width

Box = tuple[float, float, float, float]  # (x0, x1, y0, y1) in metres


def miz_probability(sic: np.ndarray, lower: float = MIZ_LOWER, upper: float = MIZ_UPPER) -> np.ndarray:
    """P(lower < sic < upper) over the leading (member) axis of ``(n, y, x)``; NaN where any member is NaN."""
    s = np.asarray(sic, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        p = ((s > lower) & (s < upper)).mean(axis=0)
    return np.where(np.isfinite(s).all(axis=0), p, np.nan)


def box_mask(x: np.ndarray, y: np.ndarray, box: Box) -> np.ndarray:
    """Bool ``(y, x)``: cell centres inside ``box`` = ``(x0, x1, y0, y1)`` (edges included)."""
    x0, x1, y0, y1 = box
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]


def miz_width_in_box(sic: np.ndarray, x: np.ndarray, y: np.ndarray, cell_area: np.ndarray, box: Box,
                     lower: float = MIZ_LOWER, upper: float = MIZ_UPPER) -> float:
    """MIZ width (m) of ``sic`` ``(y, x)`` inside ``box``: the MIZ area there over the length of the ice edge
    there (cells outside the box count as land, so the edge stops at the box). NaN without an edge in it."""
    inside = box_mask(x, y, box)
    field = np.where(inside, np.asarray(sic, dtype=np.float64), np.nan)
    return miz_width(field, x, y, cell_area, lower, upper)


def miz_widths_by_region(sic: np.ndarray, x: np.ndarray, y: np.ndarray, cell_area: np.ndarray,
                         boxes: dict[str, Box]) -> dict[str, np.ndarray]:
    """``{name: widths (n,) in km}``: the MIZ width of every state of ``sic`` ``(n, y, x)`` in every box."""
    s = np.asarray(sic, dtype=np.float64).reshape(-1, *np.shape(sic)[-2:])
    return {name: np.array([miz_width_in_box(f, x, y, cell_area, box) / 1e3 for f in s]) for name, box in boxes.items()}


def miz_box(sic: np.ndarray, x: np.ndarray, y: np.ndarray, box: Box, reach: float = 1.5, pad: float = 0.05,
            limits: Box | None = None, within: np.ndarray | None = None, lower: float = MIZ_LOWER,
            upper: float = MIZ_UPPER) -> Box:
    """The smallest square box that holds ``box`` and every MIZ cell of the states ``sic`` ``(n, y, x)`` lying
    within ``reach`` times ``box``'s half width of its centre (and inside ``within``, a bool ``(y, x)`` mask, e.g.
    the cells nearer this region than any other), with a margin of ``pad`` of its width when it grew.
    ``limits`` (e.g. the grid's outer edges) bounds the result."""
    x0, x1, y0, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    s = np.asarray(sic, dtype=np.float64).reshape(-1, *np.shape(sic)[-2:])
    with np.errstate(invalid="ignore"):
        miz = ((s > lower) & (s < upper)).any(axis=0)
    xs, ys = np.meshgrid(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    near = miz & (np.abs(xs - cx) <= reach * half) & (np.abs(ys - cy) <= reach * half)
    if within is not None:
        near &= np.asarray(within, dtype=bool)
    if not near.any():
        return box
    cell = abs(float(x[1]) - float(x[0])) / 2
    bx0, bx1 = min(x0, float(xs[near].min()) - cell), max(x1, float(xs[near].max()) + cell)
    by0, by1 = min(y0, float(ys[near].min()) - cell), max(y1, float(ys[near].max()) + cell)
    if (bx0, bx1, by0, by1) == (x0, x1, y0, y1):
        return box
    side = max(bx1 - bx0, by1 - by0) * (1.0 + pad)
    mx, my = (bx0 + bx1) / 2, (by0 + by1) / 2
    out = (mx - side / 2, mx + side / 2, my - side / 2, my + side / 2)
    if limits is None:
        return out
    return (*fit_inside(out[0], out[1], limits[0], limits[1]), *fit_inside(out[2], out[3], limits[2], limits[3]))


def nearest_region(x: np.ndarray, y: np.ndarray, boxes: dict[str, Box]) -> dict[str, np.ndarray]:
    """``{name: bool (y, x)}``: the cells nearer that box's centre, in units of its half width, than any other's."""
    xs, ys = np.meshgrid(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    names = list(boxes)
    dist = np.stack([np.hypot(xs - (b[0] + b[1]) / 2, ys - (b[2] + b[3]) / 2) / (max(b[1] - b[0], b[3] - b[2]) / 2)
                     for b in boxes.values()])
    nearest = dist.argmin(axis=0)
    return {name: nearest == i for i, name in enumerate(names)}


__all__ = ["box_mask", "miz_box", "nearest_region", "miz_probability", "miz_width_in_box", "miz_widths_by_region"]
