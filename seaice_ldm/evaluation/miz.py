"""The marginal ice zone (MIZ, 0.15 < sic < 0.8) of states paired with their truth: reconstructions with the
states they reconstruct (noise-free), or generated members with the reference state of the date they were
sampled for.

Per pair: the cells that the two put in different classes of open water (sic <= 0.15), MIZ and pack
(sic >= 0.8) among the cells either calls MIZ (*misclassified MIZ cells*, counted against the truth's MIZ
cells), the sic error inside the truth's MIZ, the integrated ice-edge error (IIEE, Goessling et al. 2016) and
the MIZ width of both (MIZ area over ice-edge length, :func:`seaice_ldm.evaluation.edges.miz_width`).
Per-pair numbers are kept so that intervals can be drawn over pairs or dates
(:mod:`seaice_ldm.evaluation.uncertainty`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from seaice_ldm.data.derived import M2_TO_MKM2
from seaice_ldm.data.dims import SPATIAL_DIMS
from seaice_ldm.evaluation.edges import iiee_sic, miz_width
from seaice_ldm.evaluation.metrics import miz_mask
from seaice_ldm.evaluation.uncertainty import Estimate, bootstrap, mean_estimate

M_TO_KM = 1e-3


def _fields(ds: xr.Dataset, name: str) -> np.ndarray:
    values = ds[name].transpose(..., *SPATIAL_DIMS).values.astype(np.float64)
    return values.reshape(-1, *values.shape[-2:])


def pair_scores(sic_true: np.ndarray, sic_pred: np.ndarray, x: np.ndarray, y: np.ndarray,
                cell_area: np.ndarray) -> dict[str, float]:
    """The MIZ measures of one predicted ``(y, x)`` sic field against its truth (land NaN in either)."""
    valid = np.isfinite(sic_true) & np.isfinite(sic_pred)
    with np.errstate(invalid="ignore"):
        miz_true, miz_pred = miz_mask(sic_true) & valid, miz_mask(sic_pred) & valid
    err = (sic_pred - sic_true)[miz_true]
    return {
        # a cell is misclassified when exactly one of the two puts it in the MIZ
        "misclassified": float(np.sum(miz_true ^ miz_pred)),
        "miz_cells": float(np.sum(miz_true)),
        "squared_error": float(np.sum(err**2)),
        "iiee": iiee_sic(sic_pred, sic_true, cell_area)["iiee"] * M2_TO_MKM2,
        "width_true": miz_width(sic_true, x, y, cell_area) * M_TO_KM,
        "width_pred": miz_width(sic_pred, x, y, cell_area) * M_TO_KM,
    }


def paired_miz(truth: xr.Dataset, pred: xr.Dataset) -> dict[str, np.ndarray]:
    """Per-pair MIZ measures (:func:`pair_scores`) of ``pred`` against ``truth``, pair i = state i of each
    (same number of states; repeat the truth to pair several members with one state)."""
    sic_true, sic_pred = _fields(truth, "sic"), _fields(pred, "sic")
    if sic_true.shape != sic_pred.shape:
        raise ValueError(f"paired_miz needs as many truth as predicted states on one grid, got {sic_true.shape} "
                         f"and {sic_pred.shape}")
    x, y, area = truth["x"].values, truth["y"].values, truth["cell_area"].values
    rows = [pair_scores(t, p, x, y, area) for t, p in zip(sic_true, sic_pred)]
    return {key: np.array([r[key] for r in rows]) for key in rows[0]} if rows else {}


def summarise(pairs: dict[str, np.ndarray], seed: int = 0) -> dict[str, Estimate | dict]:
    """Pooled numbers with intervals over the pairs: misclassified share of the truth's MIZ cells, sic RMSE
    inside the truth's MIZ, mean IIEE (1e6 km²), and the MIZ width distributions (km) of truth and prediction."""
    width_true, width_pred = pairs["width_true"], pairs["width_pred"]
    return {
        "misclassified": bootstrap(_pooled_share, pairs["misclassified"], pairs["miz_cells"], paired=True, seed=seed),
        "rmse_sic_in_miz": bootstrap(_pooled_rmse, pairs["squared_error"], pairs["miz_cells"], paired=True,
                                     seed=seed),
        "iiee": mean_estimate(pairs["iiee"], seed=seed),
        "width_km": {"true": _quartiles(width_true), "pred": _quartiles(width_pred),
                     "error": mean_estimate(width_pred - width_true, seed=seed)},
    }


def paired_differences(a: dict[str, np.ndarray], b: dict[str, np.ndarray], seed: int = 0) -> dict[str, Estimate]:
    """``a - b`` of :func:`summarise`'s misclassified share, sic RMSE inside the MIZ and IIEE, for two
    predictions of the same truth states (:func:`paired_miz` of each), with intervals from resampling the
    states (paired)."""
    cells = a["miz_cells"]
    return {
        "misclassified": bootstrap(lambda x, y, n: _pooled_share(x, n) - _pooled_share(y, n), a["misclassified"],
                                   b["misclassified"], cells, paired=True, seed=seed),
        "rmse_sic_in_miz": bootstrap(lambda x, y, n: _pooled_rmse(x, n) - _pooled_rmse(y, n), a["squared_error"],
                                     b["squared_error"], cells, paired=True, seed=seed),
        "iiee": bootstrap(lambda x, y: np.nanmean(x - y), a["iiee"], b["iiee"], paired=True, seed=seed),
    }


def _pooled_share(count: np.ndarray, total: np.ndarray) -> float:
    return float(np.nansum(count) / np.nansum(total))


def _pooled_rmse(squared_error: np.ndarray, cells: np.ndarray) -> float:
    # RMSE pooled over the cells of all pairs = sqrt(sum e^2 / sum n)
    return float(np.sqrt(np.nansum(squared_error) / np.nansum(cells)))


def _quartiles(values: np.ndarray) -> dict[str, float]:
    q = np.nanpercentile(values, [25, 50, 75]) if np.isfinite(values).any() else [np.nan] * 3
    return {"q25": float(q[0]), "median": float(q[1]), "q75": float(q[2])}
