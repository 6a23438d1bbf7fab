"""Networks and likelihoods: the VAE (Gaussian or censored decoder) and the U-Net backbone."""

from seaice_ldm.models.likelihoods import (
    censor,
    censored_gaussian_nll,
    gaussian_nll,
    per_channel,
    sample_decoder,
)
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import DECODERS, VAE, VAEConfig

__all__ = [
    "DECODERS",
    "VAE",
    "UNet",
    "UNetConfig",
    "VAEConfig",
    "censor",
    "censored_gaussian_nll",
    "gaussian_nll",
    "per_channel",
    "sample_decoder",
]
