"""Proper scores and distances between an ensemble of generated fields and reference states.

The all-seasons ensembles are climatological: every member is a draw from the model's climatology,
not a forecast of one particular state. The scores below therefore evaluate the ensemble as a
climatological forecast of *each* reference state and average over the reference states (and over
ocean cells for the CRPS, weighted by cell area: the ocean cells of the default grid range from about
2080 to 2660 km2). Fair (unbiased in the ensemble size) estimators are used throughout.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scoringrules as sr
import xarray as xr
from scipy.spatial.distance import cdist, pdist

from .metrics import common_names, ocean_fields, ocean_mask


def crps_fair(
    ensemble: np.ndarray, obs: np.ndarray, member_axis: int = 0, sorted_ensemble: bool = False
) -> np.ndarray:
    """Fair CRPS of an ensemble for each observation, in the units of the data.

    ``CRPS_fair = 1/m sum_i |x_i - y| - 1/(2 m (m - 1)) sum_{i,j} |x_i - x_j|`` for ``m >= 2`` members on
    ``member_axis``; ``obs`` has the shape of ``ensemble`` without that axis. Computed by
    ``scoringrules.crps_ensemble`` with the probability-weighted-moment estimator, which is
    algebraically identical to the fair estimator (Zamo and Naveau 2018) but costs O(m log m) instead
    of O(m^2) time and memory per cell; pass ``sorted_ensemble=True`` if the members are sorted.
    """
    if np.shape(ensemble)[member_axis] < 2:
        raise ValueError("the fair CRPS needs at least 2 ensemble members")
    return np.asarray(
        sr.crps_ensemble(obs, ensemble, m_axis=member_axis, estimator="pwm", sorted_ensemble=sorted_ensemble)
    )


def _paired_fields(
    ds_a: xr.Dataset, ds_b: xr.Dataset, name: str, max_dims: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fields of ``name`` on the ocean cells common to both sets, ``(n_a, d)`` and ``(n_b, d)`` float64.

    With ``max_dims`` the cells are a fixed random subset of at most that size (seeded, sorted).
    """
    mask = ocean_mask(ds_a[name]) & ocean_mask(ds_b[name])
    a = ocean_fields(ds_a[name], mask).astype(np.float64)
    b = ocean_fields(ds_b[name], mask).astype(np.float64)
    n_cells = a.shape[1]
    if max_dims is not None and n_cells > max_dims:
        cells = np.sort(np.random.default_rng(seed).choice(n_cells, size=max_dims, replace=False))
        a, b = a[:, cells], b[:, cells]
    return a, b


def crps_per_state(
    ds_ens: xr.Dataset, ds_ref: xr.Dataset, names: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Fair CRPS of the ensemble per variable and reference state, ``{name: (n_ref,)}``.

    ``ds_ens`` has dims ``(member, y, x)`` and ``ds_ref`` ``(time, y, x)``. At each cell the members
    form the (climatological) predictive distribution for every reference state in turn:
    ``sum_cells A CRPS_fair(ensemble(cell), ref_t(cell)) / sum_cells A`` with ``A`` the ``cell_area``
    coordinate (equal weights without it), in the units of the variable.
    """
    out = {}
    for name in common_names(ds_ens, ds_ref, names=names):
        ens, ref = _paired_fields(ds_ens, ds_ref, name)
        weights = _cell_weights(ds_ens, ds_ref, name)
        ens = np.sort(ens, axis=0)  # sort once, reused for every reference state
        out[name] = np.array([np.average(crps_fair(ens, y, 0, sorted_ensemble=True), weights=weights) for y in ref])
    return out


def ensemble_crps(
    ds_ens: xr.Dataset, ds_ref: xr.Dataset, names: Iterable[str] | None = None
) -> dict[str, float]:
    """Mean fair CRPS of the ensemble per variable over the reference states (:func:`crps_per_state`)."""
    return {name: float(np.mean(v)) for name, v in crps_per_state(ds_ens, ds_ref, names).items()}


def _cell_weights(ds_a: xr.Dataset, ds_b: xr.Dataset, name: str) -> np.ndarray | None:
    """Cell areas of the ocean cells common to both sets (the cells of :func:`_paired_fields`), if known."""
    if "cell_area" not in ds_a.coords:
        return None
    mask = ocean_mask(ds_a[name]) & ocean_mask(ds_b[name])
    return ds_a["cell_area"].transpose("y", "x").values[mask].astype(np.float64)


def energy_score(
    ds_ens: xr.Dataset, ds_ref: xr.Dataset, name: str, max_dims: int | None = 2048, seed: int = 0
) -> float:
    """Mean fair energy score of the ensemble of whole fields against each reference field.

    ``ES_fair(y) = 1/m sum_i ||x_i - y|| - 1/(2 m (m - 1)) sum_{i,j} ||x_i - x_j||`` with the Euclidean
    norm over ocean cells (``scoringrules.es_ensemble``, ``estimator="fair"``), averaged over the
    reference states; reduces to the fair CRPS for one cell. To bound the O(m^2 d) cost, ``d`` is a
    fixed seeded subset of at most ``max_dims`` ocean cells (None: all). The value grows like
    ``sqrt(d)``, so compare scores only for the same grid, ``max_dims`` and ``seed``.
    """
    ens, ref = _paired_fields(ds_ens, ds_ref, name, max_dims, seed)
    if len(ens) < 2:
        raise ValueError("the fair energy score needs at least 2 ensemble members")
    return float(np.mean([sr.es_ensemble(y, ens, estimator="fair") for y in ref]))


def _mean_within_distance(z: np.ndarray, unbiased: bool) -> float:
    """E||Z - Z'|| over the rows of ``z``: mean over pairs i != j (unbiased) or over all n^2 pairs."""
    distances = pdist(z)  # the n (n - 1) / 2 pairs i < j
    return float(distances.mean() if unbiased else 2 * distances.sum() / len(z) ** 2)


def energy_distance_fields(
    ds_a: xr.Dataset,
    ds_b: xr.Dataset,
    name: str,
    max_dims: int | None = None,
    seed: int = 0,
    unbiased: bool = True,
) -> float:
    """Energy distance between two sets of fields ``X`` (n, d) and ``Y`` (m, d) of variable ``name``.

    ``ED = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||`` with fields flattened over the common ocean cells
    (optionally a seeded subset of ``max_dims`` cells), in the units of the variable. The cross term
    averages all n m pairs. With ``unbiased=True`` the within-set terms average the pairs i != j
    (U-statistics, expectation 0 for two samples of one distribution, may be slightly negative);
    with ``unbiased=False`` they average all n^2 pairs (V-statistic, >= 0, exactly 0 for equal sets).
    """
    x, y = _paired_fields(ds_a, ds_b, name, max_dims, seed)
    # ED = 2 E||X-Y|| - E||X-X'|| - E||Y-Y'||
    within = _mean_within_distance(x, unbiased) + _mean_within_distance(y, unbiased)
    return float(2 * cdist(x, y).mean() - within)
