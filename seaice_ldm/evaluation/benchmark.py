"""``seaice-ldm benchmark``: cost of latent vs data-space diffusion (counted FLOPs and seconds on one device),
quality vs steps, the cost at equal quality, and how the FLOP ratio grows with the grid.

:class:`BenchmarkSettings` -> :func:`run_benchmark` (results) -> :func:`print_benchmark`. Seconds are timed in
the precision users get: ``"auto"`` as the dashboard samples (bf16 where the device computes it natively).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from seaice_ldm.checkpoints.build import build_precond, build_vae
from seaice_ldm.data.io import atomic_file, check_parent, check_replaceable, record_output
from seaice_ldm.diffusion.loss import EDMLoss
from seaice_ldm.diffusion.schedules import steps_for_nfe
from seaice_ldm.data.grid import GRIDS
from seaice_ldm.evaluation.flops import flop_ratio_by_grid, generation_cost, parameters, refiner_cost
from seaice_ldm.evaluation.reference import evenly, pipeline_splits
from seaice_ldm.evaluation.scores import ensemble_crps
from seaice_ldm.models.device import device_name
from seaice_ldm.models.latent import latent_mask
from seaice_ldm.models.vae import VAELoss
from seaice_ldm.options import (ALL_SEASONS, DEFAULT_SAMPLER, DEFAULT_STEPS, SAMPLERS, SPACES, SampleRequest,
                                all_seasons_way)
from seaice_ldm.pipeline import Pipeline, load_pipeline

#: The key of the latent path with its refiner in the figures (when the checkpoints hold a refiner).
REFINED_SPACE = "latent + refiner"


@dataclass(frozen=True)
class BenchmarkSettings:
    """What ``seaice-ldm benchmark`` times and scores."""

    checkpoints: str = "checkpoints"
    batch: int = 8  # states per batch, equal for both spaces
    steps: int = DEFAULT_STEPS
    sampler: str = DEFAULT_SAMPLER
    repeats: int = 3
    train_steps: int = 3  # training steps timed per model
    nfe: tuple[int, ...] = (5, 7, 10, 15, 20, 40)  # network evaluations for quality vs steps; () skips it
    quality_members: int = 16
    device: str | None = None
    precision: str = "auto"
    json: str | None = None
    overwrite: bool = False  # replace a --json file seaice-ldm did not write, or one changed since

    def __post_init__(self):
        object.__setattr__(self, "nfe", tuple(self.nfe or ()))
        for name in ("batch", "steps", "repeats", "train_steps", "quality_members"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], Any], repeats: int, device: torch.device) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sampling_seconds(pipe: Pipeline, space: str, batch: int, steps: int, sampler: str, repeats: int,
                     refine: bool = False) -> float:
    """Seconds per generated state (diffusion sampling plus VAE decoding for latent models, plus the refiner's
    pass with ``refine``)."""
    def run():
        pipe.sample(SampleRequest(space, "censored", batch, steps, sampler, seed=0, refine=refine), batch_size=batch)
    return median_seconds(run, repeats, pipe.device) / batch


def training_step_seconds(module: torch.nn.Module, shape: tuple[int, ...], mask: torch.Tensor, repeats: int,
                          device: torch.device) -> float:
    """Seconds per optimisation step (forward, backward, AdamW) on random inputs of ``shape``."""
    module = module.to(device).train()
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-5)
    x = torch.randn(shape, device=device)
    mask = mask.to(device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        module(x, mask)["loss"].backward()
        optimizer.step()
    return median_seconds(step, repeats, device)


def _edm_loss(meta: dict[str, Any], ocean_only: bool) -> EDMLoss:
    """The training loss of a diffusion checkpoint, with its own noise-level distribution."""
    edm = meta["config"]["diffusion"]
    return EDMLoss(build_precond(meta), ocean_only, edm["p_mean"], edm["p_std"])


def cost(pipe: Pipeline, settings: BenchmarkSettings) -> dict[str, Any]:
    latent, data = pipe.generators[("latent", "censored")], pipe.generators[("data", "censored")]
    factor = latent.vae.module.downsampling_factor
    full_mask = torch.from_numpy(pipe.ocean.astype(np.float32))[None, None]
    lmask = latent_mask(full_mask, factor)
    ny, nx = full_mask.shape[-2:]
    c_lat, c_data = latent.diffusion.module.net.cfg.in_channels, data.diffusion.module.net.cfg.in_channels
    b = settings.batch
    out = {
        "sample_s_per_state": {
            space: sampling_seconds(pipe, space, b, settings.steps, settings.sampler, settings.repeats) for space in SPACES
        },
        "train_s_per_step": {
            "latent diffusion": training_step_seconds(
                _edm_loss(latent.diffusion.meta, ocean_only=False),
                (b, c_lat, ny // factor, nx // factor), lmask, settings.train_steps, pipe.device),
            "data-space diffusion": training_step_seconds(
                _edm_loss(data.diffusion.meta, ocean_only=True),
                (b, c_data, ny, nx), full_mask, settings.train_steps, pipe.device),
            "VAE": training_step_seconds(VAELoss(build_vae(latent.vae.meta)), (b, c_data, ny, nx), full_mask,
                                         settings.train_steps, pipe.device),
        },
    }
    if pipe.refiner is not None:
        out["sample_s_per_state"][REFINED_SPACE] = sampling_seconds(pipe, "latent", b, settings.steps, settings.sampler,
                                                                    settings.repeats, refine=True)
    s, t = out["sample_s_per_state"], out["train_s_per_step"]
    out["ratios"] = {
        "sampling data / latent": s["data"] / s["latent"],
        "training step data / latent": t["data-space diffusion"] / t["latent diffusion"],
    }
    return out


GRID_TABLE = ("arctic50km", "arctic25km", "arctic12km")


def flop_costs(pipe: Pipeline, sampler: str, steps: int) -> dict[str, Any]:
    """Counted FLOPs per generated state of each space's censored model (VAE decoder included) at ``steps``."""
    out: dict[str, Any] = {}
    for space in SPACES:
        gen = pipe.generators[(space, "censored")]
        net, vae = gen.diffusion.module.net, (gen.vae.module if gen.vae is not None else None)
        c = generation_cost(net, pipe.grid.ny, pipe.grid.nx, sampler, steps, vae)
        out[space] = {"parameters": parameters(net), "vae_decoder_parameters": parameters(vae.decoder) if vae else 0,
                      "gflop_per_evaluation": c.network_flops / 1e9, "decoder_gflop": c.decoder_flops / 1e9,
                      "nfe": c.nfe, "gflop_per_state": c.total / 1e9}
    out["ratio data / latent"] = out["data"]["gflop_per_state"] / out["latent"]["gflop_per_state"]
    if pipe.refiner is not None:  # the latent path with its refiner: the cost the 8x rule is about
        refiner = refiner_cost(pipe.refiner.module.net, pipe.grid.ny, pipe.grid.nx) / 1e9
        out[REFINED_SPACE] = {"refiner_gflop": refiner, "gflop_per_state": out["latent"]["gflop_per_state"] + refiner}
        out[f"ratio data / {REFINED_SPACE}"] = out["data"]["gflop_per_state"] / out[REFINED_SPACE]["gflop_per_state"]
    return out


