"""The ``seaice-ldm`` command: data, training, sampling, export, evaluation and benchmark."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _data_synth(args: argparse.Namespace) -> None:
    from seaice_ldm.data import synthesize, write_dataset

    start = time.perf_counter()
    ds = synthesize(years=args.years, grid=args.grid, seed=args.seed, start_year=args.start_year)
    write_dataset(ds, args.out)
    print(f"wrote {args.out}: {ds.sizes['time']} daily SYNTHETIC states on {args.grid} "
          f"in {time.perf_counter() - start:.1f} s")


def _data_check(args: argparse.Namespace) -> None:
    from seaice_ldm.data import check_path

    print(check_path(args.path))


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
    from tqdm.auto import tqdm

    from seaice_ldm.data import write_dataset
    from seaice_ldm.pipeline import load_pipeline

    out = Path(args.out)
    if out.suffix not in (".nc", ".zarr"):
        raise ValueError(f"--out must end in .nc or .zarr, got {out}")
    pipe = load_pipeline(args.checkpoints, device=args.device, reference=False)
    bar = tqdm(total=None, desc=f"sample {args.space} {args.decoder} on {pipe.device}", unit="step")

    def progress(info: dict) -> None:
        bar.total = info["batches"] * info["n"]
        bar.n = info["batch"] * info["n"] + info["i"] + 1
        bar.refresh()

    ds = pipe.sample(space=args.space, decoder=args.decoder, members=args.members, steps=args.steps,
                     sampler=args.sampler, seed=args.seed, batch_size=args.batch_size, callback=progress)
    bar.close()
    write_dataset(ds, out)
    print(f"wrote {out}: {args.members} members in {ds.attrs['seconds']:.2f} s on {pipe.device}")


def _export(args: argparse.Namespace) -> None:
    from seaice_ldm.training.export import export_checkpoint

    print(f"wrote {export_checkpoint(args.src, args.dst, args.dtype)}")


def _evaluate(args: argparse.Namespace) -> None:
    from seaice_ldm.evaluation.report import run_evaluation

    run_evaluation(args)


def _benchmark(args: argparse.Namespace) -> None:
    from seaice_ldm.evaluation.benchmark import run_benchmark

    run_benchmark(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seaice-ldm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="make, check and prepare data").add_subparsers(dest="action", required=True)
    p = data.add_parser("synth", help="write the embedded SYNTHETIC Arctic data set (netCDF or zarr)")
    p.add_argument("--out", required=True, help="output file, .nc or .zarr")
    p.add_argument("--years", type=int, default=10)
    p.add_argument("--grid", default="arctic50km")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start-year", type=int, default=2000)
    p.set_defaults(func=_data_synth)
    p = data.add_parser("check", help="summarise a data file or list what is wrong with it")
    p.add_argument("path")
    p.set_defaults(func=_data_check)
    p = data.add_parser("build-masks", help="rebuild the shipped land masks (needs global-land-mask)")
    p.add_argument("--grid", nargs="+", default=["arctic50km", "arctic25km", "arctic12km"])
    p.add_argument("--out-dir", default=None, help="default: the package's data/masks folder")
    p.set_defaults(func=_data_masks)

    p = data.add_parser("reference", help="write held-out test states of a checkpoint's data (for the dashboard)")
    p.add_argument("--checkpoint", required=True, help="a trained checkpoint folder (its data config is used)")
    p.add_argument("--out", required=True)
    p.add_argument("--states", type=int, default=48)
    p.set_defaults(func=_data_reference)

    train = sub.add_parser("train", help="train a VAE or a diffusion model (runs under torchrun too)")
    train.add_argument("model", choices=["vae", "diffusion"])
    train.add_argument("--config", required=True, help="TOML config, e.g. configs/vae_censored.toml")
    train.add_argument("--space", choices=["latent", "data"], help="diffusion only; must agree with the config")
    train.add_argument("--vae", help="diffusion --space latent: VAE checkpoint (overrides the config)")
    train.add_argument("--out", help="checkpoint folder (overrides the config)")
    train.add_argument("--steps", type=int, help="training steps (overrides the config)")
    train.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    train.add_argument("--no-resume", action="store_true", help="start afresh even if --out holds a checkpoint")
    train.set_defaults(func=_train)

    p = sub.add_parser("sample", help="sample an ensemble to netCDF")
    p.add_argument("--space", choices=["latent", "data"], default="latent")
    p.add_argument("--decoder", choices=["censored", "gaussian"], default="censored")
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", default="dpmpp2m", help="heun, euler or dpmpp2m")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--out", required=True, help="output file, .nc or .zarr")
    p.add_argument("--device", default=None)
    p.add_argument("--checkpoints", default="checkpoints")
    p.set_defaults(func=_sample)

    p = sub.add_parser("export", help="copy a checkpoint for shipping: EMA weights only, optionally fp16")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float16")
    p.set_defaults(func=_export)

    p = sub.add_parser("evaluate", help="write the evaluation report (Markdown + JSON + PNG)")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--out", default="docs/report", help="report folder")
    p.add_argument("--members", type=int, default=32, help="ensemble size per generator")
    p.add_argument("--test-states", type=int, default=64, help="held-out reference states to compare with")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--sampler", default="dpmpp2m")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("benchmark", help="time latent vs data-space diffusion; quality versus steps")
    p.add_argument("--checkpoints", default="checkpoints")
    p.add_argument("--batch", type=int, default=8, help="states per batch (equal for both spaces)")
    p.add_argument("--steps", type=int, default=10, help="sampler steps for the timing")
    p.add_argument("--sampler", default="dpmpp2m")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=3, help="training steps timed per model")
    p.add_argument("--nfe", type=int, nargs="*", default=[10, 20, 40], help="network evaluations for quality")
    p.add_argument("--quality-members", type=int, default=16)
    p.add_argument("--device", default=None)
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.set_defaults(func=_benchmark)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, OSError, ArithmeticError) as err:  # DataError, CheckpointError, SamplingError, ConfigError ...
        print(f"seaice-ldm: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
