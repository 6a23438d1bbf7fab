"""EDM preconditioning: turns any network F(x, c_noise, mask) into a denoiser D(x; sigma).

D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma))  (Karras et al. 2022,
eq. 7 and Table 1). The network sees sigma only through c_noise; all diffusion maths is here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class EDMPrecond(nn.Module):
    """Wrap ``net(x, c_noise, mask)`` into the EDM denoiser ``D(x; sigma)``.

    Args:
        net: the raw network, called as ``net(c_in * x, c_noise, mask)``.
        sigma_data: standard deviation of the data (or latents) the model is trained on.
    """

    def __init__(self, net: nn.Module, sigma_data: float = 1.0):
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)

    def forward(
        self, x: Tensor, sigma: Tensor | float, mask: Tensor | None = None, day_of_year: Tensor | None = None
    ) -> Tensor:
        """Denoise ``x`` ``(B, ...)`` at noise level ``sigma`` (``(B,)`` or a scalar); ``day_of_year``
        (``(B,)``, NaN = no date) conditions a date-conditioned network."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        sigma = sigma.reshape(-1).expand(x.shape[0])
        s = sigma.reshape(-1, *([1] * (x.ndim - 1)))
        sd2 = self.sigma_data**2
        c_skip = sd2 / (s**2 + sd2)  # Table 1: c_skip = sd^2 / (sigma^2 + sd^2)
        # Table 1: c_out = sigma sd / sqrt(sigma^2 + sd^2)
        c_out = s * self.sigma_data / torch.sqrt(s**2 + sd2)
        c_in = 1.0 / torch.sqrt(s**2 + sd2)  # Table 1: c_in = 1 / sqrt(sigma^2 + sd^2)
        c_noise = torch.log(sigma) / 4.0  # Table 1: c_noise = ln(sigma) / 4
        if day_of_year is None:  # networks without date conditioning take no such argument
            return c_skip * x + c_out * self.net(c_in * x, c_noise, mask)  # eq. 7
        return c_skip * x + c_out * self.net(c_in * x, c_noise, mask, day_of_year)  # eq. 7