def flops_by_grid(pipe: Pipeline, sampler: str, steps: int) -> dict[str, dict]:
    """The FLOP ratio of the shipped architectures (untrained copies) on the named grids."""
    latent, data = pipe.generators[("latent", "censored")], pipe.generators[("data", "censored")]
    shapes = {name: GRIDS[name].shape for name in GRID_TABLE}
    return flop_ratio_by_grid(latent.diffusion.module.net.cfg, data.diffusion.module.net.cfg, latent.vae.module.cfg,
                              shapes, sampler, steps)


def equal_quality(rows: list[dict[str, Any]], flops: dict[str, Any], sampler: str,
                  tolerance: float = 1.05) -> dict[str, Any] | None:
    """For ``sampler``, the fewest network evaluations that bring each space within ``tolerance`` of its own
    best CRPS, and the FLOPs per state there (None without quality rows for that sampler)."""
    out: dict[str, Any] = {}
    for space in SPACES:
        good = [r for r in rows if r["space"] == space and r["sampler"] == sampler and r["relative_crps"] <= tolerance]
        if not good:
            return None
        nfe = min(r["nfe"] for r in good)
        f = flops[space]
        out[space] = {"nfe": nfe, "gflop_per_state": nfe * f["gflop_per_evaluation"] + f["decoder_gflop"]}
    out["ratio data / latent"] = out["data"]["gflop_per_state"] / out["latent"]["gflop_per_state"]
    return out


