"""Samplers of the probability-flow ODE / SDE as pure functions (k-diffusion style).

Every sampler has the signature ``sample_xxx(denoise, x, sigmas, *, callback=None, **opts) -> x``
where ``denoise(x, sigma) -> x0_hat`` takes ``sigma`` of shape ``(B,)``, ``x`` is the initial noise
already scaled by ``sigmas[0]`` and ``sigmas`` is a decreasing schedule that ends with 0.
``callback`` receives ``{"i", "n", "x", "sigma", "denoised"}`` after every step. A stochastic sampler
also takes ``randn_like(x) -> eps``, standard normal noise shaped like ``x`` (the caller draws it
per sample, so a result never depends on the batch it was computed in).

:data:`SAMPLERS` registers each one under its name in :data:`seaice_ldm.options.SAMPLERS`, with its
cost in network evaluations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from seaice_ldm.options import SAMPLERS as SAMPLER_NAMES
from seaice_ldm.options import check_choice

Denoiser = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[[dict], None] | None
RandnLike = Callable[[Tensor], Tensor]


def to_d(x: Tensor, sigma: float, denoised: Tensor) -> Tensor:
    """The probability-flow ODE's derivative with sigma(t) = t (Karras et al. 2022, eq. 3)."""
    return (x - denoised) / sigma  # dx/dsigma = (x - D(x; sigma)) / sigma


def _sigma_batch(sigma: float, x: Tensor) -> Tensor:
    """A noise level repeated for the batch: shape ``(B,)``."""
    return x.new_full((x.shape[0],), sigma)


def _report(callback: Callback, i: int, n: int, x: Tensor, sigma: float, denoised: Tensor) -> None:
    """Pass the state after step ``i`` of ``n`` to ``callback``, if any."""
    if callback is not None:
        callback({"i": i, "n": n, "x": x, "sigma": sigma, "denoised": denoised})


@torch.no_grad()
def sample_euler(denoise: Denoiser, x: Tensor, sigmas: Tensor, *, callback: Callback = None) -> Tensor:
    """Euler (first-order) solver of the probability-flow ODE; deterministic."""
    levels = sigmas.tolist()
    n = len(levels) - 1
    for i in range(n):
        sigma, sigma_next = levels[i], levels[i + 1]
        denoised = denoise(x, _sigma_batch(sigma, x))
        x = x + (sigma_next - sigma) * to_d(x, sigma, denoised)  # Euler step of eq. 3
        _report(callback, i, n, x, sigma, denoised)
    return x


@torch.no_grad()
def sample_heun(denoise: Denoiser, x: Tensor, sigmas: Tensor, *, churn: float = 0.0, s_tmin: float = 0.0,
                s_tmax: float = math.inf, s_noise: float = 1.0, callback: Callback = None,
                randn_like: RandnLike = torch.randn_like) -> Tensor:
    """Heun's second-order sampler, Karras et al. 2022, Algorithm 2.

    With ``churn = 0`` this is the deterministic Algorithm 1. With ``churn > 0`` each step whose
    sigma lies in ``[s_tmin, s_tmax]`` first adds noise to raise sigma by a factor ``1 + gamma``;
    that noise is ``randn_like(x)``. The last step, to sigma = 0, is an Euler step.
    """
    levels = sigmas.tolist()
    n = len(levels) - 1
    gamma_max = min(churn / n, math.sqrt(2.0) - 1.0)
    for i in range(n):
        sigma, sigma_next = levels[i], levels[i + 1]
        gamma = gamma_max if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (1.0 + gamma)  # Alg. 2 line 5: t_hat = t + gamma t
        if gamma > 0:
            x = x + math.sqrt(sigma_hat**2 - sigma**2) * s_noise * randn_like(x)  # Alg. 2 line 6
        denoised = denoise(x, _sigma_batch(sigma_hat, x))
        d = to_d(x, sigma_hat, denoised)  # Alg. 2 line 7
        x_next = x + (sigma_next - sigma_hat) * d  # Alg. 2 line 8 (Euler step)
        if sigma_next > 0:
            d_next = to_d(x_next, sigma_next, denoise(x_next, _sigma_batch(sigma_next, x)))  # line 10
            x_next = x + (sigma_next - sigma_hat) * 0.5 * (d + d_next)  # line 11 (trapezoidal rule)
        x = x_next
        _report(callback, i, n, x, sigma, denoised)
    return x


