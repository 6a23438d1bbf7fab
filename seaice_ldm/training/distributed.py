"""PyTorch DDP set-up for ``torchrun`` (gloo on CPU, nccl on GPU); single process otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seaice_ldm.models.device import pick_device


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    device: torch.device
    owner: bool = True  # this call created the process group, so its shutdown destroys it

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(0, 1, pick_device(device))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    owner = not dist.is_initialized()  # a caller that holds the group (train all) keeps it across runs
    if owner:
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), chosen, owner)


def all_reduce_mean(value: float, info: DistInfo) -> float:
    """Mean of a scalar over all processes."""
    if info.world_size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / info.world_size


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum of a tensor over all processes (a new tensor; the input itself when there is one process)."""
    if info.world_size == 1:
        return tensor
    total = tensor.clone()
    dist.all_reduce(total)
    return total


def barrier(info: DistInfo) -> None:
    if info.world_size > 1:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Destroy the process group if ``info``'s call created it (re-creating one under torchrun reuses the
    store's keys of the last one, and the ranks can then wait for each other for ever)."""
    if info.world_size > 1 and info.owner and dist.is_initialized():
        dist.destroy_process_group()
