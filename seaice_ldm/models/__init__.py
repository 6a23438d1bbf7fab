"""Networks and likelihoods: the VAE (Gaussian or censored decoder), the U-Net backbone, the latent space
the diffusion model sees (latent mask, whitening) and the device they run on."""

from seaice_ldm.models.device import pick_device
from seaice_ldm.models.latent import latent_mask, latent_stats, unwhiten, whiten
from seaice_ldm.models.likelihoods import (
    censor,
    censored_gaussian_nll,
    gaussian_nll,
    log_ndtr,
    per_channel,
    sample_decoder,
)
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import DECODERS, VAE, VAEConfig, VAELoss

__all__ = [
    "DECODERS",
    "VAE",
    "VAELoss",
    "UNet",
    "UNetConfig",
    "VAEConfig",
    "censor",
    "censored_gaussian_nll",
    "gaussian_nll",
    "latent_mask",
    "latent_stats",
    "log_ndtr",
    "per_channel",
    "pick_device",
    "sample_decoder",
    "unwhiten",
    "whiten",
]
