"""Checkpoints: a folder of ``*.safetensors`` weights plus ``config.json`` (never a pickle).

Layout of a checkpoint folder::

    config.json            kind, config, variables and bounds, normalisation stats, grid, data
                           description, code version, step, wall time, hardware, history,
                           sha256 of every weight file, and the sha256 of its own content
    ema.safetensors        EMA weights (what sampling uses)
    grid.safetensors       the ocean mask ``ocean`` (H, W) uint8 the model was trained with
    raw.safetensors        raw weights (optional; dropped from shipped checkpoints)
    optim.safetensors      optimiser state for resuming (optional; dropped from shipped checkpoints)

A folder is written whole into a temporary sibling and renamed into place, so a crash never leaves a
half-written checkpoint; the hashes in ``config.json`` catch weight files corrupted afterwards, and its own
hash (format version 2) an edit of ``config.json`` itself: a changed grid CRS, cell size, order of the
normalisation names or VAE run id would otherwise change every output without a word. A format-1 checkpoint
(written before that hash existed) cannot be verified, so it is read only to be sealed again (``seaice-ldm
export``) or to resume the training run that wrote it. A folder is replaced only when it holds nothing but a
checkpoint's own files.
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
from seaice_ldm.data.grid import Grid
from seaice_ldm.options import VERSION

FORMAT = "seaice-ldm-checkpoint"
FORMAT_VERSION = 2  # 2: config.json carries the sha256 of its own content (CONFIG_HASH)
CONFIG_FILE = "config.json"
CONFIG_HASH = "config_sha256"
RESTORE = ("restore the folder from where it came (copy it again, or export the training run again: "
           "seaice-ldm export RUN FOLDER)")
#: keys every checkpoint's config.json holds, with their JSON types
REQUIRED = {"kind": str, "run_id": str, "step": int, "config": dict, "norm_stats": dict}
OPTIONAL = {"grid": dict, "variables": list, "data": dict, "files": dict, "space": str, "history": list,
            "units": dict, "bounds": dict}


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

    ``dtype`` (e.g. ``torch.float16``) casts floating-point weights for shipping small files. An existing
    folder is replaced only when it is a checkpoint holding nothing but its own files.
    """
    directory = Path(directory)
    _check_replaceable(directory)
    with atomic_directory(directory) as tmp:
        tmp.mkdir()
        os.chmod(tmp, 0o755)
        files = {}
        for name, state in weights.items():
            path = tmp / f"{name}.safetensors"
            save_file(_contiguous(state, dtype), str(path))
            files[path.name] = _sha256(path)
        meta = {k: v for k, v in meta.items() if k != CONFIG_HASH}
        meta = {**meta, "format": FORMAT, "format_version": FORMAT_VERSION, "files": files}
        meta[CONFIG_HASH] = _config_hash(meta)
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return directory


def _check_replaceable(directory: Path) -> None:
    """Refuse to replace a folder the program did not write: one without a checkpoint's config.json, or one
    holding files the checkpoint does not list (a user's notes)."""
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        return
    try:
        meta = json.loads((directory / CONFIG_FILE).read_text())
        own = {CONFIG_FILE, *meta.get("files", {})} if meta.get("format") == FORMAT else None
    except (OSError, ValueError, AttributeError):
        own = None
    if own is None:
        raise CheckpointError(f"{directory} exists and is not a checkpoint folder (no {CONFIG_FILE} of a "
                              "seaice-ldm checkpoint); refusing to replace it: choose another output folder")
    foreign = sorted(p.name for p in directory.iterdir() if p.name not in own)
    if foreign:
        raise CheckpointError(f"{directory} holds files that are not part of its checkpoint ({', '.join(foreign[:5])}); "
                              "refusing to replace it: move them out or choose another output folder")


def _config_hash(meta: dict[str, Any]) -> str:
    """sha256 of config.json's content without the hash itself (keys sorted, compact)."""
    content = {k: v for k, v in meta.items() if k != CONFIG_HASH}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_meta(directory: str | Path, unsealed_ok: bool = False) -> dict[str, Any]:
    """Read and check ``config.json`` of a checkpoint folder: JSON, a table of the right shape, a known format
    version and unchanged since it was written (its own sha256, from version 2). A format-1 ``config.json``
    carries no such hash and is refused unless ``unsealed_ok`` (export, which seals it, and the training run
    that wrote it resuming)."""
    directory = Path(directory)
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {directory}: {CONFIG_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} is not valid JSON ({err}); {RESTORE}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} holds a {type(meta).__name__}, not the table "
                              f"of a checkpoint; {RESTORE}")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seaice-ldm checkpoint (format={meta.get('format')!r})")
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} key format_version must be an integer, got "
                              f"{version!r}; {RESTORE}")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {directory} has format version {meta['format_version']}, "
            f"this seaice-ldm reads up to {FORMAT_VERSION}; upgrade the package"
        )
    if version < 2 and not unsealed_ok:
        raise CheckpointError(f"checkpoint {directory} has format version {version}: its {CONFIG_FILE} was written "
                              "before it carried a sha256 of its own, so a hand edit of its grid, normalisation or "
                              "VAE id cannot be told from the original and would change every output without a "
                              f"word. Seal it by exporting it again: seaice-ldm export {directory} NEW_FOLDER (better "
                              "from the training run it came from), then use NEW_FOLDER")
    if version >= 2 and meta.get(CONFIG_HASH) != _config_hash(meta):
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} was changed after the checkpoint was written "
                              f"(its content no longer has the sha256 it records); an edited grid, normalisation or "
                              f"VAE id would change every output without a word. {RESTORE[0].upper()}{RESTORE[1:]}")
    _check_shape(meta, directory)
    return meta


def _check_shape(meta: dict[str, Any], directory: Path) -> None:
    """Keys every consumer reads, with their types; the grid and the normalisation names consistent."""
    for key, kind in (*REQUIRED.items(), *OPTIONAL.items()):
        if key not in meta and key in REQUIRED:
            raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} lacks the key {key!r}; {RESTORE}")
        value = meta.get(key)
        if key in meta and (not isinstance(value, kind) or isinstance(value, bool)):
            raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} key {key!r} must be a JSON "
                                  f"{ {dict: 'object', list: 'list', str: 'string', int: 'integer'}[kind]}, got "
                                  f"{value!r:.60}; {RESTORE}")
    if "grid" in meta:
        try:
            Grid(**meta["grid"])
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} key 'grid' does not describe a grid "
                                  f"({err}); {RESTORE}") from None
    names = meta["norm_stats"].get("names")
    if "variables" in meta and names != meta["variables"]:
        raise CheckpointError(f"checkpoint {directory}: {CONFIG_FILE} norm_stats.names {names} differ from its "
                              f"variables {meta['variables']} (names and order must match); {RESTORE}")


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
