"""Checkpoints: the on-disk format (safetensors + JSON, hashes, atomic writes, format version), networks
rebuilt from a checkpoint with pairing checks, and ship-ready exports.

Below both training (which writes checkpoints) and sampling / evaluation (which read them).
"""

from seaice_ldm.checkpoints.build import (Loaded, build_precond, build_vae, check_config, check_pair, load_model,
                                         model_id)
from seaice_ldm.checkpoints.format import CheckpointError, load_weights, read_meta, save_checkpoint

__all__ = [
    "CheckpointError",
    "Loaded",
    "build_precond",
    "build_vae",
    "check_config",
    "check_pair",
    "load_model",
    "load_weights",
    "model_id",
    "read_meta",
    "save_checkpoint",
]
