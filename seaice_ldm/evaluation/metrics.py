"""Physical and distributional metrics of sea-ice states (numpy / xarray only).

Every function takes data sets in the canonical layout of ``docs/DESIGN.md``: variables on
``(member|time, y, x)`` with land NaN, coordinates ``cell_area`` (m2) and ``land`` (1 = land).
Land is excluded everywhere through :func:`ocean_mask`, the one place that defines ocean cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import xarray as xr
from scipy.stats import wasserstein_distance

from seaice_ldm.data.derived import M2_TO_MKM2, sea_ice_extent
from seaice_ldm.data.dims import SPATIAL_DIMS
from seaice_ldm.data.variables import MIZ_LOWER, MIZ_UPPER, VARIABLE_NAMES, VARIABLES

Bounds = Mapping[str, tuple[float | None, float | None]]

#: Physical bounds (lower, upper) per variable, None where unbounded.
DEFAULT_BOUNDS: dict[str, tuple[float | None, float | None]] = {n: (v.lower, v.upper) for n, v in VARIABLES.items()}
#: m3 -> 1e3 km3
M3_TO_KKM3 = 1e-12


def common_names(*datasets: xr.Dataset, names: Iterable[str] | None = None) -> list[str]:
    """Variable names present in every data set, in canonical order (or the given ``names``)."""
    candidates = VARIABLE_NAMES if names is None else tuple(names)
    return [n for n in candidates if all(n in ds.data_vars for ds in datasets)]


def ocean_mask(da: xr.DataArray) -> np.ndarray:
    """Boolean ``(y, x)`` array, True on ocean cells.

    A cell is ocean when ``land == 0`` (if the ``land`` coordinate is present) and ``da`` is finite
    there in every sample (every member/time), so NaN-masked land is excluded without the coordinate.
    """
    sample_dims = [d for d in da.dims if d not in SPATIAL_DIMS]
    ocean = np.isfinite(da).all(sample_dims)
    if "land" in da.coords:
        ocean = ocean & (da.coords["land"] == 0)
    return np.asarray(ocean.transpose("y", "x").values, dtype=bool)


def ocean_fields(da: xr.DataArray, mask: np.ndarray | None = None) -> np.ndarray:
    """Values on ocean cells as a ``(n_samples, n_cells)`` array (leading dims flattened, C order).

    ``mask`` is a ``(y, x)`` boolean ocean mask, by default :func:`ocean_mask` of ``da``.
    """
    mask = ocean_mask(da) if mask is None else mask
    values = da.transpose(..., "y", "x").values
    return values.reshape(-1, *values.shape[-2:])[:, mask]


def ocean_values(ds: xr.Dataset, name: str) -> np.ndarray:
    """1-D array of the finite ocean values of variable ``name`` pooled over all samples and cells."""
    return ocean_fields(ds[name]).ravel()


def bound_violation_share(ds: xr.Dataset, bounds: Bounds = DEFAULT_BOUNDS) -> dict[str, float]:
    """Share (0-1) of ocean values outside [lower, upper] or not finite, per bounded variable in ``ds``.

    Values exactly at a bound are not violations. Ocean cells come from the ``land`` coordinate when
    there is one, so a non-finite value in one member counts as a violation and never hides the other
    members' values at that cell (without it, cells finite in at least one sample are ocean).
    Unbounded variables are left out.
    """
    out = {}
    for name in common_names(ds, names=bounds):
        lower, upper = bounds[name]
        if lower is None and upper is None:
            continue
        da = ds[name]
        if "land" in da.coords:
            ocean = np.asarray(da.coords["land"].transpose("y", "x").values == 0)
        else:
            ocean = np.asarray(np.isfinite(da).any([d for d in da.dims if d not in SPATIAL_DIMS])
                               .transpose(*SPATIAL_DIMS).values)
        v = ocean_fields(da, ocean).ravel()
        # share = #{v < l or v > u or v not finite} / #ocean values
        outside = ~np.isfinite(v)
        if lower is not None:
            outside |= v < lower
        if upper is not None:
            outside |= v > upper
        out[name] = float(outside.mean())
    return out


def bound_share(ds: xr.Dataset, bounds: Bounds = DEFAULT_BOUNDS) -> dict[str, dict[str, float]]:
    """Share (0-1) of ocean values exactly equal to each bound, per bounded variable in ``ds``.

    Returns ``{name: {"lower": share(v == l), "upper": share(v == u)}}`` with a key only for the bounds
    that exist (e.g. ``sit`` has only ``"lower"``). Equality is exact: censored decoders and the data
    contain exact 0 (open water) and 1 (pack ice), while Gaussian decoders almost never hit a bound.
    """
    out = {}
    for name in common_names(ds, names=bounds):
        limits = dict(zip(("lower", "upper"), bounds[name]))
        present = {side: b for side, b in limits.items() if b is not None}
        if present:
            v = ocean_values(ds, name)
            # share = #{v == b} / #ocean values
            out[name] = {side: float(np.mean(v == b)) for side, b in present.items()}
    return out


def miz_mask(sic):
    """True where a cell is in the marginal ice zone, ``0.15 < sic < 0.8`` (sic in 0-1; NaN -> False).

    Works element-wise on numpy arrays and xarray objects (lazily for dask-backed ones).
    """
    return (sic > MIZ_LOWER) & (sic < MIZ_UPPER)


def ice_integrals(ds: xr.Dataset) -> xr.Dataset:
    """Sea-ice extent, area, MIZ area and volume per sample (member or time).

    Sums run over ocean cells (land excluded via ``land`` and NaN) with ``A = cell_area`` (m2):

    - ``extent``   = sum A where sic > 0.15, in 1e6 km2
    - ``area``     = sum sic * A, in 1e6 km2
    - ``miz_area`` = sum A where 0.15 < sic < 0.8, in 1e6 km2
    - ``volume``   = sum sit * sic * A, in 1e3 km3 (only if ``sit`` is present). As in Finn et al. 2024,
      ``sit`` is read as the thickness of the ice-covered part of a cell, so it is weighted by sic.

    Keeps every dim except ``y, x``; lazy (dask) inputs stay lazy.
    """
    cell_area = ds["cell_area"]
    if "land" in ds.coords:
        cell_area = cell_area.where(ds["land"] == 0)
    sic = ds["sic"]
    space = SPATIAL_DIMS
    out = xr.Dataset(
        {
            "extent": sea_ice_extent(sic, cell_area),
            # area = sum sic * A
            "area": (sic * cell_area).sum(space) * M2_TO_MKM2,
            # miz_area = sum_{0.15 < sic < 0.8} A
            "miz_area": cell_area.where(miz_mask(sic)).sum(space) * M2_TO_MKM2,
        }
    )
    if "sit" in ds.data_vars:
        # volume = sum sit * sic * A
        out["volume"] = (ds["sit"] * sic * cell_area).sum(space) * M3_TO_KKM3
    long_names = {
        "extent": "sea-ice extent (sic > 0.15)",
        "area": "sea-ice area",
        "miz_area": "marginal ice zone area (0.15 < sic < 0.8)",
        "volume": "sea-ice volume",
    }
    for name in out.data_vars:
        units = "1e3 km3" if name == "volume" else "1e6 km2"
        out[name].attrs = {"units": units, "long_name": long_names[name]}
    return out


def _subsample(values: np.ndarray, max_n: int, seed: int) -> np.ndarray:
    """At most ``max_n`` values drawn without replacement with a seeded generator (deterministic)."""
    if values.size <= max_n:
        return values
    return np.random.default_rng(seed).choice(values, size=max_n, replace=False)


def wasserstein_per_variable(
    ds_a: xr.Dataset,
    ds_b: xr.Dataset,
    names: Iterable[str] | None = None,
    max_values: int = 200_000,
    seed: int = 0,
) -> dict[str, float]:
    """Wasserstein-1 distance between the pooled ocean cell values of two data sets, per variable.

    W1 = integral |F_a(v) - F_b(v)| dv of the empirical CDFs (``scipy.stats.wasserstein_distance``),
    in the units of the variable. Each pool is subsampled to at most ``max_values`` values with a
    fixed ``seed`` for speed. ``names`` defaults to the variables in both data sets.
    """
    return {
        name: float(
            # W1(a, b) = int |F_a - F_b| dv
            wasserstein_distance(
                _subsample(ocean_values(ds_a, name), max_values, seed),
                _subsample(ocean_values(ds_b, name), max_values, seed),
            )
        )
        for name in common_names(ds_a, ds_b, names=names)
    }


def _rmse(err: np.ndarray) -> float:
    """Root mean square of ``err``; NaN when empty."""
    return float(np.sqrt(np.mean(np.square(err)))) if err.size else float("nan")


def _ocean_errors(truth: xr.Dataset, pred: xr.Dataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``pred - truth`` on the common ocean cells, ``(n_samples, n_cells)``, and the truth's MIZ there."""
    mask = ocean_mask(truth[name]) & ocean_mask(pred[name]) & ocean_mask(truth["sic"])
    err = ocean_fields(pred[name], mask).astype(np.float64) - ocean_fields(truth[name], mask)
    return err, miz_mask(ocean_fields(truth["sic"], mask))


