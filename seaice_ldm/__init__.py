"""Latent diffusion models of Arctic sea ice (after Finn et al. 2024, arXiv 2406.18417).

Public entry points: :func:`load_pipeline` (sampling), :mod:`seaice_ldm.data` (grid, land mask,
synthetic data, loaders), ``seaice-ldm`` (the command line).
"""

from seaice_ldm.options import VERSION as __version__  # spelt once, in pyproject.toml

__all__ = ["__version__", "load_pipeline", "Pipeline", "SampleRequest"]


def __getattr__(name: str):
    # torch is imported only when sampling is asked for, so `import seaice_ldm.data` stays light
    if name == "SampleRequest":
        from seaice_ldm.options import SampleRequest

        return SampleRequest
    if name in ("load_pipeline", "Pipeline"):
        from seaice_ldm import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'seaice_ldm' has no attribute {name!r}")
