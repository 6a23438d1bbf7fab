"""Where networks run and in what arithmetic, decided in one place for sampling and training.

- Device: ``cuda`` when available, else ``cpu``, unless the caller names one.
- Precision (:func:`resolve_precision`): ``"float32"``, or bf16 autocast (``"bfloat16"``, ``"auto"``) *only
  where the chosen device computes bf16 natively*: a CUDA device of compute capability 8.0 or more (Ampere
  and later; ``torch.cuda.is_bf16_supported()`` also says yes on older cards, where cuDNN has no bf16
  convolutions, and it asks GPU 0, not the chosen device), or a CPU with AVX512-BF16 or AMX. Elsewhere
  ``"bfloat16"`` falls back to float32 with a warning. The capability and the CPU flags can be passed in,
  so tests can ask the question of hardware they do not have.
- TF32: off (:data:`ALLOW_TF32`). ``"float32"`` means IEEE float32 on every device, so a float32 run on a
  GPU gives what it gives on a CPU; bf16 autocast is the fast path, chosen by name.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import torch

from seaice_ldm.options import PRECISIONS, check_choice

#: Whether CUDA matmuls and convolutions may round float32 inputs to TF32 (see the module docstring).
ALLOW_TF32 = False
#: The first CUDA compute capability with bf16 tensor cores and bf16 cuDNN convolutions (Ampere).
BF16_CAPABILITY = (8, 0)
#: CPU flags (``/proc/cpuinfo``) of native bf16 arithmetic.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``cuda`` when available, else ``cpu``; an explicit choice wins and is checked. Sets :data:`ALLOW_TF32`."""
    if device in (None, "", "auto"):
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        chosen = torch.device(device)
        if chosen.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} requested but CUDA is not available here; use --device cpu")
    if chosen.type == "cuda":
        torch.set_float32_matmul_precision("high" if ALLOW_TF32 else "highest")  # "highest": no TF32 in matmuls
        torch.backends.cudnn.allow_tf32 = ALLOW_TF32  # nor in convolutions
    return chosen


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere: no cheap check, so no bf16)."""
    try:
        return frozenset(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return frozenset()


def native_bf16(device: torch.device, capability: tuple[int, int] | None = None,
                flags: frozenset[str] | None = None) -> bool:
    """Whether ``device`` computes bf16 natively. ``capability`` (CUDA) and ``flags`` (CPU) default to asking
    the device itself (for CUDA, the chosen device, not GPU 0)."""
    device = torch.device(device)
    if device.type == "cuda":
        if capability is None:
            capability = torch.cuda.get_device_capability(device)
        return tuple(capability) >= BF16_CAPABILITY
    if device.type == "cpu":
        return bool((cpu_flags() if flags is None else flags) & BF16_CPU_FLAGS)
    return False


def resolve_precision(precision: str, device: torch.device, capability: tuple[int, int] | None = None,
                      flags: frozenset[str] | None = None) -> str:
    """The arithmetic that ``precision`` means on ``device``: ``"bfloat16"`` only where it is native."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "float32":
        return "float32"
    if native_bf16(device, capability, flags):
        return "bfloat16"
    if precision == "bfloat16":
        warnings.warn(f"bf16 is not native on {device}; computing in float32", stacklevel=2)
    return "float32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast for a resolved ``precision`` of ``"bfloat16"``; nothing for ``"float32"``."""
    if precision == "bfloat16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def device_name(device: torch.device | str) -> str:
    """One line naming a device, e.g. ``"cuda:0: NVIDIA H100 80GB HBM3"`` or ``"cpu: 16 cores, 1 torch threads"``."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index}: {torch.cuda.get_device_name(index)}"
    if device.type == "cpu":
        return f"cpu: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
    return str(device)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` says the device ran out of memory (CUDA's own error, or another backend's message)."""
    return isinstance(err, torch.cuda.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


def free_cached_memory(device: torch.device) -> None:
    """Give the allocator's cached blocks back after an out-of-memory error, so a smaller batch can fit."""
    if torch.device(device).type == "cuda":
        torch.cuda.empty_cache()
