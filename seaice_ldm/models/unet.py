"""U-Net denoiser backbone, used both on VAE latents and directly on data.

The network is a plain function F(x, c_noise, mask); the diffusion maths (preconditioning) lives in
``seaice_ldm.diffusion.precond``. The noise level enters through a sinusoidal embedding and an MLP,
and modulates every residual block (FiLM); self-attention runs at the chosen levels and in the
middle block; the land mask is an extra input channel. Optionally the day of the year conditions the
network too (date-conditioned generation): its sine and cosine enter the same embedding as the noise
level through a bias-free MLP, so a missing date (NaN) contributes exactly nothing and the same weights
serve unconditional sampling (classifier-free guidance, Ho & Salimans 2022).

With ``margin > 0`` the network runs on its grid embedded in a ring of land (fields 0, mask 0) that many
cells wide and crops its output back: a cell at the grid's edge then has the neighbours a coastal cell
has at every layer, instead of the zero padding of every convolution (which, in data space, let the
input noise of the outermost ring through to the output as isolated specks of ice; docs/DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seaice_ldm.models.layers import (
    Downsample,
    NoiseEmbedding,
    ResBlock,
    SelfAttention,
    Upsample,
    expand_mask,
    group_norm,
)
from seaice_ldm.options import DAYS_PER_YEAR


@dataclass
class UNetConfig:
    """U-Net architecture. Level ``i`` runs at resolution ``H / 2**i`` with ``channels[i]``."""

    in_channels: int
    out_channels: int
    channels: tuple[int, ...] = (64, 128, 256)
    blocks_per_level: int = 2
    attention_levels: tuple[int, ...] = (2,)
    emb_channels: int | None = None
    dropout: float = 0.0
    mask_channel: bool = True
    date_conditioning: bool = False
    margin: int = 0  # cells of land around the grid inside the network (0: plain zero padding)

    def __post_init__(self):
        self.channels = tuple(self.channels)
        self.attention_levels = tuple(self.attention_levels)
        if not self.channels:
            raise ValueError("UNetConfig.channels must name at least one level")
        bad = [a for a in self.attention_levels if not 0 <= a < len(self.channels)]
        if bad:
            raise ValueError(f"attention_levels {bad} outside levels 0..{len(self.channels) - 1}")
        if self.emb_channels is None:
            self.emb_channels = 4 * self.channels[0]
        if self.margin < 0:
            raise ValueError(f"UNetConfig.margin must not be negative, got {self.margin}")

    @property
    def downsampling_factor(self) -> int:
        """Input sizes must be divisible by this factor."""
        return 2 ** (len(self.channels) - 1)


def date_features(day_of_year: Tensor) -> Tensor:
    """``(B, 3)`` features of a 0-based day of the year: ``(sin, cos, 1)`` of its annual phase, or zeros
    where the day is NaN (no date: the unconditional model)."""
    phase = 2.0 * math.pi * day_of_year / DAYS_PER_YEAR
    feats = torch.stack([torch.sin(phase), torch.cos(phase), torch.ones_like(phase)], dim=1)
    return torch.where(torch.isnan(day_of_year)[:, None], torch.zeros_like(feats), feats)


class _Level(nn.Module):
    """One residual block, optionally followed by self-attention."""

    def __init__(self, c_in: int, c_out: int, cfg: UNetConfig, attention: bool):
        super().__init__()
        self.res = ResBlock(c_in, c_out, cfg.emb_channels, cfg.dropout)
        self.attn = SelfAttention(c_out) if attention else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        """Apply the conditioned residual block, then attention if enabled."""
        return self.attn(self.res(x, emb))


class UNet(nn.Module):
    """Noise-conditioned U-Net: ``forward(x, c_noise, mask) -> (B, out_channels, H, W)``."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        ch, n_levels = cfg.channels, len(cfg.channels)
        self.embed = NoiseEmbedding(ch[0])
        emb = cfg.emb_channels
        self.emb_mlp = nn.Sequential(nn.Linear(ch[0], emb), nn.SiLU(), nn.Linear(emb, emb))
        # bias-free, so zero features (no date) add exactly zero to the embedding
        self.date_mlp = (
            nn.Sequential(nn.Linear(3, emb, bias=False), nn.SiLU(), nn.Linear(emb, emb, bias=False))
            if cfg.date_conditioning
            else None
        )
        self.conv_in = nn.Conv2d(cfg.in_channels + int(cfg.mask_channel), ch[0], 3, padding=1)

        # Encoder: every block output and every downsampled map becomes a skip connection.
        self.down = nn.ModuleList()
        skips, c = [ch[0]], ch[0]
        for level, c_level in enumerate(ch):
            for _ in range(cfg.blocks_per_level):
                self.down.append(_Level(c, c_level, cfg, level in cfg.attention_levels))
                c = c_level
                skips.append(c)
            if level < n_levels - 1:
                self.down.append(Downsample(c))
                skips.append(c)

        self.mid = nn.ModuleList(
            [_Level(c, c, cfg, attention=True), _Level(c, c, cfg, attention=False)]
        )

        # Decoder: one more block per level than the encoder, each consuming one skip.
        self.up = nn.ModuleList()
        for level in reversed(range(n_levels)):
            for _ in range(cfg.blocks_per_level + 1):
                attention = level in cfg.attention_levels
                self.up.append(_Level(c + skips.pop(), ch[level], cfg, attention))
                c = ch[level]
            if level > 0:
                self.up.append(Upsample(c))

        self.norm_out = group_norm(c)
        self.conv_out = nn.Conv2d(c, cfg.out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # zero output at init (EDM / ADM practice)
        nn.init.zeros_(self.conv_out.bias)

    def forward(
        self, x: Tensor, c_noise: Tensor, mask: Tensor | None = None, day_of_year: Tensor | None = None
    ) -> Tensor:
        """Evaluate the network.

        Args:
            x: input ``(B, in_channels, H, W)``; ``H + 2 margin`` and ``W + 2 margin`` divisible by
                ``cfg.downsampling_factor``.
            c_noise: noise-level conditioning ``(B,)`` or a scalar.
            mask: ``(B or 1, 1, H, W)``, 1 = ocean; required when ``cfg.mask_channel``.
            day_of_year: 0-based day of the year ``(B,)`` or a scalar, NaN for no date; only for a
                date-conditioned network (``None`` = no date).
        """
        f, m = self.cfg.downsampling_factor, self.cfg.margin
        if (x.shape[-2] + 2 * m) % f or (x.shape[-1] + 2 * m) % f:
            grown = f" plus a margin of {m} on each side" if m else ""
            raise ValueError(f"input size {tuple(x.shape[-2:])}{grown} is not divisible by {f}")
        b = x.shape[0]
        c_noise = torch.as_tensor(c_noise, dtype=x.dtype, device=x.device).reshape(-1).expand(b)
        emb = self.emb_mlp(self.embed(c_noise).to(x.dtype))
        if day_of_year is not None:
            if self.date_mlp is None:
                raise ValueError("this U-Net is not date-conditioned: pass day_of_year=None")
            doy = torch.as_tensor(day_of_year, dtype=torch.float32, device=x.device).reshape(-1).expand(b)
            emb = emb + self.date_mlp(date_features(doy).to(emb.dtype))
        if self.cfg.mask_channel:
            if mask is None:
                raise ValueError("this U-Net takes the land mask as an input channel: pass mask")
            x = torch.cat([x, expand_mask(mask, x)], dim=1)
        if m:
            x = F.pad(x, (m, m, m, m))  # the ring of land: fields 0 and mask 0

        h = self.conv_in(x)
        skips = [h]
        for block in self.down:
            h = block(h, emb) if isinstance(block, _Level) else block(h)
            skips.append(h)
        for block in self.mid:
            h = block(h, emb)
        for block in self.up:
            if isinstance(block, _Level):
                h = block(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = block(h)
        out = self.conv_out(F.silu(self.norm_out(h)))
        return out[..., m:out.shape[-2] - m, m:out.shape[-1] - m] if m else out
