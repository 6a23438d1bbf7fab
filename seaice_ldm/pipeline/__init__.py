"""Load trained models and sample ensembles of sea-ice states as ``xarray.Dataset``.

>>> from seaice_ldm import load_pipeline
>>> from seaice_ldm.options import SampleRequest
>>> pipe = load_pipeline("checkpoints")              # cuda when available, else cpu
>>> ds = pipe.sample(SampleRequest(space="latent", decoder="censored", members=8, steps=10, seed=0))
>>> both = pipe.sample(SampleRequest(space="data", members=8), decoders=("censored", "gaussian"))
>>> refined = pipe.sample(SampleRequest(space="latent", members=8, refine=True))  # with checkpoints/refiner

A checkpoints folder holds the generators of :data:`seaice_ldm.options.GENERATORS` (see
:mod:`seaice_ldm.checkpoints.generators`), plus ``reference.nc``: held-out reference states for comparison.
The pieces: :mod:`.generate` samples one generator's ensemble (free functions), :mod:`.outputs` turns it
into the canonical Dataset; this module holds them together with the loaded models and the latent path's
optional data-space refiner.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import xarray as xr

from seaice_ldm.checkpoints.format import CheckpointError
from seaice_ldm.checkpoints.generators import REFINER_FOLDER, TrainedGenerator, load_generators, load_refiner
from seaice_ldm.checkpoints.build import TrainedModel, read_ocean
from seaice_ldm.data import Grid, canonical_coords, denormalise, normalise, open_dataset, to_arrays
from seaice_ldm.diffusion.samplers import evaluations
from seaice_ldm.models.device import device_name, pick_device, resolve_precision
from seaice_ldm.options import PRECISIONS, SampleRequest, check_choice, generator_for
from seaice_ldm.pipeline.generate import generate, refiner_pass
from seaice_ldm.pipeline.outputs import ensemble_dataset, point_output

REFERENCE_FILE = "reference.nc"
Key = tuple[str, str]

# ``evaluations(sampler, steps)``: network evaluations of a request, for callers that estimate its cost
__all__ = ["Pipeline", "SamplingError", "load_pipeline", "REFERENCE_FILE", "evaluations"]


class SamplingError(ValueError):
    """A sampling request that cannot be served (a missing or unconditional model)."""


class Pipeline:
    """Trained generators on one grid, ready to sample (models load once and are read-only).

    ``precision`` is resolved once for the device (:func:`seaice_ldm.models.device.resolve_precision`):
    ``self.precision`` is the arithmetic every ensemble is sampled in, and it is recorded in its attributes.
    """

    def __init__(self, generators: dict[Key, TrainedGenerator], ocean: np.ndarray, grid: Grid,
                 device: torch.device, reference: xr.Dataset | None = None, precision: str = "float32",
                 errors: dict[Key, str] | None = None, refiner: TrainedModel | None = None) -> None:
        self.generators = generators
        #: the latent path's data-space refiner (``SampleRequest.refine``), None when the folder has none
        self.refiner = refiner
        self.ocean = ocean
        self.grid = grid
        self.device = torch.device(device)
        self.reference = reference
        self.precision = resolve_precision(precision, self.device)
        #: (space, decoder) -> why that generator could not be loaded (``load_pipeline(..., strict=False)``)
        self.errors = dict(errors or {})
        if self.bf16 and self.device.type == "cpu":  # oneDNN's bf16 convolutions want channels-last (NHWC)
            for model in [m for g in generators.values() for m in g.models()] + ([refiner] if refiner else []):
                model.module.to(memory_format=torch.channels_last)
        #: the ocean mask ``(1, 1, H, W)`` float32 on the device (1 = ocean): where the models run
        self.mask = torch.from_numpy(ocean.astype(np.float32))[None, None].to(self.device)

    @property
    def bf16(self) -> bool:
        return self.precision == "bfloat16"

    @property
    def device_name(self) -> str:
        """The device in words (e.g. the GPU's model), as recorded in every output's ``device`` attribute."""
        return device_name(self.device)

    @property
    def available(self) -> list[Key]:
        """(space, decoder) keys of the loaded generators (data space: ``("data", "censored")`` serves both)."""
        return sorted(self.generators)

    @property
    def synthetic(self) -> bool:
        """Whether any loaded model was trained on the package's synthetic data set."""
        return any(g.synthetic for g in self.generators.values())

    @property
    def date_conditioned(self) -> bool:
        """Whether every loaded diffusion model can sample for a date."""
        return all(g.date_conditioned for g in self.generators.values())

    def generator(self, space: str, decoder: str) -> TrainedGenerator:
        """The loaded generator whose output serves ``decoder`` in ``space``."""
        key = generator_for(space, decoder).key
        if key not in self.generators:
            raise SamplingError(f"no trained {space}-space model for the {decoder} decoder in this pipeline")
        return self.generators[key]

    def sample(self, request: SampleRequest, decoders: tuple[str, ...] | None = None,
               callback: Callable[[dict], None] | None = None,
               batch_size: int | None = None) -> xr.Dataset | dict[str, xr.Dataset]:
        """The ensemble of ``request``: ``(member, y, x)`` states in physical units, land NaN.

        ``decoders=None``: the Dataset of ``request.decoder``. A tuple of decoders: ``{decoder: Dataset}``
        from the same member seeds; in data space one sampling run serves them all (the same samples,
        clipped to the bounds or not), in latent space each decoder's own VAE and latent model run.
        ``callback`` gets ``{"batch", "batches", "i", "n"}`` after every sampler step; ``batch_size`` caps
        the batch (it is halved when the device runs out of memory; the ensemble does not depend on it).
        ``request.refine``: the decoded latent samples pass through :attr:`refiner` before they become the output.
        """
        if not isinstance(request, SampleRequest):
            raise TypeError(f"sample takes a SampleRequest, got {type(request).__name__}")
        if request.refine and self.refiner is None:
            raise SamplingError(f"refine needs the latent path's refiner, and this pipeline has none (a checkpoint "
                                f"folder {REFINER_FOLDER}/ beside the generators)")
        wanted = (request.decoder,) if decoders is None else tuple(decoders)
        runs: dict[Key, list[str]] = {}
        for decoder in wanted:
            generator = self.generator(request.space, decoder)
            if request.date is not None and not generator.date_conditioned:
                raise SamplingError(f"the {request.space}-space model for the {decoder} decoder "
                                    f"({generator.diffusion.path}) is not date-conditioned; sample with date=None")
            runs.setdefault(generator.spec.key, []).append(decoder)
        out: dict[str, xr.Dataset] = {}
        for key, served in runs.items():
            start = time.perf_counter()
            x = generate(self.generators[key], request, self.mask, self.precision, batch_size, callback,
                         refiner=self.refiner)
            provenance = {"device": self.device_name, "precision": self.precision,
                          "seconds": round(time.perf_counter() - start, 3), "refiner_model": "none"}
            if request.refine:  # what an output says of the refiner: its folder and its pass
                provenance.update(refiner_model=str(self.refiner.path), refiner_pass=refiner_pass(self.refiner))
            for decoder in served:
                out[decoder] = ensemble_dataset(self.generators[key], x, decoder, request, self.grid, self.ocean,
                                                provenance)
        return out[request.decoder] if decoders is None else out

    @torch.no_grad()
    def reconstruct(self, states: xr.Dataset, decoder: str = "censored", batch_size: int = 32) -> xr.Dataset:
        """VAE round trip of ``states`` ``(time, y, x)``: the decoder's point output from the posterior mean
        (:meth:`seaice_ldm.models.vae.VAE.reconstruct`), in float32."""
        vae = self.generator("latent", decoder).vae
        names = vae.stats.names
        x, _ = to_arrays(states, names)
        x = normalise(x, vae.stats, self.ocean)
        outputs = []
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size], dtype=np.float32))
            mask = self.mask.expand(len(batch), -1, -1, -1)
            outputs.append(vae.module.reconstruct(batch.to(self.device), mask).float().cpu())
        values = denormalise(torch.cat(outputs).numpy(), vae.stats)
        values[..., ~self.ocean] = np.nan
        out = states[list(names)].copy(deep=True)
        for i, name in enumerate(names):
            out[name] = (states[name].dims, values[:, i].astype(np.float32), states[name].attrs)
        out.attrs.update({"title": f"VAE reconstructions ({decoder} decoder)", "vae_model": str(vae.path),
                          "device": self.device_name, "precision": "float32"})
        return point_output(out, decoder)

    def coords(self) -> dict[str, Any]:
        """Canonical coordinates (x, y, lat, lon, cell_area, land, grid mapping crs) of the generated fields."""
        return canonical_coords(self.grid, ~self.ocean)


