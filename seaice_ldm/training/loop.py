"""One training loop for every model: AdamW, warm-up, clipping, EMA, validation, resume, DDP.

The model-specific part is a *loss module*: an ``nn.Module`` with a ``.model`` attribute (the network
whose weights are saved) whose ``forward(x, mask, day_of_year)`` returns a dict with a scalar ``"loss"``.

Every model is trained under the same stopping rule: validation (EMA weights, fixed batches and noise)
every ``val_every`` steps, and the run ends when ``patience`` validations in a row have not improved
on the best one by a relative ``min_delta`` (or at the ``steps`` cap).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from seaice_ldm.checkpoints.format import (
    code_version,
    load_into,
    load_weights,
    optimizer_from_safetensors,
    optimizer_to_safetensors,
    read_meta,
    save_checkpoint,
)
from seaice_ldm.models.device import device_name
from seaice_ldm.training.config import OptimConfig
from seaice_ldm.training.distributed import DistInfo, all_reduce_mean, barrier
from seaice_ldm.training.ema import EMA


@dataclass
class TrainingData:
    """Normalised training and validation tensors ``(N, C, H, W)``, the mask that goes with them and
    the 0-based day of the year of every state ``(N,)`` (float32)."""

    train: torch.Tensor
    val: torch.Tensor
    mask: torch.Tensor  # (1, 1, H, W), 1 = ocean
    train_doy: torch.Tensor | None = None
    val_doy: torch.Tensor | None = None

    def batch(self, split: str, step: int, batch_size: int, seed: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch and its days of the year (NaN when unknown), a pure function of
        (seed, step, rank) so resumed runs see the same data."""
        source, doy = (self.train, self.train_doy) if split == "train" else (self.val, self.val_doy)
        gen = torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1024 + rank) * 2 + (split == "val"))
        index = torch.randint(len(source), (batch_size,), generator=gen)
        days = doy[index] if doy is not None else torch.full((batch_size,), float("nan"))
        return source[index], days


@dataclass
class RunState:
    step: int = 0
    wall_time_s: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)

    def best(self) -> dict[str, float] | None:
        """The validation with the lowest loss so far (the earliest of equals)."""
        return min(self.history, key=lambda h: h["val_loss"], default=None)

    def last_improvement(self, cfg: OptimConfig) -> int:
        """Index in ``history`` of the last validation that improved on the best loss before it by more than
        ``min_delta`` of it (relative) and ``min_improvement`` (absolute); -1 before the first validation."""
        best, best_at = math.inf, -1
        for i, h in enumerate(self.history):
            needed = max(cfg.min_delta * abs(best), cfg.min_improvement)  # losses may be negative (NLL)
            if best_at < 0 or best - h["val_loss"] > needed:
                best, best_at = h["val_loss"], i
        return best_at

    def converged(self, cfg: OptimConfig) -> bool:
        """The stopping rule: ``patience`` validations since :meth:`last_improvement`; never with ``patience = 0``."""
        if cfg.patience < 1:
            return False
        best_at = self.last_improvement(cfg)
        return best_at >= 0 and len(self.history) - 1 - best_at >= cfg.patience


