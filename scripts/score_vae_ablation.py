"""Score the autoencoder ablation (docs/DESIGN.md, "The autoencoder"): every VAE run folder given, and the
shipped VAEs for comparison, reconstructing the same held-out states; writes a JSON file and a Markdown table.

    python scripts/score_vae_ablation.py runs/ablation/* checkpoints/vae_censored checkpoints/vae_gaussian \
        --json docs/ablation/ablation.json
    python scripts/score_vae_ablation.py runs/vae_censored runs/vae_gaussian_decoder --paired --json /tmp/pair.json

``--paired`` takes the runs two by two (A, B) and adds A - B of the MIZ measures, paired by state.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from seaice_ldm.checkpoints.build import load_model
from seaice_ldm.data import denormalise, normalise, to_arrays
from seaice_ldm.data.atomic import atomic_file
from seaice_ldm.evaluation.autoencoder import line_summary, score_reconstruction
from seaice_ldm.evaluation.flops import decoder_flops
from seaice_ldm.evaluation.miz import paired_differences, paired_miz
from seaice_ldm.evaluation.smoothness import roughness
from seaice_ldm.evaluation.reference import evenly, held_out
from seaice_ldm.evaluation.spectra import spectrum_boxes


@torch.no_grad()
def reconstruct(path: Path, states, batch: int = 16):
    """Decoder point output (censored: clipped) of the posterior mean of ``states`` with the VAE in ``path``."""
    vae = load_model(path, "vae")
    x, ocean = to_arrays(states, vae.stats.names)
    x = normalise(x, vae.stats, ocean)
    mask = torch.from_numpy(ocean.astype(np.float32))[None, None]
    out = torch.cat([vae.module.reconstruct(torch.from_numpy(x[i:i + batch]), mask) for i in range(0, len(x), batch)])
    values = denormalise(out.numpy(), vae.stats)
    values[..., ~ocean] = np.nan
    rec = states.copy()
    for i, name in enumerate(vae.stats.names):
        rec[name] = (states[name].dims, values[:, i].astype(np.float32), states[name].attrs)
    return rec, vae


def row(path: Path, truth, boxes) -> tuple[dict, dict]:
    """The run's scores, and its per-state MIZ measures (for pairing runs)."""
    rec, vae = reconstruct(path, truth)
    meta, cfg = vae.meta, vae.meta["config"]
    history = meta.get("history", [])
    best = min(history, key=lambda h: h["val_loss"]) if history else {}
    scores = score_reconstruction(truth, rec, boxes)
    h, w = truth.sizes["y"], truth.sizes["x"]
    return {
        "run": str(path), "decoder": cfg["vae"]["decoder"], "channels": cfg["vae"]["channels"],
        "latent_channels": cfg["vae"]["latent_channels"], "scale": cfg["vae"].get("scale", "variable"),
        "fit_scale": cfg["vae"].get("fit_scale", 0.0), "kl_weight": cfg["vae"]["kl_weight"],
        "step": meta["step"], "best_val": best.get("val_loss"), "best_step": best.get("step"),
        "learned_scales": np.exp(vae.module.log_scale.float().numpy()).round(4).tolist(),
        "decoder_gflop": decoder_flops(vae.module, h, w) / 1e9,
        **as_json(scores),
    }, paired_miz(truth, rec)


def as_json(values):
    return json.loads(json.dumps(values, default=lambda o: o.to_dict() if hasattr(o, "to_dict") else float(o)))


def paired_lines(pairs: list[dict]) -> str:
    lines = ["| A - B (paired by state) | MIZ misclassified | sic RMSE in MIZ | IIEE 1e6 km² |", "|---|---|---|---|"]
    for p in pairs:
        d = p["difference"]
        lines.append(f"| {Path(p['a']).name} - {Path(p['b']).name} | " + " | ".join(
            f"{d[k]['value']:+.4f} ({d[k]['low']:+.4f} to {d[k]['high']:+.4f})"
            for k in ("misclassified", "rmse_sic_in_miz", "iiee")) + " |")
    return "\n".join(lines) + "\n"


def markdown(reference: dict, rows: list[dict]) -> str:
    lines = ["| run | steps (best) | MIZ misclassified | sic RMSE in MIZ | IIEE 1e6 km² | MIZ width median km "
             "| lines share | lines / state | sid small-scale ratio | sit roughness m | decoder GFLOP |",
             "|---|---|---|---|---|---|---|---|---|---|---|",
             f"| held-out states | | | | | {reference['width_median']:.0f} | {reference['lines']['share']:.2f} | "
             f"{reference['lines']['lines_per_state']:.2f} | 1 | {reference['sit_roughness']:.4f} | |"]
    for r in rows:
        m = r["miz"]
        lines.append(
            f"| {Path(r['run']).name} ({r['decoder']}) | {r['step']} ({r['best_step']}) | "
            f"{m['misclassified']['value']:.3f} | {m['rmse_sic_in_miz']['value']:.4f} | {m['iiee']['value']:.4f} | "
            f"{m['width_km']['pred']['median']:.0f} | {r['lines']['share']:.2f} | {r['lines']['lines_per_state']:.2f} | "
            f"{r['small_scale_ratio']['sid']['value']:.2f} | {r['roughness']['sit']['reconstruction']:.4f} | "
            f"{r['decoder_gflop']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="VAE run or checkpoint folders")
    parser.add_argument("--states", type=int, default=96, help="held-out states, spread over the test years")
    parser.add_argument("--json", type=Path, required=True, help="output JSON (a .md table is written beside it)")
    parser.add_argument("--paired", action="store_true", help="runs two by two (A, B): add A - B paired by state")
    args = parser.parse_args()
    if args.paired and len(args.runs) % 2:
        parser.error(f"--paired takes the runs two by two; got {len(args.runs)}")
    torch.set_num_threads(1)
    test = held_out(load_model(args.runs[0], "vae").meta)["test"]
    truth = evenly(test, args.states).load()
    boxes = spectrum_boxes(truth["sic"])
    widths = paired_miz(truth, truth)["width_true"]
    reference = {"states": int(truth.sizes["time"]), "lines": line_summary(truth),
                 "width_median": float(np.nanmedian(widths)),
                 "sit_roughness": float(np.nanmean(roughness(truth["sit"], truth["sic"])))}
    scored = [row(path, truth, boxes) for path in tqdm(args.runs, desc="score")]
    rows = [r for r, _ in scored]
    pairs = [{"a": str(args.runs[i]), "b": str(args.runs[i + 1]),
              "difference": as_json(paired_differences(scored[i][1], scored[i + 1][1]))}
             for i in range(0, len(scored), 2)] if args.paired else []
    table = markdown(reference, rows) + ("\n" + paired_lines(pairs) if pairs else "")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((args.json, json.dumps({"reference": reference, "rows": rows, "paired": pairs}, indent=1)),
                       (args.json.with_suffix(".md"), table)):
        with atomic_file(path) as tmp:
            tmp.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
