"""Isotropic (radially averaged) power spectra of 2-D fields with land.

Conventions
-----------
- Grid spacing ``dx`` is in metres (as the ``x``, ``y`` coordinates); wavenumbers ``k`` are returned in
  **cycles per km** (ordinary frequency, no 2 pi), from the fundamental ``1 / (n dx)`` to the Nyquist
  wavenumber ``1 / (2 dx)``.
- Land: the ocean mean is subtracted and land cells are set to 0, so land adds no variance; but the
  anomaly's step at the coast still puts power at all wavenumbers. To measure the fields and not the
  coast, :func:`ocean_boxes` finds land-free square boxes and :func:`mean_spectrum` can average the
  periodograms of those boxes (``boxes=...``), each with its own Hann window and no land inside.
- Window: a 2-D (outer product, periodic) Hann window damps the edges to reduce leakage. The
  periodogram is divided by the sum of ``(window * ocean)^2`` so that white noise of variance s2 has
  the level ``s2 * dx^2`` whatever the window and land fraction.
- Power is a spectral density in (field units)^2 km^2 (per (cycles/km)^2), averaged over the 2-D
  wavenumbers inside each annulus of width ``dk``; white noise gives a flat spectrum.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.signal.windows import hann

from .metrics import ocean_mask

M_PER_KM = 1000.0


def periodogram_2d(
    field: np.ndarray, dx: float, ocean: np.ndarray | None = None, window: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D power spectral density of one ``(ny, nx)`` field, in (units)^2 km^2.

    Returns ``(kx, ky, psd)`` with ``kx`` (nx,), ``ky`` (ny,) in cycles/km (``np.fft.fftfreq`` order)
    and ``psd`` (ny, nx). With the taper ``w`` (Hann x ocean, or just ocean if ``window=False``) and the
    anomaly ``a`` (ocean mean removed, land 0): ``psd = |FFT(w a)|^2 dx^2 / sum(w^2)``, so that
    ``sum(psd) dkx dky = sum (w a)^2 / sum w^2``, which is the ocean variance when ``window=False``
    (Parseval). ``ocean`` defaults to the finite cells of ``field``; ``dx`` is in metres.
    """
    field = np.asarray(field, dtype=np.float64)
    ocean = np.isfinite(field) if ocean is None else ocean
    anomaly = np.where(ocean, field - field[ocean].mean(), 0.0)
    ny, nx = field.shape
    taper = ocean * (np.outer(hann(ny, sym=False), hann(nx, sym=False)) if window else 1.0)
    dx_km = dx / M_PER_KM
    # psd = |F(w a)|^2 dx^2 / sum w^2
    psd = np.abs(np.fft.fft2(taper * anomaly)) ** 2 * dx_km**2 / np.sum(taper**2)
    return np.fft.fftfreq(nx, d=dx_km), np.fft.fftfreq(ny, d=dx_km), psd


