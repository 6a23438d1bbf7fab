"""Ice-edge diagnostics: integrated ice-edge error, ice-edge length and marginal-ice-zone width.

Pure numpy functions on ``(y, x)`` fields in the canonical layout (land NaN, projected metres):

- IIEE (Goessling et al. 2016, GRL 43, doi:10.1002/2015GL067232): the area where two fields disagree on
  ice (sic > 0.15) versus no ice, ``IIEE = O + U`` with the overestimated area
  ``O = sum A [a & ~b]`` and the underestimated area ``U = sum A [~a & b]``; it splits into the
  absolute extent error ``AEE = |O - U|`` and the misplacement error ``ME = IIEE - AEE = 2 min(O, U)``.
- Ice-edge length: the true length of the sic = 0.15 contour (contourpy), each projected segment
  divided by the map scale factor ``k`` of its cell (``cell_area = dx^2 / k^2`` on a conformal grid).
- MIZ width = MIZ area (0.15 < sic < 0.8) / ice-edge length (e.g. Strong & Rigor 2013 use the same
  area-over-perimeter idea).
- Speckle: ice cells (sic > 0.15) with no ice among their 8 neighbours, i.e. 8-connected ice patches of
  one cell (scipy.ndimage.label); gaps in the pack: the same for cells below sic = 0.8 among pack ice.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from seaice_ldm.data.variables import EXTENT_THRESHOLD, MIZ_LOWER, MIZ_UPPER


def ice_mask(sic: np.ndarray, threshold: float = EXTENT_THRESHOLD) -> np.ndarray:
    """True where ``sic > threshold`` (NaN, i.e. land, is False)."""
    sic = np.asarray(sic, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(sic) & (sic > threshold)


def iiee(ice: np.ndarray, ice_ref: np.ndarray, cell_area: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """Integrated ice-edge error of the ice mask ``ice`` against ``ice_ref`` (both bool ``(y, x)``).

    ``cell_area`` in m2; ``valid`` (bool) limits the sum to common ocean cells. Returns areas in m2:
    ``iiee``, ``overestimate`` (O), ``underestimate`` (U), ``aee`` = |O - U| and ``me`` = 2 min(O, U).
    """
    a, b = np.asarray(ice, dtype=bool), np.asarray(ice_ref, dtype=bool)
    area = np.asarray(cell_area, dtype=np.float64)
    ok = np.isfinite(area) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(area))
    over = float(area[ok & a & ~b].sum())  # O = sum A [ice here, none in the reference]
    under = float(area[ok & ~a & b].sum())  # U = sum A [no ice here, ice in the reference]
    return {"iiee": over + under, "overestimate": over, "underestimate": under,
            "aee": abs(over - under), "me": 2.0 * min(over, under)}


def iiee_sic(sic: np.ndarray, sic_ref: np.ndarray, cell_area: np.ndarray,
             threshold: float = EXTENT_THRESHOLD) -> dict[str, float]:
    """IIEE of a sic field against a reference sic field, over the cells where both are finite."""
    valid = np.isfinite(np.asarray(sic, dtype=float)) & np.isfinite(np.asarray(sic_ref, dtype=float))
    return iiee(ice_mask(sic, threshold), ice_mask(sic_ref, threshold), cell_area, valid)


def contour_lines(field: np.ndarray, x: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Contour lines of ``field`` at ``level`` as one ``(n, 2)`` array of NaN-separated lines (metres).

    NaN cells (land) are masked: lines stop at the coast instead of running along it.
    """
    import contourpy

    z = np.asarray(field, dtype=np.float64)
    if not np.isfinite(z).any():
        return np.empty((0, 2))
    gen = contourpy.contour_generator(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                                      np.ma.masked_invalid(z), line_type=contourpy.LineType.ChunkCombinedNan)
    points = [p for p in gen.lines(level)[0] if p is not None]
    return np.concatenate(points) if points else np.empty((0, 2))


def line_length(lines: np.ndarray, x: np.ndarray | None = None, y: np.ndarray | None = None,
                cell_area: np.ndarray | None = None) -> float:
    """Length (m) of NaN-separated polylines ``(n, 2)``.

    Without ``cell_area`` the projected (map) length. With the grid's ``x``, ``y`` and ``cell_area`` the
    true length: every segment is divided by the scale factor ``k = dx / sqrt(cell_area)`` of the cell
    its midpoint falls in (true length = map length / k on a conformal projection).
    """
    p = np.asarray(lines, dtype=np.float64)
    if len(p) < 2:
        return 0.0
    seg = np.hypot(np.diff(p[:, 0]), np.diff(p[:, 1]))
    ok = np.isfinite(seg)  # segments across a NaN separator are not part of any line
    if cell_area is None:
        return float(seg[ok].sum())
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    dx = abs(x[1] - x[0])
    mid = 0.5 * (p[1:] + p[:-1])[ok]
    ix = np.clip(np.rint((mid[:, 0] - x[0]) / (x[1] - x[0])).astype(int), 0, len(x) - 1)
    iy = np.clip(np.rint((mid[:, 1] - y[0]) / (y[1] - y[0])).astype(int), 0, len(y) - 1)
    k = dx / np.sqrt(np.asarray(cell_area, dtype=np.float64)[iy, ix])
    return float((seg[ok] / k).sum())


