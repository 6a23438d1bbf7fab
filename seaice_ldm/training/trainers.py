"""``train vae`` and ``train diffusion``: the set-up around :func:`loop.train`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import torch
from tqdm.auto import tqdm

from seaice_ldm.checkpoints.build import bounds_tensors, encoder_id, load_model, model_id
from seaice_ldm.checkpoints.format import CONFIG_FILE, CheckpointError, load_into, load_weights, read_meta
from seaice_ldm.data import VARIABLES, same_normalisation
from seaice_ldm.diffusion.coverage import NoiseCoverage, leading_mode_std, noise_levels_for, share_of_sigmas_above
from seaice_ldm.diffusion.loss import EDMLoss
from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.diffusion.sdedit import redrawn_channels
from seaice_ldm.models.latent import latent_mask, latent_stats, whiten
from seaice_ldm.models.unet import UNet
from seaice_ldm.models.vae import VAE, VAELoss
from seaice_ldm.training.config import (ConfigError, DiffusionTrainConfig, OptimConfig, VAETrainConfig,
                                       config_to_dict, follow_data, resolve_fit_scales)
from seaice_ldm.training.distributed import init_distributed, shutdown
from seaice_ldm.training.loop import RunState, TrainingData, train
from seaice_ldm.training.prepare import PreparedData, describe, prepare


def _resumed_meta(out: Path, resume: bool) -> dict | None:
    """The record of the run in ``out`` that this one resumes, or None for a fresh run."""
    return read_meta(out, unsealed_ok=True) if resume and (out / CONFIG_FILE).exists() else None


def _run_id(out: Path, resume: bool) -> str:
    previous = _resumed_meta(out, resume)
    return previous["run_id"] if previous else uuid.uuid4().hex[:12]


def _base_meta(kind: str, cfg, prepared: PreparedData, out: Path, resume: bool) -> dict:
    names = list(prepared.stats.names)
    return {
        "kind": kind,
        "run_id": _run_id(out, resume),
        "config": config_to_dict(cfg),
        "variables": names,
        "units": {n: VARIABLES[n].units for n in names},
        "bounds": {n: [VARIABLES[n].lower, VARIABLES[n].upper] for n in names},
        "norm_stats": prepared.stats.to_dict(),
        "grid": prepared.grid,
        "data": prepared.description,
    }


def _record_start(meta: dict, cfg, out: Path, resume: bool, warm) -> None:
    """A later stage (``cfg.init_from``) records where it started: a resumed run keeps its own record (its weights
    are loaded by the loop), a fresh one calls ``warm()``, which loads the source weights and returns the record."""
    if cfg.init_from:
        previous = _resumed_meta(out, resume)
        record = previous.get("init_from") if previous else warm()
        if record:
            meta["init_from"] = record


def grid_tensors(prepared: PreparedData) -> dict[str, dict[str, torch.Tensor]]:
    """The full-resolution ocean mask, stored in every checkpoint as ``grid.safetensors``."""
    return {"grid": {"ocean": (prepared.data.mask[0, 0] > 0.5).to(torch.uint8)}}


def train_vae(cfg: VAETrainConfig, device: str | None = None, resume: bool = True, progress: bool = True) -> Path:
    """Train a VAE (Gaussian or censored decoder, as configured) and return its checkpoint folder."""
    info = init_distributed(device)
    out = Path(cfg.out)
    prepared = prepare(cfg.data)
    if info.is_main:
        print(describe(prepared, cfg.data))
    follow_data(cfg.vae, ("in_channels",), len(prepared.stats.names), "vae", "the variables")
    resolve_fit_scales(cfg.vae, prepared.stats.names)
    vae = VAE(cfg.vae, *bounds_tensors(prepared.stats))
    meta = _base_meta("vae", cfg, prepared, out, resume)
    _record_start(meta, cfg, out, resume, lambda: vae_warm_start(vae, cfg, prepared))
    if cfg.freeze_encoder:
        vae.encoder.requires_grad_(False)  # no gradient: AdamW and the EMA leave these weights as loaded
        meta["encoder_id"] = meta["init_from"]["encoder_id"]
    train(
        VAELoss(vae), prepared.data, cfg.optim, out, meta, info, resume, progress,
        ema_loss_module=VAELoss, static=grid_tensors(prepared),
    )
    shutdown(info)
    return out


@torch.no_grad()
def encode_latents(vae: VAE, x: torch.Tensor, mask: torch.Tensor, device, batch: int = 32, progress: bool = True):
    """Posterior means of ``x`` (the latent diffusion model's training data)."""
    chunks = []
    for start in tqdm(range(0, len(x), batch), desc="encode", disable=not progress, leave=False):
        mean, _ = vae.encode(x[start : start + batch].to(device), mask.to(device))
        chunks.append(mean.float().cpu())
    return torch.cat(chunks)


def _latent_data(cfg: DiffusionTrainConfig, prepared_fn, device, progress: bool):
    """Encode the training and validation states with the configured VAE; whiten per channel."""
    if not cfg.vae_checkpoint:
        raise CheckpointError("space = 'latent' needs vae_checkpoint = path of a trained VAE checkpoint")
    vae = load_model(cfg.vae_checkpoint, "vae", device)
    prepared = prepared_fn(vae.stats)
    if prepared.grid != vae.meta["grid"]:
        raise CheckpointError(
            f"VAE {cfg.vae_checkpoint} was trained on grid {vae.meta['grid']}, the data are on {prepared.grid}"
        )
    data = prepared.data
    z_train = encode_latents(vae.module, data.train, data.mask, device, progress=progress)
    z_val = encode_latents(vae.module, data.val, data.mask, device, progress=progress)
    stats = latent_stats(z_train)
    lmask = latent_mask(data.mask, vae.module.downsampling_factor)
    latent = TrainingData(whiten(z_train, stats), whiten(z_val, stats), lmask, data.train_doy, data.val_doy)
    extra = {
        "vae": {"model_id": model_id(vae.meta), "encoder_id": encoder_id(vae.meta), "path": str(cfg.vae_checkpoint),
                "decoder": vae.meta["config"]["vae"]["decoder"]},
        "latent_stats": stats,
    }
    return prepared, latent, extra


def choose_noise_levels(x: torch.Tensor, cfg: DiffusionTrainConfig, verbose: bool = True) -> dict:
    """Fill the unset noise levels of ``cfg.diffusion`` from the training data's leading-mode spread
    (see :mod:`seaice_ldm.diffusion.coverage`); say how they cover that spread. Returns what to record."""
    d = cfg.diffusion
    spread = leading_mode_std(x)
    chosen = noise_levels_for(spread)
    d.p_mean = chosen.p_mean if d.p_mean is None else d.p_mean
    d.p_std = chosen.p_std if d.p_std is None else d.p_std
    d.sigma_max = chosen.sigma_max if d.sigma_max is None else d.sigma_max
    cov = NoiseCoverage(spread, share_of_sigmas_above(spread, d.p_mean, d.p_std), d.sigma_max)
    if verbose and d.refiner:  # it never starts from noise, so the data's leading mode is not its concern
        print(f"noise levels (a refiner): training sigmas ~ logN({d.p_mean}, {d.p_std}^2) below sigma_max = "
              f"{d.sigma_max:g}, from which it refines another generator's states")
    elif verbose:
        print(f"noise levels: leading mode of the training data has std {spread:.3g}; training sigmas ~ "
              f"logN({d.p_mean}, {d.p_std}^2) ({100 * cov.share_above:.2f} % above it); sampler sigma_max = "
              f"{d.sigma_max:g}")
        for warning in cov.warnings:
            print(f"warning: {warning}")
    return {"leading_mode_std": round(spread, 4), "share_above": round(cov.share_above, 5)}


#: What a VAE's later stage may change: its loss, not its network (the latents keep their meaning).
VAE_STAGE_KEYS = ("kl_weight", "fit_scale", "fit_scale_by_variable", "bound_margin", "bound_penalty")


def _source_meta(cfg, kind: str, prepared: PreparedData) -> tuple[Path, dict]:
    """The record of the run ``cfg.init_from`` (a training run continued by the next stage), checked to be a
    ``kind`` run on the same normalised data."""
    src = Path(cfg.init_from)
    meta = read_meta(src, unsealed_ok=True)
    if meta.get("kind") != kind:
        raise CheckpointError(f"init_from = {src}: not a {kind} run (kind {meta.get('kind')!r})")
    if not same_normalisation(meta["norm_stats"], prepared.stats.to_dict()):
        raise CheckpointError(f"init_from = {src}: it was trained on differently normalised data")
    return src, meta


def _differing(own: dict, theirs: dict) -> dict[str, dict]:
    """Keys whose values differ between two config sections, as ``{key: {"from": theirs, "to": own}}``."""
    own = json.loads(json.dumps(own))  # as stored: tuples become lists
    return {k: {"from": theirs.get(k), "to": v} for k, v in own.items() if v != theirs.get(k)}


def _stage_one_end(src: Path, meta: dict, changed: dict[str, dict]) -> dict:
    """What a later stage records of the run it starts from: what it was, what changed and how it ended (its run
    folder need not outlive these weights)."""
    state, rule = RunState(step=meta["step"], history=meta.get("history", [])), OptimConfig(**meta["config"]["optim"])
    improved = state.last_improvement(rule)
    return {"run": str(src), "run_id": meta["run_id"], "step": meta["step"], "wall_time_s": meta.get("wall_time_s"),
            "changed": changed, "steps_cap": rule.steps, "converged": state.converged(rule),
            "last_improvement_step": state.history[improved]["step"] if improved >= 0 else None}


def vae_warm_start(vae: VAE, cfg: VAETrainConfig, prepared: PreparedData) -> dict:
    """Load the EMA weights of the VAE run ``cfg.init_from`` into ``vae``; refuse a run of another network or
    data normalisation (only the loss, :data:`VAE_STAGE_KEYS`, may differ). Returns what to record."""
    src, meta = _source_meta(cfg, "vae", prepared)
    changed = _differing(config_to_dict(cfg.vae), meta["config"]["vae"])
    loss = VAE_STAGE_KEYS + (("decoder",) if cfg.freeze_encoder else ())  # a decoder-only stage may change its kind
    network = sorted(set(changed) - set(loss) - {"init_log_scale"})  # the scales are loaded too
    if network:
        raise CheckpointError(f"init_from = {src}: its [vae] differs in {network}; only the loss "
                              f"({', '.join(loss)}) may change")
    load_into(vae, load_weights(src, "ema", meta), str(src))
    return {**_stage_one_end(src, meta, {k: v for k, v in changed.items() if k in loss}),
            "encoder_id": encoder_id(meta)}


def warm_start(precond: EDMPrecond, cfg: DiffusionTrainConfig, prepared: PreparedData) -> dict:
    """Load the EMA weights of the diffusion run ``cfg.init_from`` into ``precond``; refuse a run of another
    space, data normalisation or network (only ``[unet] margin`` may differ). Returns what to record."""
    src, meta = _source_meta(cfg, "diffusion", prepared)
    if meta.get("space") != cfg.space:
        raise CheckpointError(f"init_from = {src}: not a {cfg.space}-space diffusion run (space {meta.get('space')!r})")
    changed = _differing(config_to_dict(cfg.unet), meta["config"]["unet"])
    differ = sorted(k for k in changed if k != "margin")
    if differ:
        raise CheckpointError(f"init_from = {src}: its [unet] differs in {differ}; only margin may change")
    if cfg.space == "latent" and meta["config"].get("vae_checkpoint") != cfg.vae_checkpoint:
        raise CheckpointError(f"init_from = {src}: it was trained on the latents of another VAE "
                              f"({meta['config'].get('vae_checkpoint')!r}, not {cfg.vae_checkpoint!r})")
    load_into(precond, load_weights(src, "ema", meta), str(src))
    return {**_stage_one_end(src, meta, changed), "margin": meta["config"]["unet"].get("margin", 0)}


def train_diffusion(
    cfg: DiffusionTrainConfig, device: str | None = None, resume: bool = True, progress: bool = True
) -> Path:
    """Train an EDM diffusion model on VAE latents (``space="latent"``) or on the fields (``"data"``)."""
    info = init_distributed(device)
    out = Path(cfg.out)
    if cfg.space == "latent":
        prepared, data, extra = _latent_data(cfg, lambda stats: prepare(cfg.data, stats), info.device, progress and info.is_main)
    else:
        prepared = prepare(cfg.data)
        data, extra = prepared.data, {}
    if info.is_main:
        print(describe(prepared, cfg.data))
    follow_data(cfg.unet, ("in_channels", "out_channels"), data.train.shape[1], "unet",
                "the variables" if cfg.space == "data" else "the VAE's latents")
    coverage = choose_noise_levels(data.train, cfg, verbose=info.is_main)
    precond = EDMPrecond(UNet(cfg.unet), sigma_data=cfg.diffusion.sigma_data)
    meta = {**_base_meta("diffusion", cfg, prepared, out, resume), "space": cfg.space, "noise_coverage": coverage,
            **extra}
    _record_start(meta, cfg, out, resume, lambda: warm_start(precond, cfg, prepared))

    try:
        channels = redrawn_channels(cfg.diffusion.refine_variables, prepared.stats.names)
    except ValueError as err:
        raise ConfigError(f"[diffusion] {err}") from None

    def loss_of(module: EDMPrecond) -> EDMLoss:
        d = cfg.diffusion
        return EDMLoss(module, cfg.space == "data", d.p_mean, d.p_std, d.date_dropout,
                       sigma_max=d.sigma_max if d.refiner else None, crop=d.crop, channels=channels)

    train(
        loss_of(precond), data, cfg.optim, out, meta, info, resume, progress,
        ema_loss_module=loss_of, static=grid_tensors(prepared),
    )
    shutdown(info)
    return out
