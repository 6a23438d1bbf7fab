"""Convolutional VAE that maps normalised sea-ice fields to a latent space and back.

The encoder sees the land mask as an extra channel; the decoder sees the mask twice, average-pooled
to the latent resolution next to ``z`` and at full resolution before its last convolutions, so
coastlines come out sharp. The decoder's likelihood is either a Gaussian or a Gaussian censored to
the physical bounds of each variable (Finn et al. 2024, following the Tobit model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seaice_ldm.options import DECODERS
from seaice_ldm.models.latent import latent_mask
from seaice_ldm.models.layers import Downsample, ResBlock, Upsample, expand_mask, group_norm
from seaice_ldm.models.likelihoods import (
    censor,
    censored_gaussian_nll,
    gaussian_nll,
    past_bound_penalty,
    sample_decoder,
)


BOUND_PENALTIES = ("squared", "linear")


@dataclass
class VAEConfig:
    """Architecture and loss settings of the VAE."""

    in_channels: int = 5
    latent_channels: int = 8
    channels: tuple[int, ...] = (32, 64, 128)
    blocks_per_level: int = 1
    decoder: str = "censored"
    kl_weight: float = 1e-3
    init_log_scale: float = -1.0
    # "variable": one learned scale per variable; "cell": the decoder predicts a log-scale for every cell
    scale: str = "variable"
    # > 0: the decoder's mean is fitted as if every scale were this fixed value (normalised units), and the
    # scales are fitted by their own likelihood with the mean held fixed (docs/DESIGN.md, "The autoencoder");
    # 0: mean and scales are fitted together by one likelihood; a list gives one value per variable, in the
    # data's variable order (what a checkpoint stores; configs name variables in fit_scale_by_variable)
    fit_scale: float | tuple[float, ...] = 0.0
    # fixed scales for named variables instead of fit_scale, e.g. {sic = 0.025}: a smaller one weighs that
    # variable's errors more (training resolves it into fit_scale's list for the data's variables)
    fit_scale_by_variable: dict[str, float] = field(default_factory=dict)
    # > 0 (censored decoder with fit_scale): a squared penalty on a mean more than this many fit scales past the
    # bound of an observation at that bound (docs/DESIGN.md, "The autoencoder"); 0: the Tobit tail term alone
    bound_margin: float = 0.0
    # how that penalty grows past the margin: "squared", or "linear" (a pull of constant strength)
    bound_penalty: str = "squared"

    def __post_init__(self):
        self.channels = tuple(self.channels)
        if not self.channels:
            raise ValueError("VAEConfig.channels must name at least one level")
        if self.decoder not in DECODERS:
            raise ValueError(f"VAEConfig.decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.scale not in VAE_SCALES:
            raise ValueError(f"VAEConfig.scale must be one of {VAE_SCALES}, got {self.scale!r}")
        if isinstance(self.fit_scale, (list, tuple)):
            self.fit_scale = tuple(self.fit_scale)
            if not all(isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in self.fit_scale):
                raise ValueError(f"VAEConfig.fit_scale: every value of a list must be a finite number > 0, "
                                 f"got {list(self.fit_scale)}")
            if self.in_channels > 0 and len(self.fit_scale) != self.in_channels:  # 0: set from the data later
                raise ValueError(f"VAEConfig.fit_scale lists {len(self.fit_scale)} values for {self.in_channels} "
                                 "variables; give one per variable, in the data's order, or a single number")
        elif not (isinstance(self.fit_scale, (int, float)) and self.fit_scale >= 0 and math.isfinite(self.fit_scale)):
            raise ValueError(f"VAEConfig.fit_scale must be a finite number >= 0 or a list of them, got "
                             f"{self.fit_scale!r}")
        by_variable = self.fit_scale_by_variable
        if not isinstance(by_variable, dict) or not all(
                isinstance(v, (int, float)) and v > 0 and math.isfinite(v) for v in by_variable.values()):
            raise ValueError("VAEConfig.fit_scale_by_variable must map variable names to finite numbers > 0, got "
                             f"{by_variable!r}")
        if by_variable and not self.fit_scale:
            raise ValueError("VAEConfig.fit_scale_by_variable needs fit_scale > 0, the scale of the other variables")
        if not (self.bound_margin >= 0 and math.isfinite(self.bound_margin)):
            raise ValueError(f"VAEConfig.bound_margin must be a finite number >= 0, got {self.bound_margin!r}")
        if self.bound_penalty not in BOUND_PENALTIES:
            raise ValueError(f"VAEConfig.bound_penalty must be one of {BOUND_PENALTIES}, got {self.bound_penalty!r}")
        if self.bound_margin and (self.decoder != "censored" or not self.fit_scale):
            raise ValueError("VAEConfig.bound_margin applies to the censored decoder's mean fitted at a fixed scale: "
                             f"set decoder = \"censored\" and fit_scale > 0 (got decoder {self.decoder!r}, "
                             f"fit_scale {self.fit_scale!r})")

    @property
    def fit_scales(self) -> tuple[float, ...]:
        """The fixed scale of each variable's mean fit, or ``()`` when mean and scales are fitted together."""
        if isinstance(self.fit_scale, tuple):
            return tuple(float(v) for v in self.fit_scale)
        return (float(self.fit_scale),) * self.in_channels if self.fit_scale else ()

    @property
    def decoder_outputs(self) -> int:
        """Channels of the decoder's head: the means, and a log-scale per variable when ``scale = "cell"``."""
        return self.in_channels * (2 if self.scale == "cell" else 1)

    @property
    def downsampling_factor(self) -> int:
        """Ratio of data to latent resolution: one factor 2 per level below the first."""
        return 2 ** (len(self.channels) - 1)


