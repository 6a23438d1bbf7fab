"""Cost counted in floating-point operations (machine-independent), beside the seconds of the benchmark.

FLOPs are counted, not estimated: :class:`torch.utils.flop_counter.FlopCounterMode` records every matrix
multiply and convolution of a forward pass (2 FLOPs per multiply-add). Attention runs through PyTorch's
math backend while counting, so its matrix products are counted too (the fused CPU kernels are not).
Per generated state, a diffusion model costs its network evaluations (NFE) times one forward pass, a
latent model adds one pass of the VAE decoder, and the refined latent path the refiner's evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import VAE, VAEConfig
from seaice_ldm.diffusion.samplers import evaluations
from seaice_ldm.options import REFINE_EVALUATIONS


def count_flops(fn, *args) -> int:
    """FLOPs of ``fn(*args)`` (no gradients; attention counted through the math backend)."""
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters())


def unet_flops(net: UNet, height: int, width: int) -> int:
    """FLOPs of one evaluation of ``net`` on one state of ``height x width`` (a date condition included
    when the network takes one)."""
    cfg = net.cfg
    like = next(net.parameters())
    x = like.new_zeros(1, cfg.in_channels, height, width)
    mask = like.new_ones(1, 1, height, width)
    doy = like.new_zeros(1) if cfg.date_conditioning else None
    return count_flops(net, x, like.new_zeros(1), mask, doy)


def decoder_flops(vae: VAE, height: int, width: int) -> int:
    """FLOPs of decoding one latent state into ``height x width`` fields."""
    f = vae.downsampling_factor
    like = next(vae.parameters())
    z = like.new_zeros(1, vae.cfg.latent_channels, height // f, width // f)
    return count_flops(vae.decode, z, like.new_ones(1, 1, height, width))


@dataclass(frozen=True)
class GenerationCost:
    """FLOPs to generate one state: ``nfe`` network evaluations plus one decoding (latent models)."""

    network_flops: int  # one evaluation of the denoiser's network
    decoder_flops: int  # 0 for data-space models
    nfe: int

    @property
    def total(self) -> int:
        # cost per state = NFE x network + decoder
        return self.nfe * self.network_flops + self.decoder_flops


def generation_cost(net: UNet, height: int, width: int, sampler: str, steps: int, vae: VAE | None = None,
                    guidance: bool = False) -> GenerationCost:
    """Cost of one state of ``height x width`` fields sampled with ``steps`` steps of ``sampler``;
    classifier-free ``guidance`` evaluates the network twice per step."""
    factor = vae.downsampling_factor if vae is not None else 1
    net_flops = unet_flops(net, height // factor, width // factor) * (2 if guidance else 1)
    dec = decoder_flops(vae, height, width) if vae is not None else 0
    return GenerationCost(net_flops, dec, evaluations(sampler, steps))


def refiner_cost(net: UNet, height: int, width: int) -> int:
    """FLOPs of the refiner's pass over one state: its network evaluations on the full grid."""
    return REFINE_EVALUATIONS * unet_flops(net, height, width)  # cost = NFE x network


def flop_ratio_by_grid(latent_unet: UNetConfig, data_unet: UNetConfig, vae: VAEConfig,
                       shapes: dict[str, tuple[int, int]], sampler: str, steps: int) -> dict[str, dict]:
    """Data-space / latent FLOPs per generated state on each grid of ``shapes`` (name -> (ny, nx)), with
    untrained networks of the shipped architectures (the count does not depend on the weights)."""
    bounds = torch.full((vae.in_channels,), float("inf"))
    vae_net = VAE(vae, -bounds, bounds)
    ldm, ddm = UNet(latent_unet), UNet(data_unet)
    out = {}
    for name, (ny, nx) in shapes.items():
        lat = generation_cost(ldm, ny, nx, sampler, steps, vae_net)
        dat = generation_cost(ddm, ny, nx, sampler, steps)
        out[name] = {"shape": [ny, nx], "latent_gflop": lat.total / 1e9, "data_gflop": dat.total / 1e9,
                     "decoder_gflop": lat.decoder_flops / 1e9, "ratio": dat.total / lat.total}
    return out
