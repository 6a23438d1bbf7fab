"""From a data configuration to normalised training tensors (split by year, stats on train only)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from seaice_ldm.data import (
    VARIABLE_NAMES,
    NormStats,
    compute_norm_stats,
    dataset_years,
    describe_split,
    grid_from_dataset,
    normalise,
    split_by_year,
    to_arrays,
)
from seaice_ldm.data.source import ConfigError, DataConfig, load_source
from seaice_ldm.training.loop import TrainingData


def describe(prepared: "PreparedData", cfg: DataConfig) -> str:
    """What a run trains on: the data, grid, variables and how the years were split (printed before training)."""
    grid, data = prepared.grid, prepared.description
    return "\n".join([
        f"data: {data['source']}" + (" (SYNTHETIC)" if data.get("synthetic") == "yes" else ""),
        f"grid: {grid['name']}, {grid['ny']} x {grid['nx']} cells of {grid['dx'] / 1000:g} km, {grid['crs'][:60]}",
        f"variables: {', '.join(prepared.stats.names)}",
        describe_split(data["years"], data["states"], cfg.val_years, cfg.test_years),
    ])


@dataclass
class PreparedData:
    data: TrainingData
    stats: NormStats
    grid: dict[str, Any]
    description: dict[str, Any]
    test: xr.Dataset


def to_tensor(ds: xr.Dataset, names: tuple[str, ...], stats: NormStats) -> tuple[torch.Tensor, np.ndarray]:
    """Normalised ``(T, C, H, W)`` float32 tensor with land set to 0, and the ocean mask."""
    x, ocean = to_arrays(ds, names)
    x = normalise(x, stats, ocean)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), ocean


def day_of_year(ds: xr.Dataset) -> torch.Tensor:
    """0-based day of the year of every state ``(T,)`` float32 (the date condition)."""
    return torch.from_numpy((ds["time"].dt.dayofyear.values - 1).astype(np.float32))


def prepare(cfg: DataConfig, stats: NormStats | None = None) -> PreparedData:
    """Load, split by year, compute normalisation on the training years (unless given), tensorise.

    ``cfg.variables`` left unset becomes the VAE's variables (``stats``), else every variable the data hold."""
    if cfg.variables is None and stats is not None:
        cfg.variables = tuple(stats.names)
    if stats is not None and tuple(stats.names) != tuple(cfg.variables):
        raise ConfigError(f"[data] variables {list(cfg.variables)} differ from those of the VAE {list(stats.names)} "
                          "(names and order must match)")
    ds = load_source(cfg)
    cfg.variables = names = tuple(cfg.variables or (n for n in VARIABLE_NAMES if n in ds.data_vars))
    splits = split_by_year(ds, val_years=cfg.val_years, test_years=cfg.test_years)
    stats = stats or compute_norm_stats(splits["train"], names)
    train, ocean = to_tensor(splits["train"], names, stats)
    val, _ = to_tensor(splits["val"], names, stats)
    mask = torch.from_numpy(ocean.astype(np.float32))[None, None]
    description = {
        "source": cfg.path or "embedded synthetic data set (seaice_ldm.data.synthesize)",
        "title": ds.attrs.get("title", ""),
        "synthetic": ds.attrs.get("synthetic", "no"),
        "seed": cfg.seed if not cfg.path else None,
        "years": {name: dataset_years(split) for name, split in splits.items()},
        "states": {name: int(split.sizes["time"]) for name, split in splits.items()},
    }
    grid = dataclasses.asdict(grid_from_dataset(ds))
    data = TrainingData(train, val, mask, day_of_year(splits["train"]), day_of_year(splits["val"]))
    return PreparedData(data, stats, grid, description, splits["test"])
