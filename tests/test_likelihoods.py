"""Gaussian and censored-Gaussian likelihoods against scipy.stats references, and the far tail against
arbitrary-precision (mpmath) values of the inverse Mills ratio."""

import math

import numpy as np
import pytest
import torch
from scipy import special, stats

from seaice_ldm.models.likelihoods import (
    censor,
    censored_gaussian_nll,
    gaussian_nll,
    log_ndtr,
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


def inverse_mills(z: np.ndarray) -> np.ndarray:
    """phi(z) / Phi(z) in 60-digit arithmetic (independent of any float32/float64 formula)."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(60):
        return np.array([float(mpmath.npdf(mpmath.mpf(float(v))) / mpmath.ncdf(mpmath.mpf(float(v)))) for v in z])


# float32-exact points from the far left tail (|z| up to 1e6) through the body to the right tail
TAIL_Z = torch.tensor([-1e6, -3e5, -1e5, -3e4, -1e4, -1e3, -100.0, -38.5, -10.0, -3.0, -1.0, -0.25, 0.0,
                       0.5, 1.0, 2.5, 5.0, 8.0, 10.0], dtype=torch.float32)


def test_log_ndtr_value_matches_scipy():
    z = torch.cat([TAIL_Z.double(), torch.linspace(-50.0, 30.0, 321, dtype=torch.float64)])
    np.testing.assert_allclose(log_ndtr(z).numpy(), special.log_ndtr(z.numpy()), rtol=1e-12, atol=0)


def test_log_ndtr_gradient_is_the_inverse_mills_ratio_in_float32():
    z = TAIL_Z.clone().requires_grad_(True)
    log_ndtr(z).sum().backward()
    np.testing.assert_allclose(z.grad.double().numpy(), inverse_mills(TAIL_Z.numpy()), rtol=1e-5, atol=0)


@pytest.mark.parametrize("log_s", [0.0, -3.0, 2.0])
def test_censored_nll_gradients_exact_in_the_far_tail_in_float32(log_s):
    # y at the lower bound 0 with the mean far above it: z = (0 - mu)/s from -1e6 to 0.
    z = torch.tensor([-1e6, -1e5, -1e4, -1e3, -30.0, -2.0, 0.0], dtype=torch.float64)
    mu = (-z * math.exp(log_s)).float().requires_grad_(True)
    log_scale = torch.tensor(log_s, dtype=torch.float32, requires_grad=True)
    y = torch.zeros(len(z))
    nll = censored_gaussian_nll(y, mu, log_scale, torch.tensor(0.0), torch.tensor(1.0))
    nll.sum().backward()
    z_used = (-mu.detach().double() / math.exp(log_s)).numpy()
    ratio = inverse_mills(z_used)
    # d/dmu -log Phi((l - mu)/s) = (phi/Phi)(z) / s;  d/dlog_s -log Phi(z) = z (phi/Phi)(z)
    np.testing.assert_allclose(mu.grad.double().numpy(), ratio / math.exp(log_s), rtol=2e-5)
    np.testing.assert_allclose(log_scale.grad.item(), np.sum(z_used * ratio), rtol=2e-5)
    np.testing.assert_allclose(nll.detach().double().numpy(), -special.log_ndtr(z_used), rtol=1e-6)


@pytest.mark.parametrize("log_s", [-100.0, 80.0])
def test_extreme_log_scales_finite_and_right_in_float32(log_s):
    """exp(-log_s) overflows float32 below -88.7; the NLL of y = mu, or of a bound the mean sits on, stays
    exact: log s + log(2 pi)/2 inside, log 2 at a bound."""
    lower, upper = LOWER.float(), UPPER.float()
    # y = mu everywhere: on the lower bounds, on sic's upper bound, inside, and on the unbounded channel
    y = torch.tensor([[[0.0, 7.0, 0.3, 2.0],     # sit: [0, inf)
                       [0.0, 1.0, 0.3, 0.6],     # sic: [0, 1]
                       [0.0, 1.0, 0.3, -0.2]]])  # siu: unbounded
    mu = y.clone().requires_grad_(True)
    log_scale = torch.full((3,), log_s, requires_grad=True)
    nll = censored_gaussian_nll(y, mu, log_scale, lower, upper)
    inside = log_s + 0.5 * math.log(2 * math.pi)
    expected = torch.tensor([[[math.log(2), inside, inside, inside],      # sit: [0, inf)
                              [math.log(2), math.log(2), inside, inside],  # sic: [0, 1]
                              [inside, inside, inside, inside]]])          # siu: unbounded
    torch.testing.assert_close(nll.detach(), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(gaussian_nll(y, mu, log_scale).detach(), torch.full_like(y, inside))
    nll.sum().backward()
    assert not torch.isnan(mu.grad).any() and torch.isfinite(log_scale.grad).all()
    # d/dlog_s: 1 per element inside (z = 0), 0 at a bound (z (phi/Phi)(z) = 0 at z = 0)
    at_bound = (expected == math.log(2)).float()
    torch.testing.assert_close(log_scale.grad, (1 - at_bound).sum(dim=(0, 2)))
    if log_s > 0:  # d/dmu at a bound = (phi/Phi)(0) / s = sqrt(2/pi) e^-log_s, representable here
        at_lower = mu.grad[0, :2, 0].double()
        torch.testing.assert_close(at_lower, torch.full_like(at_lower, math.sqrt(2 / math.pi) * math.exp(-log_s)),
                                   rtol=1e-5, atol=0)


def test_past_bound_penalty_is_zero_within_the_margin_and_squared_beyond():
    from seaice_ldm.models.likelihoods import past_bound_penalty

    lower, upper = torch.tensor([0.0, -math.inf]), torch.tensor([1.0, math.inf])
    # channel 0 bounded [0, 1]: observations at 0, at 0, inside, at 1; channel 1 unbounded
    y = torch.tensor([[[[0.0, 0.0, 0.5, 1.0]], [[0.0, 0.0, 0.5, 1.0]]]])
    mu = torch.tensor([[[[-0.1, -0.5, -3.0, 1.6]], [[-9.0, 9.0, -9.0, 9.0]]]])
    out = past_bound_penalty(y, mu, scale=0.1, margin=2.0, lower=lower, upper=upper)
    # -0.1 is 1 scale past 0 (inside the margin); -0.5 is 5 scales past: 0.5 (5 - 2)^2 = 4.5;
    # an observation inside the bounds is never penalised; mu = 1.6 for y = 1 is 6 scales past: 0.5 * 16 = 8
    expected = torch.tensor([[[[0.0, 4.5, 0.0, 8.0]], [[0.0, 0.0, 0.0, 0.0]]]])
    torch.testing.assert_close(out, expected)
    # the linear form: (5 - 2) and (6 - 2) scales beyond the margin; a scale per channel broadcasts
    linear = past_bound_penalty(y, mu, scale=torch.tensor([0.1, 1.0]), margin=2.0, lower=lower, upper=upper,
                                form="linear")
    torch.testing.assert_close(linear, torch.tensor([[[[0.0, 3.0, 0.0, 4.0]], [[0.0, 0.0, 0.0, 0.0]]]]))
    with pytest.raises(ValueError, match="'squared' or 'linear'"):
        past_bound_penalty(y, mu, 0.1, 2.0, lower, upper, form="cubic")
