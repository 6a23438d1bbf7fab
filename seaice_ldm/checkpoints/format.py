"""Checkpoints: a folder of ``*.safetensors`` weights plus ``config.json`` (never a pickle).

Layout of a checkpoint folder::

    config.json            kind, config, variables and bounds, normalisation stats, grid, data
                           description, code version, step, wall time, hardware, history,
                           sha256 of every weight file
    ema.safetensors        EMA weights (what sampling uses)
    grid.safetensors       the ocean mask ``ocean`` (H, W) uint8 the model was trained with
    raw.safetensors        raw weights (optional; dropped from shipped checkpoints)
    optim.safetensors      optimiser state for resuming (optional; dropped from shipped checkpoints)

A folder is written whole into a temporary sibling and renamed into place, so a crash never leaves a
half-written checkpoint; the hashes in ``config.json`` catch files corrupted afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seaice_ldm.data.atomic import atomic_directory
from seaice_ldm.options import VERSION

FORMAT = "seaice-ldm-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupted, or does not fit what it is loaded into."""


def code_version() -> str:
    """Package version (:data:`seaice_ldm.options.VERSION`), plus the git commit when run from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{VERSION}+g{sha}" if sha else VERSION


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _contiguous(state: dict[str, torch.Tensor], dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        value = value.detach().to("cpu")
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        out[key] = value.contiguous().clone()
    return out


def save_checkpoint(
    directory: str | Path,
    meta: dict[str, Any],
    weights: dict[str, dict[str, torch.Tensor]],
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``weights`` (e.g. ``{"ema": state_dict, "raw": ...}``) and ``meta`` atomically.

    ``dtype`` (e.g. ``torch.float16``) casts floating-point weights for shipping small files.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()) and not (directory / CONFIG_FILE).exists():
        raise CheckpointError(f"{directory} exists and is not a checkpoint folder (no {CONFIG_FILE}); "
                              "refusing to replace it: choose another output folder")
    with atomic_directory(directory) as tmp:
        tmp.mkdir()
        os.chmod(tmp, 0o755)
        files = {}
        for name, state in weights.items():
            path = tmp / f"{name}.safetensors"
            save_file(_contiguous(state, dtype), str(path))
            files[path.name] = _sha256(path)
        meta = {**meta, "format": FORMAT, "format_version": FORMAT_VERSION, "files": files}
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return directory


def read_meta(directory: str | Path) -> dict[str, Any]:
    """Read and check ``config.json`` of a checkpoint folder."""
    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {directory}: {CONFIG_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} is not valid JSON ({err})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seaice-ldm checkpoint (format={meta.get('format')!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {directory} has format version {meta['format_version']}, "
            f"this seaice-ldm reads up to {FORMAT_VERSION}; upgrade the package"
        )
    return meta


def load_weights(directory: str | Path, name: str = "ema", meta: dict | None = None) -> dict[str, torch.Tensor]:
    """Load ``{name}.safetensors`` after checking its hash against ``config.json``."""
    directory = Path(directory)
    meta = read_meta(directory) if meta is None else meta
    filename = f"{name}.safetensors"
    path = directory / filename
    expected = meta.get("files", {}).get(filename)
    if expected is None or not path.is_file():
        raise CheckpointError(f"checkpoint {directory} has no {filename}")
    if _sha256(path) != expected:
        raise CheckpointError(
            f"checkpoint {directory}: {filename} is corrupted (sha256 differs from {CONFIG_FILE})"
        )
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"checkpoint {directory}: cannot read {filename} ({err})") from None
    return {key: value.float() if value.is_floating_point() else value for key, value in state.items()}


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict`` with a message that says which checkpoint does not fit and how."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s), e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} tensor(s), e.g. {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} shape mismatch(es), e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}")
        raise CheckpointError(f"checkpoint {where} does not fit the model its config describes: " + "; ".join(parts))
    module.load_state_dict(state)


def optimizer_to_safetensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser state into flat tensors (safetensors) and a JSON-able structure."""
    state = optimizer.state_dict()
    tensors, layout = {}, {}
    for index, values in state["state"].items():
        layout[str(index)] = {}
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value
                layout[str(index)][key] = None
            else:
                layout[str(index)][key] = value
    return tensors, {"param_groups": state["param_groups"], "state": layout}


def optimizer_from_safetensors(tensors: dict[str, torch.Tensor], structure: dict) -> dict:
    """Inverse of :func:`optimizer_to_safetensors`: a state dict for ``optimizer.load_state_dict``."""
    state = {}
    for index, values in structure["state"].items():
        state[int(index)] = {
            key: tensors[f"{index}.{key}"] if value is None else value for key, value in values.items()
        }
    return {"state": state, "param_groups": structure["param_groups"]}
