"""Load trained models and sample ensembles of sea-ice states as ``xarray.Dataset``.

>>> from seaice_ldm import load_pipeline
>>> pipe = load_pipeline("checkpoints")              # cuda when available, else cpu
>>> ds = pipe.sample(space="latent", decoder="censored", members=8, steps=10, sampler="dpmpp2m", seed=0)

A checkpoints folder holds up to five models under fixed names (any may be missing):
``vae_censored``, ``vae_gaussian`` (VAEs), ``ldm_censored``, ``ldm_gaussian`` (latent diffusion on
the latents of the VAE of the same name) and ``ddm`` (the data-space baseline), plus
``reference.nc``: held-out reference states for comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import xarray as xr

from seaice_ldm.checkpoints.build import Loaded, check_pair, load_model
from seaice_ldm.checkpoints.format import CheckpointError, load_weights
from seaice_ldm.data import (VARIABLES, Grid, canonical_coords, clip_to_bounds, denormalise, make_dataset,
                             normalise, open_dataset, to_arrays)
from seaice_ldm.data.derived import no_ice_rule as apply_no_ice_rule
from seaice_ldm.diffusion.samplers import get_sampler
from seaice_ldm.diffusion.schedules import RHO, SIGMA_MAX, SIGMA_MIN, karras_sigmas
from seaice_ldm.models.device import pick_device
from seaice_ldm.models.latent import latent_mask, unwhiten
from seaice_ldm.options import (DECODERS, DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS, PRECISIONS,
                                RANDOM_DATES, SPACES, SampleRequest, check_choice)

REFERENCE_FILE = "reference.nc"


class SamplingError(ValueError):
    """A sampling request that cannot be served (bad arguments or a missing model)."""


@dataclass
class Generator:
    """A diffusion model and, for latent ones, the VAE that decodes its samples."""

    diffusion: Loaded
    vae: Loaded | None = None

    @property
    def space(self) -> str:
        return self.diffusion.meta["space"]

    @property
    def date_conditioned(self) -> bool:
        return bool(self.diffusion.module.net.cfg.date_conditioning)

    @property
    def sigma_max(self) -> float:
        """The sampler's first noise level: the one chosen at training (EDM's 80 for older models)."""
        return float(self.diffusion.meta["config"]["diffusion"].get("sigma_max") or SIGMA_MAX)


def _ocean(path: Path, meta: dict) -> np.ndarray:
    return load_weights(path, "grid", meta)["ocean"].numpy().astype(bool)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: a GPU that supports it, a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:  # not Linux: no cheap check, stay in float32
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> ``"bfloat16"`` where the device has native bf16, else ``"float32"``."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "auto":
        return "bfloat16" if native_bf16(device) else "float32"
    return precision


class Pipeline:
    """Trained generators on one grid, ready to sample (models load once and are read-only)."""

    def __init__(self, generators: dict[tuple[str, str], Generator], ocean: np.ndarray, grid: Grid,
                 device: torch.device, reference: xr.Dataset | None = None, precision: str = "float32",
                 errors: dict[tuple[str, str], str] | None = None) -> None:
        self.generators = generators
        self.ocean = ocean
        self.grid = grid
        self.device = device
        self.reference = reference
        #: bf16 autocast + channels-last in sampling ("bfloat16"; "auto" where the hardware has native bf16)
        self.bf16 = resolve_precision(precision, device) == "bfloat16"
        #: (space, decoder) -> why that generator could not be loaded (``load_pipeline(..., strict=False)``)
        self.errors = dict(errors or {})
        if self.bf16:
            for gen in generators.values():
                for model in (gen.diffusion, gen.vae):
                    if model is not None:
                        model.module.to(memory_format=torch.channels_last)
        self._mask = torch.from_numpy(ocean.astype(np.float32))[None, None].to(device)

    # ----------------------------------------------------------------- what is available
    @property
    def available(self) -> list[tuple[str, str]]:
        """(space, decoder) pairs that can be sampled."""
        return sorted(self.generators)

    @property
    def synthetic(self) -> bool:
        """Whether any loaded model was trained on the package's synthetic data set."""
        return any(g.diffusion.meta.get("data", {}).get("synthetic") == "yes" for g in self.generators.values())

    def _generator(self, space: str, decoder: str) -> Generator:
        try:
            check_choice("space", space, SPACES)
            check_choice("decoder", decoder, DECODERS)
        except ValueError as err:
            raise SamplingError(str(err)) from None
        key = (space, "censored" if space == "data" else decoder)
        if key not in self.generators:
            raise SamplingError(f"no trained {space}-space model for the {decoder} decoder in this pipeline")
        return self.generators[key]

    # ----------------------------------------------------------------- sampling
    @property
    def date_conditioned(self) -> bool:
        """Whether every loaded diffusion model can sample for a date."""
        return all(g.date_conditioned for g in self.generators.values())

    def sample(self, space: str = "latent", decoder: str = "censored", members: int = DEFAULT_MEMBERS,
               steps: int = DEFAULT_STEPS, sampler: str = DEFAULT_SAMPLER, seed: int = 0, batch_size: int | None = None,
               callback: Callable[[dict], None] | None = None, date=None, guidance: float = 1.0,
               no_ice_rule: bool = True) -> xr.Dataset:
        """An ensemble of ``members`` states ``(member, y, x)`` in physical units, land NaN.

        ``date`` (e.g. ``"2008-03-15"``) conditions a date-conditioned model on that day of the year;
        ``None`` samples all seasons (the paper's unconditional setting); ``"random"`` samples all seasons
        through the date condition, each member for a day of the year drawn from the seed (recorded in the
        ``day_of_year`` coordinate). ``guidance`` is the
        classifier-free guidance scale w in ``D = D_uncond + w (D_date - D_uncond)`` (1 = plain conditional).
        ``no_ice_rule`` sets thickness, damage and drift to 0 where sic <= 0 (:func:`seaice_ldm.data.no_ice_rule`).
        """
        return self.sample_decoders(space, (decoder,), members, steps, sampler, seed, batch_size, callback,
                                    date, guidance, no_ice_rule)[decoder]

    def sample_decoders(self, space: str, decoders: tuple[str, ...] = DECODERS, members: int = DEFAULT_MEMBERS,
                        steps: int = DEFAULT_STEPS, sampler: str = DEFAULT_SAMPLER, seed: int = 0,
                        batch_size: int | None = None,
                        callback: Callable[[dict], None] | None = None, date=None,
                        guidance: float = 1.0, no_ice_rule: bool = True) -> dict[str, xr.Dataset]:
        """Ensembles for several decoders from the same seed (and date, see :meth:`sample`).

        In data space the censored and Gaussian versions are the *same* samples, clipped to the bounds
        or not; in latent space each decoder has its own VAE and latent model, started from the same
        noise.
        """
        try:
            req = SampleRequest(space, decoders[0] if decoders else "censored", members, steps, sampler, seed,
                                date, guidance, no_ice_rule)
        except ValueError as err:
            raise SamplingError(str(err)) from None
        days = req.days_of_year()
        for decoder in decoders:
            gen = self._generator(space, decoder)
            if days is not None and not gen.date_conditioned:
                raise SamplingError(f"the {space}-space model for the {decoder} decoder ({gen.diffusion.path}) is not "
                                    "date-conditioned; sample with date=None")
        out: dict[str, xr.Dataset] = {}
        if space == "data":
            start = time.perf_counter()
            raw = self._sample_normalised(self._generator(space, "censored"), members, steps, sampler, seed,
                                          batch_size, callback, days, guidance)
            seconds = time.perf_counter() - start
            for decoder in decoders:
                out[decoder] = self._to_dataset(self._generator(space, decoder), raw, decoder, space, req,
                                                seconds, days)
            return out
        for decoder in decoders:
            gen = self._generator(space, decoder)
            start = time.perf_counter()
            raw = self._sample_normalised(gen, members, steps, sampler, seed, batch_size, callback, days, guidance)
            out[decoder] = self._to_dataset(gen, raw, decoder, space, req, time.perf_counter() - start, days)
        return out

    def _default_batch(self, space: str) -> int:
        if self.device.type == "cuda":
            return 256 if space == "latent" else 32
        return 32 if space == "latent" else 8

    @torch.no_grad()
    def _sample_normalised(self, gen: Generator, members: int, steps: int, sampler: str, seed: int,
                           batch_size: int | None, callback: Callable[[dict], None] | None,
                           days: np.ndarray | None = None, guidance: float = 1.0) -> torch.Tensor:
        """Normalised fields ``(members, C, H, W)`` on the CPU, before any censoring; ``days``: each member's
        0-based day of the year (None: unconditional)."""
        precond = gen.diffusion.module
        cfg = precond.net.cfg
        if gen.vae is not None:
            factor = gen.vae.module.downsampling_factor
            mask = latent_mask(self._mask, factor)
        else:
            mask = self._mask
        shape = (members, cfg.in_channels, *mask.shape[-2:])
        # all initial noise from one CPU generator: the same seed gives the same ensemble at any batch size
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
        sigmas = karras_sigmas(steps, SIGMA_MIN, gen.sigma_max, RHO).to(self.device)
        sample_fn = get_sampler(sampler)
        batch = batch_size or self._default_batch(gen.space)
        n_batches = -(-members // batch)
        outputs = []
        for b, start in enumerate(range(0, members, batch)):
            x = noise[start : start + batch].to(self.device) * sigmas[0]
            m = mask.expand(len(x), -1, -1, -1)
            d = None if days is None else torch.as_tensor(days[start : start + batch], dtype=torch.float32,
                                                          device=self.device)

            def denoise(x_t: torch.Tensor, sigma: torch.Tensor, m: torch.Tensor = m,
                        d: torch.Tensor | None = d) -> torch.Tensor:
                if d is None:
                    return precond(x_t, sigma, m)
                if guidance == 1.0:
                    return precond(x_t, sigma, m, d)
                # classifier-free guidance: D = D_u + w (D_c - D_u), both halves in one batch
                both = precond(torch.cat([x_t, x_t]), torch.cat([sigma, sigma]), torch.cat([m, m]),
                               torch.cat([d, torch.full_like(d, float("nan"))]))
                cond, uncond = both.chunk(2)
                return uncond + guidance * (cond - uncond)

            def progress(info: dict, b: int = b) -> None:
                if callback is not None:
                    callback({"batch": b, "batches": n_batches, "i": info["i"], "n": info["n"]})

            gen_torch = torch.Generator(device=self.device).manual_seed(seed + 7919 * (b + 1))
            if self.bf16:  # the networks were put in channels-last at load; the sampler's own maths stays float32
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                x = sample_fn(denoise, x, sigmas, callback=progress, generator=gen_torch)
                if gen.vae is not None:
                    z = unwhiten(x, gen.diffusion.meta["latent_stats"])
                    x = gen.vae.module.decode(z, self._mask.expand(len(x), -1, -1, -1))
            outputs.append(x.float().contiguous().cpu())
        return torch.cat(outputs)

    def _to_dataset(self, gen: Generator, x: torch.Tensor, decoder: str, space: str, req: SampleRequest,
                    seconds: float, days: np.ndarray | None = None) -> xr.Dataset:
        owner = gen.vae or gen.diffusion
        names = owner.stats.names
        units = owner.meta.get("units", {})
        for name in names:
            if units.get(name, VARIABLES[name].units) != VARIABLES[name].units:
                raise CheckpointError(f"{owner.path}: config.json key units.{name} is {units[name]!r}; the model "
                                      f"works in {VARIABLES[name].units!r}")
        values = denormalise(x.numpy(), owner.stats)
        synthetic = gen.diffusion.meta.get("data", {}).get("synthetic") == "yes"
        ds = make_dataset({name: values[:, i] for i, name in enumerate(names)}, self.grid, land=~self.ocean, attrs={
            "title": "Generated sea-ice states (model trained on SYNTHETIC data)" if synthetic
            else "Generated sea-ice states",
            **({"comment": "Generated by models trained on SYNTHETIC Arctic data, not observations."}
               if synthetic else {}),
            "source": f"seaice-ldm {space}-space diffusion ({decoder} decoder)",
            "synthetic": "yes" if synthetic else "no",
            "space": space,
            "decoder": decoder,
            "diffusion_model": str(gen.diffusion.path),
            "vae_model": str(gen.vae.path) if gen.vae else "none",
            "sampler": req.sampler,
            "steps": req.steps,
            "seed": req.seed,
            "date": {None: "all seasons", RANDOM_DATES: "all seasons, random dates"}.get(req.date, req.date),
            "guidance": req.guidance,
            "no_ice_rule": "sit, sid, siu, siv set to 0 where sic <= 0" if req.no_ice_rule else "off",
            "device": str(self.device),
            "seconds": round(seconds, 3),
        })
        if req.date == RANDOM_DATES:
            ds = ds.assign_coords(day_of_year=("member", 1.0 + days, {
                "long_name": "day of the year the member was sampled for (1 = 1 January 00:00)", "units": "1"}))
        if decoder == "censored":  # point output of the censored decoder: the mean clipped to the bounds
            ds = clip_to_bounds(ds)
        return apply_no_ice_rule(ds) if req.no_ice_rule else ds

    @torch.no_grad()
    def reconstruct(self, states: xr.Dataset, decoder: str = "censored", batch_size: int = 32) -> xr.Dataset:
        """VAE round trip (posterior mean, then the decoder's point output) of ``states`` (time, y, x)."""
        vae = self._generator("latent", decoder).vae
        names = vae.stats.names
        x, _ = to_arrays(states, names)
        x = normalise(x, vae.stats, self.ocean)
        outputs = []
        for start in range(0, len(x), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size], dtype=np.float32))
            mask = self._mask.expand(len(batch), -1, -1, -1)
            mean, _ = vae.module.encode(batch.to(self.device), mask)
            outputs.append(vae.module.decode(mean, mask).float().cpu())
        values = denormalise(torch.cat(outputs).numpy(), vae.stats)
        values[..., ~self.ocean] = np.nan
        out = states[list(names)].copy(deep=True)
        for i, name in enumerate(names):
            out[name] = (states[name].dims, values[:, i].astype(np.float32), states[name].attrs)
        out.attrs.update({"title": f"VAE reconstructions ({decoder} decoder)", "vae_model": str(vae.path)})
        return clip_to_bounds(out) if vae.module.censored else out

    def coords(self) -> dict[str, Any]:
        """Canonical coordinates (x, y, lat, lon, cell_area, land, grid mapping crs) of the generated fields."""
        return canonical_coords(self.grid, ~self.ocean)


