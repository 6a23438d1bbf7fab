"""EDM preconditioning, loss, schedule and samplers against analytic Gaussian references.

For data x ~ N(m, S) the exact denoiser is D(x; sigma) = m + S (S + sigma^2 I)^-1 (x - m), and the
probability-flow ODE has the closed-form flow map
x(0) = m + S^1/2 (S + sigma_max^2 I)^-1/2 (x(sigma_max) - m).
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats
import torch

from seaice_ldm.diffusion import EDMLoss, EDMPrecond, edm_loss, evaluations, get_sampler, karras_sigmas, steps_for_nfe
from seaice_ldm.diffusion.sdedit import sdedit
from seaice_ldm.options import SAMPLERS
from seaice_ldm.models import UNet, UNetConfig

SIGMA_MAX = 80.0
N_SAMPLES = 20000
pytestmark = pytest.mark.usefixtures("one_thread")  # small tensors: one thread is many times faster here


class Gaussian:
    """A non-diagonal Gaussian in 3-D with its exact denoiser and exact ODE flow map."""

    def __init__(self):
        a = torch.tensor([[1.0, 0.5, 0.2], [0.0, 0.8, -0.3], [0.0, 0.0, 0.5]], dtype=torch.float64)
        self.mean = torch.tensor([0.5, -0.5, 0.25], dtype=torch.float64)
        self.cov = a @ a.T
        self.eigval, self.eigvec = torch.linalg.eigh(self.cov)

    def _apply(self, y, gain):
        """Apply U diag(gain) U^T to each row of ``y``; ``gain`` is (d,) or (B, d)."""
        return ((y @ self.eigvec) * gain) @ self.eigvec.T

    def denoise(self, x, sigma):
        """Exact D(x; sigma) for sigma of shape (B,)."""
        gain = self.eigval / (self.eigval + sigma[:, None] ** 2)
        return self.mean + self._apply(x - self.mean, gain)

    def flow(self, x_t, sigma):
        """Exact solution of the probability-flow ODE from noise level sigma down to 0."""
        gain = torch.sqrt(self.eigval / (self.eigval + sigma**2))
        return self.mean + self._apply(x_t - self.mean, gain)


@pytest.fixture(scope="module")
def gaussian():
    return Gaussian()


@pytest.fixture(scope="module")
def noise():
    g = torch.Generator().manual_seed(0)
    return torch.randn(N_SAMPLES, 3, generator=g, dtype=torch.float64)


def run(name, gaussian, noise, steps, **opts):
    sigmas = karras_sigmas(steps, sigma_max=SIGMA_MAX).double()
    return get_sampler(name).fn(gaussian.denoise, noise * sigmas[0], sigmas, **opts)


def seeded(seed):
    """A ``randn_like`` drawing from its own generator (the pipeline draws each member's noise this way)."""
    g = torch.Generator().manual_seed(seed)
    return lambda like: torch.randn(like.shape, generator=g, dtype=like.dtype)


def assert_moments(x, gaussian, mean_tol, cov_rtol):
    """Empirical mean within mean_tol (abs) and covariance within cov_rtol (Frobenius, relative)."""
    mean_err = (x.mean(0) - gaussian.mean).abs().max().item()
    cov = torch.cov(x.T)
    cov_err = (torch.linalg.norm(cov - gaussian.cov) / torch.linalg.norm(gaussian.cov)).item()
    assert mean_err < mean_tol, f"mean error {mean_err:.4f}"
    assert cov_err < cov_rtol, f"relative covariance error {cov_err:.4f}"


# Sampling standard errors with 20000 samples: mean about 0.009, relative covariance about 0.015.
# Discretisation adds about 0.013 (heun / dpmpp2m, 40 steps) and 0.03 (euler, 200 steps).
@pytest.mark.parametrize(
    "name, steps, cov_rtol",
    [("heun", 40, 0.05), ("dpmpp2m", 40, 0.05), ("euler", 200, 0.07)],
)
def test_samplers_reproduce_gaussian_moments(gaussian, noise, name, steps, cov_rtol):
    assert_moments(run(name, gaussian, noise, steps), gaussian, 0.04, cov_rtol)


@pytest.mark.parametrize(
    "name, coarse, fine, tol_fine, min_order",
    [("heun", 18, 40, 0.012, 1.8), ("dpmpp2m", 20, 40, 0.012, 1.8), ("euler", 100, 200, 0.02, 0.9)],
)
def test_samplers_converge_to_exact_flow(gaussian, noise, name, coarse, fine, tol_fine, min_order):
    """Per-sample error against the closed-form ODE solution, and its order of convergence."""
    x = noise[:2000]
    exact = gaussian.flow(x * SIGMA_MAX, SIGMA_MAX)
    rms = lambda n: (run(name, gaussian, x, n) - exact).square().mean().sqrt().item()
    err_coarse, err_fine = rms(coarse), rms(fine)
    assert err_fine < tol_fine
    order = math.log(err_coarse / err_fine) / math.log(fine / coarse)
    assert order > min_order, f"observed order {order:.2f}"


def test_heun_churn_takes_its_noise_from_the_caller_and_keeps_distribution(gaussian, noise):
    def draw(seed, x):
        return run("heun", gaussian, x, 40, churn=10.0, randn_like=seeded(seed))

    assert torch.equal(draw(1, noise[:100]), draw(1, noise[:100]))
    assert not torch.allclose(draw(1, noise[:100]), draw(2, noise[:100]))
    assert_moments(draw(3, noise), gaussian, 0.04, 0.07)


def test_samplers_repeat_with_the_same_noise(gaussian, noise):
    for name in SAMPLERS:
        opts = (lambda: {"randn_like": seeded(1)}) if get_sampler(name).stochastic else dict
        assert torch.equal(run(name, gaussian, noise[:50], 10, **opts()), run(name, gaussian, noise[:50], 10, **opts()))


def test_sde_dpm_solver_keeps_the_distribution_and_takes_its_noise_from_the_caller(gaussian, noise):
    """eta = 1 (the SDE) reproduces the Gaussian's moments, draws its noise from the caller (same seed, same
    samples) and converges more slowly than the ODE solver (80 steps here). Its eta = 0 is ``dpmpp2m``, tested
    against the exact flow above."""
    x = noise[:200]
    assert not torch.allclose(run("dpmpp2m_sde", gaussian, x, 12, randn_like=seeded(1)),
                              run("dpmpp2m_sde", gaussian, x, 12, randn_like=seeded(2)))
    assert_moments(run("dpmpp2m_sde", gaussian, noise, 80, randn_like=seeded(3)), gaussian, 0.04, 0.05)


def test_every_offered_sampler_costs_what_it_is_registered_to(gaussian, noise):
    """Each name the CLI and dashboard offer runs, reports every step, and evaluates the network exactly as
    often as its registered cost says (the FLOP counts and equal-NFE comparisons rest on it)."""
    for name in SAMPLERS:
        calls, events = [], []

        def denoise(x, sigma):
            assert sigma.shape == (x.shape[0],)
            calls.append(sigma[0].item())
            return gaussian.denoise(x, sigma)

        sigmas = karras_sigmas(10).double()
        get_sampler(name).fn(denoise, noise[:8] * sigmas[0], sigmas, callback=events.append)
        assert [e["i"] for e in events] == list(range(10))
        assert all(e["n"] == 10 and set(e) == {"i", "n", "x", "sigma", "denoised"} for e in events)
        assert len(calls) == evaluations(name, 10) and steps_for_nfe(name, len(calls)) == 10
        assert min(calls) > 0  # the network is never evaluated at sigma = 0


def test_get_sampler_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="dpmpp2m.*euler.*heun"):
        get_sampler("ddim")