def lr_at(step: int, cfg: OptimConfig) -> float:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then constant."""
    return cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup_steps))


def parameter_groups(model: torch.nn.Module, cfg: OptimConfig) -> list[dict[str, Any]]:
    """AdamW groups: the ``log_scale`` parameters step ``scale_lr_factor`` times faster (one group if 1)."""
    scales = [p for name, p in model.named_parameters() if name.split(".")[-1] == "log_scale"]
    rest = [p for name, p in model.named_parameters() if name.split(".")[-1] != "log_scale"]
    if not scales or cfg.scale_lr_factor == 1.0:
        return [{"params": list(model.parameters()), "lr_factor": 1.0}]
    return [{"params": rest, "lr_factor": 1.0}, {"params": scales, "lr_factor": cfg.scale_lr_factor}]


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict, model: torch.nn.Module) -> None:
    """Load a saved AdamW state, also when it was saved with other parameter groups: the per-parameter
    moments follow their parameters (read through a one-group optimiser in ``model.parameters()`` order)."""
    factors = [g["lr_factor"] for g in optimizer.param_groups]  # from the config, not from the saved state
    if [len(g["params"]) for g in saved["param_groups"]] == [len(g["params"]) for g in optimizer.param_groups]:
        optimizer.load_state_dict(saved)
        for group, factor in zip(optimizer.param_groups, factors):
            group["lr_factor"] = factor
        return
    flat = torch.optim.AdamW(model.parameters())
    flat.load_state_dict({"state": saved["state"], "param_groups": [
        {**saved["param_groups"][0], "params": [i for g in saved["param_groups"] for i in g["params"]]}]})
    for param, moments in flat.state.items():
        optimizer.state[param] = moments


def _autocast(device: torch.device, precision: str):
    """bf16 autocast where asked ("bfloat16") or by default on GPU ("auto"); float32 otherwise."""
    if precision == "bfloat16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def _validate(loss_module: torch.nn.Module, data: TrainingData, cfg: OptimConfig, info: DistInfo) -> float:
    losses = []
    for i in range(cfg.val_batches):
        x, doy = data.batch("val", i, cfg.batch_size, cfg.seed, info.rank)
        # the same noise at every validation, without resetting the training noise that follows
        devices = [info.device] if info.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), _autocast(info.device, cfg.precision):
            torch.manual_seed(cfg.seed + i)
            out = loss_module(x.to(info.device), data.mask.to(info.device), doy.to(info.device))
            losses.append(float(out.get("score", out["loss"])))  # "score": what the stopping rule watches
    return all_reduce_mean(sum(losses) / len(losses), info)


def _resume(out: Path, model, ema: EMA, optimizer) -> RunState:
    meta = read_meta(out)
    if "optim" not in meta:
        raise ValueError(f"{out} holds a checkpoint without optimiser state; it cannot be resumed")
    load_into(model, load_weights(out, "raw", meta), str(out))
    load_into(ema.shadow, load_weights(out, "ema", meta), str(out))
    _load_optimizer(optimizer, optimizer_from_safetensors(load_weights(out, "optim", meta), meta["optim"]), model)
    return RunState(meta["step"], meta.get("wall_time_s", 0.0), meta.get("history", []))


def train(
    loss_module: torch.nn.Module,
    data: TrainingData,
    cfg: OptimConfig,
    out: str | Path,
    meta: dict[str, Any],
    info: DistInfo,
    resume: bool = True,
    progress: bool = True,
    ema_loss_module: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
    static: dict[str, dict[str, torch.Tensor]] | None = None,
) -> RunState:
    """Train ``loss_module.model`` until the stopping rule holds (at most ``cfg.steps`` steps) and write
    checkpoints to ``out``.

    ``meta`` is stored in every checkpoint's ``config.json`` (config, normalisation, grid...).
    ``ema_loss_module(ema_model)`` builds the loss module used for validation on the EMA weights.
    ``static`` tensors (e.g. the land mask) are written beside the weights in every checkpoint.
    """
    out = Path(out)
    torch.manual_seed(cfg.seed + info.rank)
    model = loss_module.model.to(info.device)
    loss_module = loss_module.to(info.device)
    ema = EMA(model, cfg.ema_decay)
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = RunState()
    if resume and (out / "config.json").exists():
        state = _resume(out, model, ema, optimizer)
        if info.is_main:
            print(f"resuming {out} from step {state.step}")
    val_module = ema_loss_module(ema.shadow) if ema_loss_module else None
    runner = DistributedDataParallel(loss_module) if info.world_size > 1 else loss_module
    mask = data.mask.to(info.device)

    def checkpoint() -> None:
        if not info.is_main:
            return
        optim_tensors, optim_structure = optimizer_to_safetensors(optimizer)
        full_meta = {
            **meta,
            "step": state.step,
            "wall_time_s": round(state.wall_time_s, 1),
            "hardware": f"{info.world_size} x {device_name(info.device)}",
            "code_version": code_version(),
            "history": state.history,
            "optim": optim_structure,
        }
        weights = {"ema": ema.shadow.state_dict(), "raw": model.state_dict(), "optim": optim_tensors, **(static or {})}
        save_checkpoint(out, full_meta, weights)

    bar = tqdm(
        total=cfg.steps, initial=state.step, desc=f"train {out.name}", disable=not (progress and info.is_main)
    )
    running = None
    while state.step < cfg.steps and not state.converged(cfg):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state.step, cfg) * group["lr_factor"]
        x, doy = data.batch("train", state.step, cfg.batch_size, cfg.seed, info.rank)
        with _autocast(info.device, cfg.precision):
            loss = runner(x.to(info.device), mask, doy.to(info.device))["loss"]
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"loss became {value} at step {state.step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        ema.update(model, state.step)
        state.step += 1
        state.wall_time_s += time.perf_counter() - t0
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        validated = state.step % cfg.val_every == 0 or state.step == cfg.steps
        if validated:
            val = _validate(val_module or loss_module, data, cfg, info)
            state.history.append({"step": state.step, "train_loss": round(running, 5), "val_loss": round(val, 6),
                                  "wall_time_s": round(state.wall_time_s, 1)})
            bar.write(f"step {state.step}: train loss {running:.4f}, validation loss (EMA) {val:.5f}")
        if state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps or (validated and state.converged(cfg)):
            checkpoint()
            barrier(info)
    bar.close()
    if info.is_main and state.converged(cfg):
        best = state.best()
        print(f"converged at step {state.step}: no relative improvement of {cfg.min_delta:g} on the best "
              f"validation loss ({best['val_loss']:.5f} at step {best['step']}) in {cfg.patience} validations")
    return state
