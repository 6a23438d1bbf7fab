"""Ship-ready copies of checkpoints: EMA weights (optionally half precision) and config, nothing else."""

from __future__ import annotations

from pathlib import Path

import torch

from seaice_ldm.checkpoints.format import load_weights, read_meta, save_checkpoint

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_checkpoint(src: str | Path, dst: str | Path, dtype: str = "float16") -> Path:
    """Copy ``src`` to ``dst`` keeping ``ema`` and ``grid`` tensors, cast to ``dtype``; drops raw and optim.
    The copy is written in the current format: a format-1 ``src`` (no hash of its config.json) comes out sealed."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    meta = read_meta(src, unsealed_ok=True)
    weights = {"ema": load_weights(src, "ema", meta), "grid": load_weights(src, "grid", meta)}
    meta = {k: v for k, v in meta.items() if k not in ("optim", "files")}
    meta["weights_dtype"] = dtype
    return save_checkpoint(dst, meta, weights, dtype=DTYPES[dtype])
