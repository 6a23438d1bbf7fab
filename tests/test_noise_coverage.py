"""Noise-level coverage diagnostics against scipy and an analytic low-rank case."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from seaice_ldm.diffusion.coverage import leading_mode_std, noise_coverage, share_of_sigmas_above


@pytest.mark.parametrize("sigma, p_mean, p_std", [(30.0, -1.2, 1.2), (30.0, 0.4, 1.6), (0.01, -1.2, 1.2), (1.0, 0.0, 1.0)])
def test_share_above_matches_scipy(sigma, p_mean, p_std):
    expected = norm.sf(np.log(sigma), loc=p_mean, scale=p_std)
    assert share_of_sigmas_above(sigma, p_mean, p_std) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.usefixtures("one_thread")  # an SVD of 2000 x 300: 0.05 s on one thread, 10 s on two busy cores
def test_leading_mode_std_of_a_rank_one_field_plus_noise():
    """x = a u + e with a ~ N(0, 25) along a unit direction u and small isotropic e: the spread is 5."""
    g = torch.Generator().manual_seed(0)
    n, d = 4000, 300
    u = torch.randn(d, generator=g, dtype=torch.float64)
    u /= u.norm()
    a = 5.0 * torch.randn(n, 1, generator=g, dtype=torch.float64)
    x = (a * u + 0.01 * torch.randn(n, d, generator=g, dtype=torch.float64)).reshape(n, 3, 10, 10)
    expected = float(a.std())  # on all samples; the estimate uses a random subset of 2000
    assert leading_mode_std(x, max_samples=2000) == pytest.approx(expected, rel=0.05)
    with pytest.raises(ValueError, match="two samples"):
        leading_mode_std(x[:1])


def test_coverage_warns_when_training_never_reaches_the_leading_mode():
    g = torch.Generator().manual_seed(1)
    u = torch.randn(64, generator=g)
    u /= u.norm()
    x = 30.0 * torch.randn(512, 1, generator=g) * u  # leading-mode spread ~ 30, as the default latents
    narrow = noise_coverage(x, p_mean=-1.2, p_std=1.2)
    assert narrow.share_above < 1e-3 and any("p_mean" in w for w in narrow.warnings)
    wide = noise_coverage(x, p_mean=0.4, p_std=1.6)
    assert wide.share_above > 0.01 and wide.warnings == []
    assert any("sigma_max" in w for w in noise_coverage(x, 0.4, 1.6, sigma_max=10.0).warnings)
