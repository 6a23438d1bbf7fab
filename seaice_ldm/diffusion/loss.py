"""EDM training loss (Karras et al. 2022, eq. 8 with Table 1's noise distribution and weighting), as a
function and as the loss module the training loop and the benchmark run."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from seaice_ldm.diffusion.precond import EDMPrecond


def edm_loss(
    precond: EDMPrecond,
    x: Tensor,
    mask: Tensor | None,
    weight: Tensor | None = None,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    generator: torch.Generator | None = None,
    day_of_year: Tensor | None = None,
    sigma_max: float | None = None,
    channels: Tensor | None = None,
) -> Tensor:
    """Weighted denoising loss on a clean batch ``x`` ``(B, C, H, W)``.

    Args:
        precond: the denoiser; its ``sigma_data`` sets the loss weighting.
        x: clean samples (land set to 0 in data space).
        mask: land mask passed to the network (``None`` for a network without a mask channel).
        weight: ``(B or 1, 1, H, W)`` cell weights, e.g. the ocean mask in data space so land is
            excluded; ``None`` weights every cell (latents).
        p_mean, p_std: ln(sigma) ~ N(p_mean, p_std^2).
        generator: seeds the noise levels and the noise.
        day_of_year: ``(B,)`` date condition of a date-conditioned denoiser (NaN = dropped).
        sigma_max: draw no noise level above it (the normal of ln sigma truncated there): a refiner, which
            is only ever run from that level down.
        channels: ``(C,)`` bool: noise only these channels and score only them (a refiner of some variables,
            the others given clean as its condition); None: all.

    Returns:
        The scalar mean of ``lambda(sigma) (D(x + n; sigma) - x)^2`` over the weighted elements.
    """
    b = x.shape[0]
    if sigma_max is None:
        rnd = torch.randn(b, generator=generator, dtype=x.dtype, device=x.device)
    else:  # inverse CDF below the truncation point: rnd = Phi^-1(u Phi(z_max)), u ~ U(0, 1)
        top = torch.special.ndtr(torch.tensor((math.log(sigma_max) - p_mean) / p_std, dtype=torch.float64))
        u = torch.rand(b, generator=generator, dtype=torch.float64, device=x.device)
        rnd = torch.special.ndtri(u * top.to(x.device)).to(x.dtype)
    sigma = torch.exp(p_mean + p_std * rnd)  # Table 1: ln(sigma) ~ N(P_mean, P_std^2)
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    if channels is not None:
        chosen = channels.to(device=x.device, dtype=x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
        eps = eps * chosen
        weight = chosen if weight is None else weight * chosen
    s = sigma.reshape(-1, *([1] * (x.ndim - 1)))
    denoised = precond(x + s * eps, sigma, mask, day_of_year)  # n ~ N(0, sigma^2 I)
    sd2 = precond.sigma_data**2
    # Table 1: lambda(sigma) = (sigma^2 + sd^2) / (sigma sd)^2
    lam = (s**2 + sd2) / (s * precond.sigma_data) ** 2
    err = lam * (denoised - x).square()  # eq. 8 integrand
    if weight is None:
        return err.mean()
    w = weight.to(x.dtype).expand_as(x)
    return (w * err).sum() / w.sum().clamp(min=torch.finfo(x.dtype).tiny)


class EDMLoss(torch.nn.Module):
    """EDM denoising loss; ``ocean_only`` restricts it to ocean cells (data space).

    A date-conditioned network sees each state's day of the year, dropped (NaN) for a random
    ``date_dropout`` share of the batch so the same weights also learn the unconditional model.
    A refiner (``sigma_max`` set) learns only the noise levels below it, may learn them on random
    ``crop`` x ``crop`` windows of the grid (one window per batch, drawn from torch's global generator,
    which the training loop seeds for validation) and may redraw only some ``channels`` (see :func:`edm_loss`).
    """

    def __init__(self, precond: EDMPrecond, ocean_only: bool, p_mean: float, p_std: float,
                 date_dropout: float = 0.0, sigma_max: float | None = None, crop: int | None = None,
                 channels: Tensor | None = None) -> None:
        super().__init__()
        self.model = precond
        self.ocean_only = ocean_only
        self.p_mean, self.p_std = p_mean, p_std
        self.date_dropout = date_dropout
        self.sigma_max, self.crop, self.channels = sigma_max, crop, channels

    def forward(self, x: Tensor, mask: Tensor, day_of_year: Tensor | None = None) -> dict[str, Tensor]:
        if self.crop:  # a window no larger than the grid
            (h, w), size = x.shape[-2:], min(self.crop, *x.shape[-2:])
            i, j = int(torch.randint(h - size + 1, ())), int(torch.randint(w - size + 1, ()))
            x, mask = (t[..., i:i + size, j:j + size] for t in (x, mask))
        weight = mask if self.ocean_only else None
        if not self.model.net.cfg.date_conditioning:
            day_of_year = None
        elif day_of_year is not None:
            dropped = torch.rand(day_of_year.shape, device=day_of_year.device) < self.date_dropout
            day_of_year = torch.where(dropped, torch.full_like(day_of_year, float("nan")), day_of_year)
        loss = edm_loss(self.model, x, mask, weight=weight, p_mean=self.p_mean, p_std=self.p_std,
                        day_of_year=day_of_year, sigma_max=self.sigma_max, channels=self.channels)
        return {"loss": loss}
