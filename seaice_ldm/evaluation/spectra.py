"""Isotropic (radially averaged) power spectra of 2-D fields with land.

Conventions
-----------
- Grid spacing ``dx`` is in metres (as the ``x``, ``y`` coordinates); wavenumbers ``k`` are returned in
  **cycles per km** (ordinary frequency, no 2 pi), from the fundamental ``1 / (n dx)`` to the Nyquist
  wavenumber ``1 / (2 dx)``.
- Land: the ocean mean is subtracted and land cells are set to 0, so land adds no variance and no step
  at the coast beyond the one the anomaly itself has.
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


def mean_spectrum(
    da: xr.DataArray, dx: float | None = None, window: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged PSD averaged over all samples of ``da`` (dims ``(member|time, y, x)``).

    Land (NaN or ``land == 1``) comes from :func:`ocean_mask`, shared by all samples; ``dx`` in metres
    defaults to the ``x`` spacing. Returns ``(k [cycles/km], power [(units)^2 km^2])``, the annulus
    mean of the sample-mean 2-D periodogram.
    """
    dx = grid_spacing(da) if dx is None else dx
    mask = ocean_mask(da)
    fields = da.transpose(..., "y", "x").values.reshape(-1, *mask.shape)
    psd_sum = 0.0
    for field in fields:  # one field at a time to bound memory
        kx, ky, psd = periodogram_2d(field, dx, mask, window)
        psd_sum = psd_sum + psd
    return radial_average(kx, ky, psd_sum / len(fields))  # annulus mean of mean_n psd_n


def small_scale_ratio(k: np.ndarray, p_gen: np.ndarray, p_ref: np.ndarray, frac: float = 0.5) -> float:
    """Mean of ``p_gen / p_ref`` over wavenumbers ``k > frac * k_max`` (``k_max`` = Nyquist).

    Dimensionless; 1 means the generated fields keep the reference's small-scale variance, < 1 means
    they are smoother (the blurring attributed to the latent mapping), > 1 noisier.
    """
    small = k > frac * k.max()
    return float(np.mean(p_gen[small] / p_ref[small]))  # mean_{k > frac k_N} P_gen / P_ref
