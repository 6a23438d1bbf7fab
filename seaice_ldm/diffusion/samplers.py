"""Samplers of the probability-flow ODE / SDE as pure functions (k-diffusion style).

Every sampler has the signature ``sample_xxx(denoise, x, sigmas, *, callback=None,
generator=None, **opts) -> x`` where ``denoise(x, sigma) -> x0_hat`` takes ``sigma`` of shape
``(B,)``, ``x`` is the initial noise already scaled by ``sigmas[0]`` and ``sigmas`` is a
decreasing schedule that ends with 0. ``callback`` receives ``{"i", "n", "x", "sigma",
"denoised"}`` after every step.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from seaice_ldm.options import SAMPLERS, check_choice

Denoiser = Callable[[Tensor, Tensor], Tensor]
Callback = Callable[[dict], None] | None


def _sigma_batch(sigma: float, x: Tensor) -> Tensor:
    """A noise level repeated for the batch: shape ``(B,)``."""
    return x.new_full((x.shape[0],), sigma)


def _report(callback: Callback, i: int, n: int, x: Tensor, sigma: float, denoised: Tensor) -> None:
    """Pass the state after step ``i`` of ``n`` to ``callback``, if any."""
    if callback is not None:
        callback({"i": i, "n": n, "x": x, "sigma": sigma, "denoised": denoised})


@torch.no_grad()
def sample_euler(
    denoise: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    callback: Callback = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Euler (first-order) solver of the probability-flow ODE; deterministic (no ``generator``)."""
    levels = sigmas.tolist()
    n = len(levels) - 1
    for i in range(n):
        sigma, sigma_next = levels[i], levels[i + 1]
        denoised = denoise(x, _sigma_batch(sigma, x))
        d = (x - denoised) / sigma  # eq. 3 with sigma(t) = t: dx/dsigma = (x - D(x; sigma)) / sigma
        x = x + (sigma_next - sigma) * d
        _report(callback, i, n, x, sigma, denoised)
    return x


@torch.no_grad()
def sample_heun(
    denoise: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = math.inf,
    s_noise: float = 1.0,
    callback: Callback = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Heun's second-order sampler, Karras et al. 2022, Algorithm 2.

    With ``churn = 0`` this is the deterministic Algorithm 1. With ``churn > 0`` each step whose
    sigma lies in ``[s_tmin, s_tmax]`` first adds noise to raise sigma by a factor ``1 + gamma``;
    the noise is drawn from ``generator``. The last step, to sigma = 0, is an Euler step.
    """
    levels = sigmas.tolist()
    n = len(levels) - 1
    gamma_max = min(churn / n, math.sqrt(2.0) - 1.0)
    for i in range(n):
        sigma, sigma_next = levels[i], levels[i + 1]
        gamma = gamma_max if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (1.0 + gamma)  # Alg. 2 line 5: t_hat = t + gamma t
        if gamma > 0:
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = x + math.sqrt(sigma_hat**2 - sigma**2) * s_noise * eps  # Alg. 2 line 6
        denoised = denoise(x, _sigma_batch(sigma_hat, x))
        d = (x - denoised) / sigma_hat  # Alg. 2 line 7
        x_next = x + (sigma_next - sigma_hat) * d  # Alg. 2 line 8 (Euler step)
        if sigma_next > 0:
            d_next = (x_next - denoise(x_next, _sigma_batch(sigma_next, x))) / sigma_next  # line 10
            x_next = x + (sigma_next - sigma_hat) * 0.5 * (d + d_next)  # line 11 (trapezoidal rule)
        x = x_next
        _report(callback, i, n, x, sigma, denoised)
    return x


@torch.no_grad()
def sample_dpmpp_2m(
    denoise: Denoiser,
    x: Tensor,
    sigmas: Tensor,
    *,
    callback: Callback = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """DPM-Solver++(2M), Lu et al. 2022 (Algorithm 2), in ``t = -log(sigma)``; deterministic.

    The first step and the final step to sigma = 0 are first order (DPM-Solver++(1), i.e. DDIM).
    """
    levels = sigmas.tolist()
    n = len(levels) - 1
    old_denoised = None
    for i in range(n):
        sigma, sigma_next = levels[i], levels[i + 1]
        denoised = denoise(x, _sigma_batch(sigma, x))
        if sigma_next == 0:
            x = denoised  # first-order step to sigma = 0: x_0 = D(x; sigma)
        else:
            h = math.log(sigma) - math.log(sigma_next)  # h = t_next - t with t = -log sigma
            if old_denoised is None:
                d = denoised
            else:
                r = (math.log(levels[i - 1]) - math.log(sigma)) / h  # r = h_last / h
                d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised  # Alg. 2: D_i
            # Alg. 2 in sigma terms: x_next = (sigma_next / sigma) x - (e^-h - 1) D_i
            x = (sigma_next / sigma) * x - math.expm1(-h) * d
        old_denoised = denoised
        _report(callback, i, n, x, sigma, denoised)
    return x


#: The sampler functions under the names of :data:`seaice_ldm.options.SAMPLERS`.
SAMPLER_FUNCTIONS = {"heun": sample_heun, "euler": sample_euler, "dpmpp2m": sample_dpmpp_2m}
assert set(SAMPLER_FUNCTIONS) == set(SAMPLERS), "every named sampler needs a function"


def get_sampler(name: str) -> Callable[..., Tensor]:
    """The sampler function registered under ``name``."""
    return SAMPLER_FUNCTIONS[check_choice("sampler", name, SAMPLERS)]
