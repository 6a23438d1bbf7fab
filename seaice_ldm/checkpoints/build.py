"""Rebuild networks from a checkpoint's ``config.json`` and load their weights, with clear checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seaice_ldm.data import NormStats, normalised_bounds
from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import VAE, VAEConfig
from seaice_ldm.checkpoints.format import CheckpointError, load_into, load_weights, read_meta


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def model_id(meta: dict[str, Any]) -> str:
    """Identity of trained weights: the run and its step (kept when weights are cast for shipping)."""
    return f"{meta['run_id']}@{meta['step']}"


def bounds_tensors(stats: NormStats) -> tuple[torch.Tensor, torch.Tensor]:
    lower, upper = normalised_bounds(stats)
    return torch.as_tensor(lower, dtype=torch.float32), torch.as_tensor(upper, dtype=torch.float32)


def build_vae(meta: dict[str, Any]) -> VAE:
    cfg = VAEConfig(**_tuples(meta["config"]["vae"]))
    return VAE(cfg, *bounds_tensors(NormStats.from_dict(meta["norm_stats"])))


def build_precond(meta: dict[str, Any]) -> EDMPrecond:
    net = UNet(UNetConfig(**_tuples(meta["config"]["unet"])))
    return EDMPrecond(net, sigma_data=meta["config"]["diffusion"]["sigma_data"])


@dataclass
class Loaded:
    """A network with its checkpoint metadata."""

    module: torch.nn.Module
    meta: dict[str, Any]
    path: Path

    @property
    def stats(self) -> NormStats:
        return NormStats.from_dict(self.meta["norm_stats"])


def load_model(path: str | Path, kind: str, device: torch.device | str = "cpu", weights: str = "ema") -> Loaded:
    """Load a ``vae`` or ``diffusion`` checkpoint folder onto ``device`` in eval mode."""
    path = Path(path)
    meta = read_meta(path)
    if meta.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path} holds a {meta.get('kind')!r} model, expected {kind!r}")
    try:
        module = build_vae(meta) if kind == "vae" else build_precond(meta)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: config.json does not describe a valid {kind} ({err})") from None
    load_into(module, load_weights(path, weights, meta), str(path))
    return Loaded(module.to(device).eval().requires_grad_(False), meta, path)


def check_pair(vae: Loaded, diffusion: Loaded) -> None:
    """A latent diffusion model only makes sense with the very VAE whose latents it learnt."""
    expected = diffusion.meta.get("vae", {}).get("model_id")
    if diffusion.meta.get("space") != "latent":
        raise CheckpointError(f"{diffusion.path} is a {diffusion.meta.get('space')}-space model, not latent")
    if expected != model_id(vae.meta):
        raise CheckpointError(
            f"latent diffusion checkpoint {diffusion.path} was trained on the latents of VAE {expected}, "
            f"but {vae.path} is VAE {model_id(vae.meta)}; load the matching VAE"
        )
