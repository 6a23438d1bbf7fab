"""Where ``seaice-ldm export`` still imports :func:`export_checkpoint` from; it lives in
:mod:`seaice_ldm.checkpoints.export`. Delete this module once ``cli.py`` imports it from there."""

from seaice_ldm.checkpoints.export import DTYPES, export_checkpoint

__all__ = ["DTYPES", "export_checkpoint"]
