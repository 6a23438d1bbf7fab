"""Checkpoints: the on-disk format (safetensors + JSON, hashes, atomic writes, format version), networks
rebuilt from a checkpoint with value and pairing checks, the generators of a checkpoints folder loaded on
one grid and land mask, and ship-ready exports.

Below both training (which writes checkpoints) and sampling / evaluation (which read them).
"""

from seaice_ldm.checkpoints.build import (TrainedModel, build_precond, build_vae, check_config, check_pair,
                                         load_model, model_id, read_ocean)
from seaice_ldm.checkpoints.format import CheckpointError, load_weights, read_meta, save_checkpoint
from seaice_ldm.checkpoints.generators import TrainedGenerator, load_generators

__all__ = [
    "CheckpointError",
    "TrainedGenerator",
    "TrainedModel",
    "build_precond",
    "build_vae",
    "check_config",
    "check_pair",
    "load_generators",
    "load_model",
    "load_weights",
    "model_id",
    "read_meta",
    "read_ocean",
    "save_checkpoint",
]
