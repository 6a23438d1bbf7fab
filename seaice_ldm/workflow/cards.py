"""Model cards: one section per checkpoint of a folder, written to its ``README.md``.

Each card is read from the checkpoint's ``config.json`` (data, split, config, steps, wall time, hardware, noise
levels, validation history) and, where given, the evaluation report, the benchmark and the latent size frontier,
so a card never disagrees with what was trained and measured; each model's loss curve is drawn beside it.
``scripts/write_model_cards.py`` writes the shipped folder's cards with this; ``seaice-ldm train all`` writes a
user's.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import numpy as np
from safetensors import safe_open

from seaice_ldm.checkpoints.build import learnt_encoder
from seaice_ldm.data.atomic import atomic_file
from seaice_ldm.data.ownership import check_replaceable, record_output
from seaice_ldm.models.vae import VAEConfig
from seaice_ldm.options import (GENERATORS, REFINE_EVALUATIONS, REFINE_RHO, REFINE_SIGMA_MIN, REFINED_PATH,
                                SPACE_LABELS, generator_label)
from seaice_ldm.pipeline.generate import holds_ice_edge, refined_names
from seaice_ldm.training.config import OptimConfig
from seaice_ldm.training.loop import RunState

MODELS = {
    "vae_censored": "VAE with the censored-Gaussian (Tobit) decoder",
    "vae_gaussian": "VAE with the plain Gaussian decoder",
    "ldm_censored": f"{SPACE_LABELS['latent']} model on the censored VAE's latents",
    "ldm_gaussian": f"{SPACE_LABELS['latent']} model on the Gaussian VAE's latents",
    "ddm": f"{SPACE_LABELS['data']} baseline (same U-Net family, on the normalised fields)",
    "refiner": "Refiner of the latent path (a data-space model for the low noise levels; an SDEdit pass)",
}
#: the report's key of each diffusion checkpoint (its censored output where it serves both decoders)
GENERATOR = {spec.folder: spec.output_label(spec.decoder) for spec in GENERATORS} | {
    "refiner": generator_label(*REFINED_PATH, refine=True)}


@dataclass
class CardSettings:
    """What a folder's cards say beyond the checkpoints: title, preface, where the configs and figures are,
    and the measurements (parsed JSON) to quote."""

    title: str
    preface: list[str]
    configs: str = "configs"  # the folder the cards name a model's config file in
    figures: Path = Path("docs/model_cards")
    report: dict | None = None
    benchmark: dict | None = None
    frontier: dict | None = None
    frontier_section: bool = False
    evaluation: str = "[`docs/report/report.md`](../docs/report/report.md)"
    extra: list[str] = field(default_factory=list)


def parameters(folder: Path) -> tuple[int, int]:
    """(number of parameters, bytes on disk) of the EMA weights."""
    path = folder / "ema.safetensors"
    with safe_open(path, framework="numpy") as f:
        count = sum(int(f.get_tensor(k).size) for k in f.keys())
    return count, path.stat().st_size


def fmt(value: float) -> str:
    return f"{value:.3g}"


def training_end(meta: dict, opt: dict, handed_over: bool = False) -> str:
    """How the run ended: stopped by the rule, at the step cap, or still running (an interim export); with
    ``handed_over``, a stage 1 that a later stage started from."""
    state, cfg = RunState(step=meta["step"], history=meta["history"]), OptimConfig(**opt)
    improved = state.last_improvement(cfg)
    return ending(meta["step"], state.converged(cfg), state.history[improved]["step"] if improved >= 0 else None,
                  opt["steps"], handed_over)


def ending(step: int, converged: bool, last_improvement_step: int | None, cap: int, handed_over: bool = False) -> str:
    """:func:`training_end` from what a run recorded of its end."""
    if converged:
        return (f"it stopped by this rule at step {step} (the last improvement that large was at step "
                f"{last_improvement_step})")
    if step >= cap:
        return f"it ran to the {cap}-step cap"
    if handed_over:  # the next stage started from it before the rule or the cap ended it
        return (f"it was ended at step {step} for the next stage, before the rule (its last improvement that large "
                f"was at step {last_improvement_step}) or its {cap}-step cap")
    return f"**interim export at step {step}**: training continues until the rule stops it or the {cap}-step cap"


def _vae_scores(meta: dict, report: dict, names: list[str]) -> list[str]:
    rec = report.get("reconstruction", {}).get(meta["config"]["vae"]["decoder"])
    if rec is None:
        return []
    e = rec["errors"]
    out = ["- Reconstruction RMSE of held-out test states (all ocean / inside the MIZ): "
           + ", ".join(f"{n} {fmt(e[n]['rmse'])} / {fmt(e[n]['rmse_miz'])}" for n in names if n in e) + "."]
    v = rec["bound_violation"]
    sic = (f"; sic exactly 0 / 1: {fmt(100 * rec['bound_share']['sic']['lower'])} % / "
           f"{fmt(100 * rec['bound_share']['sic']['upper'])} %" if "sic" in rec.get("bound_share", {}) else "")
    out.append("- Reconstructed cells outside the bounds: " + ", ".join(f"{k} {fmt(100 * x)} %" for k, x in v.items())
               + f"{sic}.")
    return out


def scores(name: str, meta: dict, report: dict | None) -> list[str]:
    """The card's lines of scores from the evaluation report (the model's own variables)."""
    names = list(meta.get("variables") or meta["norm_stats"]["names"])
    if report is None:
        return ["- Scores: run `seaice-ldm evaluate` (no report found)."]
    if meta["kind"] == "vae":
        return _vae_scores(meta, report, names)
    label = GENERATOR.get(name, "")
    g = report.get("generators", {}).get(label)
    if g is None:
        return []
    setup = report["setup"]
    crps = {n: float(np.mean(v)) for n, v in g.get("crps_per_state", {}).items()}
    pooled, years = report.get("smoothness_pooled", {}).get(label, {}), report["reference"].get("yearly_power", {})
    miz, lines = g.get("integrals", {}).get("miz_area"), g.get("lines")
    return [
        f"- Against {setup['test_states']} held-out test states, {setup['members']} members, {setup['sampler']} "
        f"{setup['steps']} steps: fair CRPS " + ", ".join(f"{n} {fmt(crps[n])}" for n in names if n in crps) + ".",
        "- Small-scale power against the pooled reference of every year (90 % interval over members; the "
        "reference's own years range): " + ", ".join(
            f"{n} {fmt(pooled[n]['value'])} [{fmt(pooled[n]['low'])}, {fmt(pooled[n]['high'])}] "
            f"({fmt(min(years[n].values()))}-{fmt(max(years[n].values()))})"
            for n in names if n in pooled and n in years) + ".",
        "- Cells outside the bounds: " + ", ".join(f"{k} {fmt(100 * x)} %" for k, x in g["bound_violation"].items())
        + (f"; MIZ area {miz['mean']:.2f} ± {miz['std']:.2f} 10⁶ km² (reference "
           f"{report['reference']['integrals']['miz_area']['mean']:.2f})" if miz else "") + ".",
    ] + ([f"- Damage lines: {fmt(lines['share'])} of high-damage pack cells in lines, {fmt(lines['lines_per_state'])} "
          f"lines per state (reference {fmt(report['reference']['lines']['share'])} and "
          f"{fmt(report['reference']['lines']['lines_per_state'])})."] if lines and "lines" in report["reference"]
         else [])


def stage_one(meta: dict) -> dict | None:
    """The ``config.json`` of the run a fine-tuned model was warm-started from, if it is still on disk as it was."""
    source = meta.get("init_from")
    path = Path(source["run"]) / "config.json" if source else None
    first = json.loads(path.read_text()) if path and path.exists() else None
    return first if first is not None and first.get("run_id") == source.get("run_id") else None  # not replaced since


def warm_start_line(meta: dict, configs: str) -> list[str]:
    """How a fine-tuned model began: the stage-1 run, its steps and wall time, and what the fine-tune changed."""
    source = meta.get("init_from")
    if not source:
        return []
    first = stage_one(meta)
    ended = ""
    if first is not None:
        ended = "; " + training_end(first, first["config"]["optim"], handed_over=True)
    elif "converged" in source:  # the run folder is gone: what the fine-tune recorded of its end
        ended = "; " + ending(source["step"], source["converged"], source["last_improvement_step"], source["steps_cap"],
                              handed_over=True)
    else:
        ended = "; how it ended is not recorded with these weights, and its run folder is not on disk"
    wall = f", {source['wall_time_s'] / 60:.0f} min" if source.get("wall_time_s") else ""
    if meta["config"].get("freeze_encoder"):
        return [f"- Encoder: that of `{source['run']}` ({source['step']} steps{wall}, run `{source['run_id']}`{ended}), "
                "kept as it is (`freeze_encoder = true`), so this VAE's latents are that VAE's. Its decoder started "
                f"from that VAE's decoder with {stage_change(meta)}, a fresh optimiser and the stopping rule afresh; "
                "the training steps, wall time and validation losses in this card are the decoder's."]
    return [f"- Stage 1: `{config_file(source['run'], configs)}`, {source['step']} steps{wall} (run "
            f"`{source['run_id']}`{ended}). Stage 2 (these weights) started from its EMA weights with "
            f"{stage_change(meta)}, a fresh optimiser and the same stopping rule afresh; the training steps, wall time "
            "and validation losses in this card are stage 2's."]


def _default_from_absent(key: str, change: dict) -> bool:
    """A key that stage 1's config predates (``from`` None) and that stage 2 holds at its default: no change."""
    default = next((f.default for f in fields(VAEConfig) if f.name == key), MISSING)
    return change["from"] is None and change["to"] == default