def radial_average(kx: np.ndarray, ky: np.ndarray, psd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average a 2-D spectrum over annuli ``|k| in [(i - 1/2) dk, (i + 1/2) dk)``, i = 1 .. Nyquist / dk.

    ``dk`` is the coarser of the two fundamental wavenumbers; the mean (i = 0) is left out and the
    corners beyond the Nyquist circle are dropped. Returns ``(k, power)`` with ``k = i dk``.
    """
    dk = max(abs(kx[1]), abs(ky[1]))
    k_nyquist = min(np.abs(kx).max(), np.abs(ky).max())
    n_bins = int(np.floor(k_nyquist / dk + 1e-9))
    ring = np.rint(np.hypot(ky[:, None], kx[None, :]) / dk).astype(int).ravel()
    keep = (ring >= 1) & (ring <= n_bins)
    # power_i = mean_{|k| in annulus i} psd(k)
    total = np.bincount(ring[keep], weights=psd.ravel()[keep], minlength=n_bins + 1)
    count = np.bincount(ring[keep], minlength=n_bins + 1)
    return np.arange(1, n_bins + 1) * dk, total[1:] / count[1:]


def radial_power_spectrum(
    field: np.ndarray, dx: float, ocean: np.ndarray | None = None, window: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic radially averaged PSD of a 2-D field: ``(k [cycles/km], power [(units)^2 km^2])``.

    ``dx`` in metres; ``ocean`` a ``(ny, nx)`` boolean mask (default: finite cells). See the module
    docstring for land handling (anomaly, land = 0) and the Hann window.
    """
    return radial_average(*periodogram_2d(field, dx, ocean, window))


def grid_spacing(da: xr.DataArray) -> float:
    """Grid spacing in metres from the ``x`` coordinate (mean absolute difference)."""
    return float(np.abs(np.diff(da["x"].values)).mean())


BOX_KM = 800.0  # side of the land-free boxes (16 cells on the default 50 km grid)


def ocean_boxes(ocean: np.ndarray, size: int) -> list[tuple[slice, slice]]:
    """Non-overlapping ``size x size`` boxes of ocean cells only, taken greedily in row-major order.

    ``ocean`` is a ``(ny, nx)`` boolean mask; returns ``(y slice, x slice)`` pairs (possibly none).
    """
    land = np.pad((~ocean).astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    # land cells inside the box whose top-left corner is (i, j), from the 2-D cumulative sum
    inside = land[size:, size:] - land[:-size, size:] - land[size:, :-size] + land[:-size, :-size]
    taken = np.zeros(ocean.shape, dtype=bool)
    boxes = []
    for i, j in zip(*np.nonzero(inside == 0)):
        box = (slice(i, i + size), slice(j, j + size))
        if not taken[box].any():
            taken[box] = True
            boxes.append(box)
    return boxes


def spectrum_boxes(da: xr.DataArray, box_km: float = BOX_KM) -> list[tuple[slice, slice]]:
    """The land-free boxes of side about ``box_km`` on the grid of ``da`` (see :func:`ocean_boxes`)."""
    size = max(4, int(round(box_km * M_PER_KM / grid_spacing(da))))
    boxes = ocean_boxes(ocean_mask(da), size)
    if not boxes:
        raise ValueError(f"no land-free box of {size} x {size} cells on this grid; use a smaller box_km")
    return boxes


def mean_spectrum(
    da: xr.DataArray, dx: float | None = None, window: bool = True,
    boxes: list[tuple[slice, slice]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged PSD averaged over all samples of ``da`` (dims ``(member|time, y, x)``).

    Land (NaN or ``land == 1``) comes from :func:`ocean_mask`, shared by all samples; ``dx`` in metres
    defaults to the ``x`` spacing. With ``boxes`` (equal squares, e.g. from :func:`spectrum_boxes`) the
    periodograms of those boxes are averaged instead of the whole field's, so no coast enters.
    Returns ``(k [cycles/km], power [(units)^2 km^2])``, the annulus mean of the mean 2-D periodogram.
    """
    dx = grid_spacing(da) if dx is None else dx
    mask = ocean_mask(da)
    fields = da.transpose(..., "y", "x").values.reshape(-1, *mask.shape)
    pieces = [(slice(None), slice(None))] if boxes is None else boxes
    psd_sum, n = 0.0, 0
    for field in fields:  # one field at a time to bound memory
        for box in pieces:
            kx, ky, psd = periodogram_2d(field[box], dx, mask[box], window)
            psd_sum, n = psd_sum + psd, n + 1
    return radial_average(kx, ky, psd_sum / n)  # annulus mean of mean_n psd_n


def small_scale_ratio(k: np.ndarray, p_gen: np.ndarray, p_ref: np.ndarray, frac: float = 0.5) -> float:
    """Mean of ``p_gen / p_ref`` over wavenumbers ``k > frac * k_max`` (``k_max`` = Nyquist).

    Dimensionless; 1 means the generated fields keep the reference's small-scale variance, < 1 means
    they are smoother (the blurring attributed to the latent mapping), > 1 noisier.
    """
    small = k > frac * k.max()
    return float(np.mean(p_gen[small] / p_ref[small]))  # mean_{k > frac k_N} P_gen / P_ref
