"""The seasonal cycle of the ice cover: extent, MIZ area and MIZ width per month, for samples and reference states.

- :func:`mid_month_dates`: the 15th of each month of a year, the dates a date-conditioned model is sampled
  for to trace its cycle;
- :func:`state_numbers`: extent, MIZ area (10^6 km^2) and MIZ width (km) of each state ``(n, y, x)``;
- :func:`cycle_from_months`: per-month ensembles -> a cycle Dataset (:func:`cycle_from_numbers` from their
  per-state numbers);
- :func:`cycle_from_states`: dated states (e.g. held-out reference states) grouped by calendar month -> the
  same Dataset.

A cycle is an ``xarray.Dataset`` with dimension ``month`` (1-12) and, for each quantity ``q`` of
:data:`QUANTITIES`, ``q`` (mean), ``q_low`` and ``q_high`` (the 10 and 90 % quantiles over the states of the
month) and ``count`` (states per month). Months without states are NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from seaice_ldm.data.variables import EXTENT_THRESHOLD

from .edges import miz_area, miz_width

#: quantity -> (long name, units)
QUANTITIES: dict[str, tuple[str, str]] = {
    "extent": ("sea-ice extent (sic > 0.15)", "10^6 km^2"),
    "miz_area": ("marginal ice zone area (0.15 < sic < 0.8)", "10^6 km^2"),
    "miz_width": ("marginal ice zone width (MIZ area / ice-edge length)", "km"),
}
MONTHS = tuple(range(1, 13))
QUANTILES = (0.1, 0.9)


def mid_month_dates(year: int = 2008) -> list[str]:
    """ISO dates of the 15th of each month of ``year``."""
    return [f"{year:04d}-{m:02d}-15" for m in MONTHS]


def state_numbers(sic: np.ndarray, x: np.ndarray, y: np.ndarray, cell_area: np.ndarray) -> dict[str, np.ndarray]:
    """``{quantity: (n,)}`` for the states ``sic`` ``(n, y, x)``: extent and MIZ area in 10^6 km^2, MIZ width in km."""
    s = np.asarray(sic, dtype=np.float64).reshape(-1, *np.shape(sic)[-2:])
    a = np.asarray(cell_area, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        extent = np.array([a[np.isfinite(f) & (f > EXTENT_THRESHOLD)].sum() for f in s]) / 1e12
    return {"extent": extent,
            "miz_area": np.array([miz_area(f, a) for f in s]) / 1e12,
            "miz_width": np.array([miz_width(f, x, y, a) for f in s]) / 1e3}


def cycle_from_numbers(values_by_month: dict[int, dict[str, np.ndarray]]) -> xr.Dataset:
    """The cycle of per-state numbers ``{month: {quantity: values (n,)}}`` (e.g. :func:`state_numbers` of each
    month's states, kept from an earlier run)."""
    data: dict[str, tuple] = {}
    count = np.zeros(len(MONTHS), dtype=np.int64)
    for q, (long_name, units) in QUANTITIES.items():
        mean, low, high = (np.full(len(MONTHS), np.nan) for _ in range(3))
        for i, month in enumerate(MONTHS):
            v = np.asarray(values_by_month.get(month, {}).get(q, []), dtype=np.float64)
            v = v[np.isfinite(v)]
            if q == "extent":
                count[i] = len(np.asarray(values_by_month.get(month, {}).get(q, [])))
            if v.size:
                mean[i], (low[i], high[i]) = v.mean(), np.quantile(v, QUANTILES)
        attrs = {"long_name": long_name, "units": units}
        data[q] = ("month", mean, {**attrs, "cell_methods": "state: mean"})
        data[f"{q}_low"] = ("month", low, {**attrs, "cell_methods": f"state: quantile {QUANTILES[0]}"})
        data[f"{q}_high"] = ("month", high, {**attrs, "cell_methods": f"state: quantile {QUANTILES[1]}"})
    data["count"] = ("month", count, {"long_name": "states per month"})
    return xr.Dataset(data, coords={"month": ("month", np.array(MONTHS), {"long_name": "calendar month"})})


def cycle_from_months(states_by_month: dict[int, np.ndarray], x: np.ndarray, y: np.ndarray,
                      cell_area: np.ndarray) -> xr.Dataset:
    """The cycle of per-month ensembles ``{month: sic (n, y, x)}`` (months left out are NaN)."""
    return cycle_from_numbers({m: state_numbers(s, x, y, cell_area) for m, s in states_by_month.items()})


def cycle_from_states(sic: np.ndarray, times, x: np.ndarray, y: np.ndarray, cell_area: np.ndarray) -> xr.Dataset:
    """The cycle of dated states ``sic`` ``(t, y, x)``, grouped by the calendar month of ``times``."""
    months = pd.DatetimeIndex(np.asarray(times)).month
    numbers = state_numbers(sic, x, y, cell_area)
    return cycle_from_numbers({m: {q: v[months == m] for q, v in numbers.items()}
                               for m in MONTHS if (months == m).any()})


__all__ = ["MONTHS", "QUANTITIES", "cycle_from_months", "cycle_from_numbers", "cycle_from_states", "mid_month_dates",
           "state_numbers"]
