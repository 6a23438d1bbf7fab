"""The evaluation report as Markdown, rendered from :func:`seaice_ldm.evaluation.run.evaluate`'s results.

Every table goes through :func:`table`; every number with an interval through :func:`est` (value [5 %, 95 %]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seaice_ldm.evaluation.consistency import OPEN_WATER_LIMITS
from seaice_ldm.evaluation.scoring import EDGE_WIDTH, INTEGRALS, SPECKLES
from seaice_ldm.evaluation.uncertainty import LEVEL
from seaice_ldm.options import generator_label

BASELINE = "validation-year states"
_DM_GAUSSIAN = generator_label("data", "gaussian")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def est(d: dict[str, float] | None, digits: int = 3) -> str:
    """An estimate ``{"value", "low", "high"}`` as ``value [low, high]``."""
    if not d:
        return "n/a"
    return f"{fmt(d['value'], digits)} [{fmt(d['low'], digits)}, {fmt(d['high'], digits)}]"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table; cells are written as given (strings) or with :func:`fmt` (numbers)."""
    cell = lambda v: v if isinstance(v, str) else fmt(v)  # noqa: E731
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows] + [""])


def variables(results: dict[str, Any]) -> list[str]:
    return list(results["reference"]["small_scale_power"])


def _header(results: dict[str, Any]) -> list[str]:
    s = results["setup"]
    data = ("> Models trained and evaluated on the **synthetic** Arctic data set of this package "
            "(`seaice-ldm data synth`), not on observations. Numbers say how the methods behave on this data."
            if s.get("synthetic") else f"> Models trained and evaluated on the data of `{s['checkpoints']}`.")
    return ["# Evaluation report", "", data, "",
            f"Held-out test years {s['test_years']} ({s['test_states']} states spread over the seasons); "
            f"{s['members']} members per generator, all seasons with {s['all_seasons']}; sampler {s['sampler']} "
            f"with {s['steps']} steps; seed {s['seed']}; device {s['device']}. '{BASELINE}' = states of the "
            "validation year resampled as an ensemble (what a perfect generator of this climate would roughly "
            f"score). Intervals are {int(LEVEL * 100)} % bootstrap intervals over the units each table names.", ""]


def _training(results: dict[str, Any]) -> list[str]:
    training = results["setup"].get("training", {})
    if not training:
        return []

    def steps(t: dict) -> str:
        if "warm_start_steps" not in t:
            return f"{t['steps']} steps (best validation at {t.get('best_val_step')})"
        return (f"{t['warm_start_steps']} steps, then {t['steps']} with a ring of land {t['margin']} cells wide "
                f"(best validation at {t.get('best_val_step')} of those)")

    items = "; ".join(f"{name} {steps(t)}, ln sigma ~ N({t['p_mean']:g}, {t['p_std']:g}^2), sigma_max "
                      f"{t['sigma_max']:g}" for name, t in training.items())
    same = len({(t["p_mean"], t["p_std"]) for t in training.values()}) == 1
    note = "" if same else (" The training noise levels differ between the models (each from its own data), which "
                            "weighs on claim 1 (see the model cards).")
    lines = [f"Diffusion training: {items}.{note}", ""]
    r = results["setup"].get("refiner")
    if r:
        window = f"{r['crop']} x {r['crop']} windows" if r.get("crop") else "the whole grid"
        lines += [f"Refiner of the latent path: {r['steps']} steps (best validation at "
                  f"{r['best_val_step']}) on {window}, ln sigma ~ N({r['p_mean']:g}, {r['p_std']:g}^2) below "
                  f"sigma_max {r['sigma_max']:g}; its pass: {r['pass']}, {r['gflop_per_state']:.2f} GFLOP per "
                  "state.", ""]
    return lines


def _claims(results: dict[str, Any]) -> list[str]:
    lines = ["## The paper's claims on this data", ""]
    for c in results["claims"]:
        lines += [f"{c['number']}. {c['claim']}: **{c['verdict']}**. {c['evidence']}", ""]
    return lines


