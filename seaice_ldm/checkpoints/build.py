"""Rebuild networks from a checkpoint's ``config.json`` and load their weights, with clear checks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from seaice_ldm.data import VARIABLES, NormStats, normalised_bounds
from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.models.vae import BOUND_PENALTIES, VAE, VAE_SCALES, VAEConfig
from seaice_ldm.checkpoints.format import CheckpointError, load_into, load_weights, read_meta
from seaice_ldm.options import DECODERS, SPACES


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def model_id(meta: dict[str, Any]) -> str:
    """Identity of trained weights: the run and its step (kept when weights are cast for shipping)."""
    return f"{meta['run_id']}@{meta['step']}"


def encoder_id(meta: dict[str, Any]) -> str:
    """Identity of a VAE's encoder: that of the VAE whose encoder a decoder-only stage kept
    (``freeze_encoder``), else the VAE's own :func:`model_id`. Latents depend on the encoder alone."""
    return meta.get("encoder_id") or model_id(meta)


def learnt_encoder(diffusion_meta: dict[str, Any]) -> str | None:
    """The encoder a latent model learnt the latents of, as its checkpoint records it (older ones: the VAE's id)."""
    recorded = diffusion_meta.get("vae", {})
    return recorded.get("encoder_id") or recorded.get("model_id")


def bounds_tensors(stats: NormStats) -> tuple[torch.Tensor, torch.Tensor]:
    lower, upper = normalised_bounds(stats)
    return torch.as_tensor(lower, dtype=torch.float32), torch.as_tensor(upper, dtype=torch.float32)


def build_vae(meta: dict[str, Any]) -> VAE:
    cfg = VAEConfig(**_tuples(meta["config"]["vae"]))
    return VAE(cfg, *bounds_tensors(NormStats.from_dict(meta["norm_stats"])))


def build_precond(meta: dict[str, Any]) -> EDMPrecond:
    net = UNet(UNetConfig(**_tuples(meta["config"]["unet"])))
    return EDMPrecond(net, sigma_data=meta["config"]["diffusion"]["sigma_data"])


# ------------------------------------------------------------------ values a hand-edited config.json may break
def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    return (_integer(v) or isinstance(v, float)) and math.isfinite(v)


Rule = tuple[Callable[[Any], bool], str]
POSITIVE_INT: Rule = (lambda v: _integer(v) and v >= 1, "a positive integer")
POSITIVE_INTS: Rule = (lambda v: isinstance(v, list) and len(v) > 0 and all(POSITIVE_INT[0](c) for c in v),
                       "a non-empty list of positive integers")
POSITIVE: Rule = (lambda v: _finite(v) and v > 0, "a finite number > 0")
FINITE: Rule = (_finite, "a finite number")
FLAG: Rule = (lambda v: isinstance(v, bool), "true or false")


def _optional(rule: Rule) -> Rule:
    return (lambda v: v is None or rule[0](v), f"{rule[1]} or null")


