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

from seaice_ldm.data import VARIABLE_NAMES, sample_dim
from seaice_ldm.data.io import atomic_directory
from seaice_ldm.evaluation import (
    bound_share,
    bound_violation_share,
    energy_score,
    ensemble_crps,
    grid_edge,
    ice_integrals,
    isolated_ice_cells,
    isolated_pack_gaps,
    mean_spectrum,
    reconstruction_errors,
    small_scale_ratio,
    wasserstein_per_variable,
)
from seaice_ldm.diffusion.schedules import SIGMA_MAX
from seaice_ldm.evaluation.claims import geomean_ratio, verdicts
from seaice_ldm.evaluation.conditional import mid_month_dates, score_dates, spread_by_steps
from seaice_ldm.evaluation.spectra import spectrum_boxes
from seaice_ldm.evaluation.figures import save_figures
from seaice_ldm.evaluation.flops import generation_cost
from seaice_ldm.evaluation.reference import evenly, held_out
from seaice_ldm.options import (ALL_SEASONS, DECODERS, SPACES, SampleRequest, all_seasons_way, generator_for,
                                generator_label)
from seaice_ldm.pipeline import Pipeline, load_pipeline

INTEGRALS = ("extent", "area", "volume", "miz_area")
SPECKLE = "isolated_ice_cells"
SPECKLE_OPEN = "isolated_ice_cells_open_water"
SPECKLE_EDGE = "isolated_ice_cells_open_water_grid_edge"
PACK_GAPS = "isolated_pack_gaps"
EDGE_WIDTH = 2  # cells from the grid's border
SPECKLES = (SPECKLE, SPECKLE_OPEN, SPECKLE_EDGE, PACK_GAPS)
BASELINE = "validation-year states"


def pipeline_held_out(pipe: Pipeline) -> tuple[xr.Dataset, xr.Dataset]:
    """Test and validation years of the data the pipeline's models were trained on."""
    return held_out(next(iter(pipe.generators.values())).diffusion.meta)


def _as_members(ds: xr.Dataset) -> xr.Dataset:
    return ds.rename({"time": "member"}).drop_vars("member", errors="ignore")


def integral_stats(ds: xr.Dataset) -> dict[str, dict[str, float]]:
    """Mean and standard deviation over states / members of the ice integrals and of the speckle count."""
    sic, dim = ds["sic"].values, sample_dim(ds)
    edge = grid_edge(sic.shape[-2:], EDGE_WIDTH)
    values = ice_integrals(ds).assign({
        SPECKLE: (dim, isolated_ice_cells(sic)),
        SPECKLE_OPEN: (dim, isolated_ice_cells(sic, open_water=True)),
        SPECKLE_EDGE: (dim, isolated_ice_cells(sic, open_water=True, within=edge)),
        PACK_GAPS: (dim, isolated_pack_gaps(sic))})
    return {k: {"mean": float(values[k].mean()), "std": float(values[k].std())} for k in INTEGRALS + SPECKLES}


def score_ensemble(ens: xr.Dataset, ref: xr.Dataset, ref_spectra: dict, boxes: list | None = None) -> dict[str, Any]:
    """Every score of the report for one ensemble ``(member, y, x)`` against reference states ``(time, y, x)``;
    spectra over the land-free ``boxes`` (see :func:`seaice_ldm.evaluation.spectra.spectrum_boxes`)."""
    spectra = {n: mean_spectrum(ens[n], boxes=boxes) for n in VARIABLE_NAMES}
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


def gflop_per_state(pipe: Pipeline, space: str, decoder: str, sampler: str, steps: int) -> float:
    """Counted GFLOP to generate one state with a pipeline's model (VAE decoder included)."""
    gen = pipe.generator(space, decoder)
    vae = gen.vae.module if gen.vae is not None else None
    return generation_cost(gen.diffusion.module.net, pipe.grid.ny, pipe.grid.nx, sampler, steps, vae).total / 1e9