def _scores(results: dict[str, Any]) -> list[str]:
    names, gens = variables(results), results["generators"]
    rows = [[name] + [float(np.mean(g["crps_per_state"][n])) for n in names] + [g["wasserstein"][n] for n in names]
            for name, g in gens.items()]
    energy = [[name] + [g["energy_score"][n] for n in names] for name, g in gens.items()]
    return (["## Scores per generator", "", "Fair CRPS (the all-seasons ensemble as a climatological forecast of "
             "each held-out state, mean over ocean cells and states) and Wasserstein-1 distance of pooled cell values;"
             " lower is better; units of each variable.", ""]
            + table(["generator"] + [f"CRPS {n}" for n in names] + [f"W1 {n}" for n in names], rows)
            + ["Fair energy score of whole fields (2048 seeded ocean cells):", ""]
            + table(["generator"] + names, energy))


def _bounds(results: dict[str, Any]) -> list[str]:
    def row(name: str, item: dict) -> list[Any]:
        v, s = item.get("bound_violation", {}), item["bound_share"]
        return [name] + [v.get(n, 0.0) for n in ("sit", "sic", "sid") if n in s] + [
            s[n][side] for n, side in (("sic", "lower"), ("sic", "upper"), ("sid", "lower"), ("sit", "lower")) if n in s]

    share = results["reference"]["bound_share"]
    header = (["source"] + [f"outside {n}" for n in ("sit", "sic", "sid") if n in share]
              + [label for n, label in (("sic", "sic = 0"), ("sic", "sic = 1"), ("sid", "sid = 0"), ("sit", "sit = 0"))
                 if n in share])
    rows = [row("held-out states", results["reference"])] + [row(k, g) for k, g in results["generators"].items()]
    rows += [row(f"VAE reconstruction ({d})", r) for d, r in results["reconstruction"].items()]
    return (["## Physical bounds", "", "Share of ocean cells outside the bounds, and exactly at them.", ""]
            + table(header, rows))


def _integrals(results: dict[str, Any]) -> list[str]:
    rows = {"held-out states": results["reference"]["integrals"],
            **{k: g["integrals"] for k, g in results["generators"].items()}}
    keys = [k for k in INTEGRALS + SPECKLES if k in rows["held-out states"]]
    return (["## Ice extent, area, volume, MIZ area and speckle", "",
             "Mean ± standard deviation over states / members (1e6 km², volume 1e3 km³). Speckle: ice cells "
             "(sic > 0.15) without ice among their 8 neighbours, per state; in open water: without land among them "
             f"either; at the grid's edge: those within {EDGE_WIDTH} cells of the border. Gaps in the pack: single "
             "cells below sic = 0.8 whose 8 neighbours are all pack ice at sea.", ""]
            + table(["source"] + keys, [[name] + [f"{s[k]['mean']:.2f} ± {s[k]['std']:.2f}" for k in keys]
                                        for name, s in rows.items()]))


def _smoothness(results: dict[str, Any]) -> list[str]:
    names, gens, ref = variables(results), results["generators"], results["reference"]
    years = ref["yearly_power"]
    pooled = results["smoothness_pooled"]
    ratio = results.get("smoothness_ldm_data", {})
    lines = ["## Smoothness", "",
             "Small-scale power: mean power above half the Nyquist wavenumber of the periodograms of "
             f"{results['setup']['spectrum_boxes']} land-free 800 km boxes, per state. Against the pooled reference "
             f"(states of every year {results['setup']['pooled_years'][0]}-{results['setup']['pooled_years'][-1]}, "
             "32 a year; interval over the generator's members) beside the range of the reference's own years "
             "against the same pool: a generator inside that range is as smooth as the climate's years are "
             "among themselves.", ""]
    rows = [["reference years (range)"] + [f"{min(years[n].values()):.2f}-{max(years[n].values()):.2f}"
                                           for n in names]]
    rows += [[name] + [est(pooled[name].get(n), 2) for n in names] for name in gens]
    lines += table(["small-scale power / pooled reference"] + names, rows)
    if ratio:
        lines += [f"Generator against generator (interval over both ensembles' members): {ratio['label']}.", ""]
        lines += table(["ratio"] + names, [[ratio["label"]] + [est(ratio["per_variable"].get(n), 2) for n in names]])
    rough = [["held-out states"] + [ref["roughness"].get(n, float("nan")) for n in names if n != "sic"]]
    rough += [[k] + [g["roughness"].get(n, float("nan")) for n in names if n != "sic"] for k, g in gens.items()]
    lines += ["Roughness in physical units: RMS of each field minus its 3 x 3 mean over pack-ice cells (sic >= 0.8) "
              "whose 3 x 3 neighbourhood is all pack at sea (m, 1, m/s); mean over states.", ""]
    return lines + table(["source"] + [n for n in names if n != "sic"], rough)


