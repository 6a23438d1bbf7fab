"""Training configurations: dataclasses read from small TOML files (see ``configs/`` and the presets of
``seaice-ldm train all`` in ``seaice_ldm/presets/``).

Every key a TOML file may hold is a field of one of these dataclasses (or of the model configs they hold), and
every field is documented in :data:`KEY_DOCS`; :func:`config_reference` renders the table the README shows
(``python -m seaice_ldm.training.config`` prints it; a test keeps the README's copy in step). Unknown keys are
errors; keys that would be ignored are errors or named :class:`ConfigWarning` s.
"""

from __future__ import annotations

import dataclasses
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seaice_ldm.data import VARIABLES
from seaice_ldm.data.source import SYNTHETIC_ONLY, ConfigError, DataConfig
from seaice_ldm.models.unet import UNetConfig
from seaice_ldm.models.vae import VAEConfig
from seaice_ldm.options import PRECISIONS, SPACES

__all__ = ["ConfigError", "ConfigWarning", "DataConfig", "OptimConfig", "VAETrainConfig", "DiffusionConfig",
           "DiffusionTrainConfig", "load_config", "config_from_dict", "config_to_dict", "config_reference",
           "FROM_THE_DATA", "follow_data"]

#: Channel counts left out of a config (or set to this) follow the data: the VAE's and the data-space U-Net's
#: the number of variables, the latent U-Net's the VAE's latent channels (filled in when training starts).
FROM_THE_DATA = 0


class ConfigWarning(UserWarning):
    """A key of a config file that has no effect as the config stands (named, with the reason)."""


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
    vae: VAEConfig = field(default_factory=lambda: VAEConfig(in_channels=FROM_THE_DATA))
    optim: OptimConfig = field(default_factory=OptimConfig)
    # a later stage: start from the EMA weights of this VAE run, with a changed loss (fresh optimiser and rule)
    init_from: str = ""
    # a later stage that trains the decoder only: the encoder, and so the latents a latent model learnt, stay
    freeze_encoder: bool = False

    def __post_init__(self):
        if self.freeze_encoder and not self.init_from:
            raise ConfigError("freeze_encoder = true needs init_from: the VAE run whose encoder it keeps")


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
    # a refiner (data space): learns only noise levels below sigma_max, from which it is run down to 0
    # (SDEdit, Meng et al. 2022) on another generator's states; optionally on crop x crop windows
    refiner: bool = False
    crop: int | None = None
    refine_variables: tuple[str, ...] = ()  # the variables a refiner redraws (the others: its condition); () = all

    def __post_init__(self):
        if not 0.0 <= self.date_dropout <= 1.0:
            raise ConfigError(f"[diffusion] date_dropout must be in [0, 1], got {self.date_dropout}")
        if self.refiner and self.sigma_max is None:
            raise ConfigError("[diffusion] refiner = true needs sigma_max: the level the refiner starts from")
        if self.crop is not None and not (self.refiner and self.crop > 0):
            raise ConfigError(f"[diffusion] crop = {self.crop}: only a refiner trains on crops, of a positive size")
        if self.refine_variables and not self.refiner:
            raise ConfigError("[diffusion] refine_variables: only a refiner redraws some variables")
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
    unet: UNetConfig = field(default_factory=lambda: UNetConfig(in_channels=FROM_THE_DATA,
                                                                out_channels=FROM_THE_DATA))
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, refusing unknown keys by name."""
    if not isinstance(values, dict):
        raise ConfigError(f"[{where}] must be a table, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in [{where}]; valid keys: {sorted(fields)} (the README's "
                          "config reference lists them all)")
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
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"[{where or 'top level'}]: {err}") from None


def config_from_dict(values: dict[str, Any], kind: str) -> VAETrainConfig | DiffusionTrainConfig:
    """Turn a parsed TOML document into the training config of ``kind`` ("vae" or "diffusion")."""
    cls = {"vae": VAETrainConfig, "diffusion": DiffusionTrainConfig}.get(kind)
    if cls is None:
        raise ConfigError(f"unknown config kind {kind!r}; expected 'vae' or 'diffusion'")
    values = dict(values)
    unet = values.pop("unet", None)
    if unet is not None and kind != "diffusion":
        raise ConfigError("a [unet] table belongs in a diffusion config, not in a VAE config")
    if kind == "vae" and isinstance(values.get("vae"), dict):
        values["vae"] = {"in_channels": FROM_THE_DATA, **values["vae"]}
    cfg = _build(cls, values, "")
    unknown = sorted(set(cfg.vae.fit_scale_by_variable) - set(VARIABLES)) if kind == "vae" else []
    if unknown:
        raise ConfigError(f"[vae] fit_scale_by_variable names {unknown}, which are not sea-ice variables; valid "
                          f"names: {sorted(VARIABLES)}")
    if unet is not None:  # UNetConfig has required fields, so it has no default instance to copy
        if not isinstance(unet, dict):
            raise ConfigError(f"[unet] must be a table, got {type(unet).__name__}")
        cfg.unet = _build(UNetConfig, {"in_channels": FROM_THE_DATA, "out_channels": FROM_THE_DATA, **unet}, "unet")
    if isinstance(cfg, DiffusionTrainConfig):
        _check_diffusion(cfg, values)
    _warn_ignored(cfg, values)
    return cfg


def _check_diffusion(cfg: DiffusionTrainConfig, values: dict[str, Any]) -> None:
    if cfg.space not in SPACES:
        raise ConfigError(f"space must be {' or '.join(map(repr, SPACES))}, got {cfg.space!r}")
    if cfg.space == "data" and cfg.vae_checkpoint:
        raise ConfigError(f"vae_checkpoint = {cfg.vae_checkpoint!r} has no meaning for space = 'data' (the model "
                          "learns the fields themselves); remove it, or set space = 'latent'")
    if cfg.diffusion.refiner and cfg.space != "data":
        raise ConfigError("[diffusion] refiner = true is a data-space model (it refines decoded states); "
                          "set space = 'data'")
    if "date_dropout" in values.get("diffusion", {}) and not cfg.unet.date_conditioning:
        warnings.warn("[diffusion] date_dropout is ignored: [unet] date_conditioning is false, so the model "
                      "never sees a date to drop", ConfigWarning, stacklevel=3)


def _warn_ignored(cfg: Any, values: dict[str, Any]) -> None:
    optim = values.get("optim", {})
    ignored = [k for k in ("min_delta", "min_improvement") if k in optim]
    if ignored and cfg.optim.patience == 0:
        warnings.warn(f"[optim] {', '.join(ignored)} ignored: patience = 0 trains for exactly `steps` steps "
                      "(set patience to use the stopping rule)", ConfigWarning, stacklevel=3)


def load_config(path: str | Path, kind: str) -> VAETrainConfig | DiffusionTrainConfig:
    """Read a TOML training config; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConfigWarning)
            cfg = config_from_dict(values, kind)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    for warning in caught:
        warnings.warn(f"{path}: {warning.message}", warning.category, stacklevel=2)
    return cfg


