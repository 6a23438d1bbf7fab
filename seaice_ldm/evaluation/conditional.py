"""Date-conditioned ensembles scored against the state of their date (beyond the paper's unconditional test).

For each held-out test date, an ensemble sampled for that day of the year is a probabilistic forecast of
that date's state without any knowledge of the year: it should be as sharp as the season allows and
calibrated. Measured per generator: the fair CRPS against the date's state, the spread/skill ratio
(1 = calibrated; < 1 overconfident), a rank histogram of sea-ice extent (flat = calibrated), the
ensemble-mean extent beside the date's extent month by month, and the MIZ of every member paired with the
date's state (:mod:`.miz`), summarised per season with intervals over dates. Two real years on the same
calendar dates give the yardstick: what the reference itself differs by from year to year.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import xarray as xr

from seaice_ldm.data.dims import sample_dim
from seaice_ldm.data.variables import EXTENT_THRESHOLD
from seaice_ldm.evaluation.metrics import common_names, ice_integrals, ocean_fields, ocean_mask
from seaice_ldm.evaluation.miz import paired_miz
from seaice_ldm.evaluation.scores import ensemble_crps
from seaice_ldm.evaluation.uncertainty import mean_estimate, paired_difference

#: meteorological seasons by month
SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM", 6: "JJA", 7: "JJA", 8: "JJA",
           9: "SON", 10: "SON", 11: "SON"}
MIZ_KEYS = ("misclassified", "iiee", "miz_area_error", "miz_width_error")


def mid_month_dates(test: xr.Dataset, day: int = 15) -> list[str]:
    """The ``day``-th of every month present in ``test`` (ISO strings), in time order."""
    times = pd.DatetimeIndex(test["time"].values)
    return [t.strftime("%Y-%m-%d") for t in times[times.day == day]]


def spread_and_error(ens: xr.Dataset, truth: xr.Dataset, name: str) -> tuple[float, float]:
    """Area-weighted mean ensemble variance (ddof 1) and squared error of the ensemble mean over ocean cells.

    ``ens`` ``(member, y, x)``, ``truth`` one state ``(y, x)`` or ``(time=1, y, x)``.
    """
    mask = ocean_mask(ens[name]) & ocean_mask(truth[name])
    x = ocean_fields(ens[name], mask).astype(np.float64)
    y = ocean_fields(truth[name], mask).astype(np.float64)[0]
    w = ens["cell_area"].transpose("y", "x").values[mask] if "cell_area" in ens.coords else None
    variance = np.average(x.var(axis=0, ddof=1), weights=w)
    squared_error = np.average((x.mean(axis=0) - y) ** 2, weights=w)
    return float(variance), float(squared_error)


def spread_skill_ratio(variances: list[float], squared_errors: list[float], members: int) -> float:
    """Spread/skill ratio over many forecasts with a finite ensemble (Fortin et al. 2014):
    ``sqrt((M + 1) / M * mean variance) / sqrt(mean squared error of the mean)``, 1 when calibrated."""
    # SSR = sqrt((M+1)/M) * sqrt(mean s^2) / RMSE
    return float(np.sqrt((members + 1) / members * np.mean(variances)) / np.sqrt(np.mean(squared_errors)))


def rank_of(value: float, members: np.ndarray, rng: np.random.Generator) -> int:
    """Rank 0..M of ``value`` among the ``members`` (ties broken at random, so the histogram stays fair)."""
    below = int(np.sum(members < value))
    ties = int(np.sum(members == value))
    return below + int(rng.integers(0, ties + 1))


def miz_of_members(ens: xr.Dataset, truth: xr.Dataset) -> dict[str, float]:
    """The members' MIZ against one date's state, averaged over members: misclassified share of the state's
    MIZ cells, IIEE (1e6 km²), MIZ area error (1e6 km²) and MIZ width error (km)."""
    members = ens.sizes[sample_dim(ens)]
    repeated = truth.isel(time=np.zeros(members, dtype=int))
    pairs = paired_miz(repeated, ens)
    area_gen, area_ref = ice_integrals(ens)["miz_area"].values, float(ice_integrals(truth)["miz_area"][0])
    return {"misclassified": float(pairs["misclassified"].sum() / max(pairs["miz_cells"].sum(), 1.0)),
            "iiee": float(pairs["iiee"].mean()),
            "miz_area_error": float(area_gen.mean() - area_ref),
            "miz_width_error": float(np.nanmean(pairs["width_pred"] - pairs["width_true"]))}


def _score_one(ens: xr.Dataset, truth: xr.Dataset, date: str, rng: np.random.Generator) -> dict[str, Any]:
    truth_extent = float(ice_integrals(truth)["extent"][0])
    extents = ice_integrals(ens)["extent"].values
    names = common_names(ens, truth)
    return {"date": date, "crps": ensemble_crps(ens, truth, names=names),
            "extent": float(extents.mean()), "extent_spread": float(extents.std(ddof=1)),
            "extent_reference": truth_extent, "extent_rank": rank_of(truth_extent, extents, rng),
            "miz": miz_of_members(ens, truth),
            "open_water_north": float(open_water_north(ens).mean()),
            "open_water_north_reference": float(open_water_north(truth)[0]),
            "moments": {v: spread_and_error(ens, truth, v) for v in names}}


NORTH_OF = 84.0  # degrees north: no held-out state has open water there


def open_water_north(ds: xr.Dataset, latitude: float = NORTH_OF) -> np.ndarray:
    """Per state: whether any ocean cell north of ``latitude`` is open water (sic <= 0.15), 1.0 or 0.0."""
    north = (ds["lat"] > latitude).values
    sic = ds["sic"].transpose(..., "y", "x").values[..., north]
    with np.errstate(invalid="ignore"):
        return np.any(np.isfinite(sic) & (sic <= EXTENT_THRESHOLD), axis=-1).astype(float)


def _summarise_rows(items: list[dict[str, Any]], members: int) -> dict[str, Any]:
    names = list(items[0]["crps"])
    months: dict[int, list[tuple[float, float]]] = {}
    for r in items:
        months.setdefault(int(r["date"][5:7]), []).append((r["extent"], r["extent_reference"]))
    years = sorted({r["date"][:4] for r in items})
    return {
        "dates": [{k: v for k, v in r.items() if k != "moments"} for r in items],
        "crps": {v: float(np.mean([r["crps"][v] for r in items])) for v in names},
        "spread_skill": _spread_skill(items, names, members),
        "spread_skill_by_year": {y: _spread_skill([r for r in items if r["date"][:4] == y], names, members)
                                 for y in years},
        "rank_histogram_by_year": {y: np.bincount([r["extent_rank"] for r in items if r["date"][:4] == y],
                                                  minlength=members + 1).tolist() for y in years},
        "open_water_north_by_month": _north_by_month(items),
        "rank_histogram": np.bincount([r["extent_rank"] for r in items], minlength=members + 1).tolist(),
        "monthly_extent": {m: [float(np.mean([a for a, _ in p])), float(np.mean([b for _, b in p]))]
                           for m, p in sorted(months.items())},
        "extent_abs_error": float(np.mean([abs(r["extent"] - r["extent_reference"]) for r in items])),
        "miz_by_season": miz_by_season([r["date"] for r in items], [r["miz"] for r in items]),
    }


def _north_by_month(items: list[dict[str, Any]]) -> dict[int, list[float]]:
    """Month -> [share of members, share of reference states] with open water north of :data:`NORTH_OF`."""
    out: dict[int, list[list[float]]] = {}
    for r in items:
        pair = out.setdefault(int(r["date"][5:7]), [[], []])
        pair[0].append(r["open_water_north"])
        pair[1].append(r["open_water_north_reference"])
    return {m: [float(np.mean(a)), float(np.mean(b))] for m, (a, b) in sorted(out.items())}


def _spread_skill(items: list[dict[str, Any]], names: list[str], members: int) -> dict[str, float]:
    return {v: spread_skill_ratio([r["moments"][v][0] for r in items], [r["moments"][v][1] for r in items], members)
            for v in names}


def score_dates(sample: Callable[[str, int], dict[str, xr.Dataset]], test: xr.Dataset, dates: list[str],
                members: int, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score date-conditioned ensembles of every generator against the state of each date.

    ``sample(date, index)`` returns ``{generator name: ensemble (member, y, x)}`` for that date.
    Returns, per generator: ``dates`` rows (date, CRPS per variable, ensemble-mean and reference extent,
    extent rank, the members' MIZ against the date's state), ``crps`` (mean per variable), ``spread_skill``
    (per variable), ``rank_histogram`` of extent (M + 1 counts), ``monthly_extent`` (month -> [ensemble mean,
    reference]) and ``miz_by_season`` (:func:`miz_by_season`).
    """
    rng = np.random.default_rng(0)
    rows: dict[str, list[dict[str, Any]]] = {}
    for i, date in enumerate(dates):
        if progress is not None:
            progress(date)
        truth = test.sel(time=[np.datetime64(date, "ns")])
        for name, ens in sample(date, i).items():
            rows.setdefault(name, []).append(_score_one(ens, truth, date, rng))
    return {name: _summarise_rows(items, members) for name, items in rows.items()}