def _training_setup(pipe: Pipeline) -> dict[str, dict[str, float]]:
    """Training steps and noise-level distribution of each diffusion model (they bear on claim 1)."""
    out = {}
    for (space, decoder), gen in pipe.generators.items():
        meta = gen.diffusion.meta
        edm = meta["config"]["diffusion"]
        name = generator_for(space, decoder).label  # the data-space model: one model, two decoding rules
        history = meta.get("history", [])
        best = min(history, key=lambda h: h["val_loss"]) if history else {}
        out[name] = {"steps": int(meta["step"]), "p_mean": edm["p_mean"], "p_std": edm["p_std"],
                     "sigma_max": edm.get("sigma_max") or SIGMA_MAX, "best_val_step": best.get("step"),
                     "date_conditioned": gen.date_conditioned,
                     "margin": meta["config"]["unet"].get("margin", 0)}
        if meta.get("init_from"):  # a stage-2 fine-tune: say what it started from
            out[name]["warm_start_steps"] = int(meta["init_from"]["step"])
    return out


def evaluate(pipe: Pipeline, members: int, test_states: int, steps: int, sampler: str, seed: int,
             progress: bool = True, date_members: int = 16, spread_steps: int = 40,
             all_seasons: str | None = None) -> tuple[dict[str, Any], dict[str, xr.Dataset]]:
    """All numbers of the report, and the data sets the figures are drawn from.

    ``date_members``: members of each date-conditioned ensemble (0 skips that test); ``spread_steps``:
    the long sampler run the default steps' ensemble spread is compared with (0 skips it);
    ``all_seasons``: how the all-seasons ensembles that the scores and claims rest on are sampled, ``"drawn"``
    (each member for a random day of the year) or ``"dropped"`` (the date dropped: the unconditional model);
    ``None`` = drawn for date-conditioned models. The other way is scored beside it.
    """
    all_seasons, date = all_seasons_way(all_seasons, pipe.date_conditioned)
    test, val = pipeline_held_out(pipe)
    ref = evenly(test, test_states).load()
    boxes = spectrum_boxes(ref["sic"])
    ref_spectra = {n: mean_spectrum(ref[n], boxes=boxes) for n in VARIABLE_NAMES}
    results: dict[str, Any] = {
        "setup": {"members": members, "test_states": int(ref.sizes["time"]), "steps": steps, "sampler": sampler,
                  "seed": seed, "device": str(pipe.device), "spectrum_boxes": len(boxes),
                  "all_seasons": ALL_SEASONS[all_seasons],
                  "test_years": sorted({int(y) for y in test.time.dt.year.values}),
                  "training": _training_setup(pipe)},
        "reference": {"bound_share": bound_share(ref), "integrals": integral_stats(ref),
                      "spectra": {n: [ref_spectra[n][0].tolist(), ref_spectra[n][1].tolist()] for n in VARIABLE_NAMES}},
        "reconstruction": {},
        "generators": {},
    }
    sets = {"reference": ref}
    for decoder in DECODERS:
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
    results["generators"][BASELINE] = score_ensemble(baseline, ref, ref_spectra, boxes)
    sets[BASELINE] = baseline
    for (space, decoder), ens in _sample_all(pipe, members, steps, sampler, seed, progress, date).items():
        name = generator_label(space, decoder)
        results["generators"][name] = score_ensemble(ens, ref, ref_spectra, boxes)
        results["generators"][name]["seconds_per_state"] = ens.attrs["seconds"] / members
        results["generators"][name]["gflop_per_state"] = gflop_per_state(pipe, space, decoder, sampler, steps)
        sets[name] = ens
    if pipe.date_conditioned:
        # the other way to sample all seasons, scored beside the one the tables rest on
        other, other_date = all_seasons_way("dropped" if all_seasons == "drawn" else "drawn", True)
        results["all_seasons_other"] = {"way": ALL_SEASONS[other], "generators": {
            generator_label(*key): {"integrals": integral_stats(ens),
                                    "crps": ensemble_crps(ens, ref, names=VARIABLE_NAMES)}
            for key, ens in _sample_all(pipe, members, steps, sampler, seed, progress, other_date).items()}}
    if date_members and pipe.date_conditioned:
        results["date_conditioned"] = _date_conditioned(pipe, test, date_members, steps, sampler, seed, progress)
        # the all-seasons ensembles against the same dates: what knowing the date is worth
        dated = test.sel(time=[np.datetime64(d["date"], "ns") for d in
                               next(iter(results["date_conditioned"].values()))["dates"]]).load()
        results["date_conditioned_all_seasons_crps"] = {
            name: ensemble_crps(sets[name], dated, names=VARIABLE_NAMES)
            for name in results["date_conditioned"] if name in sets}
    if spread_steps:
        results["sampler_spread"] = {
            generator_label(space, "censored"): {str(k): v for k, v in spread_by_steps(
                lambda n, space=space: pipe.sample(SampleRequest(space, "censored", members, n, sampler, seed)),
                (steps, spread_steps)).items()}
            for space in SPACES if (space, "censored") in pipe.generators}
    results["claims"] = verdicts(results)
    return results, sets


