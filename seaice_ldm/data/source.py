"""Where a model's states come from: the ``[data]`` table of a training config, and the data set it names.

A checkpoint stores this table, so the evaluation re-creates the very test years a model was trained
without (the files re-opened, or the synthetic data set re-synthesised from its seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import xarray as xr

from .grid import DEFAULT_GRID
from .opening import open_dataset
from .synthetic import synthesize
from .variables import VARIABLE_NAMES, canonical_name

#: ``[data]`` keys that describe the embedded synthetic data set, and their values when no file is given
SYNTHETIC_ONLY = {"years": 10, "grid": DEFAULT_GRID, "seed": 0}


class ConfigError(ValueError):
    """A configuration file that cannot be used as written."""


@dataclass
class DataConfig:
    """Where the training states come from and how they are split by year."""

    path: str = ""  # netCDF/zarr file(s); empty = synthesize the embedded default in memory
    variables: tuple[str, ...] | None = None  # None = every sea-ice variable the data hold
    years: int | None = None  # synthetic data only (default 10)
    grid: str | None = None  # synthetic data only (default arctic50km)
    seed: int | None = None  # synthetic data only (default 0)
    val_years: int = 1  # the last val_years before the test years
    test_years: int = 2  # the last test_years of the record

    def __post_init__(self):
        if self.variables is not None:
            if isinstance(self.variables, str):
                self.variables = (self.variables,)
            unknown = [v for v in self.variables if canonical_name(v) is None]
            if unknown:
                raise ConfigError(f"[data] variables: unknown {unknown}; known: {list(VARIABLE_NAMES)}")
            self.variables = tuple(canonical_name(v) for v in self.variables)
            if len(set(self.variables)) != len(self.variables) or not self.variables:
                raise ConfigError(f"[data] variables: empty or repeated names in {list(self.variables)}")
        given = [k for k in SYNTHETIC_ONLY if getattr(self, k) is not None]
        if self.path and given:
            raise ConfigError(
                f"[data] {', '.join(given)} describe the embedded synthetic data set and have no meaning with "
                f"path = {self.path!r} (the file's own grid and years are used); remove "
                f"{'them' if len(given) > 1 else 'it'} from the config")
        if not self.path:  # the synthetic data set: its recipe is recorded in full
            for key, default in SYNTHETIC_ONLY.items():
                if getattr(self, key) is None:
                    setattr(self, key, default)
        for key in ("val_years", "test_years"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"[data] {key} must be an integer >= 0, got {value!r}")

    @classmethod
    def from_record(cls, values: Mapping[str, Any]) -> "DataConfig":
        """The ``[data]`` table a checkpoint recorded; records of versions before 0.2 hold the synthetic-only
        defaults beside a path, which are dropped (they were never used)."""
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        if values.get("path"):
            values = {k: v for k, v in values.items() if k not in SYNTHETIC_ONLY}
        return cls(**values)


def load_source(cfg: DataConfig) -> xr.Dataset:
    """The configured files, or the embedded synthetic data set when no path is given."""
    if cfg.path:
        return open_dataset(cfg.path, variables=cfg.variables)
    ds = synthesize(years=cfg.years, grid=cfg.grid, seed=cfg.seed)
    return ds if cfg.variables is None else ds[list(cfg.variables)]
