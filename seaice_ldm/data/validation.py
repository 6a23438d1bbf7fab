"""Whether a Dataset is canonical and physical: variables, dims, grid and CRS, time, and values (NaN in the
ocean, non-finite values, physical bounds, plausibility limits, units that the values contradict).

Every problem is named with its variable and, where a file says more than the values (its units), with what
the file wrote and the fix.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from .clipping import DEFAULT_TOLERANCE, check_tolerance
from .dims import SAMPLE_DIMS
from .fills import DECLARE, fill_hint
from .grid import Grid, crs_name, dataset_crs, get_grid, grid_from_dataset, same_crs
from .land import land_of
from .variables import (EXTENT_THRESHOLD, UNIT_FACTORS, VARIABLE_NAMES, VARIABLES, DataError, bounds_array,
                        canonical_name)

REGRID_HINT = "regrid the data to EPSG:3413 first (e.g. with xESMF, pyresample or cdo)"
PERCENT = 0.01  # the unit factor of a fraction given in percent
TOP_SHARE = 0.01  # the share of ice-covered values that must exceed a variable's ``least_top_percent``
LEAST_ICE_VALUES = 100  # fewer ice-covered values than this say nothing about the units


def select(available: tuple[str, ...], variables: Iterable[str] | None) -> tuple[str, ...]:
    """The requested variables (canonical names or aliases), or all available ones."""
    if variables is None:
        return available
    if isinstance(variables, str):
        variables = (variables,)
    requested = []
    for v in variables:
        name = canonical_name(v)
        if name is None:
            raise DataError(f"unknown variable '{v}' requested; known: {', '.join(VARIABLE_NAMES)}")
        requested.append(name)
    missing = [n for n in requested if n not in available]
    if missing:
        raise DataError(
            f"requested variables {missing} are missing from the data set (found: {', '.join(available)}); "
            f"ask for a subset of those (variables = {list(available)} in a config's [data] table, "
            f"--variables {','.join(available)} for train all) or add the missing ones to the file"
        )
    if not requested:
        raise DataError("no variables requested")
    return tuple(n for n in VARIABLE_NAMES if n in requested)


def check_dims(name: str, dims: tuple) -> None:
    if len(dims) != 3 or dims[0] not in SAMPLE_DIMS or tuple(dims[1:]) != ("y", "x"):
        raise DataError(
            f"variable '{name}' has dims {tuple(dims)}, expected ('time', 'y', 'x') "
            "(or ('member', 'y', 'x') for an ensemble)"
        )


def check_grid(ds: xr.Dataset, grid: Grid, where: str = "the data set") -> None:
    """Shape, x/y coordinates (to a thousandth of a cell) and CRS agree with ``grid``."""
    shape = (ds.sizes.get("y"), ds.sizes.get("x"))
    if shape != grid.shape:
        raise DataError(f"grid mismatch: {where} has (y, x) = {shape}, grid '{grid.name}' has {grid.shape}")
    for axis, expected in (("x", grid.x), ("y", grid.y)):
        if axis in ds.coords:
            err = np.max(np.abs(np.asarray(ds[axis].values, dtype=float) - expected))
            if err > 1e-3 * grid.dx:
                raise DataError(f"grid mismatch: coordinate '{axis}' of {where} differs from grid '{grid.name}' "
                                f"by up to {err:.6g} m")
    crs = dataset_crs(ds)
    if not same_crs(crs, grid.crs, grid.x, grid.y):
        raise DataError(f"CRS mismatch: {where} is on {crs.name} ({crs_name(crs, grid.x, grid.y)[:40]}), "
                        f"grid '{grid.name}' is on {grid.crs}; the same x/y would be other places on Earth: "
                        f"{REGRID_HINT}")


def check_time(time: np.ndarray, where: str = "the data set") -> None:
    values, counts = np.unique(time, return_counts=True)
    if (counts > 1).any():
        dup = values[counts > 1]
        raise DataError(f"{where} has duplicate time values: {', '.join(str(d)[:19] for d in dup[:5])} "
                        f"({dup.size} in all); give each state once")
    decreasing = ~(time[1:] > time[:-1])
    if decreasing.any():
        i = int(np.argmax(decreasing))
        raise DataError(f"{where}: time is not increasing: {time[i]} is followed by {time[i + 1]} (index {i + 1}); "
                        "sort the states by time")


def validate_dataset(
    ds: xr.Dataset,
    grid: Grid | str | None = None,
    variables: Iterable[str] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    where: str = "the data set",
    file_units: Mapping[str, tuple[str, float]] | None = None,
) -> None:
    """Raise :class:`DataError` naming every problem that keeps ``ds`` from being canonical and physical.

    Checks: known variables present (and the ``variables`` requested), dims, grid (``grid`` or a uniform
    x/y grid) and its CRS, strictly increasing time, no all-NaN fields, no NaN in ocean cells, no +/-inf,
    values within the physical bounds up to ``tolerance`` (negative thickness, concentration/damage outside
    [0, 1]) and within the plausibility limits of :class:`~.variables.Variable` (undeclared fill values),
    and, with ``file_units`` (``{name: (units written in the file, factor to canonical)}``), units that the
    values contradict: fractions labelled percent, and thickness or drift so small once converted (the
    thickest / fastest 1 % of the ice-covered values of the whole data set below the variable's
    ``least_top_percent``) that the values must be in larger units than the file says.
    """
    tolerance = check_tolerance(tolerance)
    present = tuple(n for n in VARIABLE_NAMES if n in ds.data_vars)
    names = present if variables is None else select(present, variables)
    if not names:
        raise DataError(
            f"no known sea-ice variable in the data set (found: {', '.join(map(str, ds.data_vars)) or 'none'}); "
            f"expected one of {', '.join(VARIABLE_NAMES)}"
        )
    for name in names:
        check_dims(name, ds[name].dims)
    check_grid(ds, grid_from_dataset(ds) if grid is None else get_grid(grid), where)
    if "time" in ds.dims:
        check_time(ds["time"].values, where)
    problems = _value_problems(ds, names, land_of(ds), tolerance, file_units or {})
    if problems:
        raise DataError(f"invalid data set {where}:\n  - " + "\n  - ".join(problems))


def _reductions(ds: xr.Dataset, names: Sequence[str], land: np.ndarray, tolerance: float,
                small: Sequence[str] = ()) -> dict[str, float]:
    """Every count and extreme the checks need, computed together (one graph when dask-backed); for the
    variables in ``small`` also the ice-covered values (sic above the extent threshold where the data set has
    sic, else nonzero values) and how many of them exceed the variable's ``least_top_percent``."""
    ocean = xr.DataArray(~land, dims=("y", "x"))
    lower, upper = bounds_array(names)
    reductions = {}
    for name, lo, hi in zip(names, lower, upper):
        da = ds[name]
        nan = da.isnull()
        finite = da.where(np.isfinite(da))
        low, high = VARIABLES[name].plausible
        reductions[f"{name}/all_nan"] = nan.all(("y", "x")).sum()
        reductions[f"{name}/nan_ocean"] = (nan & ocean).sum()
        reductions[f"{name}/inf"] = np.isinf(da).sum()
        reductions[f"{name}/min"] = finite.min()
        reductions[f"{name}/max"] = finite.max()
        reductions[f"{name}/below"] = (finite < (lo - tolerance if np.isfinite(lo) else low)).sum()
        reductions[f"{name}/above"] = (finite > (hi + tolerance if np.isfinite(hi) else high)).sum()
        if name in small:
            size = abs(finite)
            ice = (ds["sic"] > EXTENT_THRESHOLD) if "sic" in ds.data_vars else (size > 0)
            reductions[f"{name}/ice"] = (ice & size.notnull()).sum()
            reductions[f"{name}/ice_top"] = (ice & (size > VARIABLES[name].least_top_percent)).sum()
            reductions[f"{name}/ice_max"] = size.where(ice).max()
    return {k: v.item() for k, v in xr.Dataset(reductions).compute().data_vars.items()}