def quality_vs_steps(pipe: Pipeline, settings: BenchmarkSettings) -> list[dict[str, Any]]:
    """Fair CRPS of censored all-seasons ensembles of each space (sampled as ``seaice-ldm evaluate`` samples
    them) against test states, per sampler and NFE budget."""
    test = pipeline_splits(pipe)["test"]
    ref = evenly(test, 32).load()
    way, date = all_seasons_way(None, pipe.date_conditioned)
    rows = []
    for space in SPACES:
        for sampler in SAMPLERS:
            for nfe in settings.nfe:
                steps = steps_for_nfe(sampler, nfe)
                start = time.perf_counter()
                ens = pipe.sample(SampleRequest(space, "censored", settings.quality_members, steps, sampler, seed=0,
                                                date=date))
                seconds = time.perf_counter() - start
                crps = ensemble_crps(ens, ref)
                rows.append({"space": space, "sampler": sampler, "nfe": nfe, "steps": steps, "seconds": seconds,
                             "all_seasons": ALL_SEASONS[way], "crps": crps})
    for space in SPACES:  # geometric mean over variables of CRPS relative to the space's best
        mine = [r for r in rows if r["space"] == space]
        best = {n: min(r["crps"][n] for r in mine) for n in mine[0]["crps"]}
        for r in mine:
            r["relative_crps"] = float(np.exp(np.mean([np.log(r["crps"][n] / best[n]) for n in best])))
    return rows


def recommend(rows: list[dict[str, Any]], tolerance: float = 1.05) -> dict[str, Any]:
    """The cheapest (sampler, NFE) within ``tolerance`` of the best CRPS in every space (the dashboard's default)."""
    settings: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        s = settings.setdefault((r["sampler"], r["nfe"]), {"sampler": r["sampler"], "nfe": r["nfe"],
                                                           "steps": r["steps"], "relative_crps": 0.0})
        s["relative_crps"] = max(s["relative_crps"], r["relative_crps"])  # the worse of the spaces
    good = [s for s in settings.values() if s["relative_crps"] <= tolerance] or list(settings.values())
    return min(good, key=lambda s: (s["nfe"], s["relative_crps"]))


def check_json(path: str | Path, overwrite: bool = False) -> Path:
    """The ``--json`` output, checked before any work: its folder can be written, it is no folder, and it is no
    file seaice-ldm did not write (unless ``overwrite``)."""
    path = check_parent(path)
    if path.is_dir():
        raise ValueError(f"--json {path} is a folder; give a file name, e.g. {path / 'benchmark.json'}")
    return check_replaceable(path, overwrite, "--overwrite")


def run_benchmark(settings: BenchmarkSettings) -> dict[str, Any]:
    """Every figure of the benchmark as plain numbers (also written to ``settings.json`` when given, which is
    checked first)."""
    out = check_json(settings.json, settings.overwrite) if settings.json else None
    pipe = load_pipeline(settings.checkpoints, device=settings.device, reference=False, precision=settings.precision)
    for key in (("latent", "censored"), ("data", "censored")):
        if key not in pipe.generators:
            raise ValueError(f"the benchmark needs a {key[0]}-space model in {settings.checkpoints}")
    results: dict[str, Any] = {"device": device_name(pipe.device), "precision": pipe.precision,
                               "torch": torch.__version__, "batch": settings.batch, "steps": settings.steps,
                               "sampler": settings.sampler}
    results["flops"] = flop_costs(pipe, settings.sampler, settings.steps)
    results["flops_by_grid"] = flops_by_grid(pipe, settings.sampler, settings.steps)
    results.update(cost(pipe, settings))
    if settings.nfe:
        rows = quality_vs_steps(pipe, settings)
        results["quality_vs_steps"] = rows
        equal = equal_quality(rows, results["flops"], settings.sampler)
        if equal is not None:
            results["flops_equal_quality"] = equal
        best = recommend(rows)
        results["recommended"] = {k: best[k] for k in ("sampler", "nfe", "steps")}
    if out is not None:
        with atomic_file(out) as tmp:
            tmp.write_text(json.dumps(results, indent=1))
        record_output(out)
    return results


