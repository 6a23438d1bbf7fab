"""One training loop for every model: AdamW, warm-up, clipping, EMA, validation, resume, DDP.

The model-specific part is a *loss module*: an ``nn.Module`` with a ``.model`` attribute (the network
whose weights are saved) whose ``forward(x, mask, day_of_year)`` returns a dict with a scalar ``"loss"``.

Every model is trained under the same stopping rule: validation (EMA weights, fixed batches and noise)
every ``val_every`` steps, and the run ends when ``patience`` validations in a row have not improved
on the best one by a relative ``min_delta`` (or at the ``steps`` cap).

On a GPU the steps are not held up by the host: the training data live on the device, the EMA is one
fused update, and the loss is read back only every ``log_every`` steps (:class:`LossMeter`), where the
ranks of a DDP run also agree whether any of them saw a non-finite loss, so that all of them stop.
"""

from __future__ import annotations

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
from seaice_ldm.models.device import autocast, device_name, is_out_of_memory, resolve_precision
from seaice_ldm.training.config import OptimConfig
from seaice_ldm.training.distributed import DistInfo, all_reduce_mean, all_reduce_sum, barrier
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

    def to(self, device: torch.device) -> "TrainingData":
        """The same data on ``device`` (kept where they are, with a note, when the device cannot hold them)."""
        try:
            moved = [None if t is None else t.to(device) for t in (self.train, self.val, self.mask, self.train_doy,
                                                                   self.val_doy)]
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            print(f"the training data ({self.train.nbytes / 1e9:.1f} GB) do not fit on {device}; "
                  "each batch is copied there instead")
            return self
        return TrainingData(*moved)

    def batch(self, split: str, step: int, batch_size: int, seed: int, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A random batch and its days of the year (NaN when unknown) on the device the data are on, a pure
        function of (seed, step, rank) so resumed runs see the same data."""
        source, doy = (self.train, self.train_doy) if split == "train" else (self.val, self.val_doy)
        gen = torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1024 + rank) * 2 + (split == "val"))
        index = torch.randint(len(source), (batch_size,), generator=gen).to(source.device)
        days = doy[index] if doy is not None else source.new_full((batch_size,), float("nan"))
        return source[index], days


class LossMeter:
    """The training loss without a host sync per step: an exponential running mean (0.95) and a count of
    non-finite losses kept on the device, read back by :meth:`read` at points every rank reaches together."""

    def __init__(self, device: torch.device, info: DistInfo) -> None:
        self.info = info
        self.running = torch.full((), float("nan"), device=device)
        self.non_finite = torch.zeros((), device=device)
        self.since = 0  # the first step since the last read

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        self.non_finite += (~torch.isfinite(loss)).float()
        # running = 0.95 running + 0.05 loss; the first loss starts it
        self.running = torch.where(torch.isnan(self.running), loss, 0.95 * self.running + 0.05 * loss)

    def read(self, step: int) -> float:
        """The running loss of this rank; raises on every rank when any rank saw a non-finite loss since the
        last read (DDP: the count is summed over the ranks first, so no rank is left waiting)."""
        bad = all_reduce_sum(self.non_finite, self.info)
        running, bad = torch.stack([self.running, bad]).tolist()
        if bad:
            raise FloatingPointError(f"the loss became non-finite between steps {self.since} and {step} "
                                     f"({bad:g} time(s) over {self.info.world_size} rank(s)); lower the learning rate")
        self.since = step
        return running


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


@torch.no_grad()
def _validate(loss_module: torch.nn.Module, data: TrainingData, cfg: OptimConfig, info: DistInfo,
              precision: str) -> float:
    losses = []
    for i in range(cfg.val_batches):
        x, doy = data.batch("val", i, cfg.batch_size, cfg.seed, info.rank)
        # the same noise at every validation, without resetting the training noise that follows
        devices = [info.device] if info.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), autocast(info.device, precision):
            torch.manual_seed(cfg.seed + i)
            out = loss_module(x, data.mask, doy)
            losses.append(out.get("score", out["loss"]).float())  # "score": what the stopping rule watches
    return all_reduce_mean(float(torch.stack(losses).mean()), info)


def _resume(out: Path, model, ema: EMA, optimizer) -> RunState:
    meta = read_meta(out, unsealed_ok=True)  # its own run, sealed again at the next save
    if "optim" not in meta:
        raise ValueError(f"{out} holds a checkpoint without optimiser state; it cannot be resumed")
    load_into(model, load_weights(out, "raw", meta), str(out))
    load_into(ema.shadow, load_weights(out, "ema", meta), str(out))
    _load_optimizer(optimizer, optimizer_from_safetensors(load_weights(out, "optim", meta), meta["optim"]), model)
    return RunState(meta["step"], meta.get("wall_time_s", 0.0), meta.get("history", []))


def _save(out: Path, meta: dict[str, Any], state: RunState, model: torch.nn.Module, ema: EMA,
          optimizer: torch.optim.Optimizer, static: dict | None, hardware: dict[str, str]) -> None:
    optim_tensors, optim_structure = optimizer_to_safetensors(optimizer)
    full_meta = {**meta, "step": state.step, "wall_time_s": round(state.wall_time_s, 1), **hardware,
                 "code_version": code_version(), "history": state.history, "optim": optim_structure}
    weights = {"ema": ema.shadow.state_dict(), "raw": model.state_dict(), "optim": optim_tensors, **(static or {})}
    save_checkpoint(out, full_meta, weights)


def _step(runner: torch.nn.Module, model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
          mask: torch.Tensor, doy: torch.Tensor, cfg: OptimConfig, precision: str) -> torch.Tensor:
    """One optimisation step; the loss stays on the device."""
    with autocast(x.device, precision):
        loss = runner(x, mask, doy)["loss"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
    return loss


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

    ``meta`` is stored in every checkpoint's ``config.json`` (config, normalisation, grid...), with the device
    and the precision it was trained in. ``ema_loss_module(ema_model)`` builds the loss module used for
    validation on the EMA weights. ``static`` tensors (e.g. the land mask) are written beside the weights.
    """
    out = Path(out)
    torch.manual_seed(cfg.seed + info.rank)
    precision = resolve_precision(cfg.precision, info.device)
    hardware = {"hardware": f"{info.world_size} x {device_name(info.device)}", "precision": precision}
    model = loss_module.model.to(info.device)
    loss_module = loss_module.to(info.device)
    data = data.to(info.device)
    ema = EMA(model, cfg.ema_decay)
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = RunState()
    if resume and (out / "config.json").exists():
        state = _resume(out, model, ema, optimizer)
        if info.is_main:
            print(f"resuming {out} from step {state.step}")
    val_module = ema_loss_module(ema.shadow) if ema_loss_module else loss_module
    device_ids = [info.device.index] if info.device.type == "cuda" else None
    runner = DistributedDataParallel(loss_module, device_ids=device_ids) if info.world_size > 1 else loss_module
    meter, running = LossMeter(info.device, info), math.nan
    bar = tqdm(total=cfg.steps, initial=state.step, desc=f"train {out.name}", disable=not (progress and info.is_main))
    while state.step < cfg.steps and not state.converged(cfg):
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(state.step, cfg) * group["lr_factor"]
        x, doy = data.batch("train", state.step, cfg.batch_size, cfg.seed, info.rank)
        meter.add(_step(runner, model, optimizer, x, data.mask, doy, cfg, precision))
        ema.update(model, state.step)
        state.step += 1
        state.wall_time_s += time.perf_counter() - t0
        bar.update(1)
        validated = state.step % cfg.val_every == 0 or state.step == cfg.steps
        save = state.step % cfg.checkpoint_every == 0 or state.step == cfg.steps
        if validated or save or state.step % cfg.log_every == 0:  # every rank reaches these steps together
            running = meter.read(state.step)
            bar.set_postfix(loss=f"{running:.4f}")
        if validated:
            val = _validate(val_module, data, cfg, info, precision)
            state.history.append({"step": state.step, "train_loss": round(running, 5), "val_loss": round(val, 6),
                                  "wall_time_s": round(state.wall_time_s, 1)})
            bar.write(f"step {state.step}: train loss {running:.4f}, validation loss (EMA) {val:.5f}")
        if save or (validated and state.converged(cfg)):
            if info.is_main:
                _save(out, meta, state, model, ema, optimizer, static, hardware)
            barrier(info)
    bar.close()
    if info.is_main and state.converged(cfg):
        best = state.best()
        needed = " and ".join([f"relative {cfg.min_delta:g}"] * bool(cfg.min_delta)
                              + [f"absolute {cfg.min_improvement:g}"] * bool(cfg.min_improvement)) or "any"
        print(f"converged at step {state.step}: no improvement ({needed}) on the best validation loss "
              f"({best['val_loss']:.5f} at step {best['step']}) in {cfg.patience} validations")
    return state
