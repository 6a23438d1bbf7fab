"""EDM diffusion (Karras et al. 2022): preconditioning, training loss, schedules, samplers."""

from seaice_ldm.diffusion.loss import EDMLoss, edm_loss
from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.diffusion.samplers import (
    SAMPLERS,
    Sampler,
    evaluations,
    get_sampler,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    to_d,
)
from seaice_ldm.diffusion.schedules import karras_sigmas, steps_for_nfe

__all__ = [
    "EDMLoss",
    "EDMPrecond",
    "SAMPLERS",
    "Sampler",
    "edm_loss",
    "evaluations",
    "get_sampler",
    "karras_sigmas",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_heun",
    "steps_for_nfe",
    "to_d",
]
