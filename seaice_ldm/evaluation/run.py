"""``seaice-ldm evaluate``: settings -> results -> a report folder.

:class:`EvaluationSettings` says what to sample and score; :func:`evaluate` samples every generator of a
pipeline through :class:`~seaice_ldm.options.SampleRequest` and returns plain results (numbers, lists) and
the data sets the figures are drawn from; :func:`write_report` renders them (:mod:`.markdown`,
:mod:`.figures`) into a folder written whole, then renamed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from seaice_ldm.data.io import atomic_directory, check_replaceable, record_output
from seaice_ldm.evaluation import autoencoder, claims, conditional
from seaice_ldm.evaluation.metrics import bound_share
from seaice_ldm.evaluation.reference import evenly, scoring_states
from seaice_ldm.evaluation.scoring import describe, score_against
from seaice_ldm.evaluation.smoothness import small_scale_power, yearly_power_ratios
from seaice_ldm.evaluation.spectra import spectrum_boxes
from seaice_ldm.evaluation.training_record import gflop_per_state, refiner_setup, training_setup
from seaice_ldm.evaluation.uncertainty import ratio_of_means
from seaice_ldm.options import (ALL_SEASONS, DECODERS, DEFAULT_SAMPLER, DEFAULT_STEPS, GENERATORS, REFINED_PATH,
                                SampleRequest, all_seasons_way, generator_label)
from seaice_ldm.pipeline import Pipeline, load_pipeline

BASELINE = "validation-year states"


@dataclass(frozen=True)
class EvaluationSettings:
    """What ``seaice-ldm evaluate`` samples and scores."""

    checkpoints: str = "checkpoints"
    out: str = "docs/report"
    members: int = 32  # per generator, all seasons
    test_states: int = 64  # held-out states spread over the test years
    steps: int = DEFAULT_STEPS
    sampler: str = DEFAULT_SAMPLER
    seed: int = 0
    date_members: int = 16  # per held-out date (the 15th of every test month); 0 skips the dated test
    spread_steps: int = 40  # the long sampler run the default steps' spread is compared with; 0 skips it
    all_seasons: str | None = None  # "drawn" | "dropped"; None = drawn for date-conditioned models
    device: str | None = None
    overwrite: bool = False  # replace a report folder seaice-ldm did not write, or one changed since

    def __post_init__(self):
        if self.members < 2:
            raise ValueError(f"--members must be at least 2 for ensemble scores, got {self.members}")
        if self.test_states < 1:
            raise ValueError(f"--test-states must be at least 1, got {self.test_states}")
        if self.date_members < 0 or self.spread_steps < 0:
            raise ValueError("--date-members and --spread-steps must not be negative")
        if self.date_members == 1:
            raise ValueError("--date-members must be 0 (skip) or at least 2")


def sample_all(pipe: Pipeline, settings: EvaluationSettings, date: str | None, seed: int,
               members: int | None = None, progress: bool = False) -> dict[str, xr.Dataset]:
    """One ensemble of every generator of ``pipe``, keyed by its label; in data space one sampling run serves
    both decoding rules; with a refiner, the censored latent path is also sampled refined (its own generator,
    the same member seeds). The no-ice rule is off: the report measures what the generators learnt, and
    applies the rule itself where it reports it."""
    out = {}
    for gen in GENERATORS:
        if gen.key not in pipe.available:
            continue
        decoders = gen.serves
        request = SampleRequest(space=gen.space, decoder=decoders[0], members=members or settings.members,
                                steps=settings.steps, sampler=settings.sampler, seed=seed, date=date, no_ice_rule=False)
        bar = tqdm(total=None, desc=f"sample {gen.space}" + (f" ({date})" if date else ""), disable=not progress,
                   leave=False)
        for decoder, ens in pipe.sample(request, decoders=decoders, callback=lambda info: bar.update(1)).items():
            out[generator_label(gen.space, decoder)] = ens
        if gen.key == REFINED_PATH and pipe.refiner is not None:
            out[generator_label(*REFINED_PATH, refine=True)] = pipe.sample(
                replace(request, refine=True), callback=lambda info: bar.update(1))
        bar.close()
    return out


def _reference_part(pipe: Pipeline, settings: EvaluationSettings, ref: xr.Dataset, years: dict[int, xr.Dataset],
                    boxes: list) -> dict[str, Any]:
    """The held-out states on their own, and the reference's year-to-year range of small-scale power."""
    out = describe(ref, boxes)
    power = {n: np.concatenate([small_scale_power(ds[n], boxes) for ds in years.values()]) for n in out["small_scale_power"]}
    labels = np.concatenate([np.full(ds.sizes["time"], y) for y, ds in years.items()])
    out["yearly_power"] = {n: yearly_power_ratios(p, labels) for n, p in power.items()}
    out["pooled_power"] = {n: p.tolist() for n, p in power.items()}
    return out


