"""Linear per-variable normalisation ``z = (v - mean) / std``, statistics over ocean cells of the training split.

Being linear and monotone, it maps physical bounds to normalised bounds, so censoring in normalised
space equals censoring in physical space (docs/DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from .land import land_of
from .variables import VARIABLE_NAMES, DataError, bounds_array


@dataclass(frozen=True)
class NormStats:
    """Mean and standard deviation per variable, in the order of ``names``."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self):
        if not len(self.names) == len(self.mean) == len(self.std):
            raise DataError("norm_stats: names, mean and std must have the same length")
        unknown = [n for n in self.names if n not in VARIABLE_NAMES]
        if unknown or len(set(self.names)) != len(self.names):
            raise DataError(f"norm_stats.names {list(self.names)}: unknown or repeated variable names")
        for i, name in enumerate(self.names):  # a zero, negative or NaN std makes every sample NaN or inf
            if not np.isfinite(self.mean[i]):
                raise DataError(f"norm_stats.mean[{i}] ({name}) must be finite, got {self.mean[i]!r}")
            if not (np.isfinite(self.std[i]) and self.std[i] > 0):
                raise DataError(f"norm_stats.std[{i}] ({name}) must be finite and positive, got {self.std[i]!r}")

    def to_dict(self) -> dict[str, list]:
        """JSON-friendly form."""
        return {"names": list(self.names), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "NormStats":
        """From :meth:`to_dict` (e.g. a checkpoint's config.json); errors name the key."""
        try:
            return cls(tuple(d["names"]), tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))
        except KeyError as err:
            raise DataError(f"norm_stats: key {err} is missing") from None
        except (TypeError, ValueError) as err:
            if isinstance(err, DataError):
                raise
            raise DataError(f"norm_stats: names, mean and std must be lists of names and numbers ({err})") from None


def compute_norm_stats(ds: xr.Dataset, names: Sequence[str] = VARIABLE_NAMES) -> NormStats:
    """Mean and (population) std of each variable over the ocean cells of ``ds`` (pass the training split
    only); float64 accumulation; works on numpy- and dask-backed Datasets."""
    ocean = xr.DataArray(~land_of(ds), dims=("y", "x"))
    reductions = {}
    for name in names:
        da = ds[name].astype(np.float64).where(ocean)
        reductions[f"{name}/mean"] = da.mean()
        reductions[f"{name}/std"] = da.std()
    r = xr.Dataset(reductions).compute()
    mean = tuple(float(r[f"{n}/mean"]) for n in names)
    std = tuple(float(r[f"{n}/std"]) for n in names)
    bad = [n for n, s in zip(names, std) if not np.isfinite(s) or s == 0]
    if bad:
        raise DataError(f"variables {bad} are constant (or empty) over ocean cells: cannot normalise them")
    return NormStats(tuple(names), mean, std)


def _per_channel(values: Sequence[float], dtype) -> np.ndarray:
    """``(C, 1, 1)`` array that broadcasts against ``(..., C, H, W)``."""
    return np.asarray(values, dtype=dtype)[:, None, None]


def _check_channels(array: np.ndarray, stats: NormStats) -> np.dtype:
    if array.ndim < 3 or array.shape[-3] != len(stats.names):
        raise ValueError(f"array of shape {array.shape} does not have {len(stats.names)} channels at axis -3")
    return array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float32)


def same_normalisation(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Two :meth:`NormStats.to_dict` records: the same variables, normalised alike (to float rounding: the stats
    are sums over many states, and a sum in another order differs in the 9th digit)."""
    return list(a["names"]) == list(b["names"]) and all(
        np.allclose(a[k], b[k], rtol=1e-6, atol=0) for k in ("mean", "std"))


def normalise(array: np.ndarray, stats: NormStats, ocean: np.ndarray | None = None) -> np.ndarray:
    """``(array - mean) / std`` per channel of ``(..., C, H, W)``; land set to 0 when ``ocean`` is given."""
    array = np.asarray(array)
    dtype = _check_channels(array, stats)
    out = (array - _per_channel(stats.mean, dtype)) / _per_channel(stats.std, dtype)
    if ocean is not None:
        out[..., ~np.asarray(ocean, dtype=bool)] = 0.0
    return out


def denormalise(array: np.ndarray, stats: NormStats) -> np.ndarray:
    """Inverse of :func:`normalise`: ``array * std + mean`` per channel of ``(..., C, H, W)``."""
    array = np.asarray(array)
    dtype = _check_channels(array, stats)
    return array * _per_channel(stats.std, dtype) + _per_channel(stats.mean, dtype)


def normalised_bounds(stats: NormStats) -> tuple[np.ndarray, np.ndarray]:
    """Physical bounds in normalised units, float32 ``(C,)`` each; -inf/+inf stay infinite."""
    lower, upper = bounds_array(stats.names)
    # the same float32 arithmetic as normalise(), so a value exactly at a bound is exactly at it here too
    with np.errstate(invalid="ignore"):
        return tuple(normalise(b.astype(np.float32)[:, None, None], stats)[:, 0, 0] for b in (lower, upper))