def sample_dpmpp_2m(denoise: Denoiser, x: Tensor, sigmas: Tensor, *, callback: Callback = None) -> Tensor:
    """DPM-Solver++(2M), Lu et al. 2022 (Algorithm 2), in ``t = -log(sigma)``; deterministic: the SDE solver
    below without noise (``eta = 0``). The first step and the final step to sigma = 0 are first order
    (DPM-Solver++(1), i.e. DDIM)."""
    return sample_dpmpp_2m_sde(denoise, x, sigmas, eta=0.0, callback=callback)


@torch.no_grad()
def sample_dpmpp_2m_sde(denoise: Denoiser, x: Tensor, sigmas: Tensor, *, eta: float = 1.0, s_noise: float = 1.0,
                        callback: Callback = None, randn_like: RandnLike = torch.randn_like) -> Tensor:
    """SDE-DPM-Solver++(2M), Lu et al. 2022 (arXiv 2211.01095, sec. 4 and app. B), in ``t = -log(sigma)``.

    Each step of length ``h`` removes noise as the reverse SDE does and adds fresh noise back: ``eta = 1`` is the
    SDE, ``eta = 0`` the deterministic DPM-Solver++(2M) (Alg. 2). The second-order term is the multistep correction with
    the previous step's denoised estimate; the first step and the final step to sigma = 0 are first order.
    """
    levels = sigmas.tolist()
    n = len(levels) - 1
    old_denoised, h_last = None, None
    for i in range(n):
        sigma, sigma_next = levels[i], levels[i + 1]
        denoised = denoise(x, _sigma_batch(sigma, x))
        if sigma_next == 0:
            x = denoised
        else:
            h = math.log(sigma) - math.log(sigma_next)
            kept = -math.expm1(-(1.0 + eta) * h)  # 1 - e^{-(1+eta) h}: the weight the step gives D
            # first order: x' = (sigma'/sigma) e^{-eta h} x + (1 - e^{-(1+eta) h}) D + sigma' sqrt(1 - e^{-2 eta h}) z
            x = (sigma_next / sigma) * math.exp(-eta * h) * x + kept * denoised
            if old_denoised is not None:  # second order: + (1 - e^{-(1+eta) h}) / (2 r) (D_i - D_{i-1}), r = h_last / h
                x = x + kept / (2.0 * (h_last / h)) * (denoised - old_denoised)
            if eta > 0:
                x = x + sigma_next * math.sqrt(-math.expm1(-2.0 * eta * h)) * s_noise * randn_like(x)
            h_last = h
        old_denoised = denoised
        _report(callback, i, n, x, sigma, denoised)
    return x


@dataclass(frozen=True)
class Sampler:
    """A sampler function and its cost: ``evals_per_step`` network evaluations a step, ``saved_last`` fewer
    on the last one (Heun's last step, to sigma = 0, is an Euler step: Karras et al. 2022, Alg. 1 line 6);
    ``stochastic``: it takes ``randn_like`` (see the module docstring)."""

    fn: Callable[..., Tensor]
    evals_per_step: int
    saved_last: int = 0
    stochastic: bool = False

    def evaluations(self, steps: int) -> int:
        """Network evaluations of ``steps`` steps."""
        return self.evals_per_step * steps - self.saved_last


#: Every sampler under its name (the names and their order: :data:`seaice_ldm.options.SAMPLERS`).
SAMPLERS: dict[str, Sampler] = {
    "dpmpp2m": Sampler(sample_dpmpp_2m, 1),
    "heun": Sampler(sample_heun, 2, saved_last=1, stochastic=True),
    "euler": Sampler(sample_euler, 1),
    "dpmpp2m_sde": Sampler(sample_dpmpp_2m_sde, 1, stochastic=True),
}


def get_sampler(name: str) -> Sampler:
    """The sampler registered under ``name`` (a ValueError naming the choices for an unknown one)."""
    return SAMPLERS[check_choice("sampler", name, SAMPLER_NAMES)]


def evaluations(sampler: str, steps: int) -> int:
    """Network evaluations of ``steps`` steps of ``sampler``."""
    return get_sampler(sampler).evaluations(steps)
