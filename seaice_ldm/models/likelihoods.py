"""Decoder likelihoods: Gaussian and censored Gaussian (Tobit), elementwise and pure.

Every function works elementwise. Per-variable arguments (log scales, bounds) may be vectors
``(C,)``, which apply along dimension 1 of ``y`` / ``mu`` (the variable axis of ``(B, C, H, W)``);
anything else must broadcast against ``y`` as is. Unbounded variables carry ``-inf`` / ``+inf``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)


def per_channel(v: Tensor, ndim: int = 4) -> Tensor:
    """Reshape a per-channel vector ``(C,)`` to ``(1, C, 1, ...)`` with ``ndim`` dimensions."""
    return v.reshape(1, -1, *([1] * (ndim - 2)))


def _channelwise(v: Tensor | float, like: Tensor) -> Tensor:
    """``v`` as a tensor that broadcasts against ``like``: vectors ``(C,)`` go along dimension 1."""
    v = torch.as_tensor(v, dtype=like.dtype, device=like.device)
    return per_channel(v, like.ndim) if v.ndim == 1 and like.ndim > 1 else v


class _LogNdtr(torch.autograd.Function):
    """log Phi(z) with a derivative that is exact in the far tail.

    The value is ``torch.special.log_ndtr``, accurate at any z (in the far left tail it is
    log(erfcx(-z/sqrt 2)/2) - z^2/2). Its own backward, exp(-z^2/2 - log Phi(z)) / sqrt(2 pi), subtracts
    two numbers of size z^2/2: in float32 it is 6.5x off at |z| = 1e4 and 0 beyond 1e5. The inverse Mills
    ratio written with erfcx has no cancellation at any z.
    """

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        ctx.save_for_backward(z)
        return torch.special.log_ndtr(z)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (z,) = ctx.saved_tensors
        # d/dz log Phi(z) = phi(z) / Phi(z) = sqrt(2/pi) / erfcx(-z/sqrt 2)
        return grad * (_SQRT_2_OVER_PI / torch.special.erfcx(-z * _SQRT_HALF))


def log_ndtr(z: Tensor) -> Tensor:
    """log Phi(z), the log of the standard normal CDF, with an exact gradient at any z (see :class:`_LogNdtr`)."""
    return _LogNdtr.apply(z)


def _standardise(diff: Tensor, log_scale: Tensor) -> Tensor:
    """``z = diff / exp(log_scale)``, with ``z = 0`` where ``diff = 0`` at any scale.

    1/s is applied as two factors exp(-log_scale / 2): a single exp(-log_scale) overflows to inf for
    log_scale < -88.7 in float32, and 0 * inf would make the likelihood of y = mu (or of a bound when
    mu sits on it) NaN, value and gradient, instead of its finite limit. Exact down to log_scale = -177.
    """
    half = torch.exp(-0.5 * log_scale)
    # z = (y - mu) / s = ((y - mu) s^(-1/2)) s^(-1/2)
    return diff * half * half


def gaussian_nll(y: Tensor, mu: Tensor, log_scale: Tensor) -> Tensor:
    """Negative log density of ``y`` under N(mu, exp(log_scale)^2), elementwise."""
    log_scale = _channelwise(log_scale, y)
    z = _standardise(y - mu, log_scale)
    # -log N(y; mu, s^2) = 0.5 ((y - mu)/s)^2 + log s + 0.5 log(2 pi)
    return 0.5 * z.square() + log_scale + _HALF_LOG_2PI


def censored_gaussian_nll(
    y: Tensor, mu: Tensor, log_scale: Tensor, lower: Tensor, upper: Tensor
) -> Tensor:
    """Negative log likelihood of ``y`` under a Gaussian censored to ``[lower, upper]`` (Tobit).

    Observations at or beyond a bound carry the probability mass of the Gaussian tail beyond that
    bound; observations inside carry the Gaussian density. Infinite bounds never censor, so those
    elements equal :func:`gaussian_nll` exactly. Tail terms use :func:`log_ndtr`, exact in value and
    gradient out to |z| = 1e6 and beyond in float32, and see only finite arguments, so values and
    gradients stay finite.
    """
    log_scale, lower, upper = (_channelwise(v, y) for v in (log_scale, lower, upper))
    below = (y <= lower) & torch.isfinite(lower)
    above = (y >= upper) & torch.isfinite(upper)
    # Double-where: substitute mu where a bound is not active, so no inf - inf ever enters log_ndtr.
    z_lower = _standardise(torch.where(below, lower, mu) - mu, log_scale)
    z_upper = _standardise(mu - torch.where(above, upper, mu), log_scale)
    # y <= l: -log P(Y* <= l) = -log Phi((l - mu)/s)
    nll_lower = -log_ndtr(z_lower)
    # y >= u: -log P(Y* >= u) = -log Phi((mu - u)/s)
    nll_upper = -log_ndtr(z_upper)
    nll_inside = gaussian_nll(y, mu, log_scale)
    return torch.where(below, nll_lower, torch.where(above, nll_upper, nll_inside))


def past_bound_penalty(
    y: Tensor, mu: Tensor, scale: Tensor | float, margin: float, lower: Tensor, upper: Tensor, form: str = "squared"
) -> Tensor:
    """Elementwise ``0.5 * max(0, d / scale - margin)^2`` (``form="squared"``) or ``max(0, d / scale - margin)``
    (``"linear"``, a pull of constant strength) for observations at a bound, ``d`` how far ``mu`` lies beyond
    that bound (0 inside the bounds and for unbounded variables).

    The Tobit tail term of an observation at a bound stops pulling once ``mu`` is a few scales past it, so a
    decoder may send the mean of open water to sic = -4; this term keeps it within ``margin`` scales.
    """
    lower, upper = _channelwise(lower, y), _channelwise(upper, y)
    below = (y <= lower) & torch.isfinite(lower)
    above = (y >= upper) & torch.isfinite(upper)
    past = torch.where(below, torch.where(below, lower, mu) - mu, torch.zeros_like(mu))
    past = torch.where(above, mu - torch.where(above, upper, mu), past)
    excess = torch.relu(past / _channelwise(scale, y) - margin)  # zero within m scales of the bound
    if form == "linear":
        return excess
    if form != "squared":
        raise ValueError(f"form must be 'squared' or 'linear', got {form!r}")
    return 0.5 * excess.square()


def censor(x: Tensor, lower: Tensor, upper: Tensor) -> Tensor:
    """Clip ``x`` to ``[lower, upper]``: the censored decoder's point estimate (mean clipped)."""
    return torch.clamp(x, min=_channelwise(lower, x), max=_channelwise(upper, x))


def sample_decoder(
    mu: Tensor,
    log_scale: Tensor,
    lower: Tensor,
    upper: Tensor,
    censored: bool,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw from the decoder: N(mu, s^2), clipped to the bounds when ``censored``.

    Clipping a Gaussian draw is an exact draw from the censored Gaussian, so exact bound values
    (open water, full cover) occur with the probability the likelihood gives them.
    """
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    y = mu + torch.exp(_channelwise(log_scale, mu)) * eps
    return censor(y, lower, upper) if censored else y