def edge_length(sic: np.ndarray, x: np.ndarray, y: np.ndarray, cell_area: np.ndarray | None = None,
                level: float = EXTENT_THRESHOLD) -> float:
    """True length (m) of the ice edge, the ``sic = level`` contour (see :func:`line_length`)."""
    return line_length(contour_lines(sic, x, y, level), x, y, cell_area)


def miz_area(sic: np.ndarray, cell_area: np.ndarray, lower: float = MIZ_LOWER, upper: float = MIZ_UPPER) -> float:
    """Area (m2) of the marginal ice zone, ``lower < sic < upper``."""
    s = np.asarray(sic, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        miz = np.isfinite(s) & (s > lower) & (s < upper)
    return float(np.asarray(cell_area, dtype=np.float64)[miz].sum())


def miz_width(sic: np.ndarray, x: np.ndarray, y: np.ndarray, cell_area: np.ndarray,
              lower: float = MIZ_LOWER, upper: float = MIZ_UPPER) -> float:
    """Mean MIZ width (m): MIZ area divided by the length of the ice edge (sic = ``lower``); NaN without an edge."""
    length = edge_length(sic, x, y, cell_area, lower)
    return miz_area(sic, cell_area, lower, upper) / length if length > 0 else float("nan")


def edge_probability(sic: np.ndarray, threshold: float = EXTENT_THRESHOLD) -> np.ndarray:
    """P(sic > threshold) over the leading (member) axis of ``(n, y, x)``; NaN where any member is NaN."""
    s = np.asarray(sic, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        p = (s > threshold).mean(axis=0)
    return np.where(np.isfinite(s).all(axis=0), p, np.nan)


def grid_edge(shape: tuple[int, int], width: int = 2) -> np.ndarray:
    """Bool ``(y, x)`` mask of the cells within ``width`` cells of the grid's border."""
    ny, nx = shape
    y, x = np.ogrid[:ny, :nx]
    return np.minimum(np.minimum(y, ny - 1 - y), np.minimum(x, nx - 1 - x)) < width


def isolated_ice_cells(sic: np.ndarray, threshold: float = EXTENT_THRESHOLD, open_water: bool = False,
                       within: np.ndarray | None = None) -> np.ndarray:
    """Speckle of each field of ``sic`` ``(..., y, x)``: the number of ice cells (sic > threshold) with no ice
    among their 8 neighbours (8-connected ice patches of a single cell); an integer array of shape ``(...)``.
    ``open_water`` counts only those without land (NaN) among their 8 neighbours: spots of ice in open water,
    not ice in a bay or channel that the land mask leaves one cell wide (beyond the grid's border is not land).
    ``within`` (bool ``(y, x)``, e.g. :func:`grid_edge`) counts only the cells inside it."""
    ice = ice_mask(sic, threshold)
    flat = ice.reshape(-1, *ice.shape[-2:])
    ocean = np.isfinite(np.asarray(sic, dtype=np.float64)).reshape(flat.shape)
    ring = np.ones((3, 3), dtype=np.int64)
    ring[1, 1] = 0
    counts = np.empty(len(flat), dtype=np.int64)
    for i, field in enumerate(flat):
        labels, n = ndimage.label(field, structure=np.ones((3, 3), dtype=bool))
        single = (np.bincount(labels.ravel(), minlength=n + 1) == 1)[labels] & field
        if open_water:
            single &= ndimage.convolve(ocean[i].astype(np.int64), ring, mode="constant", cval=1) == 8
        if within is not None:
            single &= within
        counts[i] = int(single.sum())
    return counts.reshape(ice.shape[:-2])


def isolated_pack_gaps(sic: np.ndarray) -> np.ndarray:
    """Single cells below the pack's threshold (sic < 0.8, the MIZ's inner edge) whose 8 neighbours are all
    pack ice at sea (sic >= 0.8, no land): the pack's speckle, each a closed loop of the sic = 0.8 contour;
    an integer array of shape ``(...)``."""
    # a gap is an isolated cell of 1 - sic > 1 - 0.8 with only ocean around it
    return isolated_ice_cells(1.0 - np.asarray(sic, dtype=np.float64), threshold=1.0 - MIZ_UPPER, open_water=True)