def _value_problems(ds: xr.Dataset, names: Sequence[str], land: np.ndarray, tolerance: float,
                    file_units: Mapping[str, tuple[str, float]]) -> list[str]:
    small = [n for n in names if n in file_units and VARIABLES[n].least_top_percent > 0]
    r = _reductions(ds, names, land, tolerance, small)
    lower, upper = bounds_array(names)
    problems = []
    for name, lo, hi in zip(names, lower, upper):
        var = VARIABLES[name]
        if r[f"{name}/all_nan"]:
            problems.append(f"variable '{name}' is all-NaN in {r[f'{name}/all_nan']} fields")
        elif r[f"{name}/nan_ocean"]:
            problems.append(f"variable '{name}' has {r[f'{name}/nan_ocean']} NaN values in ocean cells")
        if r[f"{name}/inf"]:
            problems.append(f"variable '{name}' ({var.long_name}) has {r[f'{name}/inf']} non-finite values "
                            "(+inf or -inf)")
        written, factor = file_units.get(name, (var.units, 1.0))
        for side, bound, worst in (("below", lo, "min"), ("above", hi, "max")):
            if r[f"{name}/{side}"]:
                problems.append(_bound_problem(name, side, bound, r[f"{name}/{side}"], r[f"{name}/{worst}"],
                                               tolerance, written, factor))
        if var.upper == 1.0 and factor == PERCENT and 0.0 < r[f"{name}/max"] <= PERCENT * (1 + 1e-6):
            problems.append(f"variable '{name}' ({var.long_name}) is labelled '{written}' but its largest value is "
                            f"{r[f'{name}/max'] / factor:.4g}: these are fractions, which would be read 100 times too "
                            "small; set its units attribute to '1'")
        if name in small and _too_small(r, name):
            problems.append(_small_problem(name, r, written, factor))
    return problems