#: What each stored value must be for the networks (and the sampler) it describes to make sense; keys a
#: section leaves out take the config class's default (unknown keys are refused when the class is built).
RULES: dict[str, dict[str, Rule]] = {
    "vae": {
        "in_channels": POSITIVE_INT,
        "latent_channels": POSITIVE_INT,
        "channels": POSITIVE_INTS,
        "blocks_per_level": POSITIVE_INT,
        "decoder": (lambda v: v in DECODERS, f"one of {list(DECODERS)}"),
        "kl_weight": (lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
        "init_log_scale": FINITE,
        "scale": (lambda v: v in VAE_SCALES, f"one of {list(VAE_SCALES)}"),
        "bound_penalty": (lambda v: v in BOUND_PENALTIES, f"one of {list(BOUND_PENALTIES)}"),
        "fit_scale_by_variable": (lambda v: isinstance(v, dict) and all(_finite(a) and a > 0 for a in v.values()),
                                  "a table of variable names and finite numbers > 0"),
        "fit_scale": (lambda v: (_finite(v) and v >= 0)
                      or (isinstance(v, list) and bool(v) and all(_finite(a) and a > 0 for a in v)),
                      "a finite number >= 0 or a list of finite numbers > 0"),
    },
    "unet": {
        "in_channels": POSITIVE_INT,
        "out_channels": POSITIVE_INT,
        "channels": POSITIVE_INTS,
        "blocks_per_level": POSITIVE_INT,
        "attention_levels": (lambda v: isinstance(v, list) and all(_integer(a) for a in v), "a list of integers"),
        "emb_channels": _optional(POSITIVE_INT),
        "dropout": (lambda v: _finite(v) and 0 <= v < 1, "a number in [0, 1)"),
        "mask_channel": FLAG,
        "date_conditioning": FLAG,
        "margin": (lambda v: _integer(v) and v >= 0, "an integer >= 0"),
    },
    "diffusion": {
        "sigma_data": POSITIVE,
        "sigma_max": _optional(POSITIVE),
        "p_mean": _optional(FINITE),
        "p_std": _optional(POSITIVE),
    },
}


def _invalid(key: str, expected: str, value: Any) -> CheckpointError:
    return CheckpointError(f"config.json: {key} must be {expected}, got {value!r}")


def _section(meta: dict[str, Any], name: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``meta["config"][name]`` with every value it holds checked against :data:`RULES`."""
    config = meta.get("config")
    section = config.get(name) if isinstance(config, dict) else None
    if not isinstance(section, dict):
        raise _invalid(f"config.{name}", "a table of settings", section)
    for key in required:
        if key not in section:
            raise CheckpointError(f"config.json: config.{name}.{key} is missing")
    for key, (ok, expected) in RULES[name].items():
        if key in section and not ok(section[key]):
            raise _invalid(f"config.{name}.{key}", expected, section[key])
    return section


def _check_latent_stats(meta: dict[str, Any], channels: int) -> None:
    """Per-channel whitening of the latents: ``channels`` finite means and finite positive stds."""
    stats = meta.get("latent_stats")
    if not isinstance(stats, dict):
        raise _invalid("latent_stats", "a table with lists mean and std (a latent model needs it)", stats)
    for key, (ok, expected) in {"mean": FINITE, "std": POSITIVE}.items():
        values = stats.get(key)
        if not (isinstance(values, list) and len(values) == channels and all(ok(v) for v in values)):
            raise _invalid(f"latent_stats.{key}", f"a list of {channels} values (one per latent channel, "
                           f"config.unet.in_channels), each {expected}", values)


def check_config(meta: dict[str, Any], kind: str) -> None:
    """Refuse, naming the key, stored values that do not describe a valid ``vae`` or ``diffusion`` model
    (a hand-edited ``config.json``): wrong types, non-positive sizes or scales, out-of-range levels,
    whitening statistics that do not fit the latents, units or bounds other than the variables' own. Called before any network is built."""
    if "norm_stats" in meta:
        try:
            NormStats.from_dict(meta["norm_stats"])
        except (TypeError, ValueError, AttributeError) as err:
            raise CheckpointError(f"config.json: {err}") from None
    for key in ("units", "bounds"):
        if not isinstance(meta.get(key, {}), dict):
            raise _invalid(key, "a table of variable -> value", meta[key])
    for name, units in meta.get("units", {}).items():
        if name in VARIABLES and units != VARIABLES[name].units:
            raise CheckpointError(f"config.json: units.{name} is {units!r}; the model works in "
                                  f"{VARIABLES[name].units!r}")
    for name, bounds in meta.get("bounds", {}).items():  # the censored decoder's bounds are the variables'
        own = [VARIABLES[name].lower, VARIABLES[name].upper] if name in VARIABLES else None
        if own is not None and (list(bounds) if isinstance(bounds, (list, tuple)) else bounds) != own:
            raise CheckpointError(f"config.json: bounds.{name} is {bounds!r}; the model censors at {own} "
                                  "(a list [lower, upper], null where unbounded)")
    if kind == "vae":
        _section(meta, "vae")
        return
    if meta.get("space") not in SPACES:
        raise _invalid("space", f"one of {list(SPACES)}", meta.get("space"))
    unet = _section(meta, "unet", required=("in_channels", "out_channels"))
    _section(meta, "diffusion", required=("sigma_data",))
    levels = len(unet.get("channels", UNetConfig.channels))
    outside = [a for a in unet.get("attention_levels", []) if not 0 <= a < levels]
    if outside:
        raise _invalid("config.unet.attention_levels", f"a list of level indices in 0..{levels - 1}",
                       unet["attention_levels"])
    if meta["space"] == "latent":
        _check_latent_stats(meta, unet["in_channels"])


@dataclass
class TrainedModel:
    """A trained network (in eval mode, on its device) with its checkpoint's metadata and folder."""

    module: torch.nn.Module
    meta: dict[str, Any]
    path: Path

    @property
    def stats(self) -> NormStats:
        """The normalisation of the fields it was trained on."""
        return NormStats.from_dict(self.meta["norm_stats"])


def read_ocean(model: TrainedModel) -> np.ndarray:
    """The ocean mask ``(H, W)`` bool it was trained with (``grid.safetensors``)."""
    return load_weights(model.path, "grid", model.meta)["ocean"].numpy().astype(bool)


def load_model(path: str | Path, kind: str, device: torch.device | str = "cpu", weights: str = "ema") -> TrainedModel:
    """Load a ``vae`` or ``diffusion`` checkpoint folder onto ``device`` in eval mode."""
    path = Path(path)
    meta = read_meta(path)
    if meta.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path} holds a {meta.get('kind')!r} model, expected {kind!r}")
    try:
        check_config(meta, kind)
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {path}: {err}") from None
    try:
        module = build_vae(meta) if kind == "vae" else build_precond(meta)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: config.json does not describe a valid {kind} ({err})") from None
    load_into(module, load_weights(path, weights, meta), str(path))
    return TrainedModel(module.to(device).eval().requires_grad_(False), meta, path)


def check_pair(vae: TrainedModel, diffusion: TrainedModel) -> None:
    """A latent diffusion model only makes sense with the very encoder whose latents it learnt (its VAE, or one
    whose decoder alone was trained on since)."""
    expected = learnt_encoder(diffusion.meta)
    if diffusion.meta.get("space") != "latent":
        raise CheckpointError(f"{diffusion.path} is a {diffusion.meta.get('space')}-space model, not latent")
    if expected != encoder_id(vae.meta):
        raise CheckpointError(
            f"latent diffusion checkpoint {diffusion.path} was trained on the latents of VAE {expected}, "
            f"but {vae.path} is VAE {model_id(vae.meta)} (encoder {encoder_id(vae.meta)}); load the matching VAE"
        )
