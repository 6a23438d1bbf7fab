"""Presets of ``seaice-ldm train all``: a folder of TOML training configs, one per stage of each model.

A preset folder holds ``vae_censored.toml``, ``vae_gaussian.toml``, ``ldm_censored.toml``, ``ldm_gaussian.toml``
and ``ddm.toml`` (each model's first stage), optionally ``refiner.toml`` (the latent path's refiner), and any
later stages: a config whose ``init_from`` names an earlier stage's file name (``ldm_censored_margin.toml`` with
``init_from = "ldm_censored"``). A latent model's ``vae_checkpoint`` names a VAE stage. Two presets ship inside
the package: ``tiny`` (minutes on a laptop CPU, for trying the path; mirrors ``configs/tiny/``) and ``default``
(the recipe of the shipped models, stages included; mirrors ``configs/*.toml`` and
``scripts/train_default_checkpoints.sh``). Any folder laid out the same way is a
preset too. ``train all`` itself sets ``out``, ``[data] path`` and ``variables``; channel counts follow the data.
"""

from __future__ import annotations

import copy
import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from seaice_ldm.training.config import ConfigError, ConfigWarning, config_from_dict

PRESETS = ("tiny", "default")
MODELS = ("vae_censored", "vae_gaussian", "ldm_censored", "ldm_gaussian", "ddm")
#: models a preset may hold: the latent path's data-space refiner (``refiner.toml``, ``[diffusion] refiner = true``)
OPTIONAL = ("refiner",)
#: keys train all sets itself: a preset that gives them is told they are replaced
MANAGED = {"": ("out",), "data": ("path", "variables", "years", "grid", "seed")}


@dataclass(frozen=True)
class Stage:
    """One training run of a preset: its file, the model it trains and the config as the file has it."""

    name: str  # the file's stem: the run's name under OUT/runs
    model: str  # which of MODELS it trains
    kind: str  # "vae" or "diffusion"
    path: Path
    values: dict[str, Any]


@dataclass(frozen=True)
class Preset:
    """The stages of every model, in an order that trains each stage after those it needs."""

    name: str
    folder: Path
    stages: tuple[Stage, ...]

    @property
    def models(self) -> tuple[str, ...]:
        """The models it trains: every one of :data:`MODELS` and those of :data:`OPTIONAL` it holds."""
        return tuple(dict.fromkeys(s.model for s in self.stages))

    def stages_of(self, model: str) -> list[Stage]:
        return [s for s in self.stages if s.model == model]

    def last(self, model: str) -> Stage:
        """The stage whose weights are the model's (exported)."""
        return self.stages_of(model)[-1]


def preset_folder(preset: str | Path) -> Path:
    """A shipped preset's folder inside the installed package, or a folder of the user's."""
    if str(preset) in PRESETS:
        return Path(str(resources.files("seaice_ldm") / "presets" / str(preset)))
    folder = Path(preset)
    if not folder.is_dir():
        raise ConfigError(f"preset {str(preset)!r} is neither one of {list(PRESETS)} nor a folder of configs")
    return folder


def _read(path: Path) -> dict[str, Any]:
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from None
    for table, keys in MANAGED.items():
        section = values.get(table, {}) if table else values
        given = [k for k in keys if isinstance(section, dict) and k in section]
        if given:
            warnings.warn(f"{path}: {', '.join(f'[{table}] {k}' if table else k for k in given)} replaced: train all "
                          "sets the output, the data file and its variables itself", ConfigWarning, stacklevel=3)
            for key in given:
                del section[key]
    return values


def _name(link: Any) -> str | None:
    """The stage a link names: a stage's file name, or a run path ending in it (``runs/vae_censored``)."""
    return Path(link).name if isinstance(link, str) and link else None


def _chain(model: str, values: dict[str, dict], folder: Path) -> list[str]:
    """The stages of ``model``: its first stage (the file named after it), then each stage whose ``init_from`` names
    the one before. A model's first stage may itself continue another model's stage (a decoder-only VAE stage)."""
    chain = [model]
    later = {n: v for n, v in values.items() if n not in MODELS + OPTIONAL}  # a model's first file starts a chain
    while nxt := [n for n, v in later.items() if _name(v.get("init_from")) == chain[-1]]:
        if len(nxt) > 1:
            raise ConfigError(f"preset {folder}: {', '.join(nxt)} all continue {chain[-1]}; one stage each")
        chain.append(nxt[0])
    return chain


