"""Held-out reference states: the test years of the data a model was trained on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from seaice_ldm.checkpoints.format import read_meta
from seaice_ldm.data import grid_from_dataset, land_of, make_dataset, split_by_year, write_dataset
from seaice_ldm.data.source import DataConfig, load_source


def data_config(meta: dict[str, Any]) -> DataConfig:
    """The data configuration a checkpoint was trained with."""
    values = meta["config"]["data"]
    return DataConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def held_out(meta: dict[str, Any]) -> dict[str, xr.Dataset]:
    """The "train", "val" and "test" years of the data a checkpoint was trained on (re-synthesised or
    re-opened)."""
    cfg = data_config(meta)
    return split_by_year(load_source(cfg), val_years=cfg.val_years, test_years=cfg.test_years)


def pipeline_splits(pipe) -> dict[str, xr.Dataset]:
    """The splits of the data a pipeline's models were trained on (all its models share one data set)."""
    return held_out(next(iter(pipe.generators.values())).diffusion.meta)


def evenly(ds: xr.Dataset, n: int) -> xr.Dataset:
    """``n`` states spread evenly over the record (all seasons)."""
    index = np.unique(np.linspace(0, ds.sizes["time"] - 1, min(n, ds.sizes["time"])).round().astype(int))
    return ds.isel(time=index)


#: states of every year in the pooled multi-year reference of small-scale power (report and probes alike)
POOLED_STATES_PER_YEAR = 32


def scoring_states(pipe, test_states: int) -> tuple[dict[str, xr.Dataset], xr.Dataset, dict[int, xr.Dataset]]:
    """What a pipeline is scored against: its data's splits, ``test_states`` held-out states spread over the test
    years (loaded) and the pooled reference, :data:`POOLED_STATES_PER_YEAR` states of every year (loaded)."""
    splits = pipeline_splits(pipe)
    ref = evenly(splits["test"], test_states).load()
    everything = xr.concat([splits[k] for k in ("train", "val", "test")], dim="time")
    years = {int(y): evenly(everything.sel(time=str(y)), POOLED_STATES_PER_YEAR).load()
             for y in np.unique(everything.time.dt.year)}
    return splits, ref, years


def write_reference(checkpoint: str | Path, out: str | Path, states: int = 48, overwrite: bool = False) -> xr.Dataset:
    """Ship ``states`` test-year states (spread over the first test year) for the dashboard (``overwrite``: replace
    a file at ``out`` that seaice-ldm did not write)."""
    if states < 1:
        raise ValueError(f"--states must be at least 1, got {states}")
    test = held_out(read_meta(checkpoint))["test"]
    first_year = int(test.time.dt.year.min())
    picked = evenly(test.sel(time=str(first_year)), states).load()
    comment = (picked.attrs.get("comment", "") + f" Held-out test year {first_year}, {picked.sizes['time']} "
               "states spread over the year (values rounded to 1e-3).").strip()
    # 1e-3 resolution is far below what the maps show, and compresses well
    ref = make_dataset({name: picked[name].round(3) for name in picked.data_vars}, grid_from_dataset(picked),
                       time=picked["time"].values, land=land_of(picked), attrs={**picked.attrs, "comment": comment})
    write_dataset(ref, out, overwrite=overwrite)
    return ref
