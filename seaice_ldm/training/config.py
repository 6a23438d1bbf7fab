"""Training configurations: dataclasses read from small TOML files (see ``configs/``)."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seaice_ldm.data.source import ConfigError, DataConfig
from seaice_ldm.models.unet import UNetConfig
from seaice_ldm.models.vae import VAEConfig
from seaice_ldm.options import PRECISIONS, SPACES

__all__ = ["ConfigError", "DataConfig", "OptimConfig", "VAETrainConfig", "DiffusionConfig", "DiffusionTrainConfig",
           "load_config", "config_from_dict", "config_to_dict"]


@dataclass
class OptimConfig:
    """AdamW with linear warm-up, gradient clipping and EMA weights."""

    steps: int = 2000
    batch_size: int = 16  # per process
    lr: float = 2e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    val_every: int = 250
    val_batches: int = 4
    checkpoint_every: int = 250
    seed: int = 0
    # stopping rule (the same for every model): stop when `patience` validations in a row have not
    # lowered the best validation loss by a relative `min_delta`; 0 = train for exactly `steps`
    patience: int = 0
    min_delta: float = 0.01  # relative to the best loss (diffusion losses are positive and scale-free)
    min_improvement: float = 0.0  # absolute, in loss units (for NLLs, which may cross zero)
    # "float32" (the default: VAEs, whose censored likelihood's tails want it); "bfloat16" or "auto": bf16
    # autocast where the device computes it natively, float32 elsewhere (seaice_ldm.models.device)
    precision: str = "float32"
    log_every: int = 25  # steps between read-backs of the training loss (and the check that it is finite)
    # learning-rate factor for the decoder's per-channel log-scales (parameters named ``log_scale``): Adam moves
    # a parameter by about ``lr`` per step, so a handful of scalars that must travel several units would
    # otherwise set the pace of the whole run (a validation NLL falling in a straight line)
    scale_lr_factor: float = 1.0

    def __post_init__(self):
        for name in ("steps", "batch_size", "val_every", "val_batches", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"[optim] {name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "grad_clip", "scale_lr_factor"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"[optim] {name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"[optim] ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.patience < 0:
            raise ConfigError("[optim] warmup_steps, weight_decay and patience must not be negative")
        if self.min_improvement < 0:
            raise ConfigError(f"[optim] min_improvement must not be negative, got {self.min_improvement}")
        if not 0.0 <= self.min_delta < 1.0:
            raise ConfigError(f"[optim] min_delta must be in [0, 1), got {self.min_delta}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"[optim] precision must be one of {PRECISIONS}, got {self.precision!r}")


@dataclass
class VAETrainConfig:
    """``seaice-ldm train vae``."""

    out: str = "runs/vae"
    data: DataConfig = field(default_factory=DataConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


@dataclass
class DiffusionConfig:
    """EDM training settings (Karras et al. 2022, Sect. 5).

    ``p_mean``, ``p_std`` (training noise levels ``ln sigma ~ N(p_mean, p_std^2)``) and ``sigma_max`` (the
    sampler's first level) left unset are chosen from the spread of the training data's leading mode
    (``seaice_ldm.diffusion.coverage.noise_levels_for``); the values used are stored in the checkpoint.
    """

    sigma_data: float = 1.0  # inputs are standardised (data) or whitened latents
    p_mean: float | None = None
    p_std: float | None = None
    sigma_max: float | None = None
    date_dropout: float = 0.2  # share of training states whose date is dropped (date-conditioned nets)

    def __post_init__(self):
        if not 0.0 <= self.date_dropout <= 1.0:
            raise ConfigError(f"[diffusion] date_dropout must be in [0, 1], got {self.date_dropout}")
        for name in ("sigma_data", "p_std", "sigma_max"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"[diffusion] {name} must be positive, got {value}")


@dataclass
class DiffusionTrainConfig:
    """``seaice-ldm train diffusion --space latent|data``."""

    out: str = "runs/diffusion"
    space: str = "latent"  # "latent": on a VAE's latents; "data": on the normalised fields
    vae_checkpoint: str = ""  # required for space = "latent"
    # warm start: begin from the EMA weights of this diffusion run (fresh optimiser and stopping rule); for
    # fine-tuning a converged model after a change that keeps every weight's shape, e.g. [unet] margin
    init_from: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    unet: UNetConfig = field(default_factory=lambda: UNetConfig(in_channels=8, out_channels=8))
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown keys by name."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{where}] must be a table, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [{where}]; valid keys: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    defaults = cls() if cls is not UNetConfig else None
    for name, value in values.items():
        default = getattr(defaults, name, None) if defaults is not None else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}.{name}" if where else name)
        elif isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"[{where}]: {err}") from None


def config_from_dict(values: dict[str, Any], kind: str) -> VAETrainConfig | DiffusionTrainConfig:
    """Turn a parsed TOML document into the training config of ``kind`` ("vae" or "diffusion")."""
    cls = {"vae": VAETrainConfig, "diffusion": DiffusionTrainConfig}.get(kind)
    if cls is None:
        raise ConfigError(f"unknown config kind {kind!r}; expected 'vae' or 'diffusion'")
    values = dict(values)
    unet = values.pop("unet", None)
    if unet is not None and kind != "diffusion":
        raise ConfigError("a [unet] table belongs in a diffusion config, not in a VAE config")
    cfg = _build(cls, values, "")
    if unet is not None:  # UNetConfig has required fields, so it has no default instance to copy
        cfg.unet = _build(UNetConfig, unet, "unet")
    if isinstance(cfg, DiffusionTrainConfig) and cfg.space not in SPACES:
        raise ConfigError(f"space must be {' or '.join(map(repr, SPACES))}, got {cfg.space!r}")
    return cfg


def load_config(path: str | Path, kind: str) -> VAETrainConfig | DiffusionTrainConfig:
    """Read a TOML training config; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    try:
        return config_from_dict(values, kind)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-friendly nested dict of a config dataclass (stored in every checkpoint)."""
    return dataclasses.asdict(cfg)
