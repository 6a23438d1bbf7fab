"""Does the training noise-level distribution reach the noise levels where the largest-scale mode is decided?

A sampler decides a direction ``u`` of the data when the noise projected on it, of standard deviation
``sigma``, falls to the data's own spread along ``u``. For the leading principal component of gridded
sea ice (the seasonal cycle of the ice cover) that spread is large (about 30 on the default latents),
so the denoiser must be trained at high ``sigma``; EDM's image default ``ln(sigma) ~ N(-1.2, 1.2^2)``
almost never draws such levels and leaves ensembles with too little seasonal spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from seaice_ldm.diffusion.schedules import SIGMA_MAX


def share_of_sigmas_above(sigma: float, p_mean: float, p_std: float) -> float:
    """Share of training noise levels above ``sigma`` when ``ln(sigma) ~ N(p_mean, p_std^2)``."""
    # EDM Table 1: P(s > sigma) = 1 - Phi((ln sigma - P_mean) / P_std) = erfc(z / sqrt 2) / 2
    z = (math.log(sigma) - p_mean) / p_std
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def leading_mode_std(x: Tensor, max_samples: int = 512, seed: int = 0) -> float:
    """Standard deviation of the samples ``x`` ``(N, ...)`` along their leading principal component.

    Uses at most ``max_samples`` samples, drawn without replacement with ``seed``.
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"need at least two samples to estimate a spread, got {n}")
    if n > max_samples:
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_samples]
        x = x[idx]
    flat = x.reshape(x.shape[0], -1).double()
    flat = flat - flat.mean(dim=0, keepdim=True)
    # largest singular value s_1 of the centred data: variance along the first PC = s_1^2 / (N - 1)
    s1 = torch.linalg.svdvals(flat)[0]
    return float(s1 / math.sqrt(flat.shape[0] - 1))


#: EDM's image default puts 5 % of its training noise levels below this (exp(-1.2 - 1.645 * 1.2)).
FINE_SIGMA = 0.042
#: z of the 5 % / 95 % quantiles of a standard normal.
_Z95 = 1.6448536269514722
#: The sampler starts at this many times the leading mode's spread: a start N(0, sigma_max^2) in place of
#: N(0, sigma_max^2 + s^2) keeps sigma_max / sqrt(sigma_max^2 + s^2) of that mode's spread (98 % at 5).
SIGMA_MAX_FACTOR = 5.0


@dataclass(frozen=True)
class NoiseLevels:
    """Training noise levels ``ln(sigma) ~ N(p_mean, p_std^2)`` and the sampler's first level."""

    p_mean: float
    p_std: float
    sigma_max: float


def noise_levels_for(spread: float) -> NoiseLevels:
    """Noise levels chosen from the spread ``s`` of the data's leading mode.

    5 % of the training levels lie below :data:`FINE_SIGMA` (fine detail, as in EDM) and 5 % above
    ``s`` (the largest scales); the sampler starts at ``SIGMA_MAX_FACTOR * s`` (at least EDM's 80).
    """
    if not spread > FINE_SIGMA:
        raise ValueError(f"leading-mode spread {spread:g} must exceed {FINE_SIGMA}")
    low, high = math.log(FINE_SIGMA), math.log(spread)
    # quantiles: p_mean -/+ 1.645 p_std = ln FINE_SIGMA, ln s
    return NoiseLevels(
        p_mean=round(0.5 * (low + high), 4),
        p_std=round((high - low) / (2 * _Z95), 4),
        sigma_max=round(max(SIGMA_MAX, SIGMA_MAX_FACTOR * spread), 1),
    )


@dataclass(frozen=True)
class NoiseCoverage:
    """How the training noise levels relate to the data's leading mode and the sampler's start."""

    leading_mode_std: float
    share_above: float  # share of training noise levels above leading_mode_std
    sigma_max: float  # first noise level of the sampler

    @property
    def warnings(self) -> list[str]:
        out = []
        if self.share_above < 0.01:
            out.append(
                f"only {100 * self.share_above:.2f} % of the training noise levels exceed the spread of the data's "
                f"leading mode ({self.leading_mode_std:.3g}); the model will learn little about the largest "
                "scales (raise [diffusion] p_mean / p_std)"
            )
        if self.leading_mode_std > self.sigma_max:
            out.append(
                f"the data's leading mode ({self.leading_mode_std:.3g}) spreads wider than the sampler's first "
                f"noise level sigma_max = {self.sigma_max:g}: sampling starts from noise that does not cover it"
            )
        return out


def noise_coverage(x: Tensor, p_mean: float, p_std: float, sigma_max: float = SIGMA_MAX) -> NoiseCoverage:
    """:class:`NoiseCoverage` of training data ``x`` under ``ln(sigma) ~ N(p_mean, p_std^2)``."""
    std = leading_mode_std(x)
    return NoiseCoverage(std, share_of_sigmas_above(std, p_mean, p_std), sigma_max)
