"""What an autoencoder keeps of what scientists look at: its reconstructions scored against the states they
reconstruct, noise-free (the decoder's point output of the posterior mean).

One function serves the report and the autoencoder ablation (``scripts/score_vae_ablation.py``): the MIZ of the
pairs (:mod:`.miz`), damage lines (:mod:`.damage`), small-scale power of every variable relative to the same
states and roughness in the pack (:mod:`.smoothness`), bound violations and RMSE per variable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from seaice_ldm.evaluation import damage, miz, smoothness
from seaice_ldm.evaluation.metrics import bound_violation_share, common_names, reconstruction_errors
from seaice_ldm.evaluation.uncertainty import mean_estimate, ratio_of_means


def line_summary(ds: xr.Dataset, seed: int = 0) -> dict[str, Any]:
    """Damage lines of a data set pooled over its states: share of high-damage pack cells in lines, lines per
    state, high-damage pack cells per state; the first two also as estimates with their interval over states
    (``share_estimate``: line cells over high-damage cells, a ratio of sums; ``lines_per_state_estimate``)."""
    counts = damage.damage_lines(ds)
    pooled = damage.total(counts)
    per_state = {k: np.array([getattr(c, k) for c in counts], dtype=float)
                 for k in ("line_cells", "high_cells", "lines")}
    return {"share": pooled.share, "lines_per_state": pooled.lines_per_state,
            "high_cells_per_state": pooled.high_cells / max(pooled.states, 1),
            "share_estimate": ratio_of_means(per_state["line_cells"], per_state["high_cells"], paired=True,
                                             seed=seed).to_dict(),
            "lines_per_state_estimate": mean_estimate(per_state["lines"], seed=seed).to_dict()}


def score_reconstruction(truth: xr.Dataset, rec: xr.Dataset, boxes: list[tuple[slice, slice]],
                         seed: int = 0) -> dict[str, Any]:
    """Every measure of reconstructions ``rec`` of the states ``truth`` (same states, same order)."""
    names = common_names(truth, rec)
    out: dict[str, Any] = {
        "miz": miz.summarise(miz.paired_miz(truth, rec), seed=seed),
        "errors": reconstruction_errors(truth, rec, names=names),
        "bound_violation": bound_violation_share(rec),
        "small_scale_ratio": {},
        "roughness": {},
    }
    if "sid" in names and "sic" in names:
        out["lines"] = line_summary(rec)
    for name in names:
        ref_power = smoothness.small_scale_power(truth[name], boxes)
        out["small_scale_ratio"][name] = ratio_of_means(smoothness.small_scale_power(rec[name], boxes), ref_power,
                                                        paired=True, seed=seed)
        if name != "sic":
            out["roughness"][name] = {
                "reconstruction": float(np.nanmean(smoothness.roughness(rec[name], rec["sic"]))),
                "truth": float(np.nanmean(smoothness.roughness(truth[name], truth["sic"])))}
    return out


def paired_misclassification(truth: xr.Dataset, rec_a: xr.Dataset, rec_b: xr.Dataset, seed: int = 0) -> dict:
    """Misclassified share of the truth's MIZ cells (pooled over the states), reconstructions ``a`` minus ``b``
    of the same states, with its interval over the states (paired)."""
    return miz.paired_differences(miz.paired_miz(truth, rec_a), miz.paired_miz(truth, rec_b), seed=seed)[
        "misclassified"].to_dict()
