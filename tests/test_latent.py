"""The latent space of the diffusion model: ocean fraction per latent cell and per-channel whitening."""

import numpy as np
import torch

from seaice_ldm.models.latent import latent_mask, latent_stats, unwhiten, whiten


def test_latent_mask_is_the_ocean_fraction_of_each_block():
    mask = (torch.rand(1, 1, 16, 24, generator=torch.Generator().manual_seed(0)) > 0.3).float()
    expected = mask.numpy().reshape(1, 1, 4, 4, 6, 4).mean(axis=(3, 5))  # 4 x 4 blocks
    np.testing.assert_allclose(latent_mask(mask, 4).numpy(), expected, rtol=1e-6)


def test_whitened_latents_have_zero_mean_and_unit_std_per_channel_and_unwhiten_inverts():
    g = torch.Generator().manual_seed(1)
    scale, shift = torch.tensor([0.1, 3.0, 40.0]), torch.tensor([-2.0, 0.0, 7.0])
    z = torch.randn(64, 3, 8, 8, generator=g) * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
    stats = latent_stats(z)
    w = whiten(z, stats).double().numpy()
    np.testing.assert_allclose(w.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(w.std(axis=(0, 2, 3), ddof=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(stats["mean"], z.double().numpy().mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(unwhiten(whiten(z, stats), stats), z, rtol=1e-5, atol=1e-5)