def miz_error(truth: xr.Dataset, pred: xr.Dataset, names: Iterable[str] | None = None) -> dict[str, float]:
    """RMSE of ``pred`` against ``truth`` inside the truth's MIZ (0.15 < sic < 0.8), per variable.

    ``truth`` and ``pred`` have the same dims (e.g. states and their VAE reconstructions); the MIZ is
    taken per sample from the truth's ``sic``. Units of the variable; NaN if the truth has no MIZ cell.
    """
    return {name: errors["rmse_miz"] for name, errors in reconstruction_errors(truth, pred, names).items()}


def reconstruction_errors(
    truth: xr.Dataset, pred: xr.Dataset, names: Iterable[str] | None = None
) -> dict[str, dict[str, float]]:
    """Reconstruction errors per variable over ocean cells: ``{"rmse", "mae", "rmse_miz"}``.

    rmse = sqrt(mean (pred - truth)^2), mae = mean |pred - truth| over all samples and ocean cells,
    rmse_miz the same RMSE restricted to the truth's MIZ (see :func:`miz_error`). Units of the variable.
    """
    out = {}
    for name in common_names(truth, pred, names=names):
        err, miz = _ocean_errors(truth, pred, name)
        out[name] = {
            "rmse": _rmse(err),  # sqrt(mean e^2)
            "mae": float(np.mean(np.abs(err))),  # mean |e|
            "rmse_miz": _rmse(err[miz]),  # sqrt(mean_{MIZ} e^2)
        }
    return out