def print_benchmark(results: dict[str, Any]) -> None:
    """The benchmark's figures, as ``seaice-ldm benchmark`` prints them."""
    r = results
    print(f"device: {r['device']} (torch {r['torch']}, {r['precision']})")
    print(f"\ncounted cost per generated state, {r['sampler']} with {r['steps']} steps (GFLOP; VAE decoder included):")
    for space in SPACES:
        f = r["flops"][space]
        print(f"  {space:>6}: {f['parameters'] / 1e6:.2f} M parameters, {f['gflop_per_evaluation']:.3f} GFLOP per "
              f"evaluation x {f['nfe']} + decoder {f['decoder_gflop']:.3f} = {f['gflop_per_state']:.2f} GFLOP")
    print(f"  ratio data / latent at equal steps: {r['flops']['ratio data / latent']:.1f} x "
          "(the paper reports about 25 x)")
    if REFINED_SPACE in r["flops"]:
        f = r["flops"][REFINED_SPACE]
        print(f"  {REFINED_SPACE}: + refiner {f['refiner_gflop']:.3f} = {f['gflop_per_state']:.2f} GFLOP; ratio data / "
              f"{REFINED_SPACE}: {r['flops'][f'ratio data / {REFINED_SPACE}']:.1f} x")
    print("FLOP ratio of the same architectures on the named grids:")
    for name, row in r["flops_by_grid"].items():
        print(f"  {name:>11} {row['shape'][0]:>4}x{row['shape'][1]:<4}: latent {row['latent_gflop']:8.1f}, "
              f"data {row['data_gflop']:8.1f} GFLOP per state: {row['ratio']:.1f} x")
    print(f"\nsampling, {r['sampler']} with {r['steps']} steps, batch {r['batch']} (seconds per state):")
    for space, s in r["sample_s_per_state"].items():
        print(f"  {space:>6}: {s:.4f}")
    print(f"training (seconds per step, batch {r['batch']}):")
    for name, s in r["train_s_per_step"].items():
        print(f"  {name:>22}: {s:.4f}")
    for name, ratio in r["ratios"].items():
        print(f"ratio {name}: {ratio:.1f} x   (the paper reports about 25 x)")
    if "quality_vs_steps" in r:
        _print_quality(r)


def _print_quality(r: dict[str, Any]) -> None:
    rows = r["quality_vs_steps"]
    print(f"\nquality vs steps (censored, all seasons with {rows[0]['all_seasons']}; fair CRPS vs 32 test states; "
          "rel. = geometric mean over variables of CRPS / the space's best):")
    print(f"  {'space':>6} {'sampler':>8} {'NFE':>4} {'steps':>5} {'seconds':>8} {'CRPS sic':>9} {'CRPS sit':>9} "
          f"{'rel.':>6}")
    for row in rows:
        print(f"  {row['space']:>6} {row['sampler']:>8} {row['nfe']:>4} {row['steps']:>5} {row['seconds']:>8.2f} "
              f"{row['crps'].get('sic', float('nan')):>9.4f} {row['crps'].get('sit', float('nan')):>9.4f} "
              f"{row['relative_crps']:>6.3f}")
    equal = r.get("flops_equal_quality")
    if equal is not None:
        print(f"at equal quality ({r['sampler']}, each space within 5 % of its own best CRPS): latent "
              f"{equal['latent']['nfe']} NFE, {equal['latent']['gflop_per_state']:.1f} GFLOP; data "
              f"{equal['data']['nfe']} NFE, {equal['data']['gflop_per_state']:.1f} GFLOP: "
              f"{equal['ratio data / latent']:.1f} x")
    best = r["recommended"]
    print(f"cheapest setting within 5% of the best CRPS in both spaces: {best['sampler']} with {best['steps']} "
          f"steps ({best['nfe']} network evaluations)")