def _sample_all(pipe: Pipeline, members: int, steps: int, sampler: str, seed: int, progress: bool = False,
                date: str | None = None) -> dict[tuple[str, str], xr.Dataset]:
    """One ensemble of every generator, keyed by (space, decoder); in data space one sampling run serves
    both decoding rules."""
    out = {}
    for space in SPACES:
        decoders = tuple(d for d in DECODERS if space == "data" or (space, d) in pipe.generators)
        if not decoders or (space == "data" and ("data", "censored") not in pipe.generators):
            continue
        bar = tqdm(total=None, desc=f"sample {space}" + (f" ({date})" if date else ""), disable=not progress,
                   leave=False)
        request = SampleRequest(space, decoders[0], members, steps, sampler, seed, date)
        for decoder, ens in pipe.sample(request, decoders, callback=lambda info: bar.update(1)).items():
            out[(space, decoder)] = ens
        bar.close()
    return out


def _date_conditioned(pipe: Pipeline, test: xr.Dataset, members: int, steps: int, sampler: str, seed: int,
                      progress: bool) -> dict[str, Any]:
    """Date-conditioned ensembles of every generator for the 15th of each test month, scored against that day."""
    dates = mid_month_dates(test)
    bar = tqdm(total=len(dates), desc="date-conditioned", disable=not progress, leave=False)

    def sample(date: str, i: int) -> dict[str, xr.Dataset]:
        out = {generator_label(*key): ens
               for key, ens in _sample_all(pipe, members, steps, sampler, seed + 1 + i, date=date).items()}
        bar.update(1)
        return out

    scores = score_dates(sample, test, dates, members)
    bar.close()
    return scores


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}g}"


