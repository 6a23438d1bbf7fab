"""A fake GPU on the CPU, for tests that code keeps every tensor on the device it was asked to use.

Inside :class:`FakeCuda` the device ``cuda:0`` exists: tensors moved or created there really live in CPU
memory, but the mode remembers their storage as "on the device" and reports ``device == cuda:0`` for them.
Then it does what a real GPU does to a program that forgot a tensor on the host, and a little more:

- an operation that mixes a device tensor with a host tensor of one or more dimensions fails
  (:class:`StrayCPUTensor`), as CUDA would ("Expected all tensors to be on the same device");
- a network operation (convolution, matrix product, attention, normalisation) whose tensors are all on the
  host fails too: a model, or a batch, that never reached the device.

Host scalars (0-d tensors) may mix with device tensors, as on CUDA. Moving to the device makes a copy (as a
real transfer does), so the host original stays a host tensor. Gradients are on the device of their
parameter, as autograd puts them. The CUDA queries a program makes (name, capability, RNG state) answer for
the fake device; autocast on ``cuda`` is unavailable on a CPU-only build, so fake-device runs use float32.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

DEVICE = torch.device("cuda", 0)
#: network operations that must never run with every tensor on the host while the fake device is in use
COMPUTE = {"conv2d", "conv_transpose2d", "linear", "matmul", "bmm", "mm", "addmm", "baddbmm",
           "scaled_dot_product_attention", "group_norm", "layer_norm", "batch_norm"}
#: bookkeeping that may see a host tensor and its device copy together (``Module.to`` swapping ``param.data``)
BOOKKEEPING = {"_has_compatible_shallow_copy_type", "__set__"}


class StrayCPUTensor(AssertionError):
    """A tensor was left on the host where the device was asked for."""


def _name(func) -> str:
    return getattr(func, "__name__", str(func))


class FakeCuda(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.storages: dict[int, torch.UntypedStorage] = {}  # kept alive: an address is never reused
        self.checked = 0  # operations that had a device tensor among their inputs

    # ------------------------------------------------------------------ bookkeeping
    def on_device(self, t: torch.Tensor) -> bool:
        with torch._C.DisableTorchFunction():
            return t.numel() > 0 and t.untyped_storage().data_ptr() in self.storages

    def _mark(self, out: Any) -> Any:
        with torch._C.DisableTorchFunction():
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor) and t.numel() > 0:
                    storage = t.untyped_storage()
                    self.storages[storage.data_ptr()] = storage
        return out

    def _fake_device(self, device: Any) -> bool:
        return device is not None and torch.device(device).type == "cuda"

    # ------------------------------------------------------------------ the mode
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        name = _name(func)
        if name == "__get__" and args and isinstance(args[0], torch.Tensor):
            return self._property(func, args[0])
        if name in ("to", "cuda", "cpu", "pin_memory") and args and isinstance(args[0], torch.Tensor):
            return self._move(name, args, kwargs)
        if self._fake_device(kwargs.get("device")):  # a factory asked for the device
            kwargs["device"] = "cpu"
            return self._mark(func(*args, **kwargs))
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        device = [t for t in tensors if self.on_device(t)]
        host = [t for t in tensors if not self.on_device(t) and t.dim() > 0]
        if device and host and name not in BOOKKEEPING:
            raise StrayCPUTensor(f"{name} mixes tensors on {DEVICE} with a CPU tensor of shape "
                                 f"{tuple(host[0].shape)}")
        if not device and host and name in COMPUTE:
            raise StrayCPUTensor(f"{name} ran on the CPU (inputs of shape {tuple(host[0].shape)}): a model or a "
                                 f"batch was not moved to {DEVICE}")
        out = func(*args, **kwargs)
        if device:
            self.checked += 1
            self._mark(out)
        return out

    def _property(self, func, t: torch.Tensor):
        prop = getattr(func, "__self__", None)
        here = self.on_device(t)
        if prop is torch.Tensor.device and here:
            return DEVICE
        if prop is torch.Tensor.is_cuda:
            return here
        out = func(t)
        if prop is torch.Tensor.grad and here and out is not None:
            self._mark(out)  # autograd puts a gradient on its parameter's device
        return out

    def _target(self, name: str, args, kwargs) -> tuple[torch.device | None, torch.dtype | None, Any]:
        """Where ``Tensor.to`` / ``.cuda`` / ``.cpu`` sends a tensor (None: where it is), its dtype and format."""
        if name in ("cuda", "cpu"):
            return torch.device("cuda" if name == "cuda" else "cpu"), None, None
        other = args[1] if len(args) > 1 and isinstance(args[1], torch.Tensor) else kwargs.get("other")
        if other is not None:
            return (DEVICE if self.on_device(other) else torch.device("cpu")), other.dtype, None
        options = {k: v for k, v in kwargs.items() if k in ("device", "dtype", "non_blocking", "memory_format")}
        device, dtype, _, memory_format = torch._C._nn._parse_to(*args[1:], **options)
        return device, dtype, memory_format

    def _move(self, name: str, args, kwargs):
        t = args[0]
        if name == "pin_memory":
            return t
        target, dtype, memory_format = self._target(name, args, kwargs)
        here = self.on_device(t)
        there = here if target is None else target.type == "cuda"
        with torch._C.DisableTorchFunction():
            out = t.to(dtype=dtype or t.dtype, memory_format=memory_format or torch.preserve_format)
            if there != here:
                out = out.clone() if out is t else out  # a transfer is a copy
        return self._mark(out) if there and out is not t else out


@contextlib.contextmanager
def fake_cuda(monkeypatch, capability: tuple[int, int] = (8, 0)) -> Iterator[FakeCuda]:
    """The fake device for the length of the block; torch's CUDA queries answer for it."""
    answers = {"get_device_name": lambda *a, **k: "Fake GPU", "get_device_capability": lambda *a, **k: capability,
               "current_device": lambda: 0, "device_count": lambda: 1, "is_available": lambda: True,
               "synchronize": lambda *a, **k: None, "empty_cache": lambda: None,
               "get_rng_state": lambda *a, **k: torch.get_rng_state(), "set_rng_state": lambda *a, **k: None,
               "manual_seed": lambda *a, **k: None, "manual_seed_all": lambda *a, **k: None}
    for name, answer in answers.items():
        monkeypatch.setattr(torch.cuda, name, answer)
    mode = FakeCuda()
    with mode:
        yield mode


def host_tensors(mode: FakeCuda, *modules: torch.nn.Module) -> list[str]:
    """Names of the parameters and buffers of ``modules`` that are not on the fake device."""
    return [name for m in modules for name, t in [*m.named_parameters(), *m.named_buffers()]
            if not mode.on_device(t)]


__all__ = ["DEVICE", "FakeCuda", "StrayCPUTensor", "fake_cuda", "host_tensors"]
