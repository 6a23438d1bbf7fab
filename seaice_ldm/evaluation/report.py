"""``seaice-ldm evaluate``: VAE reconstructions and generated ensembles against held-out test years.

Writes ``report.md``, ``report.json`` and PNG figures to a folder (written whole, then renamed), and
states with numbers whether each of the paper's four claims holds on this data.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from seaice_ldm.data import VARIABLE_NAMES
from seaice_ldm.data.io import atomic_directory
from seaice_ldm.evaluation import (
    bound_share,
    bound_violation_share,
    energy_score,
    ensemble_crps,
    ice_integrals,
    mean_spectrum,
    reconstruction_errors,
    small_scale_ratio,
    wasserstein_per_variable,
)
from seaice_ldm.evaluation.claims import verdicts
from seaice_ldm.evaluation.figures import save_figures
from seaice_ldm.evaluation.reference import evenly, held_out
from seaice_ldm.pipeline import Pipeline, load_pipeline

INTEGRALS = ("extent", "area", "volume", "miz_area")
GENERATORS = (("latent", "censored"), ("latent", "gaussian"), ("data", "censored"), ("data", "gaussian"))
BASELINE = "validation-year states"


def label(space: str, decoder: str) -> str:
    return f"{'LDM' if space == 'latent' else 'data-space DM'} ({decoder})"


def pipeline_held_out(pipe: Pipeline) -> tuple[xr.Dataset, xr.Dataset]:
    """Test and validation years of the data the pipeline's models were trained on."""
    return held_out(next(iter(pipe.generators.values())).diffusion.meta)


def _as_members(ds: xr.Dataset) -> xr.Dataset:
    return ds.rename({"time": "member"}).drop_vars("member", errors="ignore")


