"""Damage lines: high damage in long thin structures, like the linear kinematic features of real sea ice.

High damage is ``sid > 0.5`` in the *pack interior*: ice (sic > 0.15) at least ``interior`` cells (Euclidean
distance between cell centres) from open water, land or the grid's edge, so the broken floes of the marginal
ice zone do not count. Its 8-connected structures are skeletonised (``skimage.morphology.skeletonize``); a
structure is a *line* when its skeleton is at least ``min_length`` cells long and its mean width, area over
skeleton length, is at most ``max_width`` cells. Skeletons are how linear kinematic features are traced in
observed deformation (Hutter, Zampieri and Losch 2019, The Cryosphere 13); length and width of high-damage
structures are a simple proxy for them in damage fields.

Pure numpy/scipy/scikit-image on ``(y, x)`` fields (land NaN), and one function over a canonical data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import ndimage
from skimage.morphology import skeletonize

from seaice_ldm.data.dims import SPATIAL_DIMS
from seaice_ldm.data.variables import EXTENT_THRESHOLD

HIGH_DAMAGE = 0.5
INTERIOR_CELLS = 3
MIN_LENGTH = 5
MAX_WIDTH = 2.0
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class LineCount:
    """High-damage pack-interior cells of some states, how many of them lie in lines, and how many lines."""

    high_cells: int
    line_cells: int
    lines: int
    states: int

    @property
    def share(self) -> float:
        """Share of high-damage pack-interior cells that lie in lines (NaN without any such cell)."""
        return self.line_cells / self.high_cells if self.high_cells else float("nan")

    @property
    def lines_per_state(self) -> float:
        return self.lines / self.states if self.states else float("nan")

    def __add__(self, other: LineCount) -> LineCount:
        return LineCount(self.high_cells + other.high_cells, self.line_cells + other.line_cells,
                         self.lines + other.lines, self.states + other.states)


def pack_interior(sic: np.ndarray, cells: int = INTERIOR_CELLS) -> np.ndarray:
    """True on ice cells (sic > 0.15) at least ``cells`` cells from open water, land (NaN) or the grid's edge."""
    sic = np.asarray(sic, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ice = np.isfinite(sic) & (sic > EXTENT_THRESHOLD)
    # distance of every ice cell to the nearest cell that is not ice; outside the grid counts as not ice
    distance = ndimage.distance_transform_edt(np.pad(ice, 1))[1:-1, 1:-1]
    return ice & (distance >= cells)


def line_cells(high: np.ndarray, min_length: int = MIN_LENGTH, max_width: float = MAX_WIDTH) -> tuple[np.ndarray, int]:
    """Cells of ``high`` (bool ``(y, x)``) in lines, and the number of lines: 8-connected structures whose
    skeleton has at least ``min_length`` cells and whose mean width (area / skeleton length) is at most
    ``max_width`` cells."""
    labels, n = ndimage.label(high, structure=_EIGHT)
    if n == 0:
        return np.zeros_like(high, dtype=bool), 0
    index = np.arange(1, n + 1)
    area = ndimage.sum_labels(high, labels, index)
    length = ndimage.sum_labels(skeletonize(high), labels, index)
    # a line: skeleton length >= min_length and width = area / length <= max_width
    is_line = (length >= min_length) & (area <= max_width * length)
    return np.isin(labels, index[is_line]), int(is_line.sum())


def count_lines(sid: np.ndarray, sic: np.ndarray, threshold: float = HIGH_DAMAGE) -> LineCount:
    """:class:`LineCount` of one state's ``sid`` and ``sic`` fields ``(y, x)``."""
    with np.errstate(invalid="ignore"):
        high = (np.asarray(sid) > threshold) & pack_interior(sic)
    in_lines, lines = line_cells(high)
    return LineCount(int(high.sum()), int(in_lines.sum()), lines, 1)


def damage_lines(ds: xr.Dataset, threshold: float = HIGH_DAMAGE) -> list[LineCount]:
    """One :class:`LineCount` per state (member or time) of a canonical data set with ``sid`` and ``sic``."""
    sid = ds["sid"].transpose(..., *SPATIAL_DIMS).values
    sic = ds["sic"].transpose(..., *SPATIAL_DIMS).values
    sid, sic = sid.reshape(-1, *sid.shape[-2:]), sic.reshape(-1, *sic.shape[-2:])
    return [count_lines(d, c, threshold) for d, c in zip(sid, sic)]


def total(counts: list[LineCount]) -> LineCount:
    """The counts of several states pooled."""
    return sum(counts, LineCount(0, 0, 0, 0))
