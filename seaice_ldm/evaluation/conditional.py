"""Date-conditioned ensembles scored against the state of their date (beyond the paper's unconditional test).

For each held-out test date, an ensemble sampled for that day of the year is a probabilistic forecast of
that date's state without any knowledge of the year: it should be as sharp as the season allows and
calibrated. Measured per generator: the fair CRPS against the date's state, the spread/skill ratio
(1 = calibrated; < 1 overconfident), a rank histogram of sea-ice extent (flat = calibrated), and the
ensemble-mean extent beside the date's extent month by month.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd
import xarray as xr

from seaice_ldm.data.variables import VARIABLE_NAMES
from seaice_ldm.evaluation.metrics import ice_integrals, ocean_fields, ocean_mask
from seaice_ldm.evaluation.scores import ensemble_crps


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


def score_dates(sample: Callable[[str, int], dict[str, xr.Dataset]], test: xr.Dataset, dates: list[str],
                members: int, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score date-conditioned ensembles of every generator against the state of each date.

    ``sample(date, index)`` returns ``{generator name: ensemble (member, y, x)}`` for that date.
    Returns, per generator: ``dates`` rows (date, CRPS per variable, ensemble-mean and reference extent,
    extent rank), ``crps`` (mean per variable), ``spread_skill`` (per variable), ``rank_histogram`` of
    extent (M + 1 counts) and ``monthly_extent`` (month -> [ensemble mean, reference]).
    """
    rng = np.random.default_rng(0)
    rows: dict[str, list[dict[str, Any]]] = {}
    moments: dict[str, dict[str, tuple[list, list]]] = {}
    for i, date in enumerate(dates):
        if progress is not None:
            progress(date)
        truth = test.sel(time=[np.datetime64(date, "ns")])
        truth_extent = float(ice_integrals(truth)["extent"][0])
        for name, ens in sample(date, i).items():
            extents = ice_integrals(ens)["extent"].values
            rows.setdefault(name, []).append({
                "date": date,
                "crps": ensemble_crps(ens, truth, names=VARIABLE_NAMES),
                "extent": float(extents.mean()), "extent_spread": float(extents.std(ddof=1)),
                "extent_reference": truth_extent,
                "extent_rank": rank_of(truth_extent, extents, rng),
            })
            for var in VARIABLE_NAMES:
                v, e = spread_and_error(ens, truth, var)
                pair = moments.setdefault(name, {}).setdefault(var, ([], []))
                pair[0].append(v)
                pair[1].append(e)
    out = {}
    for name, items in rows.items():
        months: dict[int, list[tuple[float, float]]] = {}
        for r in items:
            months.setdefault(int(r["date"][5:7]), []).append((r["extent"], r["extent_reference"]))
        out[name] = {
            "dates": items,
            "crps": {v: float(np.mean([r["crps"][v] for r in items])) for v in VARIABLE_NAMES},
            "spread_skill": {v: spread_skill_ratio(*moments[name][v], members) for v in VARIABLE_NAMES},
            "rank_histogram": np.bincount([r["extent_rank"] for r in items], minlength=members + 1).tolist(),
            "monthly_extent": {m: [float(np.mean([a for a, _ in p])), float(np.mean([b for _, b in p]))]
                               for m, p in sorted(months.items())},
            "extent_abs_error": float(np.mean([abs(r["extent"] - r["extent_reference"]) for r in items])),
        }
    return out


def spread_by_steps(sample: Callable[[int], xr.Dataset], steps: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """Ensemble spread for each number of sampler steps (same seed): the extent's standard deviation over
    members and the area-weighted mean per-cell standard deviation of each variable."""
    out = {}
    for n in steps:
        ens = sample(n)
        row = {"extent_std": float(ice_integrals(ens)["extent"].std(ddof=1))}
        for var in VARIABLE_NAMES:
            mask = ocean_mask(ens[var])
            x = ocean_fields(ens[var], mask).astype(np.float64)
            w = ens["cell_area"].transpose("y", "x").values[mask] if "cell_area" in ens.coords else None
            row[f"{var}_cell_std"] = float(np.average(x.std(axis=0, ddof=1), weights=w))
        out[n] = row
    return out