def _trained_order(chains: dict[str, list[str]], values: dict[str, dict], folder: Path) -> list[str]:
    """The models in :data:`MODELS` order, except that a model comes after every model whose stage it starts from
    or whose latents it learns (``init_from``, ``vae_checkpoint``)."""
    owner = {stage: model for model, chain in chains.items() for stage in chain}
    needs = {}
    for model, chain in chains.items():
        links = [_name(values[n].get(key)) for n in chain for key in ("init_from", "vae_checkpoint")]
        needs[model] = {owner[link] for link in links if link in owner} - {model}
        first = _name(values[model].get("init_from"))
        if first is not None and first not in owner:
            raise ConfigError(f"preset {folder}: {model}.toml continues {first!r}, which is no stage of the preset")
    order: list[str] = []
    while len(order) < len(chains):
        ready = [m for m in chains if m not in order and needs[m] <= set(order)]
        if not ready:
            raise ConfigError(f"preset {folder}: the stages of {', '.join(m for m in chains if m not in order)} "
                              "start from each other in a circle")
        order.append(ready[0])
    return order


def load_preset(preset: str | Path) -> Preset:
    """The preset's stages, each config checked (it parses, and its stage links name stages of the preset)."""
    folder = preset_folder(preset)
    files = {p.stem: p for p in sorted(folder.glob("*.toml"))}
    missing = [m for m in MODELS if m not in files]
    if missing:
        raise ConfigError(f"preset folder {folder} lacks {', '.join(f'{m}.toml' for m in missing)} (a preset holds "
                          f"the first stage of each of {', '.join(MODELS)})")
    values = {name: _read(path) for name, path in files.items()}
    chains = {model: _chain(model, values, folder) for model in MODELS + tuple(m for m in OPTIONAL if m in files)}
    stages = [Stage(n, model, "vae" if model.startswith("vae") else "diffusion", files[n], values[n])
              for model in _trained_order(chains, values, folder) for n in chains[model]]
    unused = sorted(set(files) - {s.name for s in stages})
    if unused:
        raise ConfigError(f"preset {folder}: {', '.join(f'{u}.toml' for u in unused)} belong to no model (a later "
                          "stage names the stage it continues in init_from)")
    result = Preset(str(preset), folder, tuple(stages))
    for stage in stages:
        _check_links(result, stage)
    return result


def _check_links(preset: Preset, stage: Stage) -> None:
    """A latent model's VAE is the last stage of the VAE of its decoder; the config parses as what it trains."""
    if stage.model.startswith("ldm"):
        vae = f"vae_{stage.model.split('_')[1]}"
        expected = preset.last(vae).name
        if _name(stage.values.get("vae_checkpoint")) != expected:
            raise ConfigError(f"{stage.path}: vae_checkpoint must name {expected}, the last stage of the preset's "
                              f"{vae} (the pipeline pairs {stage.model} with {vae}), got "
                              f"{stage.values.get('vae_checkpoint')!r}")
    space = {"ldm": "latent", "ddm": "data", "ref": "data"}.get(stage.model[:3])
    if space and stage.values.get("space", "latent") != space:
        raise ConfigError(f"{stage.path}: {stage.model} is a {space}-space model, the file says space = "
                          f"{stage.values.get('space')!r}")
    if stage.model == "refiner" and not stage.values.get("diffusion", {}).get("refiner"):
        raise ConfigError(f"{stage.path}: the refiner's config must say [diffusion] refiner = true")
    stage_config(stage, Path("runs"), "file.nc", None, 1, 1)  # parses, with every key checked


def stage_config(stage: Stage, runs: Path, data: str, variables: tuple[str, ...] | None, val_years: int,
                 test_years: int):
    """The training config of ``stage`` for a user's file: its run under ``runs``, the data, the split."""
    values = copy.deepcopy(stage.values)
    values["out"] = str(runs / stage.name)
    values["data"] = {**values.get("data", {}), "path": data, "val_years": val_years, "test_years": test_years,
                      **({"variables": list(variables)} if variables else {})}
    for key in ("vae_checkpoint", "init_from"):
        if values.get(key):
            values[key] = str(runs / _name(values[key]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfigWarning)  # named once, when the preset was read
            return config_from_dict(values, stage.kind)
    except ConfigError as err:
        raise ConfigError(f"{stage.path}: {err}") from None


def split_years(preset: Preset, val_years: int | None, test_years: int | None) -> tuple[int, int]:
    """The validation and test years of every stage: as given, else the preset's (which must agree)."""
    found = {(s.values.get("data", {}).get("val_years", 1), s.values.get("data", {}).get("test_years", 2))
             for s in preset.stages}
    if (val_years is None or test_years is None) and len(found) > 1:
        raise ConfigError(f"preset {preset.folder}: its stages split the years differently {sorted(found)}; give "
                          "--val-years and --test-years")
    default_val, default_test = found.pop()
    return (default_val if val_years is None else val_years, default_test if test_years is None else test_years)
