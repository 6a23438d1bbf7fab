"""SDEdit (Meng et al. 2022): a state noised to a level sigma and denoised again from there, the pass of the
latent path's data-space refiner. With the exact denoiser of the data, the pass keeps the data's distribution
(a state drawn from it comes out drawn from it) and pulls any other state towards it, more the higher sigma."""

from __future__ import annotations

import torch
from torch import Tensor

from seaice_ldm.diffusion.samplers import Denoiser, sample_dpmpp_2m
from seaice_ldm.diffusion.schedules import RHO, karras_sigmas


def redrawn_channels(redrawn: tuple[str, ...], variables: tuple[str, ...]) -> Tensor | None:
    """``(C,)`` bool of the ``redrawn`` variables among ``variables`` (None, all of them, when ``redrawn`` is
    empty); a ValueError names those that are not among them."""
    if not redrawn:
        return None
    missing = [n for n in redrawn if n not in variables]
    if missing:
        raise ValueError(f"refine_variables {missing} are not among the variables {list(variables)}")
    return torch.tensor([v in redrawn for v in variables])


def sdedit(denoise: Denoiser, x: Tensor, noise: Tensor, sigma: float, steps: int, sigma_min: float,
           channels: Tensor | None = None, rho: float = RHO) -> Tensor:
    """``x`` noised to ``sigma`` with the standard normal ``noise``, then the probability-flow ODE from ``sigma``
    to 0 with DPM-Solver++(2M) in ``steps`` network evaluations (Karras levels of ``rho`` from ``sigma`` to
    ``sigma_min``).

    ``channels`` (``(C,)`` bool): redraw only these; the others stay as given, the denoiser's condition (they
    are neither noised nor moved: their denoised value is their given one, so every ODE step keeps them).
    """
    if not 0 < sigma_min < sigma:
        raise ValueError(f"an SDEdit pass needs 0 < sigma_min < sigma, got sigma_min {sigma_min:g}, sigma {sigma:g}")
    sigmas = karras_sigmas(steps, sigma_min, sigma, rho).to(device=x.device, dtype=x.dtype)
    if channels is None:
        return sample_dpmpp_2m(denoise, x + sigma * noise, sigmas)  # Meng et al. eq. 2: x(sigma) = x + sigma z
    kept = ~channels.to(x.device).reshape(1, -1, *([1] * (x.ndim - 2)))
    start = torch.where(kept, x, x + sigma * noise)
    return sample_dpmpp_2m(lambda y, s: torch.where(kept, x, denoise(y, s)), start, sigmas)