def _load_generators(root: Path, device: torch.device,
                     errors: dict[tuple[str, str], str] | None = None) -> dict[tuple[str, str], Generator]:
    """The generators in ``root``; with an ``errors`` dict, one that fails is recorded there and skipped."""
    generators = {}

    def load(key: tuple[str, str], build: Callable[[], Generator]) -> None:
        try:
            generators[key] = build()
        except Exception as err:
            if errors is None:
                raise
            errors[key] = f"{type(err).__name__}: {err}"

    def latent(ldm: Path, vae: Path) -> Generator:
        if not (vae / "config.json").exists():
            raise CheckpointError(f"{ldm} needs its VAE at {vae}, which is missing")
        pair = Generator(load_model(ldm, "diffusion", device), load_model(vae, "vae", device))
        check_pair(pair.vae, pair.diffusion)
        return pair

    def data(path: Path) -> Generator:
        ddm = load_model(path, "diffusion", device)
        if ddm.meta.get("space") != "data":
            raise CheckpointError(f"{path} is not a data-space diffusion model")
        return Generator(ddm)

    for decoder in DECODERS:
        ldm, vae = root / f"ldm_{decoder}", root / f"vae_{decoder}"
        if (ldm / "config.json").exists():
            load(("latent", decoder), lambda ldm=ldm, vae=vae: latent(ldm, vae))
    if (root / "ddm" / "config.json").exists():
        load(("data", "censored"), lambda: data(root / "ddm"))
    return generators


