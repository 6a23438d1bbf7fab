"""Every score of the report for one set of states (an ensemble, the reference, reconstructions), as plain
numbers; per-state values are kept where an interval is drawn over states later (:mod:`.claims`).

Works on exactly the variables the data sets share, so models of a subset of the five variables are scored
on what they have.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from seaice_ldm.data import sample_dim
from seaice_ldm.data.derived import no_ice_rule
from seaice_ldm.evaluation.autoencoder import line_summary
from seaice_ldm.evaluation.consistency import consistency
from seaice_ldm.evaluation.edges import grid_edge, isolated_ice_cells, isolated_pack_gaps
from seaice_ldm.evaluation.metrics import (bound_share, bound_violation_share, common_names, ice_integrals,
                                           wasserstein_per_variable)
from seaice_ldm.evaluation.scores import crps_per_state, energy_score
from seaice_ldm.evaluation.smoothness import roughness, small_scale_power
from seaice_ldm.evaluation.spectra import mean_spectrum

INTEGRALS = ("extent", "area", "volume", "miz_area")
SPECKLE = "isolated_ice_cells"
SPECKLE_OPEN = "isolated_ice_cells_open_water"
SPECKLE_EDGE = "isolated_ice_cells_open_water_grid_edge"
PACK_GAPS = "isolated_pack_gaps"
SPECKLES = (SPECKLE, SPECKLE_OPEN, SPECKLE_EDGE, PACK_GAPS)
EDGE_WIDTH = 2  # cells from the grid's border


def integral_stats(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof 1) over states / members of the ice integrals and speckle counts."""
    sic, dim = ds["sic"].values, sample_dim(ds)
    edge = grid_edge(sic.shape[-2:], EDGE_WIDTH)
    values = ice_integrals(ds).assign({
        SPECKLE: (dim, isolated_ice_cells(sic)),
        SPECKLE_OPEN: (dim, isolated_ice_cells(sic, open_water=True)),
        SPECKLE_EDGE: (dim, isolated_ice_cells(sic, open_water=True, within=edge)),
        PACK_GAPS: (dim, isolated_pack_gaps(sic))})
    ddof = 1 if values.sizes[dim] > 1 else 0
    return {k: {"mean": float(values[k].mean()), "std": float(values[k].std(ddof=ddof))}
            for k in INTEGRALS + SPECKLES if k in values}


def describe(ds: xr.Dataset, boxes: list[tuple[slice, slice]]) -> dict[str, Any]:
    """What a set of states looks like on its own: bounds, integrals, damage lines, roughness in the pack,
    small-scale power per state, and physical consistency (as given and with :func:`no_ice_rule` applied)."""
    names = common_names(ds)
    out: dict[str, Any] = {
        "bound_violation": bound_violation_share(ds),
        "bound_share": bound_share(ds),
        "integrals": integral_stats(ds),
        "roughness_per_state": {n: roughness(ds[n], ds["sic"]) for n in names if n != "sic"},
        "small_scale_power": {n: small_scale_power(ds[n], boxes) for n in names},
        "spectra": {n: [a.tolist() for a in mean_spectrum(ds[n], boxes=boxes)] for n in names},
        "consistency": consistency(ds),
        "consistency_no_ice_rule": consistency(no_ice_rule(ds)),
    }
    out["roughness"] = {n: float(np.nanmean(r)) for n, r in out["roughness_per_state"].items()}
    if "sid" in names:
        out["lines"] = line_summary(ds)
    return out


def score_against(ens: xr.Dataset, ref: xr.Dataset) -> dict[str, Any]:
    """Scores of an ensemble ``(member, y, x)`` against reference states ``(time, y, x)``: fair CRPS per state
    and variable, Wasserstein-1 of pooled cell values, fair energy score of whole fields."""
    names = common_names(ens, ref)
    return {
        "crps_per_state": crps_per_state(ens, ref, names=names),
        "wasserstein": wasserstein_per_variable(ens, ref, names=names),
        "energy_score": {n: energy_score(ens, ref, n) for n in names},
    }