def integral_stats(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    values = ice_integrals(ds)
    return {k: {"mean": float(values[k].mean()), "std": float(values[k].std())} for k in INTEGRALS}


def score_ensemble(ens: xr.Dataset, ref: xr.Dataset, ref_spectra: dict) -> dict[str, Any]:
    """Every score of the report for one ensemble ``(member, y, x)`` against reference states ``(time, y, x)``."""
    spectra = {n: mean_spectrum(ens[n]) for n in VARIABLE_NAMES}
    return {
        "bound_violation": bound_violation_share(ens),
        "bound_share": bound_share(ens),
        "integrals": integral_stats(ens),
        "wasserstein": wasserstein_per_variable(ens, ref, names=VARIABLE_NAMES),
        "crps": ensemble_crps(ens, ref, names=VARIABLE_NAMES),
        "energy_score": {n: energy_score(ens, ref, n) for n in VARIABLE_NAMES},
        "small_scale_ratio": {n: small_scale_ratio(*spectra[n], ref_spectra[n][1]) for n in VARIABLE_NAMES},
        "spectra": {n: [spectra[n][0].tolist(), spectra[n][1].tolist()] for n in VARIABLE_NAMES},
    }


def _training_setup(pipe: Pipeline) -> dict[str, dict[str, float]]:
    """Training steps and noise-level distribution of each diffusion model (they bear on claim 1)."""
    out = {}
    for (space, decoder), gen in pipe.generators.items():
        meta = gen.diffusion.meta
        edm = meta["config"]["diffusion"]
        name = label(space, decoder) if space == "latent" else "data-space DM"  # one model, two decoding rules
        out[name] = {"steps": int(meta["step"]), "p_mean": edm["p_mean"], "p_std": edm["p_std"]}
    return out


def evaluate(pipe: Pipeline, members: int, test_states: int, steps: int, sampler: str, seed: int,
             progress: bool = True) -> tuple[dict[str, Any], dict[str, xr.Dataset]]:
    """All numbers of the report, and the data sets the figures are drawn from."""
    test, val = pipeline_held_out(pipe)
    ref = evenly(test, test_states).load()
    ref_spectra = {n: mean_spectrum(ref[n]) for n in VARIABLE_NAMES}
    results: dict[str, Any] = {
        "setup": {"members": members, "test_states": int(ref.sizes["time"]), "steps": steps, "sampler": sampler,
                  "seed": seed, "device": str(pipe.device),
                  "test_years": sorted({int(y) for y in test.time.dt.year.values}),
                  "training": _training_setup(pipe)},
        "reference": {"bound_share": bound_share(ref), "integrals": integral_stats(ref),
                      "spectra": {n: [ref_spectra[n][0].tolist(), ref_spectra[n][1].tolist()] for n in VARIABLE_NAMES}},
        "reconstruction": {},
        "generators": {},
    }
    sets = {"reference": ref}
    for decoder in ("censored", "gaussian"):
        if ("latent", decoder) in pipe.generators:
            rec = pipe.reconstruct(ref, decoder)
            results["reconstruction"][decoder] = {
                "errors": reconstruction_errors(ref, rec, names=VARIABLE_NAMES),
                "bound_violation": bound_violation_share(rec),
                "bound_share": bound_share(rec),
            }
            sets[f"reconstruction ({decoder})"] = rec
    # baseline: states resampled from the validation year, scored like a generator
    baseline = _as_members(evenly(val, members)).load()
    results["generators"][BASELINE] = score_ensemble(baseline, ref, ref_spectra)
    sets[BASELINE] = baseline
    for space in ("latent", "data"):
        decoders = tuple(d for s, d in GENERATORS if s == space and (space == "data" or (s, d) in pipe.generators))
        if space == "data" and ("data", "censored") not in pipe.generators:
            continue
        bar = tqdm(total=None, desc=f"sample {space}", disable=not progress, leave=False)
        ensembles = pipe.sample_decoders(space, decoders, members, steps, sampler, seed,
                                         callback=lambda info: bar.update(1))
        bar.close()
        for decoder, ens in ensembles.items():
            name = label(space, decoder)
            results["generators"][name] = score_ensemble(ens, ref, ref_spectra)
            results["generators"][name]["seconds_per_state"] = ens.attrs["seconds"] / members
            sets[name] = ens
    results["claims"] = verdicts(results)
    return results, sets


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def _training_lines(training: dict[str, dict[str, float]]) -> list[str]:
    if not training:
        return []
    items = "; ".join(f"{name} {t['steps']} steps, ln sigma ~ N({t['p_mean']:g}, {t['p_std']:g}^2)"
                      for name, t in training.items())
    same = len({(t["p_mean"], t["p_std"]) for t in training.values()}) == 1
    note = "" if same else (" The training noise levels differ between the models, which weighs on claim 1 "
                            "(see the model cards in `checkpoints/README.md`).")
    return [f"Diffusion training: {items}.{note}", ""]


def to_markdown(results: dict[str, Any]) -> str:
    """The report as Markdown: setup, claim verdicts, then the tables behind them."""
    setup, gens = results["setup"], results["generators"]
    lines = [
        "# Evaluation report",
        "",
        "> Models trained and evaluated on the **synthetic** Arctic data set of this package "
        "(`seaice-ldm data synth`), not on observations. Numbers say how the methods behave on this data.",
        "",
        f"Held-out test years {setup['test_years']} ({setup['test_states']} states spread over the seasons); "
        f"{setup['members']} members per generator; sampler {setup['sampler']} with {setup['steps']} steps; "
        f"seed {setup['seed']}; device {setup['device']}. "
        f"'{BASELINE}' = states of the validation year resampled as an ensemble (what a perfect generator of "
        "this climate would roughly score).",
        "",
        *_training_lines(setup.get("training", {})),
        "## The paper's claims on this data",
        "",
    ]
    for claim in results["claims"]:
        verdict = {True: "**holds**", False: "**does not hold**", None: "**not tested**"}[claim["holds"]]
        lines += [f"{claim['number']}. {claim['claim']}: {verdict}. {claim['evidence']}", ""]
    lines += ["## Scores per generator", "",
              "Fair CRPS (climatological ensemble scored against each reference state, mean over ocean cells) and "
              "Wasserstein-1 distance of pooled cell values; lower is better; units of each variable.", ""]
    header = "| generator | " + " | ".join(f"CRPS {n}" for n in VARIABLE_NAMES) + " | " + " | ".join(f"W1 {n}" for n in VARIABLE_NAMES) + " |"
    lines += [header, "|" + "---|" * (1 + 2 * len(VARIABLE_NAMES))]
    for name, g in gens.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(g["crps"][n]) for n in VARIABLE_NAMES) + " | "
                     + " | ".join(_fmt(g["wasserstein"][n]) for n in VARIABLE_NAMES) + " |")
    lines += ["", "Fair energy score of whole fields (2048 seeded ocean cells):", "",
              "| generator | " + " | ".join(VARIABLE_NAMES) + " |", "|" + "---|" * (1 + len(VARIABLE_NAMES))]
    for name, g in gens.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(g["energy_score"][n]) for n in VARIABLE_NAMES) + " |")
    lines += ["", "## Physical bounds", "",
              "Share of ocean cells outside the bounds, and exactly at them (sic = 0 open water, sic = 1 pack).", "",
              "| source | outside sit | outside sic | outside sid | sic = 0 | sic = 1 | sid = 0 | sit = 0 |",
              "|---|---|---|---|---|---|---|---|"]

    def bounds_row(name: str, item: dict) -> str:
        v, s = item.get("bound_violation", {}), item["bound_share"]
        return (f"| {name} | {_fmt(v.get('sit', 0.0))} | {_fmt(v.get('sic', 0.0))} | {_fmt(v.get('sid', 0.0))} | "
                f"{_fmt(s['sic']['lower'])} | {_fmt(s['sic']['upper'])} | {_fmt(s['sid']['lower'])} | "
                f"{_fmt(s['sit']['lower'])} |")

    lines.append(bounds_row("reference", results["reference"]))
    for name, g in gens.items():
        lines.append(bounds_row(name, g))
    for decoder, r in results["reconstruction"].items():
        lines.append(bounds_row(f"VAE reconstruction ({decoder})", r))
    lines += ["", "## Ice extent, area, volume and MIZ area", "",
              "Mean ± standard deviation over states / members (1e6 km², volume 1e3 km³).", "",
              "| source | extent | area | volume | MIZ area |", "|---|---|---|---|---|"]
    rows = {"reference": results["reference"]["integrals"], **{k: g["integrals"] for k, g in gens.items()}}
    for name, stats in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{stats[k]['mean']:.2f} ± {stats[k]['std']:.2f}" for k in INTEGRALS) + " |")
    lines += ["", "## Smoothness: radially averaged power spectra", "",
              "Mean ratio generated / reference power at wavenumbers above half the Nyquist wavenumber "
              "(< 1 smoother than the reference, > 1 noisier). Figure: `spectra.png`.", "",
              "| generator | " + " | ".join(VARIABLE_NAMES) + " |", "|" + "---|" * (1 + len(VARIABLE_NAMES))]
    for name, g in gens.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(g["small_scale_ratio"][n]) for n in VARIABLE_NAMES) + " |")
    if results["reconstruction"]:
        lines += ["", "## VAE reconstruction error", "",
                  "RMSE over ocean cells and inside the reference's MIZ (0.15 < sic < 0.8), units of each variable.", "",
                  "| decoder | " + " | ".join(f"RMSE {n}" for n in VARIABLE_NAMES) + " | " + " | ".join(f"MIZ {n}" for n in VARIABLE_NAMES) + " |",
                  "|" + "---|" * (1 + 2 * len(VARIABLE_NAMES))]
        for decoder, r in results["reconstruction"].items():
            e = r["errors"]
            lines.append(f"| {decoder} | " + " | ".join(_fmt(e[n]["rmse"]) for n in VARIABLE_NAMES) + " | "
                         + " | ".join(_fmt(e[n]["rmse_miz"]) for n in VARIABLE_NAMES) + " |")
    lines += ["", "## Cost", "", "Seconds per generated state in this run (sampling + decoding, same sampler and steps); "
              "see `seaice-ldm benchmark` for the controlled comparison.", "", "| generator | s / state |", "|---|---|"]
    for name, g in gens.items():
        if "seconds_per_state" in g:
            lines.append(f"| {name} | {g['seconds_per_state']:.4f} |")
    lines += ["", "## Figures", "", "![samples](samples.png)", "", "![sic samples](samples_sic.png)", "",
              "![histograms](histograms.png)", "", "![spectra](spectra.png)", "", "![integrals](integrals.png)", ""]
    return "\n".join(lines)