def season_of(date: str) -> str:
    return SEASONS[int(date[5:7])]


def miz_by_season(dates: list[str], miz: list[dict[str, float]], seed: int = 0) -> dict[str, dict[str, dict]]:
    """Per season and over all dates: the mean of each MIZ measure over dates, with its interval over dates."""
    seasons = np.array([season_of(d) for d in dates])
    out = {}
    for season in ("all", "DJF", "MAM", "JJA", "SON"):
        chosen = np.ones(len(dates), bool) if season == "all" else seasons == season
        if chosen.sum() == 0:
            continue
        out[season] = {k: mean_estimate(np.array([m[k] for m in miz])[chosen], seed=seed).to_dict()
                       for k in MIZ_KEYS}
        out[season]["dates"] = int(chosen.sum())
    return out


def paired_by_date(rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]], key: str = "misclassified",
                   seed: int = 0) -> dict[str, float]:
    """Mean over dates of generator a's MIZ measure ``key`` minus b's on the same dates, with its interval."""
    b = {r["date"]: r["miz"][key] for r in rows_b}
    pairs = [(r["miz"][key], b[r["date"]]) for r in rows_a if r["date"] in b]
    a_values, b_values = (np.array(v) for v in zip(*pairs))
    return paired_difference(a_values, b_values, seed=seed).to_dict()


