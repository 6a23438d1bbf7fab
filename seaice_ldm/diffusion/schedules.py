"""Noise-level schedules and the cost of the samplers in network evaluations."""

from __future__ import annotations

import torch
from torch import Tensor

from seaice_ldm.diffusion.samplers import get_sampler

SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0  # EDM schedule (Karras et al. 2022, Table 1)


def karras_sigmas(
    n: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO
) -> Tensor:
    """EDM noise levels: ``n`` decreasing sigmas from ``sigma_max`` to ``sigma_min``, then 0.

    Returns a float32 tensor of shape ``(n + 1,)``.
    """
    if n < 1:
        raise ValueError(f"need at least one step, got n={n}")
    ramp = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    max_inv_rho, min_inv_rho = sigma_max ** (1.0 / rho), sigma_min ** (1.0 / rho)
    # eq. 5: sigma_i = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]).to(torch.float32)


def steps_for_nfe(sampler: str, nfe: int) -> int:
    """Largest number of steps whose cost is at most ``nfe`` network evaluations.

    Heun with ``n`` steps costs ``2n - 1`` evaluations; Euler and DPM-Solver++(2M) cost ``n``.
    """
    chosen = get_sampler(sampler)
    if nfe < 1:
        raise ValueError(f"need at least one network evaluation, got nfe={nfe}")
    return (nfe + chosen.saved_last) // chosen.evals_per_step
