"""Where a model's states come from: the ``[data]`` table of a training config, and the data set it names.

A checkpoint stores this table, so the evaluation re-creates the very test years a model was trained
without (the files re-opened, or the synthetic data set re-synthesised from its seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from .grid import DEFAULT_GRID
from .opening import open_dataset
from .synthetic import synthesize
from .variables import VARIABLE_NAMES, canonical_name


class ConfigError(ValueError):
    """A configuration file that cannot be used as written."""


@dataclass
class DataConfig:
    """Where the training states come from and how they are split by year."""

    path: str = ""  # netCDF/zarr file(s); empty = synthesize the embedded default in memory
    variables: tuple[str, ...] = VARIABLE_NAMES
    years: int = 10  # synthetic data only
    grid: str = DEFAULT_GRID  # synthetic data only
    seed: int = 0  # synthetic data only
    val_years: int = 1  # the last val_years before the test years
    test_years: int = 2  # the last test_years of the record

    def __post_init__(self):
        unknown = [v for v in self.variables if canonical_name(v) is None]
        if unknown:
            raise ConfigError(f"[data] variables: unknown {unknown}; known: {list(VARIABLE_NAMES)}")
        self.variables = tuple(canonical_name(v) for v in self.variables)
        if len(set(self.variables)) != len(self.variables):
            raise ConfigError(f"[data] variables: repeated names in {list(self.variables)}")


def load_source(cfg: DataConfig) -> xr.Dataset:
    """The configured files, or the embedded synthetic data set when no path is given."""
    if cfg.path:
        return open_dataset(cfg.path, variables=tuple(cfg.variables))
    return synthesize(years=cfg.years, grid=cfg.grid, seed=cfg.seed)
