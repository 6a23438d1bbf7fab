"""Ice cover read physically from fields that may leave the bounds (a Gaussian decoder, an unclipped sample).

- :func:`ice_area`: sea-ice area as ``sum A * min(sic, 1)`` over the cells with ice (``sic > 0.15``), so a
  negative concentration in open water or one above 1 in the pack adds no area. The plain
  ``sum sic * A`` of :func:`seaice_ldm.evaluation.ice_integrals` counts them (a Gaussian decoder's open
  water, all slightly negative, can take more than half of the area away).
- :func:`excess`: how far values lie outside their bounds (0 inside), and :func:`excess_share`: the share of
  values beyond a tolerance, so 0.001 below a bound is not counted (or coloured) like 0.5 below it.
"""

from __future__ import annotations

import numpy as np

from seaice_ldm.data.variables import EXTENT_THRESHOLD


def ice_area(sic: np.ndarray, cell_area: np.ndarray, threshold: float = EXTENT_THRESHOLD) -> np.ndarray:
    """Sea-ice area (m2) of each field of ``sic`` ``(..., y, x)``: ``sum A * min(sic, 1)`` where ``sic > threshold``."""
    s = np.asarray(sic, dtype=np.float64)
    a = np.asarray(cell_area, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        covered = np.where(np.isfinite(s) & (s > threshold) & np.isfinite(a), np.minimum(s, 1.0) * a, 0.0)
    return covered.sum(axis=(-2, -1))


def excess(values: np.ndarray, lower: float | None, upper: float | None) -> np.ndarray:
    """Signed distance outside the bounds: ``value - lower`` (< 0) below, ``value - upper`` (> 0) above, 0 inside
    or unbounded; NaN stays NaN."""
    v = np.asarray(values, dtype=np.float64)
    out = np.where(np.isfinite(v), 0.0, np.nan)
    with np.errstate(invalid="ignore"):
        if lower is not None:
            out = np.where(v < lower, v - lower, out)
        if upper is not None:
            out = np.where(v > upper, v - upper, out)
    return out


def excess_share(values: np.ndarray, lower: float | None, upper: float | None, tolerance: float = 0.0) -> float:
    """Share (0-1) of the finite values more than ``tolerance`` outside their bounds."""
    e = excess(values, lower, upper)
    finite = np.isfinite(e)
    if not finite.any():
        return float("nan")
    return float(np.mean(np.abs(e[finite]) > tolerance))


__all__ = ["excess", "excess_share", "ice_area"]
