"""Exponential moving average of model weights (what sampling uses)."""

from __future__ import annotations

import copy

import torch


class EMA:
    """Keeps ``shadow`` = decay * shadow + (1 - decay) * weights, with a short warm-up."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    def effective_decay(self, step: int) -> float:
        # warm-up so early, poor weights are forgotten quickly: min(decay, (1 + t) / (10 + t))
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = self.effective_decay(step)
        # shadow = shadow + (1 - decay) (weights - shadow), all tensors in one fused call (no Python loop)
        torch._foreach_lerp_(list(self.shadow.parameters()), [p.detach() for p in model.parameters()], 1.0 - decay)
        buffers = list(self.shadow.buffers())
        if buffers:
            torch._foreach_copy_(buffers, list(model.buffers()))
