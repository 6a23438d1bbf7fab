"""Train / validation / test splits by calendar year.

Whole years keep the days of one season together: daily states are strongly autocorrelated, so a random
split of days would leak near-copies of test states into training.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import xarray as xr

from .variables import DataError


def dataset_years(ds: xr.Dataset) -> list[int]:
    """The calendar years present in ``ds``, sorted."""
    return sorted(int(y) for y in np.unique(ds["time"].dt.year.values))


def split_by_year(ds: xr.Dataset, val_years: int = 1, test_years: int = 2) -> dict[str, xr.Dataset]:
    """Split by calendar year: the LAST ``test_years`` years are the test set, the ``val_years`` years
    before them the validation set, all earlier years the training set (at least one).

    Holding out the most recent years tests extrapolation along the trend, as a forecast would.
    """
    if val_years < 0 or test_years < 0:
        raise ValueError("val_years and test_years must not be negative")
    years = dataset_years(ds)
    n_train = len(years) - val_years - test_years
    if n_train < 1:
        raise DataError(
            f"the data set has {len(years)} years ({years[0]}-{years[-1]}); {val_years} validation + "
            f"{test_years} test years leave no training year"
        )
    return split_years(
        ds, train=years[:n_train], val=years[n_train:n_train + val_years], test=years[n_train + val_years:]
    )


def split_years(
    ds: xr.Dataset, train: Iterable[int], val: Iterable[int] = (), test: Iterable[int] = ()
) -> dict[str, xr.Dataset]:
    """Split by explicit year lists; the lists must be disjoint and every year present in ``ds``."""
    splits = {"train": [int(y) for y in train], "val": [int(y) for y in val], "test": [int(y) for y in test]}
    if not splits["train"]:
        raise DataError("the training split needs at least one year")
    present = set(dataset_years(ds))
    seen: dict[int, str] = {}
    for name, years in splits.items():
        for year in years:
            if year not in present:
                raise DataError(f"{name} year {year} is not in the data set (years: {sorted(present)})")
            if year in seen:
                raise DataError(f"year {year} is in both the {seen[year]} and the {name} split")
            seen[year] = name
    year_of_state = ds["time"].dt.year
    return {name: ds.isel(time=np.flatnonzero(year_of_state.isin(years).values)) for name, years in splits.items()}


def describe_split(years: dict[str, list[int]], states: dict[str, int], val_years: int, test_years: int) -> str:
    """How the record fell into train / validation / test years (printed before training), with a warning
    when few training years are left."""
    def span(ys: list[int]) -> str:
        return "none" if not ys else str(ys[0]) if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"

    total = sum(len(ys) for ys in years.values())
    lines = [f"split by calendar year ({total} years in the data; the last {test_years} for testing, the "
             f"{val_years} before them for validation): " + ", ".join(
                 f"{name} {span(years[name])} ({states[name]} states)" for name in ("train", "val", "test"))]
    if len(years["train"]) < max(2, len(years["val"]) + len(years["test"])):
        lines.append(f"warning: only {len(years['train'])} of the {total} years are left for training; hold out "
                     "fewer years ([data] val_years / test_years, --val-years / --test-years) or give a longer record")
    return "\n".join(lines)
