"""The generators of a checkpoints folder, loaded and checked: each a diffusion model and, for latent ones,
the VAE whose latents it learnt, all on one grid and one land mask.

A checkpoints folder holds the generators of :data:`seaice_ldm.options.GENERATORS` under their folder
names (any may be missing): ``ldm_censored`` + ``vae_censored``, ``ldm_gaussian`` + ``vae_gaussian``, ``ddm``;
and, optionally, the latent path's data-space refiner in ``refiner`` (:func:`load_refiner`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seaice_ldm.checkpoints.build import TrainedModel, check_pair, load_model, read_ocean
from seaice_ldm.checkpoints.format import CONFIG_FILE, CheckpointError
from seaice_ldm.data import Grid, same_normalisation
from seaice_ldm.diffusion.schedules import SIGMA_MAX
from seaice_ldm.options import GENERATORS, GeneratorSpec

Key = tuple[str, str]


@dataclass(frozen=True)
class TrainedGenerator:
    """A trained generator: its spec, its diffusion model and, in latent space, the VAE that decodes."""

    spec: GeneratorSpec
    diffusion: TrainedModel
    vae: TrainedModel | None = None

    @property
    def space(self) -> str:
        return self.spec.space

    @property
    def fields_model(self) -> TrainedModel:
        """The model whose normalisation and units the generated fields are in (the VAE in latent space)."""
        return self.vae or self.diffusion

    @property
    def date_conditioned(self) -> bool:
        return bool(self.diffusion.module.net.cfg.date_conditioning)

    @property
    def sigma_max(self) -> float:
        """The sampler's first noise level: the one chosen at training (EDM's 80 for older models)."""
        return float(self.diffusion.meta["config"]["diffusion"].get("sigma_max") or SIGMA_MAX)

    @property
    def synthetic(self) -> bool:
        """Whether it was trained on the package's synthetic data set."""
        return self.diffusion.meta.get("data", {}).get("synthetic") == "yes"

    @property
    def grid(self) -> Grid:
        return Grid(**self.diffusion.meta["grid"])

    def models(self) -> tuple[TrainedModel, ...]:
        return (self.diffusion,) if self.vae is None else (self.diffusion, self.vae)


def _load_one(spec: GeneratorSpec, root: Path, device: torch.device) -> TrainedGenerator:
    path = root / spec.folder
    if spec.vae_folder is None:
        diffusion = load_model(path, "diffusion", device)
        if diffusion.meta.get("space") != spec.space:
            raise CheckpointError(f"{path} is not a {spec.space}-space diffusion model")
        return TrainedGenerator(spec, diffusion)
    vae_path = root / spec.vae_folder
    if not (vae_path / CONFIG_FILE).exists():
        raise CheckpointError(f"{path} needs its VAE at {vae_path}, which is missing")
    generator = TrainedGenerator(spec, load_model(path, "diffusion", device), load_model(vae_path, "vae", device))
    check_pair(generator.vae, generator.diffusion)
    return generator


def _same_grid_and_mask(models: tuple[TrainedModel, ...], first: TrainedGenerator, ocean: np.ndarray) -> str | None:
    """Why one of ``models`` does not fit ``first``'s grid and land mask (None when they do)."""
    for model in models:
        if model.meta["grid"] != first.diffusion.meta["grid"]:
            return f"{model.path} was trained on another grid than {first.diffusion.path}"
        if not np.array_equal(read_ocean(model), ocean):
            return (f"{model.path} has another land mask than {first.diffusion.path}; "
                    "all models must be trained on the same grid and mask")
    return None


#: The folder of the latent path's optional data-space refiner (``SampleRequest.refine``).
REFINER_FOLDER = "refiner"


def load_refiner(root: str | Path, first: TrainedGenerator, device: torch.device | str = "cpu") -> TrainedModel | None:
    """The refiner in ``root`` (None when there is none): a data-space model trained as a refiner
    (``[diffusion] refiner = true``) on ``first``'s grid, land mask and normalised fields."""
    path = Path(root) / REFINER_FOLDER
    if not (path / CONFIG_FILE).exists():
        return None
    model = load_model(path, "diffusion", device)
    if model.meta.get("space") != "data" or not model.meta["config"]["diffusion"].get("refiner"):
        raise CheckpointError(f"{path} is not a refiner (a data-space model trained with [diffusion] refiner = true)")
    problem = _same_grid_and_mask((model,), first, read_ocean(first.diffusion))
    if problem:
        raise CheckpointError(problem)
    if not same_normalisation(model.meta["norm_stats"], first.fields_model.meta["norm_stats"]):
        raise CheckpointError(f"{path} was trained on other variables or another normalisation than "
                              f"{first.fields_model.path}; a refiner must see the fields the generators give")
    return model


def load_generators(root: str | Path, device: torch.device | str = "cpu",
                    strict: bool = True) -> tuple[dict[Key, TrainedGenerator], dict[Key, str]]:
    """``(generators, errors)``: every generator found in ``root``, keyed by ``(space, decoder)``, on one grid
    and land mask (the first one's).

    ``strict``: the first generator that fails to load, pair or fit raises. Otherwise it is left out and
    ``errors[key]`` says why; it still raises when nothing at all can be loaded.
    """
    root = Path(root)
    if not root.is_dir():
        raise CheckpointError(f"checkpoints folder not found: {root}")
    device = torch.device(device)
    generators: dict[Key, TrainedGenerator] = {}
    errors: dict[Key, str] = {}
    for spec in GENERATORS:
        if not (root / spec.folder / CONFIG_FILE).exists():
            continue
        try:
            generator = _load_one(spec, root, device)
            if generators:
                first = next(iter(generators.values()))
                problem = _same_grid_and_mask(generator.models(), first, read_ocean(first.diffusion))
                if problem:
                    raise CheckpointError(problem)
            generators[spec.key] = generator
        except Exception as err:
            if strict:
                raise
            errors[spec.key] = f"{type(err).__name__}: {err}"
    if not generators:
        found = "; ".join(f"{k[0]}/{k[1]}: {v}" for k, v in errors.items())
        names = ", ".join(spec.folder for spec in GENERATORS)
        raise CheckpointError(f"no trained models in {root} (expected {names})" + (f": {found}" if found else ""))
    return generators, errors