def _lines(results: dict[str, Any]) -> list[str]:
    ref = results["reference"].get("lines")
    if ref is None:
        return []

    def row(source: str, lines: dict[str, Any]) -> list[Any]:  # reports written before the intervals had none
        return [source, est(lines["share_estimate"]) if "share_estimate" in lines else lines["share"],
                est(lines["lines_per_state_estimate"]) if "lines_per_state_estimate" in lines
                else lines["lines_per_state"], lines["high_cells_per_state"]]

    rows = [row("held-out states", ref)]
    rows += [row(f"VAE reconstruction ({d})", r["lines"]) for d, r in results["reconstruction"].items()]
    rows += [row(k, g["lines"]) for k, g in results["generators"].items() if "lines" in g]
    return (["## Damage lines", "", "High damage (sid > 0.5) in the pack interior (sic > 0.15, at least 3 cells "
             "from open water, land and the grid's edge); a line is an 8-connected structure whose skeleton is at "
             "least 5 cells long and whose mean width (area / skeleton length) is at most 2 cells. Intervals over "
             "states (members for the generators); the share pools cells over the states.", ""]
            + table(["source", "share of high-damage cells in lines", "lines per state",
                     "high-damage cells per state"], rows))


def _consistency(results: dict[str, Any]) -> list[str]:
    props = list(results["reference"]["consistency"]["open_water"])
    if not props:
        return []

    def row(name: str, c: dict) -> list[Any]:
        return [name] + [c["open_water"][p]["share"] for p in props] + [c["ice_without_thickness"]]

    rows = [row("held-out states", results["reference"]["consistency"])]
    for k, g in results["generators"].items():
        rows += [row(f"{k}, as generated", g["consistency"]), row(f"{k}, no-ice rule", g["consistency_no_ice_rule"])]
    limits = ", ".join(f"{p} > {OPEN_WATER_LIMITS[p]:g}" for p in props)
    return (["## Physical consistency", "", "Share of open-water cells (sic <= 0) with some thickness, damage or "
             f"drift ({limits}; m, 1, m/s), and share of ice cells (sic > 0.15) without thickness; as generated and "
             "with the no-ice rule (thickness, damage and drift set to 0 where sic <= 0; `SampleRequest.no_ice_rule`"
             ", on by default).", ""]
            + table(["source"] + [f"open water with {p}" for p in props] + ["ice without thickness"], rows))


def _reconstruction(results: dict[str, Any]) -> list[str]:
    rec = results["reconstruction"]
    if not rec:
        return []
    names = variables(results)
    rows = [[d] + [r["errors"][n]["rmse"] for n in names] for d, r in rec.items()]
    miz = [[d, est(r["miz"]["misclassified"]), est(r["miz"]["rmse_sic_in_miz"]), est(r["miz"]["iiee"]),
            f"{r['miz']['width_km']['pred']['median']:.0f} (truth {r['miz']['width_km']['true']['median']:.0f})",
            est(r["small_scale_ratio"].get("sid"), 2)] for d, r in rec.items()]
    diff = rec.get("censored", {}).get("miz_pairs_difference")
    note = [f"Misclassified MIZ cells, censored - Gaussian, paired by state: {est(diff)}.", ""] if diff else []
    return (["## The autoencoders: noise-free reconstructions of the held-out states", "",
             "RMSE over ocean cells (units of each variable):", ""]
            + table(["decoder"] + [f"RMSE {n}" for n in names], rows)
            + ["The MIZ of each reconstruction against its state (intervals over states): cells that exactly one of "
               "the two puts in the MIZ (0.15 < sic < 0.8) per MIZ cell of the state; sic RMSE inside the state's "
               "MIZ; IIEE (1e6 km²); median MIZ width (km, MIZ area / ice-edge length); sid small-scale power over "
               "the states'.", ""]
            + table(["decoder", "misclassified MIZ cells", "sic RMSE in MIZ", "IIEE", "MIZ width", "sid small-scale"],
                    miz) + note)