def year_to_year(test: xr.Dataset, dates: list[str], seed: int = 0) -> dict[str, Any]:
    """The reference against itself: each date of the first test year paired with the same calendar date of
    the next, scored like a one-member ensemble (MIZ measures, absolute MIZ area difference), with intervals
    over the pairs: the size of a difference that the years alone make."""
    first = [d for d in dates if d[:4] == dates[0][:4]]
    rows = []
    for date in first:
        other = f"{int(date[:4]) + 1}{date[4:]}"
        if np.datetime64(other, "ns") not in test["time"].values:
            continue
        a, b = (test.sel(time=[np.datetime64(d, "ns")]) for d in (date, other))
        rows.append({**miz_of_members(b.rename({"time": "member"}), a), "date": date, "other": other})
    if not rows:
        return {}
    return {"pairs": len(rows), "years": [rows[0]["date"][:4], rows[0]["other"][:4]],
            **{k: mean_estimate(np.abs([r[k] for r in rows]) if k.endswith("error") else
                                np.array([r[k] for r in rows]), seed=seed).to_dict() for k in MIZ_KEYS}}


def spread_by_steps(sample: Callable[[int], xr.Dataset], steps: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """Ensemble spread for each number of sampler steps (same seed): the extent's standard deviation over
    members and the area-weighted mean per-cell standard deviation of each variable."""
    out = {}
    for n in steps:
        ens = sample(n)
        row = {"extent_std": float(ice_integrals(ens)["extent"].std(ddof=1))}
        for var in common_names(ens):
            mask = ocean_mask(ens[var])
            x = ocean_fields(ens[var], mask).astype(np.float64)
            w = ens["cell_area"].transpose("y", "x").values[mask] if "cell_area" in ens.coords else None
            row[f"{var}_cell_std"] = float(np.average(x.std(axis=0, ddof=1), weights=w))
        out[n] = row
    return out
