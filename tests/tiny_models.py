"""Tiny untrained generators (random weights) for tests of the sampling machinery: a data-space model and a
latent model with its VAE, on a 16 x 16 grid with a corner of land. Weights are random but not zero (the
zero-initialised output layers would make every network the identity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seaice_ldm.checkpoints.build import TrainedModel, bounds_tensors
from seaice_ldm.checkpoints.generators import TrainedGenerator
from seaice_ldm.data import Grid, NormStats
from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import VAE, VAEConfig
from seaice_ldm.options import generator_for

GRID = Grid("custom", 16, 16, 50_000.0)
STATS = NormStats(("sit", "sic"), (1.0, 0.5), (1.0, 0.4))


def ocean() -> np.ndarray:
    sea = np.ones(GRID.shape, bool)
    sea[:4, :5] = False
    return sea


def _randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module.eval().requires_grad_(False)


def _meta(space: str, **extra) -> dict:
    return {"space": space, "norm_stats": STATS.to_dict(), "grid": {"name": "custom", "nx": 16, "ny": 16,
            "dx": 50_000.0}, "config": {"diffusion": {"sigma_max": 20.0}}, **extra}


def unet(channels: int, date_conditioning: bool = False, attention: tuple[int, ...] = (1,)) -> UNet:
    return UNet(UNetConfig(channels, channels, (8, 16), 1, attention, date_conditioning=date_conditioning))


def data_generator(date_conditioning: bool = False, seed: int = 0) -> TrainedGenerator:
    precond = _randomise(EDMPrecond(unet(2, date_conditioning)), seed)
    return TrainedGenerator(generator_for("data", "censored"), TrainedModel(precond, _meta("data"), Path("ddm")))


def latent_generator(decoder: str = "censored", seed: int = 0) -> TrainedGenerator:
    vae = _randomise(VAE(VAEConfig(in_channels=2, latent_channels=3, channels=(8, 16), decoder=decoder),
                         *bounds_tensors(STATS)), seed + 1)
    precond = _randomise(EDMPrecond(unet(3)), seed)
    meta = _meta("latent", latent_stats={"mean": [0.1, -0.2, 0.0], "std": [1.5, 0.5, 1.0]})
    return TrainedGenerator(generator_for("latent", decoder), TrainedModel(precond, meta, Path(f"ldm_{decoder}")),
                            TrainedModel(vae, _meta("vae"), Path(f"vae_{decoder}")))


def refiner(seed: int = 7, variables: tuple[str, ...] = ()) -> TrainedModel:
    """A data-space refiner (``[diffusion] refiner = true``), starting from sigma 2.5, redrawing ``variables``
    (all when empty)."""
    meta = {**_meta("data"), "config": {"diffusion": {"sigma_max": 2.5, "refiner": True,
                                                      "refine_variables": list(variables)}}}
    return TrainedModel(_randomise(EDMPrecond(unet(2, attention=())), seed), meta, Path("refiner"))


def mask(device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.from_numpy(ocean().astype(np.float32))[None, None].to(device)
