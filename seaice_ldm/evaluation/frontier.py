"""Quality/cost frontier of latent diffusion models of several sizes on the latents of one VAE.

Each candidate is scored like the report scores the shipped LDM (fair CRPS of an all-seasons ensemble,
sampled the same way, against held-out test states) and costed in FLOPs per generated state; the rule that
picks the model to ship is "the cheapest whose CRPS is within 5 % of the best" (geometric mean over
variables of the CRPS relative to the best candidate's).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from seaice_ldm.data.variables import VARIABLE_NAMES
from seaice_ldm.evaluation.flops import generation_cost, parameters
from seaice_ldm.evaluation.reference import evenly, held_out
from seaice_ldm.evaluation.scores import ensemble_crps
from seaice_ldm.options import ALL_SEASONS, DEFAULT_SAMPLER, DEFAULT_STEPS, SampleRequest, all_seasons_way
from seaice_ldm.pipeline import load_pipeline


def relative_crps(crps: dict[str, float], best: dict[str, float]) -> float:
    """Geometric mean over variables of ``crps / best`` (1 = as good as the best)."""
    return float(np.exp(np.mean([np.log(crps[n] / best[n]) for n in best])))


def pick(rows: dict[str, dict[str, Any]], tolerance: float = 1.05) -> str:
    """The cheapest candidate (FLOPs per state) whose relative CRPS is at most ``tolerance``."""
    good = [name for name, r in rows.items() if r["relative_crps"] <= tolerance]
    return min(good, key=lambda name: rows[name]["gflop_per_state"])


def latent_frontier(vae: str | Path, candidates: dict[str, str | Path], members: int = 32, test_states: int = 64,
                    steps: int = DEFAULT_STEPS, sampler: str = DEFAULT_SAMPLER, seed: int = 0, decoder: str = "censored",
                    device: str | None = None, tolerance: float = 1.05, all_seasons: str | None = None
                    ) -> dict[str, Any]:
    """Score and cost every candidate latent model (name -> checkpoint) trained on the latents of ``vae``;
    ``all_seasons`` as in ``seaice_ldm.evaluation.report.evaluate``."""
    rows: dict[str, dict[str, Any]] = {}
    for name, path in candidates.items():
        with tempfile.TemporaryDirectory() as tmp:  # a checkpoints folder with just this pair
            (Path(tmp) / f"vae_{decoder}").symlink_to(Path(vae).resolve())
            (Path(tmp) / f"ldm_{decoder}").symlink_to(Path(path).resolve())
            pipe = load_pipeline(tmp, device=device, reference=False)
            gen = pipe.generators[("latent", decoder)]
            test = held_out(gen.diffusion.meta)["test"]
            ref = evenly(test, test_states).load()
            way, date = all_seasons_way(all_seasons, gen.date_conditioned)
            ens = pipe.sample(SampleRequest("latent", decoder, members, steps, sampler, seed, date))
            net = gen.diffusion.module.net
            cost = generation_cost(net, pipe.grid.ny, pipe.grid.nx, sampler, steps, gen.vae.module)
            rows[name] = {"path": str(path), "channels": list(net.cfg.channels),
                          "parameters": parameters(net), "gflop_per_state": cost.total / 1e9,
                          "gflop_per_evaluation": cost.network_flops / 1e9, "steps_trained": gen.diffusion.meta["step"],
                          "all_seasons": ALL_SEASONS[way], "crps": ensemble_crps(ens, ref, names=VARIABLE_NAMES)}
    best_name = min(rows, key=lambda n: np.mean(np.log(list(rows[n]["crps"].values()))))
    for r in rows.values():
        r["relative_crps"] = relative_crps(r["crps"], rows[best_name]["crps"])
    return {"setup": {"members": members, "test_states": test_states, "steps": steps, "sampler": sampler,
                      "seed": seed, "tolerance": tolerance},
            "candidates": rows, "best": best_name, "chosen": pick(rows, tolerance)}