def _reconstruction_part(pipe: Pipeline, ref: xr.Dataset, boxes: list) -> tuple[dict, dict]:
    results, sets = {}, {}
    for decoder in DECODERS:
        if ("latent", decoder) in pipe.available:
            rec = pipe.reconstruct(ref, decoder)
            results[decoder] = {**autoencoder.score_reconstruction(ref, rec, boxes), "bound_share": bound_share(rec)}
            sets[f"reconstruction ({decoder})"] = rec
    return results, sets


def _generators_part(pipe: Pipeline, settings: EvaluationSettings, ref: xr.Dataset, val: xr.Dataset, boxes: list,
                     date: str | None, progress: bool) -> tuple[dict, dict]:
    baseline = evenly(val, settings.members).load().rename({"time": "member"}).drop_vars("member", errors="ignore")
    ensembles = {BASELINE: baseline, **sample_all(pipe, settings, date, settings.seed, progress=progress)}
    results = {}
    for name, ens in ensembles.items():
        results[name] = {**describe(ens, boxes), **score_against(ens, ref)}
        if name != BASELINE:
            members = ens.sizes["member"]
            results[name]["seconds_per_state"] = ens.attrs["seconds"] / members
            results[name]["gflop_per_state"] = gflop_per_state(pipe, ens.attrs["space"], ens.attrs["decoder"],
                                                               settings.sampler, settings.steps,
                                                               refine=ens.attrs["refiner_model"] != "none")
    return results, ensembles


