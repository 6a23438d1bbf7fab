"""The paper's four claims, each turned into a stated numerical test on the report's results.

The thresholds are fixed here, before looking at any result, and printed with the verdicts:
1. similar scores: geometric mean over variables of CRPS(LDM) / CRPS(data-space DM) in [0.8, 1.25];
2. smoother: the LDM's small-scale power ratio is below the data-space model's for >= 3 of 5 variables;
3. censoring: no bound violation with the censored decoder while the Gaussian one has some, MIZ area and
   share of sic cells exactly at 0 or 1 closer to the reference, and mean CRPS ratio censored/Gaussian
   <= 1.05 (not degrading the other scores);
4. cheaper: data-space FLOPs per generated state >= 10 x latent at the same sampler and steps (counted,
   machine-independent; the paper reports about 25 x in time); seconds per state are shown beside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seaice_ldm.data import VARIABLE_NAMES
from seaice_ldm.options import generator_label

# the generators the claims compare, by their labels in the report's results
LDM, LDM_G = generator_label("latent", "censored"), generator_label("latent", "gaussian")
DM = generator_label("data", "censored")


def geomean_ratio(a: dict[str, float], b: dict[str, float]) -> tuple[float, dict[str, float]]:
    """Geometric mean over the variables of ``a / b``, and the ratios per variable."""
    ratios = {n: a[n] / b[n] for n in VARIABLE_NAMES if b[n] > 0}
    return float(np.exp(np.mean(np.log(list(ratios.values()))))), ratios


def _fmt(ratios: dict[str, float]) -> str:
    return ", ".join(f"{n} {r:.2f}" for n, r in ratios.items())


def claim_similar(gens: dict[str, Any]) -> tuple[bool | None, str]:
    if LDM not in gens or DM not in gens:
        return None, "needs both the LDM and the data-space model."
    g, ratios = geomean_ratio(gens[LDM]["crps"], gens[DM]["crps"])
    return 0.8 <= g <= 1.25, f"CRPS ratio LDM / data-space per variable: {_fmt(ratios)}; geometric mean {g:.2f} (similar if within 0.8-1.25)."


def claim_smoother(gens: dict[str, Any]) -> tuple[bool | None, str]:
    if LDM not in gens or DM not in gens:
        return None, "needs both the LDM and the data-space model."
    ldm, dm = gens[LDM]["small_scale_ratio"], gens[DM]["small_scale_ratio"]
    smoother = [n for n in VARIABLE_NAMES if ldm[n] < dm[n]]
    pairs = ", ".join(f"{n} {ldm[n]:.2f} vs {dm[n]:.2f}" for n in VARIABLE_NAMES)
    return len(smoother) >= 3, (f"small-scale power ratio to the reference, LDM vs data-space: {pairs}; "
                                f"LDM smoother for {len(smoother)} of 5 variables (holds if >= 3).")


def _bounds_gap(gen: dict[str, Any], ref: dict[str, Any]) -> float:
    s, r = gen["bound_share"]["sic"], ref["bound_share"]["sic"]
    return abs(s["lower"] - r["lower"]) + abs(s["upper"] - r["upper"])


def claim_censoring(gens: dict[str, Any], ref: dict[str, Any]) -> tuple[bool | None, str]:
    if LDM not in gens or LDM_G not in gens:
        return None, "needs the LDMs of both decoders."
    c, g = gens[LDM], gens[LDM_G]
    viol_c, viol_g = max(c["bound_violation"].values()), max(g["bound_violation"].values())
    miz_ref = ref["integrals"]["miz_area"]["mean"]
    miz_c, miz_g = c["integrals"]["miz_area"]["mean"], g["integrals"]["miz_area"]["mean"]
    gap_c, gap_g = _bounds_gap(c, ref), _bounds_gap(g, ref)
    crps, ratios = geomean_ratio(c["crps"], g["crps"])
    parts = {
        "no violations with censoring, some without": viol_c == 0 and viol_g > 0,
        "MIZ area closer to the reference": abs(miz_c - miz_ref) < abs(miz_g - miz_ref),
        "share of sic at 0 and 1 closer to the reference": gap_c < gap_g,
        "CRPS not degraded": crps <= 1.05,
    }
    evidence = (
        f"largest out-of-bound share censored {viol_c:.4f} vs Gaussian {viol_g:.4f}; MIZ area (1e6 km²) "
        f"reference {miz_ref:.2f}, censored {miz_c:.2f}, Gaussian {miz_g:.2f}; |share at sic bounds - reference| "
        f"censored {gap_c:.3f} vs Gaussian {gap_g:.3f}; CRPS ratio censored/Gaussian {_fmt(ratios)} "
        f"(geometric mean {crps:.2f}). Sub-tests: "
        + "; ".join(f"{k}: {'yes' if v else 'no'}" for k, v in parts.items())
        + "."
    )
    return all(parts.values()), evidence


def claim_cheaper(gens: dict[str, Any]) -> tuple[bool | None, str]:
    if LDM not in gens or DM not in gens:
        return None, "needs both the LDM and the data-space model."
    flops = gens[DM]["gflop_per_state"] / gens[LDM]["gflop_per_state"]
    seconds = gens[DM]["seconds_per_state"] / gens[LDM]["seconds_per_state"]
    return flops >= 10, (f"data-space {gens[DM]['gflop_per_state']:.1f} vs latent {gens[LDM]['gflop_per_state']:.1f} "
                         f"GFLOP per state (VAE decoder included): {flops:.1f} x (holds if >= 10 x; the paper reports "
                         f"about 25 x); in this run's seconds {gens[DM]['seconds_per_state']:.4f} vs "
                         f"{gens[LDM]['seconds_per_state']:.4f} s per state ({seconds:.1f} x).")


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Claim, verdict (True / False / None when it cannot be tested) and the numbers behind it."""
    gens, ref = results["generators"], results["reference"]
    tests = [
        ("latent diffusion reaches scores similar to data-space diffusion", claim_similar(gens)),
        ("latent diffusion fields are smoother", claim_smoother(gens)),
        ("the censored decoder removes bound violations and improves the MIZ without degrading other scores",
         claim_censoring(gens, ref)),
        ("latent diffusion is much cheaper", claim_cheaper(gens)),
    ]
    return [{"number": i + 1, "claim": c, "holds": h, "evidence": e} for i, (c, (h, e)) in enumerate(tests)]
