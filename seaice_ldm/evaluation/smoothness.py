"""Smoothness that judges the fields, not where the ice edge happens to cross a spectrum box.

- Small-scale power per state: the mean power at wavenumbers above half the Nyquist wavenumber, from the
  periodograms of the land-free boxes (:mod:`seaice_ldm.evaluation.spectra`). Kept per state so that a ratio
  between two sources carries a bootstrap interval over states.
- The reference's own year-to-year range: each reference year's small-scale power over the pooled years',
  beside which a generator's ratio to the pooled reference is judged.
- Roughness in physical units: the RMS of a field minus its 3 x 3 mean, over pack-ice cells (sic >= 0.8)
  whose 3 x 3 neighbourhood is all pack at sea, so neither the ice edge nor the coast enters.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage

from seaice_ldm.data.dims import SPATIAL_DIMS
from seaice_ldm.data.variables import MIZ_UPPER
from seaice_ldm.evaluation.spectra import grid_spacing, periodogram_2d, radial_average

SMALL_SCALE_FRACTION = 0.5  # wavenumbers above this fraction of the Nyquist wavenumber


def _fields(da: xr.DataArray) -> np.ndarray:
    values = da.transpose(..., *SPATIAL_DIMS).values.astype(np.float64)
    return values.reshape(-1, *values.shape[-2:])


def small_scale_power(da: xr.DataArray, boxes: list[tuple[slice, slice]],
                      fraction: float = SMALL_SCALE_FRACTION) -> np.ndarray:
    """Per state of ``da``: the mean over ``boxes`` of the radially averaged power at ``k > fraction k_Nyquist``
    ((units)^2 km^2), each box's periodogram Hann-windowed with no land inside."""
    dx = grid_spacing(da)
    out = []
    for field in _fields(da):
        psd_sum = 0.0
        for box in boxes:
            kx, ky, psd = periodogram_2d(field[box], dx, np.isfinite(field[box]))
            psd_sum = psd_sum + psd
        k, power = radial_average(kx, ky, psd_sum / len(boxes))
        out.append(np.mean(power[k > fraction * k.max()]))  # mean_{k > f k_N} P(k)
    return np.array(out)


def yearly_power_ratios(power: np.ndarray, years: np.ndarray) -> dict[int, float]:
    """Each year's mean small-scale power over the pooled mean of all years (the reference's own spread)."""
    pooled = np.mean(power)
    return {int(y): float(np.mean(power[years == y]) / pooled) for y in np.unique(years)}


def pack_interior_3x3(sic: np.ndarray) -> np.ndarray:
    """True where ``sic >= 0.8`` in the cell and all 8 neighbours (no land among them); ``(..., y, x)``."""
    with np.errstate(invalid="ignore"):
        pack = np.isfinite(sic) & (sic >= MIZ_UPPER)
    footprint = np.ones((1,) * (pack.ndim - 2) + (3, 3), dtype=bool)
    return ndimage.binary_erosion(pack, structure=footprint, border_value=0)


def roughness(da: xr.DataArray, sic: xr.DataArray) -> np.ndarray:
    """Per state: the RMS of ``da`` minus its 3 x 3 mean over the pack interior (:func:`pack_interior_3x3`),
    in the units of ``da``; NaN for a state without such cells."""
    values, inside = _fields(da), pack_interior_3x3(_fields(sic))
    filled = np.where(np.isfinite(values), values, 0.0)
    # field - mean of its 3 x 3 neighbourhood (only read where all nine cells are pack at sea)
    local_mean = ndimage.uniform_filter(filled, size=(1, 3, 3), mode="constant")
    residual = (filled - local_mean) ** 2
    counts = inside.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.where(inside, residual, 0.0).sum(axis=(1, 2)) / counts)
