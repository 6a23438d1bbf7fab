"""The numbers under the maps, computed from Datasets with ``seaice_ldm.evaluation`` (pure functions, no plotting).

Each number is a mean over the states of a panel with its sample standard deviation (n − 1), and says what
it is: area counts only ice (sic > 0.15, at most 1), out-of-bound shares are given beyond a tolerance beside
any excess at all, and the IIEE names the reference edge it is measured against.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from seaice_ldm.data import sample_dim
from seaice_ldm.evaluation import (bound_share, edge_probability, excess_share, ice_area, ice_integrals, ice_mask,
                                   iiee, miz_width, spectrum_boxes, mean_spectrum)

from dashboard.store import variable_values
from dashboard.styles import TOLERANCE, variable_info

ROWS = (
    ("extent", "Extent (sic > 0.15)", "10⁶ km²"),
    ("area", "Area (Σ sic·A, ice only)", "10⁶ km²"),
    ("volume", "Volume", "10³ km³"),
    ("miz_area", "MIZ area", "10⁶ km²"),
    ("miz_width", "MIZ width", "km"),
    ("iiee", "IIEE vs reference", "10⁶ km²"),
)


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for fewer than two values) of the finite values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")


def reference_ice(reference: xr.Dataset | None) -> np.ndarray | None:
    """The reference edge the IIEE is measured against: sic > 0.15 of one state, P(sic > 0.15) > 0.5 of several."""
    if reference is None or "sic" not in reference:
        return None
    sic = np.asarray(reference["sic"].values)
    return ice_mask(sic[0]) if sic.shape[0] == 1 else ice_mask(edge_probability(sic), 0.5)


def panel_numbers(ds: xr.Dataset, variable: str, ice_ref: np.ndarray | None) -> dict:
    """Every number of a panel's table (see :data:`ROWS`) and its bound shares for ``variable``."""
    out: dict = {"n": int(ds.sizes[sample_dim(ds[next(iter(ds.data_vars))])])}
    area = np.asarray(ds["cell_area"].values, dtype=float)
    if "sic" in ds:
        sic = np.asarray(ds["sic"].values)
        integrals = ice_integrals(ds)
        dim = sample_dim(ds["sic"])
        for name in ("extent", "miz_area", "volume"):
            if name in integrals:
                out[name] = mean_sd(integrals[name].transpose(dim, ...).values)
        out["area"] = mean_sd(ice_area(sic, area) * 1e-12)
        x, y = np.asarray(ds["x"].values), np.asarray(ds["y"].values)
        out["miz_width"] = mean_sd([miz_width(s, x, y, area) / 1e3 for s in sic])
        ocean = np.isfinite(sic).all(axis=0)
        if ice_ref is not None and ice_ref.shape == ocean.shape:
            out["iiee"] = mean_sd([iiee(ice_mask(s), ice_ref, area, ocean)["iiee"] * 1e-12 for s in sic])
    shown = variable if variable != "speed" else None
    if shown is not None and shown in ds:
        _, _, lower, upper, _ = variable_info(shown)
        values = variable_values(ds, shown)
        out["outside"] = excess_share(values, lower, upper)
        out["outside_tol"] = excess_share(values, lower, upper, TOLERANCE.get(shown, 0.0))
        out["tolerance"] = TOLERANCE.get(shown, 0.0)
        shares = bound_share(ds[[shown]]).get(shown, {})
        out["at_bounds"] = float(sum(shares.values())) if shares else float("nan")
    return out


def histogram_bins(variable: str, n: int = 60) -> np.ndarray:
    """Bin edges that extend beyond the physical bounds and have the bounds as edges."""
    _, _, lower, upper, (lo, hi) = variable_info(variable)
    width = (hi - lo) / n
    pad = int(round(0.12 * n))
    return lo + width * np.arange(-pad if lower is not None or variable in ("siu", "siv") else 0, n + pad + 1)


def histogram_data(values: np.ndarray, variable: str) -> dict:
    """Shares (0-1) of cell values per bin, and the shares exactly at each bound (a censored decoder's point
    mass, shown as a spike); values beyond the binned range go to the outer bins."""
    _, _, lower, upper, _ = variable_info(variable)
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    edges = histogram_bins(variable)
    total = max(v.size, 1)
    at = {}
    inside = np.ones(v.shape, dtype=bool)
    for side, bound in (("lower", lower), ("upper", upper)):
        if bound is not None:
            hit = v == bound
            at[side] = (bound, hit.sum() / total)
            inside &= ~hit
    counts, _ = np.histogram(np.clip(v[inside], edges[0], edges[-1]), bins=edges)
    return {"edges": edges, "share": counts / total, "at": at, "n": int(v.size)}


def spectrum(ds: xr.Dataset, variable: str) -> tuple[np.ndarray, np.ndarray]:
    """Sample-mean radially averaged power spectrum (k in cycles/km) over the report's land-free boxes (no coast
    enters), or over the whole field on a grid too small for one box."""
    from seaice_ldm.data import drift_speed

    da = drift_speed(ds) if variable == "speed" else ds[variable]
    try:
        boxes = spectrum_boxes(da)
    except ValueError:
        boxes = None
    return mean_spectrum(da, boxes=boxes)