def kl_standard_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """Elementwise KL(N(mean, exp(logvar)) || N(0, 1))."""
    # KL = 0.5 (mu^2 + sigma^2 - 1 - ln sigma^2)  (Kingma & Welling 2014, appendix B)
    return 0.5 * (mean.square() + torch.exp(logvar) - 1.0 - logvar)


#: The decoder's scale: one learned per variable, or predicted by the decoder for every cell.
VAE_SCALES = ("variable", "cell")
LOG_SCALE_MIN, LOG_SCALE_MAX = -9.0, 3.0  # a per-cell log-scale's range (normalised units)


class _Encoder(nn.Module):
    """(x, mask) at full resolution -> (mean, logvar) of q(z | x) at latent resolution."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = cfg.channels
        self.conv_in = nn.Conv2d(cfg.in_channels + 1, ch[0], 3, padding=1)
        blocks, c = [], ch[0]
        for level, c_level in enumerate(ch):
            for _ in range(cfg.blocks_per_level):
                blocks.append(ResBlock(c, c_level))
                c = c_level
            if level < len(ch) - 1:
                blocks.append(Downsample(c))
        blocks.append(ResBlock(c, c))
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = group_norm(c)
        self.conv_out = nn.Conv2d(c, 2 * cfg.latent_channels, 3, padding=1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Return the posterior parameters stacked along channels: ``(B, 2 * latent, h, w)``."""
        h = self.blocks(self.conv_in(torch.cat([x, mask], dim=1)))
        return self.conv_out(F.silu(self.norm_out(h)))