def check_report_folder(out: str | Path) -> Path:
    """``out`` as a Path; refuses a non-empty folder that does not hold a report (it would be replaced)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not (out / "report.json").exists():
        raise ValueError(f"{out} exists and is not a report folder (no report.json); refusing to replace it: "
                         "choose another --out")
    return out


def write_report(results: dict[str, Any], sets: dict[str, xr.Dataset], out: str | Path) -> Path:
    """Write Markdown, JSON and figures into ``out`` (replaced whole, never half-written)."""
    out = check_report_folder(out)
    with atomic_directory(out) as tmp:
        tmp.mkdir()
        os.chmod(tmp, 0o755)
        save_figures(results, sets, tmp)
        (tmp / "report.json").write_text(json.dumps(results, indent=1, default=float))
        (tmp / "report.md").write_text(to_markdown(results))
    return out


def run_evaluation(args: argparse.Namespace) -> None:
    if args.members < 2:
        raise ValueError(f"--members must be at least 2 for ensemble scores, got {args.members}")
    if args.test_states < 1:
        raise ValueError(f"--test-states must be at least 1, got {args.test_states}")
    check_report_folder(args.out)
    pipe = load_pipeline(args.checkpoints, device=args.device, reference=False)
    results, sets = evaluate(pipe, args.members, args.test_states, args.steps, args.sampler, args.seed)
    out = write_report(results, sets, args.out)
    for claim in results["claims"]:
        print(f"claim {claim['number']}: {claim['holds']}: {claim['evidence']}")
    print(f"wrote {out / 'report.md'}")