def stage_change(meta: dict, short: bool = False) -> str:
    """What a later stage changed from the run it started from, in words (or ``key = value`` when ``short``)."""
    changed = meta["init_from"].get("changed")
    if changed is None or meta.get("kind") != "vae":  # recorded before "changed" existed: the ring of land
        margin = meta["config"]["unet"].get("margin", 0)
        return (f"margin {margin}" if short else f"the grid inside a ring of land {margin} cells wide (`margin`; "
                "docs/DESIGN.md, \"A ring of land\")")
    changed = {k: v for k, v in changed.items() if not _default_from_absent(k, v)}
    said = [f"{k} {v['to']}" if short else f"`{k} = {v['to']}` (stage 1: {v['from']})" for k, v in changed.items()]
    if not said:
        return "the same loss"
    if short:
        return ", ".join(said)
    return "the loss changed: " + ", ".join(said) + " (docs/DESIGN.md, \"The autoencoder\")"


def config_file(out: str, configs: str) -> str:
    """The config file of a run folder: ``runs/ablation/x`` -> ``configs/ablation/x.toml``, ``OUT/runs/x`` ->
    ``configs/x.toml``."""
    parts = Path(out).parts
    below = parts[len(parts) - parts[::-1].index("runs"):] if "runs" in parts else parts[-1:]
    return f"{configs}/{'/'.join(below)}.toml"