class _Decoder(nn.Module):
    """(z, pooled mask, full mask) -> decoder mean mu at full resolution."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = cfg.channels
        c = ch[-1]
        self.conv_in = nn.Conv2d(cfg.latent_channels + 1, c, 3, padding=1)
        blocks = [ResBlock(c, c)]
        for level in reversed(range(len(ch))):
            for _ in range(cfg.blocks_per_level):
                blocks.append(ResBlock(c, ch[level]))
                c = ch[level]
            if level > 0:
                blocks.append(Upsample(c))
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = group_norm(c)
        self.head = nn.Sequential(
            nn.Conv2d(c + 1, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, cfg.decoder_outputs, 3, padding=1),
        )

    def forward(self, z: Tensor, mask_latent: Tensor, mask: Tensor) -> Tensor:
        """Decode to the head's outputs (:attr:`VAEConfig.decoder_outputs`); the full-resolution mask enters
        just before the last convolutions."""
        h = self.blocks(self.conv_in(torch.cat([z, mask_latent], dim=1)))
        h = F.silu(self.norm_out(h))
        return self.head(torch.cat([h, mask], dim=1))


class VAE(nn.Module):
    """VAE with a Gaussian or censored-Gaussian decoder and a learned scale per variable.

    Args:
        cfg: architecture and loss settings.
        lower, upper: per-variable bounds ``(C,)`` in normalised units, ``-inf`` / ``+inf`` where
            unbounded. They are non-persistent buffers: they come from the normalisation statistics
            when a model is loaded, not from its weights.
    """

    def __init__(self, cfg: VAEConfig, lower: Tensor, upper: Tensor):
        super().__init__()
        lower = torch.as_tensor(lower, dtype=torch.float32).reshape(-1)
        upper = torch.as_tensor(upper, dtype=torch.float32).reshape(-1)
        if lower.shape != (cfg.in_channels,) or upper.shape != (cfg.in_channels,):
            raise ValueError(
                f"lower and upper must have shape ({cfg.in_channels},), "
                f"got {tuple(lower.shape)} and {tuple(upper.shape)}"
            )
        if torch.any(lower > upper):
            raise ValueError(f"lower bounds exceed upper: {lower.tolist()}, {upper.tolist()}")
        if cfg.fit_scales and len(cfg.fit_scales) != cfg.in_channels:
            raise ValueError(f"fit_scale lists {len(cfg.fit_scales)} values for {cfg.in_channels} variables")
        self.cfg = cfg
        self.register_buffer("lower", lower, persistent=False)
        self.register_buffer("upper", upper, persistent=False)
        self.log_scale = nn.Parameter(torch.full((cfg.in_channels,), float(cfg.init_log_scale)))
        self.encoder = _Encoder(cfg)
        self.decoder = _Decoder(cfg)

    @property
    def censored(self) -> bool:
        """Whether the decoder likelihood is the censored Gaussian."""
        return self.cfg.decoder == "censored"

    @property
    def downsampling_factor(self) -> int:
        """Ratio of data to latent resolution."""
        return self.cfg.downsampling_factor

    def _check_size(self, height: int, width: int) -> None:
        """Raise if the data size is not a multiple of the downsampling factor."""
        f = self.downsampling_factor
        if height % f or width % f:
            raise ValueError(
                f"input size {height}x{width} is not divisible by the VAE's downsampling factor {f}"
            )

    def encode(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior ``q(z | x)``: ``(mean, logvar)``, each ``(B, latent, H/f, W/f)``.

        Land cells of ``x`` (``mask == 0``) are ignored, even if they hold NaN.
        """
        self._check_size(*x.shape[-2:])
        mask = expand_mask(mask, x)
        x = torch.where(mask > 0.5, x, torch.zeros_like(x))
        mean, logvar = self.encoder(x, mask).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode_params(self, z: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Decoder mean ``mu`` ``(B, C, H, W)`` and log-scale (per cell ``(B, C, H, W)``, or the learned
        per-variable ``(C,)``) from latents ``z`` and the full-resolution mask."""
        f = self.downsampling_factor
        b, _, h, w = z.shape
        mask = expand_mask(mask, z.new_empty(b, 1, h * f, w * f))
        out = self.decoder(z, latent_mask(mask, f), mask)
        if self.cfg.scale == "cell":
            mu, log_scale = out.chunk(2, dim=1)
            return mu, log_scale.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
        return out, self.log_scale

    def decode(self, z: Tensor, mask: Tensor) -> Tensor:
        """Decoder mean ``mu`` ``(B, C, H, W)`` from latents ``z`` and the full-resolution mask."""
        return self.decode_params(z, mask)[0]

    def point(self, mu: Tensor) -> Tensor:
        """Point output: ``mu`` clipped to the bounds for the censored decoder, ``mu`` otherwise."""
        return censor(mu, self.lower, self.upper) if self.censored else mu

    def sample_output(self, mu: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Random output: a draw from the decoder distribution around ``mu``."""
        return sample_decoder(mu, self.log_scale, self.lower, self.upper, self.censored, generator)

    def nll(self, x: Tensor, mu: Tensor, mask: Tensor, log_scale: Tensor | None = None) -> Tensor:
        """Per-element NLL ``(B, C, H, W)`` of ``x`` under the decoder with ``log_scale`` (default: the
        learned per-variable scales); exactly 0 on land."""
        log_scale = self.log_scale if log_scale is None else log_scale
        ocean = expand_mask(mask, x) > 0.5
        x = torch.where(ocean, x, torch.zeros_like(x))  # NaN-free land, so gradients stay finite
        if self.censored:
            nll = censored_gaussian_nll(x, mu, log_scale, self.lower, self.upper)
        else:
            nll = gaussian_nll(x, mu, log_scale)
        return torch.where(ocean, nll, torch.zeros_like(nll))

    def loss(
        self, x: Tensor, mask: Tensor, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Negative ELBO terms on a batch.

        Returns ``score = nll + kl_weight * kl`` (the negative ELBO with a weighted KL term, which the
        stopping rule watches) with ``nll`` the mean NLL over ocean cells and variables, ``nll_per_var``
        ``(C,)`` the mean over ocean cells per variable, and ``kl`` the mean KL per latent element; and
        ``loss``, what training minimises: ``score`` itself, or with ``fit_scale > 0`` the NLL of the mean
        at that fixed scale plus the NLL of the scales with the mean held fixed (and the KL term).
        ``z`` is drawn by reparameterisation, seeded by ``generator``.
        """
        mask = expand_mask(mask, x)
        mean, logvar = self.encode(x, mask)
        eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        # reparameterisation trick (Kingma & Welling 2014, eq. 10)
        z = mean + torch.exp(0.5 * logvar) * eps
        mu, log_scale = self.decode_params(z, mask)
        n_ocean = (mask > 0.5).sum().clamp(min=1)

        def per_ocean_cell(elementwise: Tensor) -> Tensor:  # (C,): the mean over ocean cells per variable
            return elementwise.sum(dim=(0, 2, 3)) / n_ocean

        def per_var(mu: Tensor, log_scale: Tensor) -> Tensor:
            return per_ocean_cell(self.nll(x, mu, mask, log_scale))

        kl = kl_standard_normal(mean, logvar).mean()
        fit = mu.new_tensor(self.cfg.fit_scales) if self.cfg.fit_scales else None
        nll_per_var = per_var(mu.detach() if fit is not None else mu, log_scale)
        nll = nll_per_var.mean()
        score = nll + self.cfg.kl_weight * kl  # negative ELBO with a weighted KL term
        loss = score
        if fit is not None:  # the mean sees fixed scales: a weighted squared error inside the bounds, tails at them
            loss = loss + per_var(mu, fit.log()).mean()
        if self.cfg.bound_margin:  # ... and a mean far past the bound of an observation at it is pulled back
            past = past_bound_penalty(x, mu, fit, self.cfg.bound_margin, self.lower, self.upper,
                                      self.cfg.bound_penalty)
            loss = loss + per_ocean_cell(torch.where(mask > 0.5, past, torch.zeros_like(past))).mean()
        return {"loss": loss, "score": score, "nll": nll, "kl": kl, "nll_per_var": nll_per_var}

    def reconstruct(self, x: Tensor, mask: Tensor) -> Tensor:
        """Point reconstruction of ``x`` from the posterior mean."""
        mean, _ = self.encode(x, mask)
        return self.point(self.decode(mean, mask))


class VAELoss(nn.Module):
    """The VAE as the training loop's loss module: its negative ELBO (:meth:`VAE.loss`)."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.model = vae

    def forward(self, x: Tensor, mask: Tensor, day_of_year: Tensor | None = None) -> dict[str, Tensor]:
        return self.model.loss(x, mask)