def _smoothness_part(results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each generator's small-scale power against the pooled multi-year reference, and the LDM's against the
    data-space model's, per variable (intervals over members)."""
    pooled, gens = results["reference"]["pooled_power"], results["generators"]
    against_pool = {name: {n: ratio_of_means(g["small_scale_power"][n], np.asarray(pooled[n])).to_dict()
                           for n in g["small_scale_power"] if n in pooled} for name, g in gens.items()}
    between = {}
    if claims.LDM in gens and claims.DM in gens:
        a, b = gens[claims.LDM]["small_scale_power"], gens[claims.DM]["small_scale_power"]
        between = {"label": f"{claims.LDM} / {claims.DM}",
                   "per_variable": {n: ratio_of_means(a[n], b[n]).to_dict() for n in a if n in b}}
    return against_pool, between


def _dates_part(pipe: Pipeline, settings: EvaluationSettings, test: xr.Dataset, progress: bool) -> dict[str, Any]:
    dates = conditional.mid_month_dates(test)
    bar = tqdm(total=len(dates), desc="date-conditioned", disable=not progress, leave=False)

    def sample(date: str, i: int) -> dict[str, xr.Dataset]:
        out = sample_all(pipe, settings, date, settings.seed + 1 + i, members=settings.date_members)
        bar.update(1)
        return out

    scores = conditional.score_dates(sample, test, dates, settings.date_members)
    bar.close()
    return {"generators": scores, "year_to_year": conditional.year_to_year(test, dates)}


def _censoring_pairs(results: dict[str, Any]) -> dict[str, Any]:
    """Censored - Gaussian misclassified MIZ cells: reconstructions paired by state, generation by date."""
    out: dict[str, Any] = {}
    rec = results.get("reconstruction", {})
    if set(DECODERS) <= set(rec):
        out["reconstruction"] = rec["censored"]["miz_pairs_difference"]
    dated = results.get("date_conditioned", {}).get("generators", {})
    if claims.LDM in dated and claims.LDM_G in dated:
        out["generation"] = conditional.paired_by_date(dated[claims.LDM]["dates"], dated[claims.LDM_G]["dates"])
    return out


def evaluate(pipe: Pipeline, settings: EvaluationSettings, progress: bool = True
             ) -> tuple[dict[str, Any], dict[str, xr.Dataset]]:
    """All numbers of the report, and the data sets the figures are drawn from."""
    way, date = all_seasons_way(settings.all_seasons, pipe.date_conditioned)
    splits, ref, years = scoring_states(pipe, settings.test_states)
    test, val = splits["test"], splits["val"]
    boxes = spectrum_boxes(ref["sic"])
    results: dict[str, Any] = {"setup": {**asdict(settings), "test_states": int(ref.sizes["time"]),
                                         "device": str(pipe.device), "spectrum_boxes": len(boxes),
                                         "all_seasons": ALL_SEASONS[way], "synthetic": pipe.synthetic,
                                         "test_years": sorted({int(y) for y in test.time.dt.year.values}),
                                         "pooled_years": sorted(years), "training": training_setup(pipe),
                                         "refiner": refiner_setup(pipe)}}
    results["reference"] = _reference_part(pipe, settings, ref, years, boxes)
    results["reconstruction"], sets = _reconstruction_part(pipe, ref, boxes)
    if set(DECODERS) <= set(results["reconstruction"]):
        results["reconstruction"]["censored"]["miz_pairs_difference"] = autoencoder.paired_misclassification(
            ref, sets["reconstruction (censored)"], sets["reconstruction (gaussian)"])
    results["generators"], ensembles = _generators_part(pipe, settings, ref, val, boxes, date, progress)
    sets = {"reference": ref, **sets, **ensembles}
    results["smoothness_pooled"], results["smoothness_ldm_data"] = _smoothness_part(results)
    if pipe.date_conditioned:
        other_way, other_date = all_seasons_way("dropped" if way == "drawn" else "drawn", True)
        results["all_seasons_other"] = {"way": ALL_SEASONS[other_way], "generators": {
            name: {"integrals": describe(ens, boxes)["integrals"], **score_against(ens, ref)}
            for name, ens in sample_all(pipe, settings, other_date, settings.seed, progress=progress).items()}}
    if settings.date_members and pipe.date_conditioned:
        results["date_conditioned"] = _dates_part(pipe, settings, test, progress)
    if settings.spread_steps:
        results["sampler_spread"] = _spread_part(pipe, settings)
    results["censoring_paired"] = _censoring_pairs(results)
    results = json.loads(json.dumps(results, default=to_json))  # plain values: what report.json holds
    results["claims"] = claims.verdicts(results)
    return results, sets


def _spread_part(pipe: Pipeline, settings: EvaluationSettings) -> dict[str, Any]:
    out = {}
    for gen in GENERATORS:
        if gen.key not in pipe.available or "censored" not in gen.serves:
            continue
        request = SampleRequest(space=gen.space, members=settings.members, sampler=settings.sampler,
                                seed=settings.seed, no_ice_rule=False)

        def sample(steps: int, request=request) -> xr.Dataset:
            return pipe.sample(SampleRequest(**{**asdict(request), "steps": steps}))

        spread = conditional.spread_by_steps(sample, (settings.steps, settings.spread_steps))
        out[generator_label(gen.space, "censored")] = {str(k): v for k, v in spread.items()}
    return out


def check_report_folder(out: str | Path, overwrite: bool = False) -> Path:
    """``out`` as a Path if the report may replace what is there: nothing, an empty folder, or a report folder
    this program wrote and nobody changed since (a file added, such as the user's notes, would be deleted);
    ``overwrite`` replaces any report folder, never a folder without a report.json."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not (out / "report.json").exists():
        raise ValueError(f"{out} exists and is not a report folder (no report.json); refusing to replace it: "
                         "choose another --out")
    return check_replaceable(out, overwrite, "--overwrite")


def to_json(value: Any) -> Any:
    """Results as JSON-ready values (arrays as lists, estimates as dicts)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_report(results: dict[str, Any], sets: dict[str, xr.Dataset], out: str | Path,
                 overwrite: bool = False) -> Path:
    """Write Markdown, JSON and figures into ``out`` (replaced whole as :func:`check_report_folder` allows,
    never half-written) and record it as the program's."""
    from seaice_ldm.evaluation.figures import save_figures
    from seaice_ldm.evaluation.markdown import report_markdown

    out = check_report_folder(out, overwrite)
    with atomic_directory(out) as tmp:
        tmp.mkdir()
        os.chmod(tmp, 0o755)
        save_figures(results, sets, tmp)
        (tmp / "report.json").write_text(json.dumps(results, indent=1, default=to_json))
        (tmp / "report.md").write_text(report_markdown(results))
    record_output(out)
    return out


def run_evaluation(settings: EvaluationSettings) -> Path:
    """``seaice-ldm evaluate``: load, evaluate, write; prints the verdicts."""
    check_report_folder(settings.out, settings.overwrite)
    pipe = load_pipeline(settings.checkpoints, device=settings.device, reference=False)
    results, sets = evaluate(pipe, settings)
    out = write_report(results, sets, settings.out, settings.overwrite)
    for claim in results["claims"]:
        print(f"claim {claim['number']}: {claim['verdict']}: {claim['evidence']}")
    print(f"wrote {out / 'report.md'}")
    return out