def _header(name: str, folder: Path, meta: dict, configs: str) -> list[str]:
    cfg, data, grid = meta["config"], meta["data"], meta["grid"]
    n_params, size = parameters(folder)
    years = data["years"]
    arch = cfg.get("vae") if meta["kind"] == "vae" else cfg.get("unet")
    opt = cfg["optim"]
    seed = f", seed {data['seed']}" if data.get("seed") is not None else ""
    first, last = years["train"][0], years["train"][-1]
    span = f"{first}-{last}" if last != first else str(first)
    return [
        f"## `{name}`: {MODELS.get(name, meta['kind'])}",
        "",
        f"- Data: {data['title']} (`{data['source']}`{seed}), grid `{grid['name']}` "
        f"({grid['ny']} x {grid['nx']}, {grid['dx'] / 1000:.0f} km, {grid['crs'][:60]}).",
        f"- Split by year: train {span} ({data['states']['train']} daily states), "
        f"validation {', '.join(map(str, years['val']))}, test {', '.join(map(str, years['test']))}; "
        "normalisation statistics from the training years only.",
        f"- Config: `{config_file(cfg['out'], configs)}`; architecture `{json.dumps(arch)}`.",
        f"- Training: {meta['step']} steps, batch {opt['batch_size']}, AdamW lr {opt['lr']}, EMA {opt['ema_decay']}; "
        f"wall time {meta['wall_time_s'] / 60:.1f} min on {meta['hardware']}; code `{meta['code_version']}`, "
        f"run `{meta['run_id']}`.",
        f"- Weights: EMA, {meta.get('weights_dtype', 'float32')}, {n_params / 1e6:.2f} M parameters, "
        f"{size / 1e6:.1f} MB.",
    ]