def _reference(root: Path, grid: Grid) -> xr.Dataset | None:
    """The held-out reference states of ``root`` (None when there are none), on the models' grid."""
    if not (root / REFERENCE_FILE).exists():
        return None
    ref = open_dataset(root / REFERENCE_FILE)
    if ref.sizes["y"] != grid.ny or ref.sizes["x"] != grid.nx:
        raise CheckpointError(f"{root / REFERENCE_FILE} is on a {ref.sizes['y']}x{ref.sizes['x']} grid, "
                              f"the models on {grid.ny}x{grid.nx} ({grid.name})")
    return ref


def load_pipeline(checkpoints: str | Path = "checkpoints", device: str | None = None,
                  reference: bool = True, precision: str = "float32", strict: bool = True) -> Pipeline:
    """Load every model found in ``checkpoints`` onto ``device`` (default: cuda if available, else cpu).

    ``precision``: ``"float32"`` (default), ``"bfloat16"`` or ``"auto"``: bf16 autocast only where the device
    computes bf16 natively (:func:`seaice_ldm.models.device.resolve_precision`), float32 elsewhere.
    ``strict=False`` loads what it can: a model that is corrupt, unpaired or on another grid or land mask
    is left out and its error kept in ``Pipeline.errors[(space, decoder)]`` (a bad ``reference.nc`` under
    ``("reference", "reference.nc")``, a bad refiner under ``("refiner", "refiner")``); it still raises when
    no model at all can be loaded.
    """
    root = Path(checkpoints)
    chosen = pick_device(device)
    check_choice("precision", precision, PRECISIONS)  # a bad choice fails before any model loads
    generators, errors = load_generators(root, chosen, strict)
    first = next(iter(generators.values()))
    refiner = None
    try:
        refiner = load_refiner(root, first, chosen)
    except Exception as err:
        if strict:
            raise
        errors[("refiner", REFINER_FOLDER)] = f"{type(err).__name__}: {err}"
    ref = None
    if reference:
        try:
            ref = _reference(root, first.grid)
        except Exception as err:
            if strict:
                raise
            errors[("reference", REFERENCE_FILE)] = f"{type(err).__name__}: {err}"
    return Pipeline(generators, read_ocean(first.diffusion), first.grid, chosen, ref, precision, errors, refiner)