def _dates(results: dict[str, Any]) -> list[str]:
    dated = results.get("date_conditioned", {}).get("generators")
    if not dated:
        return []
    names = variables(results)
    first = next(iter(dated.values()))
    members = len(first["rank_histogram"]) - 1
    rows = [[k] + [d["crps"][n] for n in names] + [d["spread_skill"][n] for n in names] + [d["extent_abs_error"]]
            for k, d in dated.items()]
    lines = ["## Date-conditioned ensembles", "",
             f"For each of {len(first['dates'])} held-out dates (the 15th of every test month) an ensemble of "
             f"{members} members sampled for that day of the year, scored against that date's state. Spread/skill: "
             "sqrt((M+1)/M mean ensemble variance) / RMSE of the ensemble mean (1 = calibrated, < 1 too little "
             "spread).", ""]
    lines += table(["generator"] + [f"CRPS {n}" for n in names] + [f"spread/skill {n}" for n in names]
                   + ["mean abs. extent error"], rows)
    return lines + _dated_miz(results, dated) + _dated_extent(dated, members)


def _dated_miz(results: dict[str, Any], dated: dict[str, Any]) -> list[str]:
    years = results["date_conditioned"].get("year_to_year", {})
    rows = []
    for name, d in dated.items():
        if name == _DM_GAUSSIAN:  # the same sic as the censored rule's across 0.15 and 0.8 (clipping moves none)
            continue
        for season, m in d["miz_by_season"].items():
            rows.append([name, f"{season} ({m['dates']} dates)", est(m["misclassified"]), est(m["iiee"]),
                         est(m["miz_area_error"]), est(m["miz_width_error"], 2)])
    if years:
        rows.append([f"held-out {years['years'][1]} against {years['years'][0]}", f"all ({years['pairs']} dates)",
                     est(years["misclassified"]), est(years["iiee"]), est(years["miz_area_error"]),
                     est(years["miz_width_error"], 2)])
    return (["The MIZ of every member against the state of its date, mean over dates per season (interval over "
             "dates): misclassified MIZ cells per MIZ cell of the state, IIEE (1e6 km²), MIZ area error (1e6 km²) "
             f"and MIZ width error (km); {_DM_GAUSSIAN} is left out (clipping moves no value across 0.15 or 0.8, so "
             "its MIZ is the censored rule's). The last row is the yardstick: the reference's two test years against each "
             "other on the same dates (errors as absolute values).", ""]
            + table(["source", "season", "misclassified MIZ", "IIEE", "MIZ area error", "MIZ width error"], rows))


def _dated_extent(dated: dict[str, Any], members: int) -> list[str]:
    months = sorted({m for d in dated.values() for m in d["monthly_extent"]}, key=int)
    rows = []
    for m in months:
        ref = next(d["monthly_extent"][m][1] for d in dated.values() if m in d["monthly_extent"])
        rows.append([f"{int(m):02d}", f"{ref:.2f}"] + [f"{d['monthly_extent'][m][0]:.2f}" if m in d["monthly_extent"]
                                                      else "n/a" for d in dated.values()])
    lines = ["Mean extent of the date-conditioned ensembles vs the reference on the same dates (1e6 km²):", ""]
    lines += table(["month", "reference"] + list(dated), rows)
    lines += [f"Rank histogram of the reference extent among the members (ranks 0-{members}; flat = calibrated):", ""]
    lines += [f"- {name}: {d['rank_histogram']}" for name, d in dated.items()] + [""]
    return lines + _dated_years(dated) + _dated_north(dated)


