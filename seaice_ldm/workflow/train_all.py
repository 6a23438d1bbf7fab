"""``seaice-ldm train all``: from a data file to a checkpoints folder the evaluation and the dashboard read.

It says what it will train on before any work (grid, variables, years and states of each split), checks what
would otherwise fail late (a grid the networks cannot halve, more memory than the machine has, an output folder
it did not make, a README.md or reference.nc in it that it did not write), trains every stage of the preset's five
models and its refiner if it has one (resuming each run, skipping finished ones), exports them, and writes the
held-out reference states and a model card per model::

    OUT/runs/<stage>/        training runs (resumable, with optimiser state)
    OUT/vae_censored/ ... OUT/ddm/   the exported models (EMA weights, float16), what sampling loads
    OUT/refiner/             the latent path's refiner, if the preset has one
    OUT/reference.nc         held-out test states (the dashboard's reference panel)
    OUT/README.md, OUT/model_cards/  one card per model, loss curves

Run again, it resumes. Under ``torchrun`` every process trains and the first one exports and writes.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from seaice_ldm.checkpoints.export import export_checkpoint
from seaice_ldm.checkpoints.format import CONFIG_FILE, read_meta
from seaice_ldm.data import VARIABLE_NAMES, DataNote, describe_split, grid_from_dataset, open_dataset, split_by_year
from seaice_ldm.data.io import atomic_file, check_output, check_parent
from seaice_ldm.data.sizes import check_memory, field_bytes
from seaice_ldm.evaluation.reference import write_reference
from seaice_ldm.training.config import ConfigError, OptimConfig
from seaice_ldm.training.distributed import barrier, init_distributed, shutdown
from seaice_ldm.training.loop import RunState
from seaice_ldm.training.trainers import train_diffusion, train_vae
from seaice_ldm.workflow.cards import CardSettings, check_card_outputs, write_model_cards
from seaice_ldm.workflow.presets import MODELS, Preset, load_preset, split_years, stage_config

RECORD = ".seaice-ldm-train-all.json"  # what OUT was made from: the proof that train all made it
REFERENCE_STATES = 48
EXPORT_DTYPE = "float16"  # as the shipped models


@dataclass(frozen=True)
class TrainAllRequest:
    data: str
    out: str
    variables: tuple[str, ...] | None = None
    preset: str = "tiny"
    val_years: int | None = None
    test_years: int | None = None
    device: str | None = None
    overwrite: bool = False  # replace OUT's README.md, model_cards/ and reference.nc if seaice-ldm did not write them


@dataclass(frozen=True)
class Plan:
    """What the models will train on, known before any work."""

    data: str  # absolute path
    variables: tuple[str, ...]
    grid: object
    years: dict[str, list[int]]
    states: dict[str, int]
    val_years: int
    test_years: int


def train_all(req: TrainAllRequest, progress: bool = True) -> Path:
    """Train, export and describe every model of the preset on ``req.data`` into ``req.out``."""
    start = time.perf_counter()
    main = int(os.environ.get("RANK", "0")) == 0
    say = print if main else (lambda *args: None)
    out = check_parent(req.out)
    preset = load_preset(req.preset)
    val, test = split_years(preset, req.val_years, req.test_years)
    _check_folder(out, None)
    check_output(out / "reference.nc", req.overwrite)  # what it writes at the end, checked before any work
    check_card_outputs(out, _card_settings(out, preset, req), overwrite=req.overwrite)
    plan = _plan(req, val, test)
    record = {"written_by": "seaice-ldm train all", "data": plan.data, "variables": list(plan.variables),
              "preset": str(Path(req.preset).resolve()) if Path(req.preset).is_dir() else req.preset,
              "val_years": val, "test_years": test}
    _check_folder(out, record)
    configs = {s.name: stage_config(s, out / "runs", plan.data, plan.variables, val, test) for s in preset.stages}
    _check_sizes(plan.grid, preset, configs)
    say(_describe(plan, preset, out, req.device))
    if main:  # atomic: another torchrun process checking the folder sees no record or the whole one
        out.mkdir(parents=True, exist_ok=True)
        with atomic_file(out / RECORD) as tmp:
            tmp.write_text(json.dumps(record, indent=1))
    group = init_distributed(req.device)  # one process group for every run (under torchrun)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataNote)  # the file's conversions were named once, above
        for stage in preset.stages:
            cfg = configs[stage.name]
            done = _finished(Path(cfg.out), cfg.optim)
            if done:
                say(f"{stage.name}: finished at step {done} (skipped)")
                continue
            say(f"\n== {stage.name} ({stage.path.name}) -> {cfg.out}")
            trainer = train_vae if stage.kind == "vae" else train_diffusion
            trainer(cfg, device=req.device, resume=True, progress=progress)
        barrier(group)
        shutdown(group)
        if main:
            _publish(out, preset, req)
        say(f"\ntrain all: done in {(time.perf_counter() - start) / 60:.1f} min; next:\n"
              f"  seaice-ldm evaluate --checkpoints {out} --out {out / 'report'}\n"
              f"  SEAICE_LDM_CHECKPOINTS={out} panel serve dashboard")
    return out


def _plan(req: TrainAllRequest, val: int, test: int) -> Plan:
    """Open the data (every check of the loaders runs here, before training), split it, check the memory."""
    data = str(Path(req.data).resolve()) if "*" not in str(req.data) else str(req.data)
    ds = open_dataset(data, variables=req.variables)
    names = tuple(n for n in VARIABLE_NAMES if n in ds.data_vars)
    splits = split_by_year(ds, val_years=val, test_years=test)
    grid = grid_from_dataset(ds)
    check_memory(3 * field_bytes(ds.sizes["time"], len(names), grid.ny, grid.nx),
                 f"training on {ds.sizes['time']} states of {len(names)} variables on {grid.ny} x {grid.nx} cells",
                 "use a shorter record, fewer variables or a machine with more memory")
    years = {k: sorted(set(int(y) for y in v["time"].dt.year.values)) for k, v in splits.items()}
    return Plan(data, names, grid, years, {k: int(v.sizes["time"]) for k, v in splits.items()}, val, test)


def _describe(plan: Plan, preset: Preset, out: Path, device: str | None) -> str:
    g = plan.grid
    stages = ", ".join(" -> ".join(s.name for s in preset.stages_of(m)) for m in preset.models)
    return "\n".join([
        f"train all: {plan.data}",
        f"grid: {g.name}, {g.ny} x {g.nx} cells of {g.dx / 1000:g} km, {g.crs[:60]}",
        f"variables: {', '.join(plan.variables)} ({len(plan.variables)} channels)",
        describe_split(plan.years, plan.states, plan.val_years, plan.test_years),
        f"preset: {preset.name} ({preset.folder}); stages: {stages}",
        f"into: {out} (runs/, {', '.join(preset.models)}, reference.nc, README.md); device: {device or 'auto'}",
    ])


def _check_folder(out: Path, record: dict | None) -> None:
    """OUT must be new, empty, or made by train all from the same request (then it is resumed)."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the models")
    try:
        made = json.loads((out / RECORD).read_text())
    except (OSError, ValueError):
        raise ConfigError(f"--out {out} exists and was not made by train all (no {RECORD} in it); refusing to write "
                          "into it: choose a new or empty folder") from None
    if record is not None:
        differ = sorted(k for k in record if made.get(k) != record[k])
        if differ:
            raise ConfigError(f"--out {out} holds models trained with other {', '.join(differ)} "
                              f"({', '.join(f'{k} = {made.get(k)!r}' for k in differ)}); run again with those to "
                              "resume, or choose another --out")


