"""Gaussian and censored-Gaussian likelihoods against scipy.stats references."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from seaice_ldm.models.likelihoods import (
    censor,
    censored_gaussian_nll,
    gaussian_nll,
    per_channel,
    sample_decoder,
)

INF = math.inf
# Channels: [0, inf) like thickness, [0, 1] like concentration, unbounded like velocity.
LOWER = torch.tensor([0.0, 0.0, -INF], dtype=torch.float64)
UPPER = torch.tensor([INF, 1.0, INF], dtype=torch.float64)


def scipy_censored_nll(y, mu, s, lower, upper):
    """Independent Tobit reference: tail log-probabilities at the bounds, log density inside."""
    below, above = y <= lower, y >= upper
    inside = -stats.norm.logpdf(y, loc=mu, scale=s)
    tail_low = -stats.norm.logcdf((lower - mu) / s) if np.any(below) else 0.0
    tail_up = -stats.norm.logsf((upper - mu) / s) if np.any(above) else 0.0
    return np.where(below, tail_low, np.where(above, tail_up, inside))


def random_case(seed, shape=(4, 3, 6, 5)):
    """Inputs with values below, at, inside and above the bounds, in float64."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=g, dtype=torch.float64)
    y = torch.randn(shape, generator=g, dtype=torch.float64) * 1.5
    pick = torch.randint(0, 4, shape, generator=g)
    lo, up = per_channel(LOWER).expand(shape), per_channel(UPPER).expand(shape)
    y = torch.where((pick == 0) & torch.isfinite(lo), lo, y)  # exactly at the lower bound
    y = torch.where((pick == 1) & torch.isfinite(up), up, y)  # exactly at the upper bound
    log_scale = per_channel(torch.tensor([-0.5, -1.0, 0.3], dtype=torch.float64))
    return y, mu, log_scale


def test_gaussian_nll_matches_scipy():
    y, mu, log_scale = random_case(0)
    got = gaussian_nll(y, mu, log_scale)
    ref = -stats.norm.logpdf(y.numpy(), loc=mu.numpy(), scale=np.exp(log_scale.numpy()))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_censored_nll_matches_scipy_all_regimes():
    y, mu, log_scale = random_case(1)
    lo, up = per_channel(LOWER), per_channel(UPPER)
    got = censored_gaussian_nll(y, mu, log_scale, lo, up)
    ref = scipy_censored_nll(
        y.numpy(), mu.numpy(), np.exp(log_scale.numpy()), lo.numpy(), up.numpy()
    )
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-10)
    # The case covers every regime: below/at, above/at and inside bounded channels.
    assert (y[:, :2] <= 0).any() and (y[:, 1] >= 1).any() and ((y[:, 1] > 0) & (y[:, 1] < 1)).any()


def test_unbounded_channel_equals_gaussian_exactly():
    y, mu, log_scale = random_case(2)
    lo, up = per_channel(LOWER), per_channel(UPPER)
    cens = censored_gaussian_nll(y, mu, log_scale, lo, up)[:, 2]
    gauss = gaussian_nll(y, mu, log_scale)[:, 2]
    assert torch.equal(cens, gauss)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_far_tails_finite_and_accurate(dtype):
    # z = (l - mu)/s from -40 to 40 at the lower bound and (mu - u)/s likewise at the upper bound.
    z = torch.linspace(-40.0, 40.0, 81, dtype=torch.float64)
    mu_low = -z * 0.1  # lower bound 0, scale 0.1
    mu_up = 1.0 + z * 0.1  # upper bound 1, scale 0.1
    log_scale = torch.full((), math.log(0.1), dtype=dtype)
    lower, upper = torch.tensor(0.0, dtype=dtype), torch.tensor(1.0, dtype=dtype)
    for y, mu in ((torch.zeros_like(z), mu_low), (torch.ones_like(z), mu_up)):
        mu = mu.to(dtype).requires_grad_(True)
        ls = log_scale.clone().requires_grad_(True)
        nll = censored_gaussian_nll(y.to(dtype), mu, ls, lower, upper)
        ref = -stats.norm.logcdf(z.numpy())
        assert torch.isfinite(nll).all()
        rtol = 1e-6 if dtype == torch.float64 else 1e-4
        np.testing.assert_allclose(nll.detach().double().numpy(), ref, rtol=rtol, atol=1e-6)
        nll.sum().backward()
        assert torch.isfinite(mu.grad).all() and torch.isfinite(ls.grad).all()


def test_gradients_finite_with_infinite_bounds():
    y, mu, log_scale = random_case(3)
    mu = mu.clone().requires_grad_(True)
    log_scale = log_scale.clone().requires_grad_(True)
    nll = censored_gaussian_nll(y, mu, log_scale, per_channel(LOWER), per_channel(UPPER))
    nll.sum().backward()
    assert torch.isfinite(mu.grad).all() and torch.isfinite(log_scale.grad).all()
    # The unbounded channel's gradient is the Gaussian one: d/dmu = -(y - mu)/s^2.
    expected = -(y - mu.detach()) * torch.exp(-2 * log_scale.detach())
    torch.testing.assert_close(mu.grad[:, 2], expected[:, 2])


def test_censored_outputs_within_bounds_gaussian_samples_leave():
    g = torch.Generator().manual_seed(4)
    shape = (64, 3, 8, 8)
    lo, up = per_channel(LOWER.float()), per_channel(UPPER.float())
    mu = torch.zeros(shape)  # mean exactly at the lower bounds of the first two channels
    log_scale = per_channel(torch.zeros(3))
    for out in (censor(mu - 0.5, lo, up), sample_decoder(mu, log_scale, lo, up, True, g)):
        assert ((out >= lo) & (out <= up)).all()
    censored = sample_decoder(mu, log_scale, lo, up, True, g)
    assert (censored[:, :2] == 0).float().mean() > 0.3  # exact zeros occur, as in the data
    gaussian = sample_decoder(mu, log_scale, lo, up, False, g)
    assert (gaussian[:, :2] < 0).float().mean() > 0.3


def test_per_variable_vectors_apply_along_channels():
    y, mu, log_scale = random_case(5)
    vec = log_scale.reshape(-1)
    torch.testing.assert_close(
        censored_gaussian_nll(y, mu, vec, LOWER, UPPER),
        censored_gaussian_nll(y, mu, log_scale, per_channel(LOWER), per_channel(UPPER)),
    )
    torch.testing.assert_close(gaussian_nll(y, mu, vec), gaussian_nll(y, mu, log_scale))
    torch.testing.assert_close(
        censor(y, LOWER, UPPER), censor(y, per_channel(LOWER), per_channel(UPPER))
    )


def test_sample_decoder_seeded():
    mu, log_scale = torch.zeros(2, 3, 4, 4), per_channel(torch.zeros(3))
    lo, up = per_channel(LOWER.float()), per_channel(UPPER.float())
    def draw(seed):
        return sample_decoder(mu, log_scale, lo, up, True, torch.Generator().manual_seed(seed))

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))