def load_pipeline(checkpoints: str | Path = "checkpoints", device: str | None = None,
                  reference: bool = True, precision: str = "float32", strict: bool = True) -> Pipeline:
    """Load every model found in ``checkpoints`` onto ``device`` (default: cuda if available, else cpu).

    ``precision``: ``"float32"`` (default), ``"bfloat16"`` (bf16 autocast and channels-last while sampling)
    or ``"auto"`` (bf16 where the device computes it natively, see :func:`native_bf16`).
    ``strict=False`` loads what it can: a model that is corrupt, unpaired or on another grid or land mask
    is left out and its error kept in ``Pipeline.errors[(space, decoder)]`` (a bad ``reference.nc`` under
    ``("reference", "reference.nc")``); it still raises when no model at all can be loaded.
    """
    root = Path(checkpoints)
    if not root.is_dir():
        raise CheckpointError(f"checkpoints folder not found: {root}")
    chosen = pick_device(device)
    resolve_precision(precision, chosen)  # a bad choice fails before any model loads
    errors: dict[tuple[str, str], str] | None = None if strict else {}
    generators = _load_generators(root, chosen, errors)
    if not generators:
        found = "" if not errors else ": " + "; ".join(f"{k[0]}/{k[1]}: {v}" for k, v in errors.items())
        raise CheckpointError(f"no trained models in {root} (expected ldm_censored, ldm_gaussian, ddm ...){found}")
    first = next(iter(generators.values()))
    grid = Grid(**first.diffusion.meta["grid"])
    ocean = _ocean(first.diffusion.path, first.diffusion.meta)
    if strict:
        grids = {tuple(sorted(g.diffusion.meta["grid"].items())) for g in generators.values()}
        if len(grids) > 1:
            raise CheckpointError(f"the models in {root} were trained on different grids: {sorted(grids)}")
    for key, gen in list(generators.items()):
        for model in (gen.diffusion, gen.vae):
            if model is None or key not in generators:
                continue
            if model.meta["grid"] != first.diffusion.meta["grid"]:  # only reached when strict=False
                problem = f"{model.path} was trained on another grid than {first.diffusion.path}"
            elif not np.array_equal(_ocean(model.path, model.meta), ocean):
                problem = (f"{model.path} has another land mask than {first.diffusion.path}; "
                           "all models must be trained on the same grid and mask")
            else:
                continue
            if strict:
                raise CheckpointError(problem)
            errors[key] = f"CheckpointError: {problem}"
            del generators[key]
    ref = None
    if reference and (root / REFERENCE_FILE).exists():
        try:
            ref = open_dataset(root / REFERENCE_FILE)
            if ref.sizes["y"] != grid.ny or ref.sizes["x"] != grid.nx:
                raise CheckpointError(f"{root / REFERENCE_FILE} is on a {ref.sizes['y']}x{ref.sizes['x']} grid, "
                                      f"the models on {grid.ny}x{grid.nx} ({grid.name})")
        except Exception as err:
            if strict:
                raise
            errors[("reference", REFERENCE_FILE)] = f"{type(err).__name__}: {err}"
            ref = None
    return Pipeline(generators, ocean, grid, chosen, ref, precision=precision, errors=errors)
