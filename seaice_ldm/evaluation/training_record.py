"""What the report says about how its models were trained and what they cost per generated state."""

from __future__ import annotations

from typing import Any

from seaice_ldm.evaluation.flops import generation_cost, refiner_cost
from seaice_ldm.pipeline import Pipeline
from seaice_ldm.pipeline.generate import refiner_pass


def gflop_per_state(pipe: Pipeline, space: str, decoder: str, sampler: str, steps: int, refine: bool = False) -> float:
    """Counted GFLOP to generate one state with a pipeline's model (VAE decoder and, with ``refine``, the
    refiner's pass included)."""
    gen = pipe.generators[(space, "censored" if space == "data" else decoder)]
    vae = gen.vae.module if gen.vae is not None else None
    cost = generation_cost(gen.diffusion.module.net, pipe.grid.ny, pipe.grid.nx, sampler, steps, vae).total
    if refine:
        cost += refiner_cost(pipe.refiner.module.net, pipe.grid.ny, pipe.grid.nx)
    return cost / 1e9


def training_setup(pipe: Pipeline) -> dict[str, dict[str, Any]]:
    """Training steps, stages and noise-level distribution of each diffusion model (they bear on claim 1)."""
    out = {}
    for gen in pipe.generators.values():
        meta = gen.diffusion.meta
        edm = meta["config"]["diffusion"]
        name = gen.spec.label  # the data-space model is one model for both decoding rules
        history = meta.get("history", [])
        best = min(history, key=lambda h: h["val_loss"]) if history else {}
        out[name] = {"steps": int(meta["step"]), "p_mean": edm["p_mean"], "p_std": edm["p_std"],
                     "sigma_max": edm["sigma_max"], "best_val_step": best.get("step"),
                     "date_conditioned": gen.date_conditioned, "margin": meta["config"]["unet"].get("margin", 0)}
        if meta.get("init_from"):  # a stage-2 fine-tune: say what it started from
            out[name]["warm_start_steps"] = int(meta["init_from"]["step"])
    return out


def refiner_setup(pipe: Pipeline) -> dict[str, Any] | None:
    """How the latent path's refiner was trained and how its pass runs (None without a refiner)."""
    if pipe.refiner is None:
        return None
    meta = pipe.refiner.meta
    edm, history = meta["config"]["diffusion"], meta.get("history", [])
    best = min(history, key=lambda h: h["val_loss"]) if history else {}
    return {"steps": int(meta["step"]), "best_val_step": best.get("step"), "p_mean": edm["p_mean"],
            "p_std": edm["p_std"], "sigma_max": edm["sigma_max"], "crop": edm.get("crop"),
            "gflop_per_state": refiner_cost(pipe.refiner.module.net, pipe.grid.ny, pipe.grid.nx) / 1e9,
            "pass": refiner_pass(pipe.refiner)}
