"""Sampling one generator's ensemble, as free functions (in the spirit of EDM's ``generate.py``).

- Noise per member: member i's noise, the initial draw and any a stochastic sampler adds, comes from its
  own seed (:meth:`SampleRequest.member_seeds`), drawn on the CPU so that a seed names the same noise on
  every device. An ensemble therefore never depends on the batch size.
- The denoiser the sampler sees is a closure over one batch's mask, dates and guidance scale.
- Batches adapt to memory: a batch that runs out of device memory is halved and sampled again (the
  per-member seeds make the result the same).
- The diffusion model runs in the resolved precision (bf16 autocast or float32); latents are decoded by
  the VAE in float32, whatever the sampler's precision.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from seaice_ldm.checkpoints.build import TrainedModel, bounds_tensors
from seaice_ldm.checkpoints.generators import TrainedGenerator
from seaice_ldm.diffusion.samplers import Denoiser, get_sampler
from seaice_ldm.diffusion.sdedit import redrawn_channels, sdedit
from seaice_ldm.diffusion.schedules import RHO, SIGMA_MIN, karras_sigmas
from seaice_ldm.models.device import autocast, free_cached_memory, is_out_of_memory
from seaice_ldm.models.latent import latent_mask, unwhiten
from seaice_ldm.options import REFINE_EVALUATIONS, REFINE_RHO, REFINE_SIGMA_MIN, SampleRequest

Progress = Callable[[dict], None] | None
#: First batch size tried on the CPU (latent, data space): larger batches gain nothing on a few cores.
#: On a GPU the first batch is the whole ensemble, halved while it does not fit.
CPU_BATCH = {"latent": 32, "data": 8}


class MemberNoise:
    """Standard normal noise for a batch of members, each member's from its own generator."""

    def __init__(self, seeds: Sequence[int], device: torch.device) -> None:
        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.device = device

    def randn(self, shape: Sequence[int]) -> Tensor:
        """``(members, *shape)`` float32 on the device: one draw of ``shape`` from each member's generator."""
        draws = [torch.randn(tuple(shape), generator=g) for g in self.generators]
        return torch.stack(draws).to(self.device)

    def randn_like(self, x: Tensor) -> Tensor:
        """Noise shaped like ``x`` (one row per member), in its dtype."""
        if x.shape[0] != len(self.generators):
            raise ValueError(f"noise for {len(self.generators)} members asked for a batch of {x.shape[0]}")
        return self.randn(x.shape[1:]).to(dtype=x.dtype)


def guided_denoiser(precond: torch.nn.Module, mask: Tensor, days: Tensor | None, guidance: float) -> Denoiser:
    """``D(x; sigma)`` of one batch with its ocean ``mask`` and its members' ``days`` (None: unconditional)
    bound in; with days and ``guidance != 1``, classifier-free guidance, both halves in one network call."""
    if days is None:
        return lambda x, sigma: precond(x, sigma, mask)
    if guidance == 1.0:
        return lambda x, sigma: precond(x, sigma, mask, days)
    masks, dates = torch.cat([mask, mask]), torch.cat([days, torch.full_like(days, float("nan"))])  # NaN: dropped

    def denoise(x: Tensor, sigma: Tensor) -> Tensor:
        cond, uncond = precond(torch.cat([x, x]), torch.cat([sigma, sigma]), masks, dates).chunk(2)
        return uncond + guidance * (cond - uncond)  # D = D_u + w (D_c - D_u)  (Ho & Salimans 2022, eq. 6)

    return denoise


def decode(generator: TrainedGenerator, x: Tensor, mask: Tensor) -> Tensor:
    """Normalised fields ``(B, C, H, W)`` float32 of the sampler's output ``x``: the VAE decoder's mean in
    float32 in latent space (before any censoring), ``x`` itself in data space."""
    if generator.vae is None:
        return x.float()
    z = unwhiten(x.float().contiguous(), generator.diffusion.meta["latent_stats"])
    with torch.autocast(z.device.type, enabled=False):
        return generator.vae.module.decode(z, mask.expand(len(z), -1, -1, -1)).float()


@torch.no_grad()
def sample_batch(generator: TrainedGenerator, request: SampleRequest, noise: MemberNoise, days: Tensor | None,
                 mask: Tensor, precision: str, callback: Progress = None, **sampler_options) -> Tensor:
    """One batch of members (as many as ``noise`` has): normalised fields on the device, float32.

    ``mask``: the ocean mask ``(1, 1, H, W)`` at full resolution on the device.
    """
    precond = generator.diffusion.module
    net_mask = latent_mask(mask, generator.vae.module.downsampling_factor) if generator.vae is not None else mask
    n = len(noise.generators)
    net_mask = net_mask.expand(n, -1, -1, -1)
    sigmas = karras_sigmas(request.steps, SIGMA_MIN, generator.sigma_max, RHO).to(noise.device)
    x = noise.randn((precond.net.cfg.in_channels, *net_mask.shape[-2:])) * sigmas[0]
    if next(precond.parameters()).is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)  # the format the network was put in
    sampler = get_sampler(request.sampler)
    if sampler.stochastic:
        sampler_options = {"randn_like": noise.randn_like, **sampler_options}
    with autocast(noise.device, precision):
        x = sampler.fn(guided_denoiser(precond, net_mask, days, request.guidance), x, sigmas, callback=callback,
                       **sampler_options)
    return decode(generator, x, mask)