def _diffusion_lines(meta: dict) -> list[str]:
    cfg = meta["config"]
    edm = cfg["diffusion"]
    cov = meta.get("noise_coverage", {})
    if edm.get("refiner"):
        window = f"random {edm['crop']} x {edm['crop']} windows of the grid" if edm.get("crop") else "the whole grid"
        redrawn = refined_names(meta)
        edge = (" Where the decoded state has no thickness, its concentration is kept as given (redrawn ice there "
                "would have none)." if holds_ice_edge(tuple(meta["norm_stats"]["names"]), redrawn) else "")
        return [f"- A refiner of {', '.join(redrawn)} (any other variable is its condition, left as it is): "
                f"trained on {window} at noise levels ln sigma ~ N({edm['p_mean']:g}, "
                f"{edm['p_std']:g}^2) below sigma_max = {edm['sigma_max']:g}, the level its pass starts from: "
                f"the latent path's decoded samples are noised to it and denoised again ({REFINE_EVALUATIONS} "
                f"network evaluations down to sigma {REFINE_SIGMA_MIN:g}, then 0, on Karras levels of rho "
                f"{REFINE_RHO:g}; `seaice-ldm sample --refine`).{edge}"]
    lines = [f"- Noise levels chosen from the data (`seaice_ldm/diffusion/coverage.py`): the training data's "
             f"leading mode has a spread of {cov.get('leading_mode_std', float('nan')):.3g}; training "
             f"ln sigma ~ N({edm['p_mean']:g}, {edm['p_std']:g}^2) puts {100 * cov.get('share_above', 0):.1f} % "
             f"of the levels above it; the sampler starts at sigma_max = {edm.get('sigma_max') or 80:g}."]
    if cfg["unet"].get("date_conditioning"):
        lines.append(f"- Date-conditioned (day of the year, sin/cos into the noise embedding), the date dropped for "
                     f"{100 * edm.get('date_dropout', 0):.0f} % of the training states: the same weights sample "
                     "for a date or for all seasons (classifier-free guidance available).")
    if "vae" in meta:
        lines.append(f"- Latent space of `{Path(meta['vae']['path']).name}` (checked at load: its encoder, "
                     f"`{learnt_encoder(meta)}`).")
    return lines


def _validation_line(name: str, meta: dict, curve: str) -> list[str]:
    opt = meta["config"]["optim"]
    vals = [h for h in meta.get("history") or [] if h.get("val_loss") is not None]
    if not vals:
        return []
    best = min(vals, key=lambda h: h["val_loss"])
    thresholds = ([f"{100 * opt['min_delta']:g} %"] if opt.get("min_delta") else []) + (
        [f"{opt['min_improvement']:g} (absolute)"] if opt.get("min_improvement") else [])
    needed = " and ".join(thresholds) or "any amount"
    rule = (f"rule: stop once {opt['patience']} validations in a row (every {opt['val_every']} steps) fail to "
            f"improve the best by {needed}; {training_end(meta, opt)}"
            if opt.get("patience")
            else "fixed number of steps")
    return [f"- Validation loss (EMA weights): {vals[0]['val_loss']:.4g} at step {vals[0]['step']} -> "
            f"best {best['val_loss']:.4g} at step {best['step']} -> {vals[-1]['val_loss']:.4g} at step "
            f"{vals[-1]['step']}; {rule}. Curve: [`{name}_loss.png`]({curve})."]


