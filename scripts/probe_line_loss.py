"""Where do the latent path's samples lose the damage lines? (docs/DESIGN.md, "Where the lines go")

Three probes of the shipped checkpoints, each scored like the report (damage lines, and sid small-scale power
against the pooled reference of all years):

- ``roundtrip``: held-out states encoded, their latents noised to sigma and denoised by the latent model
  (DPM-Solver++(2M), 6 steps from sigma), then decoded; sigma = 0 is the plain VAE reconstruction. It shows at
  which noise level the latent model's denoiser stops keeping the lines it is given.
- ``samplers``: the latent model's samples (all seasons, random dates) with other samplers and step counts,
  e.g. ``dpmpp2m:20``, ``heun:7:5`` (Heun with churn 5) or
  ``dpmpp2m_sde:10:eta=0.5`` (any sampler option by name), each with its counted GFLOP per state.
- ``refine``: the latent samples passed through the data-space model from a low noise level sigma (an
  SDEdit-style refiner, Meng et al. 2022, with the full data-space network as an upper bound on what a small
  refiner trained at those noise levels could do).
- ``calibrate``: validation-year states (not the test years the report scores) passed through the shipped
  refiner's own pass with each rho of its noise levels: a pass that draws what it is given back with the same
  statistics is the one the product uses (``REFINE_RHO``).

    python scripts/probe_line_loss.py roundtrip --decoder censored --sigmas 0 0.1 0.2 0.4 0.8 1.6
    python scripts/probe_line_loss.py samplers --members 64 dpmpp2m:10 dpmpp2m:20 heun:5 heun:7:5 heun:20:40
    python scripts/probe_line_loss.py refine --members 32 --sigmas 0.1 0.3 0.6
    python scripts/probe_line_loss.py refine --refiner runs/refiner --refine-steps 2 --refine-sigma-min 0.3 --sigmas 1.6
    python scripts/probe_line_loss.py calibrate --rhos 7 5 4 3.5 3 2
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import xarray as xr

from seaice_ldm.checkpoints.build import load_model
from seaice_ldm.data import denormalise, normalise, to_arrays
from seaice_ldm.diffusion.samplers import get_sampler, sample_dpmpp_2m
from seaice_ldm.diffusion.schedules import RHO, SIGMA_MIN, karras_sigmas
from seaice_ldm.evaluation.autoencoder import line_summary
from seaice_ldm.evaluation.flops import unet_flops
from seaice_ldm.evaluation.training_record import gflop_per_state
from seaice_ldm.evaluation.reference import evenly, pipeline_splits, scoring_states
from seaice_ldm.evaluation.smoothness import small_scale_power
from seaice_ldm.evaluation.spectra import spectrum_boxes
from seaice_ldm.evaluation.uncertainty import ratio_of_means
from seaice_ldm.models.latent import latent_mask, whiten
from seaice_ldm.options import SampleRequest
from seaice_ldm.pipeline import load_pipeline
from seaice_ldm.pipeline.generate import MemberNoise, decode, generate, guided_denoiser, refine_batch
from seaice_ldm.pipeline.outputs import point_output

DENOISE_STEPS = 6  # from a probe's sigma down to 0


class Scorer:
    """Damage lines and sid small-scale power against the pooled reference of every year (as in the report)."""

    def __init__(self, pipe, test_states: int):
        _, self.test, years = scoring_states(pipe, test_states)
        self.boxes = spectrum_boxes(self.test["sic"])
        self.pooled = np.concatenate([small_scale_power(ds["sid"], self.boxes) for ds in years.values()])

    def row(self, label: str, ds: xr.Dataset, gflop: float | None = None) -> str:
        lines = line_summary(ds)
        sid = ratio_of_means(small_scale_power(ds["sid"], self.boxes), self.pooled)
        cost = f"{gflop:.2f}" if gflop is not None else ""
        return (f"| {label} | {lines['share']:.3f} | {lines['lines_per_state']:.2f} | "
                f"{lines['high_cells_per_state']:.0f} | {sid:.2f} | {cost} |")


def as_states(like: xr.Dataset, x: torch.Tensor, generator, ocean: np.ndarray, decoder: str) -> xr.Dataset:
    """Normalised fields ``x`` of ``generator``'s variables as the decoder's point output, in ``like``'s layout."""
    stats = generator.fields_model.stats
    values = denormalise(x.numpy(), stats)
    values[..., ~ocean] = np.nan
    out = like[list(stats.names)].copy(deep=True)
    for i, name in enumerate(stats.names):
        out[name] = (like[name].dims, values[:, i].astype(np.float32), like[name].attrs)
    return point_output(out, decoder)