def refine_level(refiner: TrainedModel) -> float:
    """The noise level a refiner's pass starts from: the highest it was trained on."""
    return float(refiner.meta["config"]["diffusion"]["sigma_max"])


def refined_names(meta: dict) -> tuple[str, ...]:
    """The variables a refiner redraws, from its checkpoint's ``meta`` (the others are its condition, left as
    they are)."""
    return tuple(meta["config"]["diffusion"].get("refine_variables") or meta["norm_stats"]["names"])


def refiner_pass(refiner: TrainedModel) -> str:
    """The refiner's pass in words (recorded in every refined output)."""
    redrawn = refined_names(refiner.meta)
    edge = "; sic kept as given where there is no thickness" if holds_ice_edge(refiner.stats.names, redrawn) else ""
    return (f"SDEdit of {', '.join(redrawn)} from sigma {refine_level(refiner):g} (normalised units), "
            f"DPM-Solver++(2M), {REFINE_EVALUATIONS} evaluations to sigma {REFINE_SIGMA_MIN:g} (Karras levels, rho "
            f"{REFINE_RHO:g}){edge}")


def holds_ice_edge(names: tuple[str, ...], redrawn: tuple[str, ...]) -> bool:
    """Whether a pass that redraws ``redrawn`` keeps the given concentration where there is no thickness: it
    does when it redraws ``sic`` but holds ``sit`` (else ice redrawn beyond the given edge has no thickness)."""
    return "sic" in redrawn and "sit" in names and "sit" not in redrawn


@torch.no_grad()
def refine_batch(refiner: TrainedModel, x: Tensor, noise: MemberNoise, mask: Tensor, precision: str,
                 rho: float = REFINE_RHO) -> Tensor:
    """The refiner's SDEdit pass over one batch of decoded states ``x`` (normalised, float32, on the device),
    first put in the form of its training states (clipped to the physical bounds, land 0); each member's
    noise from its own generator, after the sampler's; only the variables it redraws move, and a redrawn
    concentration stays as given where the given state has no thickness (:func:`holds_ice_edge`). ``rho``: of the
    pass's noise levels (a probe's choice; the product's is :data:`~seaice_ldm.options.REFINE_RHO`). Returns float32."""
    lower, upper = (b.to(x.device)[:, None, None] for b in bounds_tensors(refiner.stats))
    ocean = mask.expand(len(x), -1, -1, -1)
    x = torch.clamp(x, lower, upper) * ocean
    precond, names, redrawn = refiner.module, refiner.stats.names, refined_names(refiner.meta)
    with autocast(x.device, precision):
        out = sdedit(lambda y, sigma: precond(y, sigma, ocean), x, noise.randn_like(x), refine_level(refiner),
                     REFINE_EVALUATIONS, REFINE_SIGMA_MIN, redrawn_channels(redrawn, names), rho).float()
    if holds_ice_edge(names, redrawn):
        sic, sit = names.index("sic"), names.index("sit")
        out[:, sic] = torch.where(x[:, sit] <= lower[sit], x[:, sic], out[:, sic])  # no thickness: sic as given
    return out


def first_batch(device: torch.device, space: str, members: int) -> int:
    """The batch size tried first (see :data:`CPU_BATCH`)."""
    return members if device.type != "cpu" else min(members, CPU_BATCH[space])


def generate(generator: TrainedGenerator, request: SampleRequest, mask: Tensor, precision: str = "float32",
             batch_size: int | None = None, callback: Progress = None, refiner: TrainedModel | None = None,
             **sampler_options) -> Tensor:
    """The ensemble of ``request`` from ``generator``: normalised fields ``(members, C, H, W)`` float32 on the
    CPU, before any censoring. ``mask`` (full resolution, on the device) says where the models run.
    ``request.refine``: each batch then passes through ``refiner`` (:func:`refine_batch`).

    ``batch_size``: the largest batch (default :func:`first_batch`); a batch that runs out of memory is halved.
    ``callback`` gets ``{"batch", "batches", "i", "n"}`` after every sampler step. ``sampler_options`` go to the
    sampler function (e.g. ``churn`` for Heun).
    """
    device = mask.device
    if request.refine and refiner is None:
        raise ValueError("request.refine needs the refiner (a data-space model trained as one)")
    seeds, days = request.member_seeds(), request.days_of_year()
    batch = min(batch_size or first_batch(device, generator.space, request.members), request.members)
    outputs: list[Tensor] = []
    while (start := sum(len(o) for o in outputs)) < request.members:
        n = min(batch, request.members - start)
        index, batches = len(outputs), len(outputs) + math.ceil((request.members - start) / batch)

        def progress(info: dict, index: int = index, batches: int = batches) -> None:
            if callback is not None:
                callback({"batch": index, "batches": batches, "i": info["i"], "n": info["n"]})

        batch_days = None if days is None else torch.as_tensor(
            np.asarray(days[start:start + n]), dtype=torch.float32).to(device)
        try:
            noise = MemberNoise(seeds[start:start + n], device)
            x = sample_batch(generator, request, noise, batch_days, mask, precision, progress, **sampler_options)
            if request.refine:
                x = refine_batch(refiner, x, noise, mask, precision)
        except Exception as err:
            if batch == 1 or not is_out_of_memory(err):
                raise
            batch //= 2  # the same members again, from their own seeds, in smaller batches
            free_cached_memory(device)
            continue
        outputs.append(x.cpu())
    return torch.cat(outputs)