def _training_lines(training: dict[str, dict[str, float]]) -> list[str]:
    if not training:
        return []
    def steps(t: dict) -> str:
        if "warm_start_steps" not in t:
            return f"{t['steps']} steps (best validation at {t.get('best_val_step')})"
        return (f"{t['warm_start_steps']} steps, then {t['steps']} with a ring of land {t['margin']} cells wide "
                f"(best validation at {t.get('best_val_step')} of those)")

    items = "; ".join(f"{name} {steps(t)}, "
                      f"ln sigma ~ N({t['p_mean']:g}, {t['p_std']:g}^2), sigma_max {t.get('sigma_max', 80):g}"
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
        f"{setup['members']} members per generator"
        + (f", all seasons with {setup['all_seasons']}" if "all_seasons" in setup else "")
        + f"; sampler {setup['sampler']} with {setup['steps']} steps; "
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
              "Mean ± standard deviation over states / members (1e6 km², volume 1e3 km³). Extent: area of the "
              "cells with sic > 0.15; area: sum of sic x cell area; volume: sum of sit x sic x cell area (sit is "
              "the thickness of the ice-covered part of a cell); MIZ area: cells with 0.15 < sic < 0.8. Speckle: "
              "ice cells (sic > 0.15) without ice among their 8 neighbours, per state; in open water: those of them "
              "without land among their 8 neighbours (the others lie at the coast, in bays and channels the grid "
              f"leaves narrow); at the grid's edge: those in open water within {EDGE_WIDTH} cells of the grid's "
              "border. Gaps in the pack: single cells below sic = 0.8 whose 8 neighbours are all pack ice (sic >= 0.8) "
              "at sea, each a small closed loop of the MIZ's inner contour.",
              "", "| source | extent | area | volume | MIZ area | speckle | in open water | at the grid's edge "
              "| gaps in the pack |",
              "|---|---|---|---|---|---|---|---|---|"]
    rows = {"reference": results["reference"]["integrals"], **{k: g["integrals"] for k, g in gens.items()}}
    for name, stats in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{stats[k]['mean']:.2f} ± {stats[k]['std']:.2f}"
                                                 for k in INTEGRALS + SPECKLES if k in stats) + " |")
    lines += ["", "## Smoothness: radially averaged power spectra", "",
              "Mean ratio generated / reference power at wavenumbers above half the Nyquist wavenumber "
              "(< 1 smoother than the reference, > 1 noisier), from the periodograms of "
              f"{setup.get('spectrum_boxes', 'n/a')} land-free 800 km boxes (Hann window each), so that the coast "
              "does not enter. Figure: `spectra.png`.", "",
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
    lines += _date_lines(results) + _all_seasons_lines(results) + _spread_lines(results)
    lines += ["", "## Cost", "", "Counted GFLOP per generated state (network evaluations x one U-Net pass + one VAE "
              "decoder pass for latent models) and seconds per state in this run (sampling + decoding, same sampler "
              "and steps); see `seaice-ldm benchmark` for the controlled comparison.", "",
              "| generator | GFLOP / state | s / state |", "|---|---|---|"]
    for name, g in gens.items():
        if "seconds_per_state" in g:
            lines.append(f"| {name} | {g.get('gflop_per_state', float('nan')):.2f} | {g['seconds_per_state']:.4f} |")
    lines += ["", "## Figures", "", "![samples](samples.png)", "", "![sic samples](samples_sic.png)", "",
              "![histograms](histograms.png)", "", "![spectra](spectra.png)", "", "![integrals](integrals.png)", ""]
    return "\n".join(lines)


def _date_lines(results: dict[str, Any]) -> list[str]:
    """Markdown of the date-conditioned test (empty when the models are not date-conditioned)."""
    dated = results.get("date_conditioned")
    if not dated:
        return []
    first = next(iter(dated.values()))
    members = len(first["rank_histogram"]) - 1
    uncond = results.get("date_conditioned_all_seasons_crps", {})
    lines = ["", "## Date-conditioned ensembles", "",
             f"For each of {len(first['dates'])} held-out dates (the 15th of every test month), an ensemble of "
             f"{members} members sampled for that day of the year, scored against that date's state. Spread/skill: "
             "sqrt((M+1)/M mean ensemble variance) / RMSE of the ensemble mean (1 = calibrated, < 1 overconfident). "
             f"'all seasons': the all-seasons ensembles above ({results['setup'].get('all_seasons', 'date dropped')}), "
             "scored against the same dates.", "",
             "| generator | " + " | ".join(f"CRPS {n}" for n in VARIABLE_NAMES) + " | "
             + " | ".join(f"spread/skill {n}" for n in VARIABLE_NAMES) + " | mean abs. extent error |",
             "|" + "---|" * (2 + 2 * len(VARIABLE_NAMES))]
    for name, d in dated.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(d["crps"][n]) for n in VARIABLE_NAMES) + " | "
                     + " | ".join(_fmt(d["spread_skill"][n]) for n in VARIABLE_NAMES)
                     + f" | {d['extent_abs_error']:.2f} |")
        if name in uncond:
            lines.append(f"| {name}, all seasons | " + " | ".join(_fmt(uncond[name][n]) for n in VARIABLE_NAMES)
                         + " |" + " |" * (len(VARIABLE_NAMES) + 1))
    months = sorted({m for d in dated.values() for m in d["monthly_extent"]}, key=int)
    lines += ["", "Mean extent of the date-conditioned ensembles vs the reference on the same dates (1e6 km²):", "",
              "| month | reference | " + " | ".join(dated) + " |", "|" + "---|" * (2 + len(dated))]
    for m in months:
        ref = next(d["monthly_extent"][m][1] for d in dated.values() if m in d["monthly_extent"])
        lines.append(f"| {int(m):02d} | {ref:.2f} | "
                     + " | ".join(f"{d['monthly_extent'][m][0]:.2f}" if m in d["monthly_extent"] else "n/a"
                                  for d in dated.values()) + " |")
    lines += ["", f"Rank histogram of the reference extent among the members (ranks 0-{members}; flat = calibrated, "
              "U-shaped = too little spread):", ""]
    for name, d in dated.items():
        lines.append(f"- {name}: {d['rank_histogram']}")
    return lines