def roundtrip(pipe, scorer: Scorer, decoder: str, sigmas: list[float]) -> list[str]:
    gen = pipe.generators[pipe.generator("latent", decoder).spec.key]
    vae, states = gen.vae.module, scorer.test
    x, _ = to_arrays(states, gen.vae.stats.names)
    x = torch.from_numpy(normalise(x, gen.vae.stats, pipe.ocean).astype(np.float32))
    mask = pipe.mask.expand(len(x), -1, -1, -1)
    with torch.no_grad():
        z = whiten(vae.encode(x, mask)[0], gen.diffusion.meta["latent_stats"])
    days = torch.as_tensor(states.time.dt.dayofyear.values - 1.0, dtype=torch.float32)
    denoise = guided_denoiser(gen.diffusion.module, latent_mask(mask, vae.downsampling_factor), days, 1.0)
    rows, noise = [], torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
    for sigma in sigmas:
        zz = z
        if sigma > 0:
            with torch.no_grad():
                zz = sample_dpmpp_2m(denoise, z + sigma * noise, karras_sigmas(DENOISE_STEPS, SIGMA_MIN, sigma))
        with torch.no_grad():
            fields = decode(gen, zz, pipe.mask)
        label = "reconstruction" if sigma == 0 else f"noised to sigma {sigma:g}, denoised"
        rows.append(scorer.row(f"{decoder}: {label}", as_states(states, fields, gen, pipe.ocean, decoder)))
    return rows


def sampler_settings(text: str) -> tuple[str, int, dict]:
    """``name:steps[:churn]`` or ``name:steps:key=value,...`` -> (sampler, steps, options)."""
    name, steps, *extra = text.split(":")
    if not extra:
        return name, int(steps), {}
    if "=" not in extra[0]:
        return name, int(steps), {"churn": float(extra[0])}
    return name, int(steps), {k: float(v) for k, v in (item.split("=") for item in extra[0].split(","))}


def samplers(pipe, scorer: Scorer, decoder: str, members: int, settings: list[str]) -> list[str]:
    gen = pipe.generators[pipe.generator("latent", decoder).spec.key]
    rows, like = [], scorer.test.isel(time=[0] * members)
    for text in settings:
        name, steps, options = sampler_settings(text)
        request = SampleRequest(space="latent", decoder=decoder, members=members, steps=steps, sampler=name,
                                date="random", no_ice_rule=False)
        x = generate(gen, request, pipe.mask, pipe.precision, **options)
        gflop = gflop_per_state(pipe, "latent", decoder, name, steps)
        rows.append(scorer.row(f"{decoder} LDM samples, {text}", as_states(like, x, gen, pipe.ocean, decoder), gflop))
    return rows


def refine(pipe, scorer: Scorer, members: int, sigmas: list[float], refiner: str | None, steps: int,
           sigma_min: float, latent: str, sampler: str = "dpmpp2m", rho: float = RHO) -> list[str]:
    lat = pipe.generators[pipe.generator("latent", "censored").spec.key]
    if refiner:
        model = load_model(refiner, "diffusion")
        module, stats = model.module, model.stats
    else:
        dat = pipe.generators[pipe.generator("data", "censored").spec.key]
        module, stats = dat.diffusion.module, dat.fields_model.stats
    name, latent_steps, options = sampler_settings(latent)
    request = SampleRequest(space="latent", decoder="censored", members=members, steps=latent_steps, sampler=name,
                            date="random", no_ice_rule=False)
    like = scorer.test.isel(time=[0] * members)
    physical = as_states(like, generate(lat, request, pipe.mask, pipe.precision, **options), lat, pipe.ocean,
                         "censored")
    latent_gflop = gflop_per_state(pipe, "latent", "censored", name, latent_steps)
    rows = [scorer.row(f"censored LDM samples, {latent}", physical, latent_gflop)]  # clipped to the bounds
    xd, _ = to_arrays(physical, stats.names)
    xd = torch.from_numpy(np.nan_to_num(normalise(xd, stats, pipe.ocean)).astype(np.float32))
    mask = pipe.mask.expand(members, -1, -1, -1)
    days = torch.as_tensor(np.asarray(request.days_of_year()), dtype=torch.float32)
    denoise = guided_denoiser(module, mask, days if module.net.cfg.date_conditioning else None, 1.0)
    noise = torch.randn(xd.shape, generator=torch.Generator().manual_seed(0))
    per_eval = unet_flops(module.net, *pipe.mask.shape[-2:]) / 1e9
    label = f"refiner {refiner}" if refiner else "data-space model"
    fn = get_sampler(sampler).fn
    extra = {"randn_like": lambda x: torch.randn(x.shape, generator=gen)} if get_sampler(sampler).stochastic else {}
    for sigma in sigmas:
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            out = fn(denoise, xd + sigma * noise, karras_sigmas(steps, sigma_min, sigma, rho), **extra)
        rows.append(scorer.row(f"the same, {label} from sigma {sigma:g} ({steps} {sampler} steps to {sigma_min:g})",
                               as_states(like, out, lat, pipe.ocean, "censored"), latent_gflop + steps * per_eval))
    return rows