def _too_small(r: Mapping[str, float], name: str) -> bool:
    """Enough ice-covered values, not all 0 (a model without drift is no units problem), and fewer than 1 % of
    them above the variable's ``least_top_percent``."""
    ice, top, biggest = r[f"{name}/ice"], r[f"{name}/ice_top"], r[f"{name}/ice_max"]
    return ice >= LEAST_ICE_VALUES and np.isfinite(biggest) and biggest > 0 and top < TOP_SHARE * ice


def _small_problem(name: str, r: Mapping[str, float], written: str, factor: float) -> str:
    """One line for values too small for their units, with the larger units that would make them plausible."""
    var = VARIABLES[name]
    floor, ice, top, biggest = var.least_top_percent, r[f"{name}/ice"], r[f"{name}/ice_top"], r[f"{name}/ice_max"]
    quantity = "thickness" if var.lower == 0.0 else "drift speed"
    as_written = f" ({biggest / factor:.4g} {written} in the file)" if factor != 1.0 else ""
    spelling: dict[float, str] = {}  # each factor under its first (usual) spelling, largest factor first
    for units, f in UNIT_FACTORS[name].items():
        spelling.setdefault(f, units)
    fits = [(f, u) for f, u in sorted(spelling.items(), reverse=True)
            if f > factor and floor <= biggest / factor * f <= var.plausible[1]]
    hint = (f", e.g. to '{fits[0][1]}' (the largest value would then be {biggest / factor * fits[0][0]:.4g} "
            f"{var.units})" if fits else "")
    return (f"variable '{name}' ({var.long_name}) is labelled '{written}', but once converted to {var.units} its "
            f"values are implausibly small: only {int(top)} of its {int(ice)} ice-covered values "
            f"({top / ice:.2%}) exceed {floor:g} {var.units}, the largest is {biggest:.4g} {var.units}{as_written}; "
            f"in real data the top 1 % of the ice {quantity} is above {floor:g} {var.units}. The values are in "
            f"larger units than '{written}': correct its units attribute{hint}")


def _bound_problem(name: str, side: str, bound: float, count: int, worst: float, tolerance: float,
                   written: str, factor: float) -> str:
    """One line for values beyond a physical bound or a plausibility limit, with what the worst one suggests."""
    var = VARIABLES[name]
    units = "" if var.units == "1" else f" {var.units}"
    as_written = f" ({worst / factor:.6g} {written} in the file)" if factor != 1.0 else ""
    if np.isfinite(bound):
        text = (f"variable '{name}' ({var.long_name}) has {count} values {side} its "
                f"{'lower' if side == 'below' else 'upper'} bound {bound:g}{units} (worst {worst:.4g}{units}"
                f"{as_written}, tolerance {tolerance:g})")
    else:
        limit = var.plausible[0 if side == "below" else 1]
        text = (f"variable '{name}' ({var.long_name}) has {count} values {side} {limit:g}{units}, beyond what a "
                f"real product holds (worst {worst:.4g}{units}{as_written})")
    hint = fill_hint(worst / factor)
    if hint:
        return f"{text}: {hint}, an undeclared fill value? {DECLARE[0].upper()}{DECLARE[1:]}"
    if var.upper == 1.0 and side == "above" and factor == 1.0 and worst <= 100.0:
        return f"{text}: values up to {worst:.4g} look like percent; set its units attribute to '%'"
    if not np.isfinite(bound):
        return f"{text}: check its units attribute ('{written}') against the values"
    return text
