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
        for ema_p, p in zip(self.shadow.parameters(), model.parameters()):
            ema_p.lerp_(p.detach(), 1.0 - decay)
        for ema_b, b in zip(self.shadow.buffers(), model.buffers()):
            ema_b.copy_(b)