def _dated_years(dated: dict[str, Any]) -> list[str]:
    """Calibration per test year: a year far from the climatology shows as too little spread in that year only."""
    first = next(iter(dated.values()))
    years, names = list(first["spread_skill_by_year"]), list(first["spread_skill"])
    if len(years) < 2:
        return []
    rows = [[name, y] + [d["spread_skill_by_year"][y][n] for n in names] + [str(d["rank_histogram_by_year"][y])]
            for name, d in dated.items() for y in years]
    return (["Per test year (spread/skill and the rank histogram of extent against that year's states):", ""]
            + table(["generator", "year"] + [f"spread/skill {n}" for n in names] + ["extent ranks"], rows))


def _dated_north(dated: dict[str, Any]) -> list[str]:
    months = sorted(next(iter(dated.values()))["open_water_north_by_month"], key=int)  # JSON keys: strings
    reference = next(iter(dated.values()))["open_water_north_by_month"]
    rows = [[f"{int(m):02d}", reference[m][1]] + [d["open_water_north_by_month"][m][0] for d in dated.values()]
            for m in months]
    return (["Share of states with open water (sic <= 0.15) north of 84° N, per month (the held-out states on the "
             "15th; the generators' members sampled for it):", ""]
            + table(["month", "held-out states"] + list(dated), rows))


def _all_seasons(results: dict[str, Any]) -> list[str]:
    other = results.get("all_seasons_other")
    if not other:
        return []
    used, gens, ref = results["setup"]["all_seasons"], results["generators"], results["reference"]["integrals"]
    pm = lambda s, k: f"{s[k]['mean']:.2f} ± {s[k]['std']:.2f}"  # noqa: E731
    rows = [["held-out states", pm(ref, "extent"), "", pm(ref, "miz_area"), ""]]
    rows += [[k, pm(gens[k]["integrals"], "extent"), pm(d["integrals"], "extent"), pm(gens[k]["integrals"], "miz_area"),
              pm(d["integrals"], "miz_area")] for k, d in other["generators"].items()]
    return ([f"## All seasons: {used} (above) or {other['way']}", "",
             "Date-conditioned models sample all seasons two ways: with the date dropped (the unconditional model, "
             "the paper's setting) or with each member's day of the year drawn (stratified over the year). The "
             f"tables and claims above use **{used}**. Extent and MIZ area in 1e6 km² (mean ± standard deviation).",
             ""]
            + table(["source", f"extent, {used}", f"extent, {other['way']}", f"MIZ, {used}", f"MIZ, {other['way']}"],
                    rows))


def _spread(results: dict[str, Any]) -> list[str]:
    spread = results.get("sampler_spread")
    if not spread:
        return []
    rows = [[name, n, r["extent_std"]] + [r.get(f"{v}_cell_std", float("nan")) for v in ("sic", "sit", "siu")]
            for name, steps in spread.items() for n, r in steps.items()]
    return (["## Sampler spread: default steps vs a long run", "",
             "Ensemble spread from the same initial noise with the default number of steps and with a long run "
             "(extent standard deviation over members, 1e6 km²; area-weighted mean per-cell standard deviation).", ""]
            + table(["generator", "steps", "extent std", "sic cell std", "sit cell std", "siu cell std"], rows))


def _cost(results: dict[str, Any]) -> list[str]:
    rows = [[k, f"{g['gflop_per_state']:.2f}", f"{g['seconds_per_state']:.4f}"]
            for k, g in results["generators"].items() if "gflop_per_state" in g]
    return (["## Cost", "", "Counted GFLOP per generated state (network evaluations x one U-Net pass + one VAE "
             "decoder pass for latent models) and seconds per state in this run; `seaice-ldm benchmark` makes the "
             "controlled comparison.", ""] + table(["generator", "GFLOP / state", "s / state"], rows))


FIGURES = ("samples", "samples_sic", "samples_sid", "histograms", "spectra", "integrals")


def report_markdown(results: dict[str, Any]) -> str:
    """The report: setup, claim verdicts, then the tables behind them and the figures."""
    sections = (_header, _training, _claims, _scores, _bounds, _integrals, _smoothness, _lines, _consistency,
                _reconstruction, _dates, _all_seasons, _spread, _cost)
    lines = [line for section in sections for line in section(results)]
    drawn = [f for f in FIGURES if f != "samples_sid" or "lines" in results["reference"]]
    lines += ["## Figures", ""] + [f"![{name}]({name}.png)\n" for name in drawn]
    return "\n".join(lines)