def follow_data(section: Any, keys: tuple[str, ...], count: int, table: str, source: str) -> None:
    """Set channel counts left to the data (:data:`FROM_THE_DATA`) to ``count``; refuse a stated one that differs."""
    for key in keys:
        value = getattr(section, key)
        if value == FROM_THE_DATA:
            setattr(section, key, count)
        elif value != count:
            raise ConfigError(f"[{table}] {key} = {value}, but {source} give {count} channels; remove {key} from "
                              f"[{table}]: channel counts follow the data")
    fits = getattr(section, "fit_scale", None)
    if isinstance(fits, tuple) and len(fits) != count:
        raise ConfigError(f"[{table}] fit_scale lists {len(fits)} values, but {source} give {count} variables; "
                          "give one per variable, in the data's order")


def resolve_fit_scales(vae: VAEConfig, names: tuple[str, ...] | list[str]) -> None:
    """Turn ``[vae] fit_scale_by_variable`` into ``fit_scale``'s list, one fixed scale per variable of the data in
    its order (the others keep ``fit_scale``); a variable the data do not hold is named in a warning."""
    by_variable = vae.fit_scale_by_variable
    if not by_variable:
        return
    if isinstance(vae.fit_scale, tuple):
        raise ConfigError("[vae] give fit_scale as one number when fit_scale_by_variable names variables")
    absent = sorted(set(by_variable) - set(names))
    if absent:
        warnings.warn(f"[vae] fit_scale_by_variable names {absent}, which the data do not hold ({list(names)}); "
                      "ignored", ConfigWarning, stacklevel=2)
    vae.fit_scale = tuple(float(by_variable.get(n, vae.fit_scale)) for n in names)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-friendly nested dict of a config dataclass (stored in every checkpoint)."""
    return dataclasses.asdict(cfg)


# --------------------------------------------------------------------------- the reference of every key
#: One line per key of every table, as the README's config reference shows it (kept complete by a test).
KEY_DOCS: dict[str, str] = {
    "out": "folder the run's checkpoints are written to (resumed from when it holds one)",
    "space": "`latent` (on a VAE's latents) or `data` (on the normalised fields); diffusion configs only",
    "vae_checkpoint": "the trained VAE run whose latents a `latent` model learns; latent diffusion only",
    "init_from": "a later stage: warm start from the EMA weights of this run of the same kind (fresh optimiser and "
                 "stopping rule); a diffusion model may change only `[unet] margin`, a VAE only its loss "
                 "(`kl_weight`, `fit_scale`, `fit_scale_by_variable`, `bound_margin`, `bound_penalty`)",
    "freeze_encoder": "a later VAE stage (`init_from`) that trains only the decoder: the encoder's weights, and so "
                      "the latents a latent model learnt from them, stay as they were; VAE configs only",
    "data.path": "netCDF/zarr file(s) (a path, a glob pattern): the user's data; empty = the embedded SYNTHETIC "
                 "data set",
    "data.variables": "variables to train on, e.g. `[\"sit\", \"sic\"]` (names or aliases); unset = every "
                      "sea-ice variable the data hold; channel counts follow them",
    "data.years": "synthetic data only (an error with `path`): years to synthesise (default 10)",
    "data.grid": "synthetic data only (an error with `path`, whose file has its own grid): `arctic50km` "
                 "(default), `arctic25km` or `arctic12km`",
    "data.seed": "synthetic data only (an error with `path`): seed of the synthetic data set (default 0)",
    "data.val_years": "the validation split: the val_years calendar years before the test years",
    "data.test_years": "the test split: the last test_years calendar years of the record (held out; "
                       "`reference.nc` and the evaluation use them)",
    "vae.in_channels": "from the data (the number of variables); leave it out",
    "vae.latent_channels": "channels of the latent fields",
    "vae.channels": "encoder widths per level; each level after the first halves the grid (a grid side must be a "
                    "multiple of 2^(levels-1))",
    "vae.blocks_per_level": "residual blocks per level",
    "vae.decoder": "`censored` (Tobit, mass at the physical bounds) or `gaussian`",
    "vae.kl_weight": "weight of the KL term of the loss",
    "vae.init_log_scale": "initial log of the decoder's scale (normalised units)",
    "vae.scale": "`variable` (one learned scale per variable) or `cell` (a scale predicted per cell)",
    "vae.fit_scale": "> 0: the mean is fitted at this fixed scale and the scales by their own likelihood; 0: both "
                     "together; a list: one fixed scale per variable, in the data's order (what checkpoints store)",
    "vae.fit_scale_by_variable": "fixed scales of named variables instead of fit_scale, e.g. `{sic = 0.025}` (a "
                                 "smaller scale weighs that variable's errors more); empty: fit_scale for all",
    "vae.bound_margin": "> 0 (censored, with fit_scale): penalise a mean more than this many fit scales past the "
                        "bound of an observation at it; 0: off",
    "vae.bound_penalty": "how the bound_margin penalty grows past the margin: `squared`, or `linear` (a pull of "
                         "constant strength)",
    "unet.in_channels": "from the data (the variables in data space, the VAE's latent channels in latent space); "
                        "leave it out",
    "unet.out_channels": "from the data, as in_channels; leave it out",
    "unet.channels": "widths per level; each level after the first halves the grid (with `margin`, a grid side "
                     "plus 2 margin must be a multiple of 2^(levels-1))",
    "unet.blocks_per_level": "residual blocks per level",
    "unet.attention_levels": "levels (0-based) with self-attention",
    "unet.emb_channels": "width of the noise (and date) embedding; unset = 4 x the first level's width",
    "unet.dropout": "dropout rate in the residual blocks",
    "unet.mask_channel": "give the network the land mask as an extra input channel",
    "unet.date_conditioning": "condition on the day of the year (sampling for a date, classifier-free guidance)",
    "unet.margin": "cells of land around the grid inside the network (a ring of land; 0 = plain zero padding)",
    "diffusion.sigma_data": "EDM's data standard deviation (inputs are standardised or whitened: 1)",
    "diffusion.p_mean": "mean of the training ln sigma; unset = chosen from the data's leading mode",
    "diffusion.p_std": "standard deviation of the training ln sigma; unset = chosen from the data",
    "diffusion.sigma_max": "the sampler's first noise level; unset = chosen from the data",
    "diffusion.date_dropout": "share of training states whose date is dropped (date-conditioned models only)",
    "diffusion.refiner": "a data-space refiner: trained only on noise levels below sigma_max, from which it "
                         "re-denoises another generator's states (SDEdit); needs sigma_max",
    "diffusion.crop": "a refiner's training window: random crop x crop squares of the grid; unset = the whole grid",
    "diffusion.refine_variables": "the variables a refiner redraws, e.g. `[\"sid\"]`; the others are given to it "
                                  "clean as its condition and left as they are; empty = all",
    "optim.steps": "most training steps (a cap: the stopping rule usually ends a run first)",
    "optim.batch_size": "states per step and process",
    "optim.lr": "AdamW learning rate",
    "optim.weight_decay": "AdamW weight decay",
    "optim.warmup_steps": "steps of linear learning-rate warm-up",
    "optim.grad_clip": "gradient norm clip",
    "optim.ema_decay": "decay of the EMA weights (the weights validated and exported)",
    "optim.val_every": "steps between validations (EMA weights, fixed batches and noise)",
    "optim.val_batches": "batches per validation",
    "optim.checkpoint_every": "steps between checkpoints (a run resumes from the last one)",
    "optim.seed": "seed of the batches and noise",
    "optim.patience": "stop after this many validations without improvement; 0 = train for exactly `steps`",
    "optim.min_delta": "relative improvement of the best validation loss that counts (stopping rule)",
    "optim.min_improvement": "absolute improvement that counts (for NLLs, which may cross zero)",
    "optim.precision": "`auto`, `float32` or `bfloat16` (bf16 autocast)",
    "optim.scale_lr_factor": "learning-rate factor of the VAE decoder's log-scales",
    "optim.log_every": "steps between read-backs of the training loss (and the check that it is finite)",
}

TABLES = (("", None), ("data", DataConfig), ("vae", VAEConfig), ("unet", UNetConfig),
          ("diffusion", DiffusionConfig), ("optim", OptimConfig))
TOP_LEVEL = {"out": "both", "space": "diffusion", "vae_checkpoint": "diffusion", "init_from": "both",
             "freeze_encoder": "vae"}


def config_fields() -> dict[str, dataclasses.Field | None]:
    """Every key a config may hold, as ``"table.key"`` (``"key"`` at the top level), with its dataclass field."""
    keys: dict[str, dataclasses.Field | None] = {}
    for cls in (VAETrainConfig, DiffusionTrainConfig):
        for f in dataclasses.fields(cls):
            if f.name not in dict(TABLES):
                keys[f.name] = f
    for table, cls in TABLES[1:]:
        for f in dataclasses.fields(cls):
            keys[f"{table}.{f.name}"] = f
    return keys


def _default(key: str, f: dataclasses.Field) -> str:
    if key.endswith("in_channels") or key.endswith("out_channels"):
        return "from the data"
    if key.split(".")[-1] in SYNTHETIC_ONLY:
        return f"`{SYNTHETIC_ONLY[key.split('.')[-1]]}` without `path`"
    value = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
    if key == "out":
        return "`runs/vae`, `runs/diffusion`"
    return "unset" if value is None or value == "" else f"`{list(value) if isinstance(value, tuple) else value}`"


def config_reference() -> str:
    """The Markdown table of every config key: table, key, default and meaning (the README's copy)."""
    lines = ["| table | key | default | meaning |", "|---|---|---|---|"]
    for key, f in config_fields().items():
        table, _, name = key.rpartition(".")
        where = f"[{table}]" if table else f"top level ({TOP_LEVEL.get(name, 'both')})"
        lines.append(f"| {where} | `{name}` | {_default(key, f)} | {KEY_DOCS.get(key, '**undocumented**')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(config_reference())
