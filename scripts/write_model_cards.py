"""Write ``checkpoints/README.md``: one model card per shipped checkpoint.

Reads each checkpoint's ``config.json`` (data, split, config, steps, wall time, hardware, noise levels,
validation history), the evaluation report (``docs/report/report.json``), the benchmark JSON and the latent
quality/cost frontier (``docs/frontier.json``), so the cards never disagree with what was trained and
measured; draws each model's loss curve into ``docs/model_cards/``. Usage::

    python scripts/write_model_cards.py [--checkpoints checkpoints] [--report docs/report/report.json]
                                        [--benchmark docs/benchmark.json] [--frontier docs/frontier.json]
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from safetensors import safe_open

from seaice_ldm.data import VARIABLE_NAMES
from seaice_ldm.training.config import OptimConfig
from seaice_ldm.training.loop import RunState

MODELS = {
    "vae_censored": "VAE with the censored-Gaussian (Tobit) decoder",
    "vae_gaussian": "VAE with the plain Gaussian decoder",
    "ldm_censored": "Latent diffusion model on the censored VAE's latents",
    "ldm_gaussian": "Latent diffusion model on the Gaussian VAE's latents",
    "ddm": "Data-space diffusion baseline (same U-Net family, on the normalised fields)",
}
GENERATOR = {"ldm_censored": "LDM (censored)", "ldm_gaussian": "LDM (gaussian)", "ddm": "data-space DM (censored)"}


def parameters(folder: Path) -> tuple[int, int]:
    """(number of parameters, bytes on disk) of the EMA weights."""
    path = folder / "ema.safetensors"
    with safe_open(path, framework="numpy") as f:
        count = sum(int(f.get_tensor(k).size) for k in f.keys())
    return count, path.stat().st_size


def fmt(value: float) -> str:
    return f"{value:.3g}"


def training_end(meta: dict, opt: dict) -> str:
    """How the run ended: stopped by the rule, at the step cap, or still running (an interim export)."""
    state, cfg = RunState(step=meta["step"], history=meta["history"]), OptimConfig(**opt)
    if state.converged(cfg):
        return (f"it stopped by this rule at step {meta['step']} (the last improvement that large was at step "
                f"{state.history[state.last_improvement(cfg)]['step']})")
    if meta["step"] >= opt["steps"]:
        return f"it ran to the {opt['steps']}-step cap"
    return (f"**interim export at step {meta['step']}**: training continues until the rule stops it or the "
            f"{opt['steps']}-step cap")


def scores(name: str, meta: dict, report: dict | None) -> list[str]:
    if report is None:
        return ["- Scores: run `seaice-ldm evaluate` (no report found)."]
    if meta["kind"] == "vae":
        rec = report["reconstruction"].get(meta["config"]["vae"]["decoder"])
        if rec is None:
            return []
        e = rec["errors"]
        out = ["- Reconstruction RMSE of held-out test states (all ocean / inside the MIZ): "
               + ", ".join(f"{n} {fmt(e[n]['rmse'])} / {fmt(e[n]['rmse_miz'])}" for n in VARIABLE_NAMES) + "."]
        v = rec["bound_violation"]
        out.append("- Reconstructed cells outside the bounds: " + ", ".join(f"{k} {fmt(100 * x)} %" for k, x in v.items())
                   + f"; sic exactly 0 / 1: {fmt(100 * rec['bound_share']['sic']['lower'])} % / "
                   f"{fmt(100 * rec['bound_share']['sic']['upper'])} %.")
        return out
    g = report["generators"].get(GENERATOR[name])
    if g is None:
        return []
    setup = report["setup"]
    return [
        f"- Against {setup['test_states']} held-out test states, {setup['members']} members, {setup['sampler']} "
        f"{setup['steps']} steps: fair CRPS " + ", ".join(f"{n} {fmt(g['crps'][n])}" for n in VARIABLE_NAMES) + ".",
        "- Small-scale power ratio to the reference (1 = as detailed): "
        + ", ".join(f"{n} {fmt(g['small_scale_ratio'][n])}" for n in VARIABLE_NAMES) + ".",
        "- Cells outside the bounds: " + ", ".join(f"{k} {fmt(100 * x)} %" for k, x in g["bound_violation"].items())
        + f"; MIZ area {g['integrals']['miz_area']['mean']:.2f} ± {g['integrals']['miz_area']['std']:.2f} 10⁶ km² "
        f"(reference {report['reference']['integrals']['miz_area']['mean']:.2f}).",
    ]


def stage_one(meta: dict) -> dict | None:
    """The ``config.json`` of the run a fine-tuned model was warm-started from, if it is still on disk."""
    source = meta.get("init_from")
    path = Path(source["run"]) / "config.json" if source else None
    return json.loads(path.read_text()) if path and path.exists() else None


def warm_start_line(meta: dict) -> list[str]:
    """How a fine-tuned model began: the stage-1 run, its steps and wall time, and what the fine-tune changed."""
    source = meta.get("init_from")
    if not source:
        return []
    first = stage_one(meta)
    ended = ""
    if first is not None:
        ended = "; " + training_end(first, first["config"]["optim"])
    wall = f", {source['wall_time_s'] / 60:.0f} min" if source.get("wall_time_s") else ""
    return [f"- Stage 1: `configs/{Path(source['run']).name}.toml`, {source['step']} steps{wall} (run "
            f"`{source['run_id']}`{ended}). Stage 2 (these weights) started from its EMA weights with the grid inside "
            f"a ring of land {meta['config']['unet'].get('margin', 0)} cells wide (`margin`; docs/DESIGN.md, \"A ring "
            "of land\"), a fresh optimiser and the same stopping rule afresh; the training steps, wall time and "
            "validation losses in this card are stage 2's."]


def card(name: str, folder: Path, report: dict | None) -> list[str]:
    meta = json.loads((folder / "config.json").read_text())
    cfg, data = meta["config"], meta["data"]
    n_params, size = parameters(folder)
    years = data["years"]
    arch = cfg.get("vae") if meta["kind"] == "vae" else cfg.get("unet")
    opt = cfg["optim"]
    lines = [
        f"## `{name}`: {MODELS.get(name, meta['kind'])}",
        "",
        f"- Data: {data['title']} (`{data['source']}`, seed {data['seed']}), grid `{meta['grid']['name']}` "
        f"({meta['grid']['ny']} x {meta['grid']['nx']}, {meta['grid']['dx'] / 1000:.0f} km, {meta['grid']['crs']}).",
        f"- Split by year: train {years['train'][0]}-{years['train'][-1]} ({data['states']['train']} daily states), "
        f"validation {', '.join(map(str, years['val']))}, test {', '.join(map(str, years['test']))}; "
        "normalisation statistics from the training years only.",
        f"- Config: `configs/{Path(cfg['out']).name}.toml`; architecture `{json.dumps(arch)}`.",
        f"- Training: {meta['step']} steps, batch {opt['batch_size']}, AdamW lr {opt['lr']}, EMA {opt['ema_decay']}; "
        f"wall time {meta['wall_time_s'] / 60:.1f} min on {meta['hardware']}; code `{meta['code_version']}`, "
        f"run `{meta['run_id']}`.",
        f"- Weights: EMA, {meta.get('weights_dtype', 'float32')}, {n_params / 1e6:.2f} M parameters, "
        f"{size / 1e6:.1f} MB.",
        *warm_start_line(meta),
    ]
    if meta["kind"] == "diffusion":
        edm = cfg["diffusion"]
        cov = meta.get("noise_coverage", {})
        lines.append(f"- Noise levels chosen from the data (`seaice_ldm/diffusion/coverage.py`): the training data's "
                     f"leading mode has a spread of {cov.get('leading_mode_std', float('nan')):.3g}; training "
                     f"ln sigma ~ N({edm['p_mean']:g}, {edm['p_std']:g}^2) puts {100 * cov.get('share_above', 0):.1f} % "
                     f"of the levels above it; the sampler starts at sigma_max = {edm.get('sigma_max') or 80:g}.")
        if cfg["unet"].get("date_conditioning"):
            lines.append(f"- Date-conditioned (day of the year, sin/cos into the noise embedding), the date dropped for "
                         f"{100 * edm.get('date_dropout', 0):.0f} % of the training states: the same weights sample "
                         "for a date or for all seasons (classifier-free guidance available).")
    if meta["kind"] == "diffusion" and "vae" in meta:
        lines.append(f"- Latent space of `{Path(meta['vae']['path']).name}` (checked at load: `{meta['vae']['model_id']}`).")
    history = meta.get("history") or []
    vals = [h for h in history if h.get("val_loss") is not None]
    if vals:
        best = min(vals, key=lambda h: h["val_loss"])
        thresholds = ([f"{100 * opt['min_delta']:g} %"] if opt.get("min_delta") else []) + (
            [f"{opt['min_improvement']:g} (absolute)"] if opt.get("min_improvement") else [])
        needed = " and ".join(thresholds) or "any amount"
        rule = (f"rule: stop once {opt['patience']} validations in a row (every {opt['val_every']} steps) fail to "
                f"improve the best by {needed}; {training_end(meta, opt)}"
                if opt.get("patience")
                else "fixed number of steps")
        lines.append(f"- Validation loss (EMA weights): {vals[0]['val_loss']:.4g} at step {vals[0]['step']} -> "
                     f"best {best['val_loss']:.4g} at step {best['step']} -> {vals[-1]['val_loss']:.4g} at step "
                     f"{vals[-1]['step']}; {rule}. Curve: [`{name}_loss.png`](../docs/model_cards/{name}_loss.png).")
    return lines + scores(name, meta, report) + [""]


def loss_figure(name: str, meta: dict, out: Path) -> None:
    """Training and validation loss against steps, with the best validation marked."""
    history = [h for h in meta.get("history") or [] if h.get("val_loss") is not None]
    if not history:
        return
    first = stage_one(meta)
    if first is not None:  # both stages on one axis, stage 2's steps counted on from where stage 1 stopped
        offset = meta["init_from"]["step"]
        history = [h for h in first["history"] if h.get("val_loss") is not None] + [
            {**h, "step": offset + h["step"]} for h in history]
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
    if first is not None:
        ax.axvline(offset, color="tab:red", lw=0.8, label=f"stage 2: margin {meta['config']['unet']['margin']}")
    ax.plot(steps, [h["train_loss"] for h in history], label="training (running mean)")
    ax.plot(steps, [h["val_loss"] for h in history], label="validation (EMA weights)")
    best = min(history, key=lambda h: h["val_loss"])
    ax.axvline(best["step"], color="0.6", lw=0.8, ls="--", label=f"best validation (step {best['step']})")
    ax.set(xlabel="training step", ylabel="loss", title=textwrap.fill(f"{name}: {MODELS.get(name, meta['kind'])}", 70))
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def frontier_lines(frontier: dict | None) -> list[str]:
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
    for name, r in frontier["candidates"].items():
        lines.append(f"| {name} | {r['channels']} | {r['parameters'] / 1e6:.2f} M | {r['gflop_per_state']:.1f} | "
                     f"{r['crps']['sic']:.4f} | {r['crps']['sit']:.4f} | {r['relative_crps']:.3f} | "
                     f"{'yes' if name == frontier['chosen'] else ''} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--report", default="docs/report/report.json")
    parser.add_argument("--benchmark", default="docs/benchmark.json")
    parser.add_argument("--frontier", default="docs/frontier.json")
    parser.add_argument("--figures", default="docs/model_cards")
    args = parser.parse_args()
    root = Path(args.checkpoints)
    report = json.loads(Path(args.report).read_text()) if Path(args.report).exists() else None
    bench = json.loads(Path(args.benchmark).read_text()) if Path(args.benchmark).exists() else None
    frontier = json.loads(Path(args.frontier).read_text()) if Path(args.frontier).exists() else None
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    lines = [
        "# Shipped checkpoints",
        "",
        "> Trained on the package's **synthetic** Arctic data set, not on observations.",
        "",
        "Each folder holds `ema.safetensors` (weights), `grid.safetensors` (the ocean mask) and "
        "`config.json` (config, normalisation statistics, grid, variables and bounds, training data, code "
        "version, file checksums). Nothing is pickled. `reference.nc` holds held-out test-year states for the "
        "dashboard's reference panel. Retrain all of it with `scripts/train_default_checkpoints.sh`.",
        "",
        f"Total size: {total / 1e6:.1f} MB. Evaluation: [`docs/report/report.md`](../docs/report/report.md).",
        "",
    ]
    if bench:
        s, t, f = bench["sample_s_per_state"], bench["train_s_per_step"], bench["flops"]
        lines += [f"Cost per generated state ({bench['sampler']}, {bench['steps']} steps; `docs/benchmark.json`): counted "
                  f"{f['latent']['gflop_per_state']:.1f} GFLOP latent (VAE decoder included) vs "
                  f"{f['data']['gflop_per_state']:.1f} GFLOP data space ({f['ratio data / latent']:.1f} x); on "
                  f"{bench['device']}, batch {bench['batch']}: sampling {s['latent']:.3f} vs {s['data']:.3f} s/state "
                  f"({bench['ratios']['sampling data / latent']:.1f} x), training step {t['latent diffusion']:.3f} vs "
                  f"{t['data-space diffusion']:.3f} s ({bench['ratios']['training step data / latent']:.1f} x).", ""]
    lines += frontier_lines(frontier)
    for name in MODELS:
        if (root / name / "config.json").exists():
            lines += card(name, root / name, report)
            loss_figure(name, json.loads((root / name / "config.json").read_text()),
                        Path(args.figures) / f"{name}_loss.png")
    out = root / "README.md"
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
