"""VAE: shapes, land handling, bounds of the censored vs Gaussian decoder, training sanity."""

import math

import numpy as np
import pytest
import torch

from seaice_ldm.models import VAE, VAEConfig
from seaice_ldm.models.vae import kl_standard_normal

INF = math.inf
# Channels like thickness [0, inf), concentration [0, 1] and a velocity (unbounded).
LOWER = torch.tensor([0.0, 0.0, -INF])
UPPER = torch.tensor([INF, 1.0, INF])


def tiny_vae(decoder="censored", seed=0):
    torch.manual_seed(seed)
    cfg = VAEConfig(in_channels=3, latent_channels=4, channels=(8, 16), decoder=decoder)
    return VAE(cfg, LOWER, UPPER)


def sea_ice_batch(b=8, size=16, seed=0):
    """Smooth random fields with the first two variables censored at their bounds, land set to 0."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(b, 3, size, size, generator=g)
    base = torch.nn.functional.avg_pool2d(base, 5, stride=1, padding=2) * 3.0
    x = torch.stack([base[:, 0].clamp(min=0), (base[:, 1] + 0.5).clamp(0, 1), base[:, 2]], dim=1)
    mask = torch.ones(1, 1, size, size)
    mask[..., :4, :5] = 0  # a land corner
    return x * mask, mask


def test_config():
    assert VAEConfig().downsampling_factor == 4
    assert VAEConfig(channels=[8, 16, 32, 64]).downsampling_factor == 8
    with pytest.raises(ValueError, match="decoder"):
        VAEConfig(decoder="poisson")


def test_shapes_and_nonpersistent_bounds():
    vae = tiny_vae()
    x, mask = sea_ice_batch()
    mean, logvar = vae.encode(x, mask)
    assert mean.shape == logvar.shape == (8, 4, 8, 8)
    assert vae.decode(mean, mask).shape == x.shape
    assert vae.reconstruct(x, mask).shape == x.shape
    keys = vae.state_dict().keys()
    assert "log_scale" in keys and "lower" not in keys and "upper" not in keys


def test_rejects_bad_sizes_and_bounds():
    vae = tiny_vae()
    x, mask = torch.zeros(2, 3, 18, 17), torch.ones(1, 1, 18, 17)
    with pytest.raises(ValueError, match="divisible"):
        vae.loss(x, mask)
    with pytest.raises(ValueError, match="shape"):
        VAE(VAEConfig(in_channels=3), LOWER[:2], UPPER[:2])
    with pytest.raises(ValueError, match="exceed"):
        VAE(VAEConfig(in_channels=3), UPPER.clamp(max=2.0), LOWER.clamp(min=-2.0))


def test_kl_matches_torch_distributions():
    mean, logvar = torch.randn(50), torch.randn(50)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * logvar))
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0))
    torch.testing.assert_close(kl_standard_normal(mean, logvar), ref)


def test_land_excluded_exactly():
    vae = tiny_vae()
    x, mask = sea_ice_batch()
    land = mask == 0
    loss = lambda x: vae.loss(x, mask, generator=torch.Generator().manual_seed(3))
    ref = loss(x)
    for fill in (7.0, float("nan")):
        out = loss(torch.where(land, fill, x))
        for key in ("loss", "nll", "kl", "nll_per_var"):
            assert torch.equal(out[key], ref[key]), key
    out = loss(torch.where(land, float("nan"), x))
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in vae.parameters())
    mu = vae.decode(vae.encode(x, mask)[0], mask)
    assert (vae.nll(x, mu, mask)[land.expand_as(x)] == 0).all()


def test_loss_terms_are_consistent():
    vae = tiny_vae()
    x, mask = sea_ice_batch()
    out = vae.loss(x, mask, generator=torch.Generator().manual_seed(0))
    assert out["nll_per_var"].shape == (3,)
    torch.testing.assert_close(out["nll"], out["nll_per_var"].mean())
    torch.testing.assert_close(out["loss"], out["nll"] + vae.cfg.kl_weight * out["kl"])
    # Same z as the loss draws: the NLL is the mean over ocean cells of vae.nll.
    g = torch.Generator().manual_seed(0)
    mean, logvar = vae.encode(x, mask)
    z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
    nll = vae.nll(x, vae.decode(z, mask), mask)
    ocean = (mask > 0).expand_as(x)
    torch.testing.assert_close(out["nll"], nll[ocean].mean())


def test_bound_margin_adds_the_past_bound_penalty_to_the_loss_only():
    """The mean fitted at a fixed scale, plus the penalty on a mean far past the bound of an observation at it;
    the score the stopping rule watches is unchanged."""
    from seaice_ldm.models.likelihoods import past_bound_penalty

    x, mask = sea_ice_batch()
    x = torch.where(mask > 0, x, torch.nan)  # land may hold NaN
    out = {}
    for margin in (0.0, 1.5):
        torch.manual_seed(0)
        cfg = VAEConfig(in_channels=3, latent_channels=4, channels=(8, 16), fit_scale=0.05, bound_margin=margin)
        vae = VAE(cfg, LOWER, UPPER)
        out[margin] = vae.loss(x, mask, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    mean, logvar = vae.encode(x, mask)
    mu = vae.decode(mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g), mask)
    ocean = (mask > 0).expand_as(x)
    past = past_bound_penalty(torch.nan_to_num(x), mu, 0.05, 1.5, LOWER, UPPER)
    term = torch.stack([past[:, c][ocean[:, c]].mean() for c in range(3)]).mean()
    assert term > 0
    torch.testing.assert_close(out[1.5]["loss"] - out[0.0]["loss"], term)
    torch.testing.assert_close(out[1.5]["score"], out[0.0]["score"])
    with pytest.raises(ValueError, match="censored decoder"):
        VAEConfig(decoder="gaussian", fit_scale=0.05, bound_margin=1.0)
    with pytest.raises(ValueError, match="fit_scale > 0"):
        VAEConfig(bound_margin=1.0)
    with pytest.raises(ValueError, match="bound_penalty must be one of"):
        VAEConfig(fit_scale=0.05, bound_margin=1.0, bound_penalty="cubic")


def test_per_variable_fit_scales_weigh_each_variables_squared_error():
    """With one fixed scale per variable (Gaussian decoder), what the mean is trained on beyond the score is the
    mean over variables of the ocean-cell mean of -log N(x; mu, s_c^2), checked against scipy; one number
    is the same as that number listed for every variable."""
    from scipy.stats import norm

    x, mask = sea_ice_batch()
    scales = (0.05, 0.02, 0.2)
    out = {}
    for fit in (scales, 0.05, (0.05,) * 3):
        torch.manual_seed(0)
        vae = VAE(VAEConfig(in_channels=3, latent_channels=4, channels=(8, 16), decoder="gaussian",
                            fit_scale=fit), LOWER, UPPER)
        out[fit] = vae.loss(x, mask, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    mean, logvar = vae.encode(x, mask)
    mu = vae.decode(mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g), mask).detach().numpy()
    ocean = (mask > 0).expand_as(x).numpy()
    xn = x.numpy()
    expected = np.mean([-norm.logpdf(xn[:, c], mu[:, c], s)[ocean[:, c]].mean() for c, s in enumerate(scales)])
    fit_term = (out[scales]["loss"] - out[scales]["score"]).item()
    assert fit_term == pytest.approx(expected, rel=1e-4)
    torch.testing.assert_close(out[0.05]["loss"], out[(0.05,) * 3]["loss"])
    with pytest.raises(ValueError, match="2 values for 3 variables"):
        VAEConfig(in_channels=3, fit_scale=(0.05, 0.02))
    with pytest.raises(ValueError, match="> 0"):
        VAEConfig(in_channels=3, fit_scale=(0.05, 0.0, 0.1))


def _train(decoder: str, steps: int = 40) -> tuple[VAE, list[float]]:
    vae = tiny_vae(decoder)
    opt = torch.optim.AdamW(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for step in range(steps):
        x, mask = sea_ice_batch(seed=step)
        out = vae.loss(x, mask, generator=g)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    return vae, losses


@pytest.fixture(scope="module")
def trained():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {decoder: _train(decoder) for decoder in ("censored", "gaussian")}
    torch.set_num_threads(threads)


@pytest.mark.parametrize("decoder", ["censored", "gaussian"])
def test_training_reduces_loss(trained, decoder):
    losses = trained[decoder][1]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.15


def test_the_censored_decoder_puts_its_mean_beyond_the_bounds_where_the_data_sit_at_them(trained):
    """The decoder's mean *before* censoring: where a state sits exactly at a bound, the censored likelihood
    lets the mean go past it (the point output is then exactly the bound), the Gaussian one pulls it inside."""
    x, mask = sea_ice_batch(seed=100)
    at_bound = ((x == LOWER.view(1, 3, 1, 1)) | (x == UPPER.view(1, 3, 1, 1))) & (mask > 0)
    share = {}
    for decoder, (vae, _) in trained.items():
        with torch.no_grad():
            mu = vae.decode(vae.encode(x, mask)[0], mask)
        beyond = (mu <= LOWER.view(1, 3, 1, 1)) | (mu >= UPPER.view(1, 3, 1, 1))
        share[decoder] = beyond[at_bound].float().mean().item()
    assert share["censored"] > 0.15 and share["censored"] > 5 * share["gaussian"], share


@pytest.mark.parametrize("decoder", ["censored", "gaussian"])
def test_draws_put_the_tobit_mass_at_the_bounds(decoder):
    """Draws around a known mean and scale: the censored decoder puts exactly the probability of the Gaussian
    beyond a bound (scipy's normal CDF) at that bound, the Gaussian decoder puts it beyond."""
    from scipy.stats import norm

    vae = tiny_vae(decoder)
    mean = torch.tensor([0.3, 0.8, 0.0])  # thickness above 0, concentration below 1, an unbounded velocity
    mu = mean.view(1, 3, 1, 1).expand(4, 3, 64, 64)
    with torch.no_grad():
        draws = vae.sample_output(mu, torch.Generator().manual_seed(4))
    sigma = np.exp(vae.log_scale.detach().numpy())
    below = norm.cdf((0.0 - mean[:2].numpy()) / sigma[:2])  # P(N(mean, sigma^2) <= 0), thickness and sic
    above = norm.sf((1.0 - 0.8) / sigma[1])  # P(N(0.8, sigma^2) >= 1), sic
    at_lower = [(draws[:, c] == 0).float().mean().item() for c in (0, 1)]
    under_lower = [(draws[:, c] < 0).float().mean().item() for c in (0, 1)]
    at_upper, over_upper = (draws[:, 1] == 1).float().mean().item(), (draws[:, 1] > 1).float().mean().item()
    got = (at_lower, at_upper) if decoder == "censored" else (under_lower, over_upper)
    np.testing.assert_allclose(got[0], below, atol=0.02)
    np.testing.assert_allclose(got[1], above, atol=0.02)
    empty = (under_lower, over_upper) if decoder == "censored" else (at_lower, at_upper)
    assert max(empty[0]) == 0 and empty[1] == 0
