"""The five sea-ice variables: names, units, physical bounds, aliases and unit conversions.

This is the lowest module of the data layer: every other module may import it, it imports none.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable

import numpy as np


class DataError(ValueError):
    """A data set that cannot be mapped to the canonical layout or that cannot be physical."""


@dataclass(frozen=True)
class Variable:
    """One prognostic sea-ice variable in canonical units.

    ``lower`` / ``upper`` are the physical bounds (None where unbounded); a censored likelihood puts
    probability mass exactly on them (open water sic = 0, pack ice sic = 1, undamaged ice sid = 0).
    """

    name: str
    long_name: str
    standard_name: str
    units: str
    lower: float | None
    upper: float | None
    aliases: tuple[str, ...]
    display_range: tuple[float, float]  # fixed colour range of maps, so that they compare (colours: palette.py)
    #: the widest values a real product holds (canonical units): beyond them a value is refused as an undeclared
    #: fill (the netCDF default 9.97e36, 1e30, -999) or wrong units, also on a side without a physical bound
    plausible: tuple[float, float] = (-np.inf, np.inf)
    #: the other direction of wrong units: in a whole real file, at least 1 % of the ice-covered cells hold a
    #: magnitude above this (canonical units); 0 = not checked
    least_top_percent: float = 0.0


#: Plausibility limits of the unbounded sides: the thickest ridged ice in models and products stays below
#: 30 m, the fastest observed drift below 2 m/s; the limits leave room and still catch every fill value and
#: a velocity in cm/s or km/day labelled m/s.
PLAUSIBLE_THICKNESS = 50.0  # m
PLAUSIBLE_SPEED = 5.0  # m s-1
#: Floors of the thickest / fastest 1 % of ice-covered cells of a whole file (its 99th percentile), far below
#: any real Arctic state: late-summer pack still holds metres of multi-year ice and daily drift reaches
#: 0.1-0.3 m/s, even a thin-ice product (SMOS) reaches 0.5 m. Metres labelled cm (100x too small) or m/s
#: labelled cm/s, km/day or m/day fall below them.
LEAST_THICKNESS = 0.05  # m
LEAST_SPEED = 0.01  # m s-1

VARIABLES: MappingProxyType[str, Variable] = MappingProxyType(
    {
        "sit": Variable(
            "sit", "sea-ice thickness", "sea_ice_thickness", "m", 0.0, None,
            ("sea_ice_thickness", "analysis_sea_ice_thickness", "sithick", "hi"),
            (0.0, 5.0), (0.0, PLAUSIBLE_THICKNESS), LEAST_THICKNESS,
        ),
        "sic": Variable(
            "sic", "sea-ice concentration", "sea_ice_area_fraction", "1", 0.0, 1.0,
            ("siconc", "sea_ice_concentration", "ice_conc", "aice", "concentration"),
            (0.0, 1.0), (0.0, 1.0),
        ),
        "sid": Variable(
            # No CF standard name exists for damage (the neXtSIM brittle-rheology state variable).
            "sid", "sea-ice damage", "", "1", 0.0, 1.0,
            ("damage", "sidamage"),
            (0.0, 1.0), (0.0, 1.0),
        ),
        "siu": Variable(
            "siu", "sea-ice velocity along x (grid-eastward)", "sea_ice_x_velocity", "m s-1", None, None,
            ("vxsi", "uice", "sea_ice_x_velocity"),
            (-0.3, 0.3), (-PLAUSIBLE_SPEED, PLAUSIBLE_SPEED), LEAST_SPEED,
        ),
        "siv": Variable(
            "siv", "sea-ice velocity along y (grid-northward)", "sea_ice_y_velocity", "m s-1", None, None,
            ("vysi", "vice", "sea_ice_y_velocity"),
            (-0.3, 0.3), (-PLAUSIBLE_SPEED, PLAUSIBLE_SPEED), LEAST_SPEED,
        ),
    }
)

VARIABLE_NAMES: tuple[str, ...] = ("sit", "sic", "sid", "siu", "siv")

#: Concentration thresholds: sea-ice extent counts cells with sic > 0.15 (NSIDC convention); the marginal
#: ice zone (MIZ) is 0.15 < sic < 0.8.
EXTENT_THRESHOLD = 0.15
MIZ_LOWER, MIZ_UPPER = EXTENT_THRESHOLD, 0.8

_FRACTION_UNITS = {"1": 1.0, "": 1.0, "fraction": 1.0, "0-1": 1.0, "dimensionless": 1.0,
                   "%": 0.01, "percent": 0.01}
_THICKNESS_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0, "cm": 0.01}
_VELOCITY_UNITS = {
    "m s-1": 1.0, "m/s": 1.0, "m s**-1": 1.0, "m s^-1": 1.0, "m.s-1": 1.0,
    "cm/s": 0.01, "cm s-1": 0.01,
    "km/day": 1 / 86.4, "km d-1": 1 / 86.4,
    "m/day": 1 / 86400, "m d-1": 1 / 86400,
}

#: Factor that converts a value in the given units to canonical units, per canonical variable.
UNIT_FACTORS: MappingProxyType[str, MappingProxyType[str, float]] = MappingProxyType({
    "sit": MappingProxyType(_THICKNESS_UNITS),
    "sic": MappingProxyType(_FRACTION_UNITS),
    "sid": MappingProxyType(_FRACTION_UNITS),
    "siu": MappingProxyType(_VELOCITY_UNITS),
    "siv": MappingProxyType(_VELOCITY_UNITS),
})


def canonical_name(name: str) -> str | None:
    """The canonical variable a file variable stands for (exact or lower-case match), or None."""
    for candidate in (name, name.lower()):
        for var in VARIABLES.values():
            if candidate == var.name or candidate in var.aliases:
                return var.name
    return None


def unit_factor(name: str, units: str | None) -> float:
    """Multiplier from ``units`` to the canonical units of variable ``name``; missing units = canonical."""
    if units is None:
        return 1.0
    key = " ".join(str(units).strip().split())
    factors = UNIT_FACTORS[name]
    for candidate in (key, key.lower()):
        if candidate in factors:
            return factors[candidate]
    raise DataError(
        f"variable '{name}' has unknown units '{units}'; known: {sorted(k for k in factors if k)}"
    )


def bounds_array(names: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Physical (lower, upper) bounds as float arrays in the order of ``names``, -inf/+inf if unbounded."""
    names = tuple(names)
    lower = np.array([-np.inf if VARIABLES[n].lower is None else VARIABLES[n].lower for n in names])
    upper = np.array([np.inf if VARIABLES[n].upper is None else VARIABLES[n].upper for n in names])
    return lower, upper
