"""Building blocks shared by the VAE and the U-Net (ADM / Stable-Diffusion style)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups of at least 4 channels each (fewer for narrow layers)."""
    groups = math.gcd(32, max(1, channels // 4))
    return nn.GroupNorm(groups, channels, eps=1e-6)


class NoiseEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar noise level (e.g. EDM's c_noise = ln(sigma)/4).

    Frequencies are spaced geometrically in ``[1, max_freq]`` so both coarse and fine changes of the
    noise level are resolved; output is ``(B, channels)`` of cosines and sines.
    """

    def __init__(self, channels: int, max_freq: float = 100.0):
        super().__init__()
        if channels % 2:
            raise ValueError(f"embedding channels must be even, got {channels}")
        freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), channels // 2))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, c_noise: Tensor) -> Tensor:
        """Embed ``c_noise`` of shape ``(B,)``."""
        phase = c_noise.to(self.freqs.dtype)[:, None] * self.freqs[None, :]
        return torch.cat([torch.cos(phase), torch.sin(phase)], dim=1)


class ResBlock(nn.Module):
    """Residual block: (norm, SiLU, conv) x 2 with an optional FiLM conditioning on an embedding.

    With ``emb_channels`` set, the embedding gives a per-channel scale and shift applied after the
    second normalisation, ``h = norm(h) * (1 + scale) + shift`` (FiLM, as in ADM).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        emb_channels: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb = (
            nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels))
            if emb_channels is not None
            else None
        )
        self.norm2 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = (
            nn.Conv2d(in_channels, out_channels, 1)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        """Apply the block; ``emb`` ``(B, emb_channels)`` is required iff it is conditioned."""
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.norm2(h)
        if self.emb is not None:
            scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Halve the resolution with a strided 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """Downsample ``x`` by 2 in both spatial dimensions."""
        return self.conv(x)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour interpolation followed by a 3x3 convolution."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """Upsample ``x`` by 2 in both spatial dimensions."""
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class SelfAttention(nn.Module):
    """Multi-head self-attention over the spatial positions of a feature map, with a residual."""

    def __init__(self, channels: int, head_channels: int = 64):
        super().__init__()
        self.heads = max(1, channels // head_channels)
        if channels % self.heads:
            raise ValueError(f"{channels} channels do not split into {self.heads} heads")
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Attend over the ``H * W`` positions of ``x`` ``(B, C, H, W)``."""
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        # (3, B, heads, HW, C/heads) in memory order: q, k and v contiguous, as fused attention kernels want
        q, k, v = qkv.permute(1, 0, 2, 4, 3).contiguous().unbind(dim=0)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


def expand_mask(mask: Tensor, x: Tensor) -> Tensor:
    """Check a mask ``(B or 1, 1, H, W)`` against ``x`` ``(B, C, H, W)``, expand it to batch B."""
    b, _, h, w = x.shape
    if mask.ndim != 4 or mask.shape[0] not in (1, b) or tuple(mask.shape[1:]) != (1, h, w):
        raise ValueError(
            f"mask must have shape ({b} or 1, 1, {h}, {w}) to go with x of shape {tuple(x.shape)}, "
            f"got {tuple(mask.shape)}"
        )
    return mask.to(x.dtype).expand(b, 1, h, w)
