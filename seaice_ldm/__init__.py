"""Latent diffusion models of Arctic sea ice (after Finn et al. 2024, arXiv 2406.18417).

Public entry points: :func:`load_pipeline` (sampling), :mod:`seaice_ldm.data` (grid, land mask,
synthetic data, loaders), ``seaice-ldm`` (the command line).
"""

__all__ = ["__version__", "load_pipeline", "Pipeline", "SampleRequest"]


def __getattr__(name: str):
    # Nothing is imported here before it is asked for: the console script imports this package before the
    # command line can install its interrupt handlers, so a Ctrl-C in that window would print an import
    # traceback (the version alone costs importlib.metadata); torch loads only when sampling is asked for.
    if name == "__version__":
        from seaice_ldm.options import VERSION  # spelt once, in pyproject.toml

        return VERSION
    if name == "SampleRequest":
        from seaice_ldm.options import SampleRequest

        return SampleRequest
    if name in ("load_pipeline", "Pipeline"):
        from seaice_ldm import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'seaice_ldm' has no attribute {name!r}")
