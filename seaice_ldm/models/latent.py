"""The latent space the diffusion model sees: the ocean mask at latent resolution and per-channel whitening.

The VAE's posterior means have channels of very different scales; the latent diffusion model is trained
on them whitened per channel (``sigma_data = 1``), with the mean and standard deviation of the training
latents stored in its checkpoint as ``latent_stats = {"mean": [...], "std": [...]}`` (one value per
channel). Sampling undoes the whitening before the VAE decodes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

LatentStats = dict[str, list[float]]


def latent_mask(mask: Tensor, factor: int) -> Tensor:
    """Ocean fraction of each latent cell (the mask channel of the latent U-Net)."""
    return F.avg_pool2d(mask, factor)


def latent_stats(z: Tensor) -> LatentStats:
    """Per-channel mean and standard deviation of latents ``(N, C, h, w)`` over states and cells."""
    return {"mean": z.mean(dim=(0, 2, 3)).tolist(), "std": z.std(dim=(0, 2, 3)).tolist()}


def _per_channel(values: list[float], like: Tensor) -> Tensor:
    return torch.tensor(values, dtype=torch.float32, device=like.device).view(1, -1, 1, 1)


def whiten(z: Tensor, stats: LatentStats) -> Tensor:
    """Latents as the diffusion model sees them."""
    # z_w = (z - mean_c) / std_c
    return (z - _per_channel(stats["mean"], z)) / _per_channel(stats["std"], z)


def unwhiten(z: Tensor, stats: LatentStats) -> Tensor:
    """Inverse of :func:`whiten`: latents as the VAE decodes them."""
    # z = z_w std_c + mean_c
    return z * _per_channel(stats["std"], z) + _per_channel(stats["mean"], z)