def calibrate(pipe, scorer: Scorer, states: int, rhos: list[float]) -> list[str]:
    if pipe.refiner is None:
        raise SystemExit("calibrate needs a refiner in the checkpoints folder")
    val = evenly(pipeline_splits(pipe)["val"], states).load()
    x, _ = to_arrays(val, pipe.refiner.stats.names)
    x = torch.from_numpy(normalise(x, pipe.refiner.stats, pipe.ocean).astype(np.float32))
    gen = pipe.generator("latent", "censored")  # its fields model: the variables' order and statistics
    rows = [scorer.row(f"validation-year states ({states})", val)]
    for rho in rhos:
        out = refine_batch(pipe.refiner, x, MemberNoise(range(len(x)), x.device), pipe.mask, pipe.precision, rho)
        rows.append(scorer.row(f"the same through the refiner's pass, rho {rho:g}",
                               as_states(val, out, gen, pipe.ocean, "censored")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=["roundtrip", "samplers", "refine", "calibrate"])
    parser.add_argument("settings", nargs="*", help="samplers: name:steps[:churn], e.g. heun:7:5")
    parser.add_argument("--decoder", default="censored", choices=["censored", "gaussian"])
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0, 0.1, 0.2, 0.4, 0.8, 1.6])
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--test-states", type=int, default=32)
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--refiner", help="refine: a data-space model folder (default: the shipped data-space model)")
    parser.add_argument("--refine-steps", type=int, default=DENOISE_STEPS, help="refine: network evaluations")
    parser.add_argument("--refine-sigma-min", type=float, default=SIGMA_MIN, help="refine: the last level before 0")
    parser.add_argument("--latent", default="dpmpp2m:10", help="refine: the latent model's sampler:steps")
    parser.add_argument("--refine-sampler", default="dpmpp2m", help="refine: the pass's sampler")
    parser.add_argument("--refine-rho", type=float, default=RHO, help="refine: rho of the pass's noise levels")
    parser.add_argument("--rhos", type=float, nargs="+", default=[7.0, 5.0, 4.0, 3.5, 3.0, 2.0],
                        help="calibrate: rhos of the shipped refiner's pass")
    args = parser.parse_intermixed_args()
    pipe = load_pipeline(args.checkpoints)
    scorer = Scorer(pipe, args.test_states)
    print("| states | share of high damage in lines | lines / state | high-damage cells / state | "
          "sid small-scale power / pooled reference | GFLOP / state |")
    print("|---|---|---|---|---|---|")
    print(scorer.row(f"held-out states ({args.test_states})", scorer.test))
    if args.probe == "roundtrip":
        rows = roundtrip(pipe, scorer, args.decoder, args.sigmas)
    elif args.probe == "samplers":
        rows = samplers(pipe, scorer, args.decoder, args.members, args.settings or ["dpmpp2m:10"])
    elif args.probe == "calibrate":
        rows = calibrate(pipe, scorer, args.test_states, args.rhos)
    else:
        rows = refine(pipe, scorer, args.members, [s for s in args.sigmas if s > 0], args.refiner, args.refine_steps,
                      args.refine_sigma_min, args.latent, args.refine_sampler, args.refine_rho)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