def _check_sizes(grid, preset: Preset, configs: dict) -> None:
    """Every network halves the grid: refuse a grid side it cannot take, naming sides that would do."""
    def fits(n: int) -> bool:
        for stage in preset.stages:
            cfg = configs[stage.name]
            if stage.kind == "vae":
                if n % 2 ** (len(cfg.vae.channels) - 1):
                    return False
                continue
            side = n
            if cfg.space == "latent":
                vae = configs[Path(cfg.vae_checkpoint).name].vae
                factor = 2 ** (len(vae.channels) - 1)
                if n % factor:
                    return False
                side = n // factor
            if (side + 2 * cfg.unet.margin) % 2 ** (len(cfg.unet.channels) - 1):
                return False
        return True

    bad = [(axis, n) for axis, n in (("y", grid.ny), ("x", grid.nx)) if not fits(n)]
    if bad:
        hints = [f"{axis}: {n} -> {max((m for m in range(n, 0, -1) if fits(m)), default='?')} (crop) or "
                 f"{next(m for m in range(n, 8 * n) if fits(m))} (pad with land)" for axis, n in bad]
        raise ConfigError(f"the grid is {grid.ny} x {grid.nx} cells, but the networks of this preset halve it "
                          f"several times and need other sides; {'; '.join(hints)}. Crop or pad the file (e.g. with "
                          "xarray's isel or pad), or use a preset with fewer levels")


def _finished(run: Path, optim: OptimConfig) -> int:
    """The step a run ended at if it has (stopping rule or step cap), else 0."""
    if not (run / CONFIG_FILE).exists():
        return 0
    meta = read_meta(run, unsealed_ok=True)  # its own training run
    state = RunState(step=meta["step"], history=meta.get("history", []))
    return state.step if state.step >= optim.steps or state.converged(optim) else 0


def _publish(out: Path, preset: Preset, req: TrainAllRequest) -> None:
    """Export every model's last stage, write the reference states and the model cards."""
    for model in preset.models:
        export_checkpoint(out / "runs" / preset.last(model).name, out / model, EXPORT_DTYPE)
    write_reference(out / MODELS[0], out / "reference.nc", REFERENCE_STATES, overwrite=req.overwrite)
    print(f"wrote {write_model_cards(out, _card_settings(out, preset, req), overwrite=req.overwrite)}")


def _card_settings(out: Path, preset: Preset, req: TrainAllRequest) -> CardSettings:
    preset_label = f"preset `{preset.name}`" if preset.name in ("tiny", "default") else f"`{preset.folder}`"
    return CardSettings(
        title=f"Models trained on {Path(req.data).name}", figures=out / "model_cards",
        configs=str(preset.folder) if preset.name not in ("tiny", "default") else f"seaice_ldm/presets/{preset.name}",
        evaluation=f"run `seaice-ldm evaluate --checkpoints {out} --out {out / 'report'}`",
        preface=[f"Trained by `seaice-ldm train all` with {preset_label} on `{req.data}`. Each folder holds "
                 "`ema.safetensors` (weights), `grid.safetensors` (the ocean mask) and `config.json` (config, "
                 "normalisation statistics, grid, variables and bounds, training data, code version, checksums); "
                 "`runs/` holds the training runs (resumable), `reference.nc` held-out test-year states. Run the "
                 "same command again to resume."])