def test_karras_sigmas_match_edm_formula():
    n, smin, smax, rho = 18, 0.002, 80.0, 7.0
    sigmas = karras_sigmas(n, smin, smax, rho)
    assert sigmas.shape == (n + 1,) and sigmas[-1] == 0
    np.testing.assert_allclose([sigmas[0].item(), sigmas[-2].item()], [smax, smin], rtol=1e-6)
    assert (sigmas[1:] < sigmas[:-1]).all()
    for i in (1, 7, 13):
        ref = (smax ** (1 / rho) + i / (n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
        np.testing.assert_allclose(sigmas[i].item(), ref, rtol=1e-6)


def test_steps_for_nfe():
    assert steps_for_nfe("heun", 39) == 20
    assert steps_for_nfe("heun", 40) == 20
    assert steps_for_nfe("heun", 1) == 1
    assert steps_for_nfe("euler", 25) == 25
    assert steps_for_nfe("dpmpp2m", 10) == 10
    with pytest.raises(ValueError, match="heun"):
        steps_for_nfe("ddim", 10)


def net_from_denoiser(denoise, sigma_data):
    """The network F that EDM preconditioning turns into ``denoise`` (Table 1 solved for F)."""

    def net(x_in, c_noise, mask):
        sigma = torch.exp(4 * c_noise)  # c_noise = ln(sigma) / 4
        s = sigma[:, None]
        x = x_in * torch.sqrt(s**2 + sigma_data**2)  # c_in = 1 / sqrt(sigma^2 + sd^2)
        c_skip = sigma_data**2 / (s**2 + sigma_data**2)
        c_out = s * sigma_data / torch.sqrt(s**2 + sigma_data**2)
        return (denoise(x, sigma) - c_skip * x) / c_out

    return net


@pytest.mark.parametrize("sigma_data", [1.0, 0.5])
def test_precond_reproduces_analytic_denoiser(gaussian, noise, sigma_data):
    precond = EDMPrecond(net_from_denoiser(gaussian.denoise, sigma_data), sigma_data=sigma_data)
    x = noise[:64] * 3.0
    sigma = torch.logspace(-2.5, 1.9, 64, dtype=torch.float64)
    torch.testing.assert_close(precond(x, sigma, None), gaussian.denoise(x, sigma))
    # A scalar sigma is broadcast over the batch.
    sigma_07 = torch.full((64,), 0.7, dtype=x.dtype)
    torch.testing.assert_close(precond(x, 0.7, None), gaussian.denoise(x, sigma_07))


def test_edm_loss_prefers_exact_denoiser(gaussian):
    """On the same seeded noise, the exact denoiser scores lower than a perturbed one."""
    g = torch.Generator().manual_seed(5)
    z = torch.randn(4096, 3, generator=g, dtype=torch.float64)
    x = gaussian.mean + z @ torch.linalg.cholesky(gaussian.cov).T
    exact = EDMPrecond(net_from_denoiser(gaussian.denoise, 1.0))
    shrunk = EDMPrecond(net_from_denoiser(lambda x, s: 0.9 * gaussian.denoise(x, s), 1.0))
    loss = lambda p: edm_loss(p, x, None, generator=torch.Generator().manual_seed(6)).item()
    assert loss(exact) < loss(shrunk)


def test_edm_loss_weighted_mean_matches_reference():
    """The weighted loss is lambda (D - x)^2 summed over weighted cells / their count (eq. 8)."""
    torch.manual_seed(0)
    net = UNet(UNetConfig(2, 2, channels=(8, 16), blocks_per_level=1, attention_levels=()))
    with torch.no_grad():
        net.conv_out.weight.normal_(0, 0.1)  # a non-zero output so D depends on the network
    precond = EDMPrecond(net, sigma_data=0.5)
    mask = torch.ones(1, 1, 8, 8)
    mask[..., :3] = 0
    x = torch.randn(3, 2, 8, 8) * mask
    got = edm_loss(precond, x, mask, weight=mask, p_mean=-1.0, p_std=1.5,
                   generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    sigma = torch.exp(-1.0 + 1.5 * torch.randn(3, generator=g))
    eps = torch.randn(x.shape, generator=g)
    s = sigma[:, None, None, None]
    with torch.no_grad():
        d = precond(x + s * eps, sigma, mask)
    lam = (s**2 + 0.25) / (s * 0.5) ** 2
    ref = (lam * (d - x) ** 2 * mask).sum() / (mask.sum() * 3 * 2)
    torch.testing.assert_close(got.detach(), ref)
    # Unweighted: a plain mean over every element.
    got_all = edm_loss(precond, x, mask, p_mean=-1.0, p_std=1.5,
                       generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(got_all.detach(), (lam * (d - x) ** 2).mean())


def test_sdedit_follows_the_exact_flow_from_its_noise_level(gaussian, noise):
    """SDEdit with the exact denoiser is the closed-form flow map from x + sigma z (any starting x, here one
    far from the data); from data it keeps the data's moments."""
    far = 3.0 + 0.2 * noise[:2000]
    z = torch.randn(far.shape, generator=torch.Generator().manual_seed(4), dtype=far.dtype)
    for sigma in (0.5, 2.0):
        got = sdedit(gaussian.denoise, far, z, sigma, 30, 0.002)
        assert (got - gaussian.flow(far + sigma * z, sigma)).square().mean().sqrt() < 0.01
    data = gaussian.mean + noise @ torch.linalg.cholesky(gaussian.cov).T
    z = torch.randn(data.shape, generator=torch.Generator().manual_seed(5), dtype=data.dtype)
    assert_moments(sdedit(gaussian.denoise, data, z, 1.5, 30, 0.002), gaussian, 0.04, 0.05)
    with pytest.raises(ValueError, match="0 < sigma_min < sigma"):
        sdedit(gaussian.denoise, far, z[:2000], 0.1, 3, 0.2)


def test_sdedit_asks_its_denoiser_at_the_karras_levels_of_its_rho():
    """The pass's network evaluations fall on Karras et al. (2022) eq. 5 levels between sigma and sigma_min for
    the rho it is given (written out here by hand), one per evaluation."""
    asked = []

    def denoise(y, s):
        asked.append(float(s.reshape(-1)[0]))
        return torch.zeros_like(y)

    x = torch.zeros(2, 1, 4, 4)
    for rho in (7.0, 3.5):
        asked.clear()
        sdedit(denoise, x, torch.ones_like(x), 2.5, 4, 0.02, rho=rho)
        hand = [(2.5 ** (1 / rho) + i / 3 * (0.02 ** (1 / rho) - 2.5 ** (1 / rho))) ** rho for i in range(4)]
        assert asked == pytest.approx(hand, rel=1e-5)
    assert asked[1:3] == pytest.approx([0.9158, 0.2227], abs=1e-4)  # rho 3.5: the refiner pass's levels


def test_sdedit_of_some_channels_keeps_the_others_and_follows_the_flow_in_its_own():
    """Independent channels (diagonal Gaussian): redrawing channel 1 is that channel's exact flow map from its
    noised value; channels 0 and 2, the condition, come out exactly as given."""
    mean, var = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64), torch.tensor([0.5, 1.5, 0.8], dtype=torch.float64)
    denoise = lambda y, s: mean + var / (var + s.reshape(-1, 1) ** 2) * (y - mean)  # D = m + v / (v + s^2) (y - m)
    g = torch.Generator().manual_seed(8)
    x = 2.0 + torch.randn(500, 3, generator=g, dtype=torch.float64)
    z = torch.randn(500, 3, generator=g, dtype=torch.float64)
    got = sdedit(denoise, x, z, 1.2, 30, 0.002, channels=torch.tensor([False, True, False]))
    assert torch.equal(got[:, [0, 2]], x[:, [0, 2]])
    exact = mean[1] + torch.sqrt(var[1] / (var[1] + 1.2**2)) * (x[:, 1] + 1.2 * z[:, 1] - mean[1])
    assert (got[:, 1] - exact).square().mean().sqrt() < 0.01


def test_a_refiner_of_some_channels_sees_the_others_clean_and_is_scored_on_its_own():
    x = torch.randn(64, 2, 1, 1, generator=torch.Generator().manual_seed(2))
    rec = Recorder()
    rec.forward = lambda y, sigma, mask, day_of_year=None: rec.calls.append((y, sigma)) or torch.zeros_like(y)
    loss = edm_loss(rec, x, None, p_mean=-0.9, p_std=1.2, sigma_max=2.5, channels=torch.tensor([False, True]),
                    generator=torch.Generator().manual_seed(3))
    noisy, sigma = rec.calls[0]
    assert torch.equal(noisy[:, 0], x[:, 0]) and not torch.equal(noisy[:, 1], x[:, 1])
    s = sigma.reshape(-1, 1, 1)
    lam = (s**2 + 1) / s**2  # sigma_data = 1; D = 0, so the error is x itself
    torch.testing.assert_close(loss, (lam * x[:, 1] ** 2).mean())


class Recorder(torch.nn.Module):
    """A stand-in denoiser that keeps what it was called with and returns its input."""

    sigma_data = 1.0

    def __init__(self):
        super().__init__()
        self.calls = []
        self.net = SimpleNamespace(cfg=SimpleNamespace(date_conditioning=False))

    def forward(self, x, sigma, mask, day_of_year=None):
        self.calls.append((x, sigma, mask))
        return x


def test_a_refiners_noise_levels_follow_the_truncated_normal():
    """With sigma_max, ln sigma ~ N(p_mean, p_std^2) truncated above at ln sigma_max (scipy's truncnorm)."""
    rec = Recorder()
    edm_loss(rec, torch.zeros(20000, 1, 1, 1), None, p_mean=-0.9, p_std=1.2, sigma_max=2.5,
             generator=torch.Generator().manual_seed(0))
    logs = torch.log(rec.calls[0][1]).numpy()
    top = (math.log(2.5) + 0.9) / 1.2
    assert scipy.stats.kstest(logs, scipy.stats.truncnorm(-np.inf, top, loc=-0.9, scale=1.2).cdf).pvalue > 0.01
    assert scipy.stats.kstest(logs, scipy.stats.norm(loc=-0.9, scale=1.2).cdf).pvalue < 1e-6  # not untruncated


def test_a_refiner_trains_on_one_window_per_batch_the_same_under_the_same_seed():
    mask = torch.arange(16 * 16, dtype=torch.float32).reshape(1, 1, 16, 16)
    x = torch.randn(4, 2, 16, 16)
    rec = Recorder()
    loss = EDMLoss(rec, ocean_only=False, p_mean=-0.9, p_std=1.2, sigma_max=2.5, crop=8)
    torch.manual_seed(3)
    loss(x, mask)
    torch.manual_seed(3)
    loss(x, mask)
    (noisy, sigma, seen), (_, _, again) = rec.calls
    assert seen.shape == (1, 1, 8, 8) and torch.equal(seen, again)
    i, j = divmod(int(seen[0, 0, 0, 0]), 16)  # the window's corner, read from the cell numbers
    assert torch.equal(seen, mask[..., i:i + 8, j:j + 8])
    torch.testing.assert_close((noisy - x[..., i:i + 8, j:j + 8]).std(dim=(1, 2, 3)), sigma, rtol=0.3, atol=0)


@pytest.mark.slow
def test_edm_training_reduces_loss():
    """A few AdamW steps on structured fields lower the EDM loss of a tiny U-Net."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    pattern = torch.randn(1, 2, 16, 16, generator=g).cumsum(-1).cumsum(-2)
    pattern = pattern / pattern.std()
    mask = torch.ones(1, 1, 16, 16)
    mask[..., :2, :] = 0
    net = UNet(UNetConfig(2, 2, channels=(16, 32), blocks_per_level=1, attention_levels=(1,)))
    precond = EDMPrecond(net, sigma_data=1.0)
    opt = torch.optim.AdamW(net.parameters(), lr=5e-3)
    losses = []
    for _ in range(40):
        x = torch.randn(16, 1, 1, 1, generator=g) * pattern * mask
        loss = edm_loss(precond, x, mask, weight=mask, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