def card(name: str, folder: Path, settings: CardSettings, readme: Path) -> list[str]:
    """The card of checkpoint ``folder`` (Markdown lines; figure links relative to ``readme``)."""
    meta = json.loads((folder / "config.json").read_text())
    curve = Path(os.path.relpath(settings.figures / f"{name}_loss.png", readme.parent)).as_posix()
    lines = _header(name, folder, meta, settings.configs) + warm_start_line(meta, settings.configs)
    if meta["kind"] == "diffusion":
        lines += _diffusion_lines(meta)
    run = Path(meta["config"]["out"]).name
    if meta.get("space") == "latent" and not run.startswith(name):
        lines.append(f"- The weights of run `{run}`, shipped under this name too: this generator's VAE keeps the "
                     "encoder whose latents that run learnt (docs/DESIGN.md, \"The autoencoder\").")
    return lines + _validation_line(name, meta, curve) + scores(name, meta, settings.report) + [""]


def loss_figure(name: str, meta: dict, out: Path) -> bool:
    """Training and validation loss against steps, with the best validation marked; False (nothing drawn)
    without a validation history."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = [h for h in meta.get("history") or [] if h.get("val_loss") is not None]
    if not history:
        return False
    first = stage_one(meta)
    if first is not None:  # both stages on one axis, stage 2's steps counted on from where stage 1 stopped
        offset = meta["init_from"]["step"]
        history = [h for h in first["history"] if h.get("val_loss") is not None] + [
            {**h, "step": offset + h["step"]} for h in history]
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    if first is not None:
        stage = "decoder only" if meta["config"].get("freeze_encoder") else "stage 2"
        ax.axvline(offset, color="tab:red", lw=0.8, label=f"{stage}: {stage_change(meta, short=True)}")
    ax.plot(steps, [h["train_loss"] for h in history], label="training (running mean)")
    ax.plot(steps, [h["val_loss"] for h in history], label="validation (EMA weights)")
    best = min(history, key=lambda h: h["val_loss"])
    ax.axvline(best["step"], color="0.6", lw=0.8, ls="--", label=f"best validation (step {best['step']})")
    ax.set(xlabel="training step", ylabel="loss", title=textwrap.fill(f"{name}: {MODELS.get(name, meta['kind'])}", 70))
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True


def benchmark_lines(bench: dict | None) -> list[str]:
    if not bench:
        return []
    s, t, f = bench["sample_s_per_state"], bench["train_s_per_step"], bench["flops"]
    return [f"Cost per generated state ({bench['sampler']}, {bench['steps']} steps; `docs/benchmark.json`): counted "
            f"{f['latent']['gflop_per_state']:.1f} GFLOP latent (VAE decoder included) vs "
            f"{f['data']['gflop_per_state']:.1f} GFLOP data space ({f['ratio data / latent']:.1f} x); on "
            f"{bench['device']}, batch {bench['batch']}: sampling {s['latent']:.3f} vs {s['data']:.3f} s/state "
            f"({bench['ratios']['sampling data / latent']:.1f} x), training step {t['latent diffusion']:.3f} vs "
            f"{t['data-space diffusion']:.3f} s ({bench['ratios']['training step data / latent']:.1f} x).", ""]


def frontier_lines(frontier: dict | None, shipped: dict | None = None) -> list[str]:
    """The frontier section; ``shipped`` is the shipped latent model's ``config.json``: a frontier whose small
    candidate is not its stage 1 (other steps) is said to be of earlier weights."""
    if not frontier:
        return ["## Latent model size: quality/cost frontier", "",
                "Not measured yet (no `docs/frontier.json`): the frontier's larger candidate "
                "(`configs/ldm_censored_m.toml`) has not finished training. The shipped size is "
                "`configs/ldm_censored.toml`.", ""]
    lines = ["## Latent model size: quality/cost frontier", "",
             f"Two sizes of latent diffusion model were trained on the censored VAE's latents under the same rule and "
             f"scored by fair CRPS ({frontier['setup']['members']} members against {frontier['setup']['test_states']} "
             f"held-out states, {frontier['setup']['sampler']} {frontier['setup']['steps']} steps). The shipped size is "
             "the cheapest within 5 % of the best (`scripts/latent_frontier.py`, `docs/frontier.json`). Candidates: "
             + ", ".join(f"`{r['path']}` ({r['steps_trained']} steps)" for r in frontier["candidates"].values())
             + "; a stage-1 run is on the bare grid, and the ring of land of stage 2 multiplies the U-Net FLOPs of "
             "either size by the same factor.", "",
             "| candidate | channels | parameters | GFLOP / state | CRPS sic | CRPS sit | relative CRPS | shipped |",
             "|---|---|---|---|---|---|---|---|"]
    small = frontier["candidates"].get("small", {}).get("steps_trained")
    first = ((shipped or {}).get("init_from") or {}).get("step")
    if small is not None and first is not None and small != first:
        lines[2] += (f" **Measured on earlier weights**: its small candidate trained {small} steps, the shipped latent "
                     f"model's stage 1 {first}; the frontier has not been measured again since.")
    for name, r in frontier["candidates"].items():
        lines.append(f"| {name} | {r['channels']} | {r['parameters'] / 1e6:.2f} M | {r['gflop_per_state']:.1f} | "
                     f"{r['crps']['sic']:.4f} | {r['crps']['sit']:.4f} | {r['relative_crps']:.3f} | "
                     f"{'yes' if name == frontier['chosen'] else ''} |")
    return lines + [""]


def card_outputs(root: str | Path, settings: CardSettings, readme: str | Path | None = None) -> list[Path]:
    """The files :func:`write_model_cards` writes: the README and a loss curve per model in ``root``."""
    root = Path(root)
    curves = [settings.figures / f"{name}_loss.png" for name in MODELS if (root / name / "config.json").exists()]
    return [Path(readme) if readme is not None else root / "README.md", *curves]


def check_card_outputs(root: str | Path, settings: CardSettings, readme: str | Path | None = None,
                       overwrite: bool = False) -> None:
    """Refuse, before any work, to replace a README or figure seaice-ldm did not write (a user's README.md in
    the folder) or one changed since it wrote it, unless ``overwrite``."""
    for path in card_outputs(root, settings, readme):
        check_replaceable(path, overwrite, "--overwrite")


def write_model_cards(root: str | Path, settings: CardSettings, readme: str | Path | None = None,
                      overwrite: bool = False) -> Path:
    """Write ``README.md`` of checkpoints folder ``root`` (or ``readme``): a card per model, loss curves into
    ``settings.figures``, each recorded as the program's; what is there is replaced only as
    :func:`check_card_outputs` allows. Returns the file written."""
    root = Path(root)
    check_card_outputs(root, settings, readme, overwrite)
    readme = Path(readme) if readme is not None else root / "README.md"
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "runs" not in p.relative_to(root).parts)
    lines = [f"# {settings.title}", "", *settings.preface, "",
             f"Total size: {total / 1e6:.1f} MB. Evaluation: {settings.evaluation}.", ""]
    lines += benchmark_lines(settings.benchmark)
    if settings.frontier_section:
        shipped = root / "ldm_censored" / "config.json"
        lines += frontier_lines(settings.frontier, json.loads(shipped.read_text()) if shipped.exists() else None)
    for name in MODELS:
        if (root / name / "config.json").exists():
            lines += card(name, root / name, settings, readme)
            curve = settings.figures / f"{name}_loss.png"
            if loss_figure(name, json.loads((root / name / "config.json").read_text()), curve):
                record_output(curve)
    lines += settings.extra
    with atomic_file(readme) as tmp:
        tmp.write_text("\n".join(lines))
    record_output(readme)
    return readme