def _all_seasons_lines(results: dict[str, Any]) -> list[str]:
    """Markdown of the two ways to sample all seasons: the one every table above rests on and the other one."""
    other = results.get("all_seasons_other")
    if not other:
        return []
    gens, ref, used = results["generators"], results["reference"]["integrals"], results["setup"]["all_seasons"]

    def pm(stats: dict, key: str) -> str:
        return f"{stats[key]['mean']:.2f} ± {stats[key]['std']:.2f}"

    lines = ["", f"## All seasons: {used} (above) or {other['way']}", "",
             "The date-conditioned models sample all seasons two ways: with the date dropped (the unconditional "
             "model, the paper's setting) or with each member's day of the year drawn uniformly "
             "(`date=\"random\"`, stratified over the year), which samples the mixture of the dated models over "
             f"the year. The tables and claims above use **{used}**. Same members, sampler and test states; extent "
             "and MIZ area in 1e6 km² (mean ± standard deviation).", "",
             f"| source | extent, {used} | extent, {other['way']} | MIZ, {used} | MIZ, {other['way']} | "
             f"CRPS {other['way']} / {used} |", "|---|---|---|---|---|---|",
             f"| reference | {pm(ref, 'extent')} | | {pm(ref, 'miz_area')} | | |"]
    for name, d in other["generators"].items():
        g = gens[name]
        ratio, _ = geomean_ratio(d["crps"], g["crps"])
        lines.append(f"| {name} | {pm(g['integrals'], 'extent')} | {pm(d['integrals'], 'extent')} | "
                     f"{pm(g['integrals'], 'miz_area')} | {pm(d['integrals'], 'miz_area')} | {ratio:.2f} |")
    lines += ["", f"CRPS {other['way']} / {used}: geometric mean over the variables of the fair CRPS ratio (< 1: "
              f"{other['way']} scores better)."]
    return lines


def _spread_lines(results: dict[str, Any]) -> list[str]:
    """Markdown of the sampler-spread check: default steps against a long run from the same noise."""
    spread = results.get("sampler_spread")
    if not spread:
        return []
    lines = ["", "## Sampler spread: default steps vs a long run", "",
             "Ensemble spread from the same initial noise with the default number of steps and with a long run, "
             "all seasons with the date dropped where the models take one (there the sampler itself decides the "
             "season) "
             "(extent standard deviation over members, 1e6 km²; area-weighted mean per-cell standard deviation).", "",
             "| generator | steps | extent std | sic cell std | sit cell std | siu cell std |", "|---|---|---|---|---|---|"]
    for name, rows in spread.items():
        for n, r in rows.items():
            lines.append(f"| {name} | {n} | {r['extent_std']:.3f} | {r['sic_cell_std']:.4f} | "
                         f"{r['sit_cell_std']:.4f} | {r['siu_cell_std']:.4f} |")
    return lines


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
    results, sets = evaluate(pipe, args.members, args.test_states, args.steps, args.sampler, args.seed,
                             date_members=args.date_members, spread_steps=args.spread_steps,
                             all_seasons=args.all_seasons)
    out = write_report(results, sets, args.out)
    for claim in results["claims"]:
        print(f"claim {claim['number']}: {claim['holds']}: {claim['evidence']}")
    print(f"wrote {out / 'report.md'}")
