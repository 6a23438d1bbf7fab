"""Where networks run: ``cuda`` when available, else ``cpu``, unless the caller names a device."""

from __future__ import annotations

import torch


def pick_device(device: str | None = None) -> torch.device:
    """``cuda`` when available, else ``cpu``; an explicit choice wins and is checked."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use --device cpu")
    return chosen
