"""Synthetic daily Arctic sea-ice states: a stand-in for a sea-ice model run, clearly labelled as such.

The generator carries what a generative model of sea ice has to learn (Finn et al. 2024):

- a seasonal cycle of the ice edge (March maximum reaching the Bering Sea, Hudson Bay, Baffin Bay and
  the Barents/Greenland Seas; September minimum confined to the central Arctic, the Canadian
  Archipelago and north of Greenland), year-to-year variability and a mild downward trend;
- concentration with large areas exactly at 1 (pack) and exactly at 0 (open water), and a marginal ice
  zone whose width and position vary in space and time: the ice edge is the zero level set of a smooth
  "ice potential" (climatology + correlated random fields), ``sic = clip(potential / width, 0, 1)``;
- thickness that is largest north of Greenland and the Canadian Archipelago (old ice pressed against
  the coast), thin toward the Siberian shelves and the ice edge, with a seasonal cycle;
- drift with the anticyclonic Beaufort Gyre, the Transpolar Drift to Fram Strait and the East Greenland
  Current, plus eddies from a random streamfunction, slowed near coasts (landfast ice);
- damage concentrated on elongated lead-like lines (level sets of anisotropic random fields) and in
  the marginal ice zone, stronger where ice is thin and fast; open leads lower the concentration;
- temporal autocorrelation: every random field is AR(1) in time (day-to-day correlation 0.8-0.995).

Random fields are spectral Gaussian random fields (Gaussian covariance with a chosen correlation length,
optionally anisotropic), generated a chunk of days at a time; all lengths are physical, so every grid
shows the same geography. The output is deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyproj
from scipy import ndimage
from scipy.interpolate import CubicSpline
from scipy.signal import lfilter
import xarray as xr

from .grid import Grid, get_grid
from .shipped_masks import load_land_mask
from .sizes import check_memory, field_bytes
from .canonical import make_dataset
from .variables import VARIABLE_NAMES

DAYS_PER_YEAR = 365  # no leap days: 29 February is skipped
CELLS_PER_CHUNK = 100_000  # days x ocean cells per step: temporaries stay in cache (fastest here)

TITLE = "Synthetic Arctic sea-ice states (not observations)"
COMMENT = (
    "SYNTHETIC data made by seaice_ldm.data.synthesize: a procedural stand-in for a sea-ice model run "
    "(seasonal ice edge from an 'ice potential' plus correlated random fields, Beaufort Gyre and Transpolar "
    "Drift, lead-like damage). It is not an observation or a model simulation and must not be used for "
    "scientific conclusions about the Arctic."
)

# --- Geography (latitude, longitude) of the features the climatology is built from -----------------
MULTIYEAR_ICE_AXIS = [(83.5, -125.0), (84.0, -80.0), (83.5, -35.0)]  # thickest ice along CAA + N Greenland
BEAUFORT_GYRE_CENTRE = (76.0, -145.0)
TRANSPOLAR_DRIFT = [(76.0, 140.0), (86.0, 120.0), (86.0, 0.0), (80.0, -2.0)]  # Siberian shelves -> Fram Strait
EAST_GREENLAND_CURRENT = [(80.0, -2.0), (74.0, -14.0), (68.0, -24.0), (64.0, -36.0)]
ATLANTIC_WATER = [  # warm inflow that keeps the Nordic and southern Barents Seas ice-free: (lat, lon, weight)
    (60.0, -10.0, 1.0), (64.0, 0.0, 1.0), (68.0, 8.0, 1.0), (71.5, 18.0, 0.9), (73.0, 32.0, 0.7),
    (72.0, 45.0, 0.4), (77.0, 10.0, 0.6), (62.0, -25.0, 0.8), (60.0, -42.0, 0.5),
]
PACIFIC_WATER = [(47.0, -168.0, 1.0), (50.0, 172.0, 0.8), (48.0, 155.0, 0.8)]


@dataclass(frozen=True)
class _Geography:
    """Static fields on the ocean cells of a grid (flattened to 1-D over ``index``)."""

    index: np.ndarray  # flat indices of ocean cells
    r: np.ndarray  # distance to the multi-year-ice axis (1000 km)
    cont: np.ndarray  # continentality: land share within ~400 km (0-1)
    seasonal_cont: np.ndarray  # 0 on the multi-year-ice axis -> 1 far away: old ice survives summer near land
    warm: np.ndarray  # Atlantic + Pacific warm-water influence (0-~1)
    damp: np.ndarray  # 0 at the coast -> 1 offshore: landfast ice does not drift
    gyre: tuple[np.ndarray, np.ndarray]  # Beaufort Gyre velocity (u, v) at unit strength (m/s)
    drift: tuple[np.ndarray, np.ndarray]  # Transpolar Drift + East Greenland Current (u, v) (m/s)


class _FieldSpec(NamedTuple):
    """A unit-variance Gaussian random field: correlation lengths (m), orientation, day-to-day correlation."""

    along: float
    across: float
    angle_deg: float
    phi: float


FIELDS = {
    "potential": _FieldSpec(700e3, 700e3, 0.0, 0.98),  # large-scale ice-edge anomalies (weeks)
    "edge": _FieldSpec(180e3, 180e3, 0.0, 0.9),  # ragged edge: tongues and embayments (days)
    "width": _FieldSpec(500e3, 500e3, 0.0, 0.95),  # MIZ width modulation
    "thickness": _FieldSpec(600e3, 600e3, 0.0, 0.995),  # thickness anomalies (months: ice memory)
    "eddies": _FieldSpec(250e3, 250e3, 0.0, 0.8),  # wind-driven drift anomalies (streamfunction)
    "leads1": _FieldSpec(450e3, 110e3, 0.0, 0.9),  # two families of linear kinematic features ...
    "leads2": _FieldSpec(450e3, 110e3, 60.0, 0.9),  # ... crossing at 60 degrees (rotated per seed)
    "lead_mix": _FieldSpec(800e3, 800e3, 0.0, 0.9),  # which family is active where
}
EDDY_SPEED = 0.035  # m/s, standard deviation of each eddy velocity component
HEALING = 0.15  # lead damage healed per day: fully damaged ice heals in about a week
SCALARS = {"gyre": 0.97, "drift": 0.95}  # AR(1) day-to-day correlation of the large-scale drift strengths


def synthesize(
    years: int = 10, grid: str | Grid = "arctic50km", seed: int = 0, start_year: int = 2000
) -> xr.Dataset:
    """Daily synthetic states for ``years`` years (365 days each) on a named grid, canonical layout.

    Deterministic for ``seed``. float32, land NaN, global attributes ``synthetic = "yes"``.
    """
    if years < 1:
        raise ValueError("years must be at least 1")
    grid = get_grid(grid)
    # the fields, and the copy a write makes of them
    check_memory(2 * field_bytes(years * DAYS_PER_YEAR, len(VARIABLE_NAMES), *grid.shape),
                 f"{years} synthetic years on {grid.name} ({grid.ny} x {grid.nx})",
                 "ask for fewer years or a coarser grid (e.g. --years 10, --grid arctic50km)")
    land = load_land_mask(grid).land
    geo = _geography(grid, land)
    # One random stream per component: the first years do not depend on how many years are made.
    streams = iter(np.random.SeedSequence(seed).spawn(2 + len(SCALARS) + len(FIELDS)))

    def rng() -> np.random.Generator:
        return np.random.default_rng(next(streams))

    n_days = years * DAYS_PER_YEAR
    year_offset = _year_offsets(rng(), years)
    rotation = rng().uniform(0.0, 180.0)  # orientation of the lead families
    scalars = {name: _ar1_scalar(rng(), n_days, phi) for name, phi in SCALARS.items()}
    fields = {
        name: _RandomField(spec._replace(angle_deg=spec.angle_deg + rotation), grid, geo.index, rng())
        for name, spec in FIELDS.items()
    }

    out = {name: np.full((n_days, *grid.shape), np.nan, dtype=np.float32) for name in VARIABLE_NAMES}
    flat = {name: a.reshape(n_days, -1) for name, a in out.items()}
    chunk = max(1, CELLS_PER_CHUNK // geo.index.size)
    leads = np.zeros(geo.index.size, dtype=np.float32)  # lead damage of the day before
    for start in range(0, n_days, chunk):
        days = np.arange(start, min(start + chunk, n_days))
        noise = {name: f.field(f.advance(days.size)) for name, f in fields.items() if name != "eddies"}
        noise["eddies_u"], noise["eddies_v"] = fields["eddies"].velocity(fields["eddies"].advance(days.size),
                                                                         EDDY_SPEED)
        states, leads = _states(geo, days, noise, year_offset, {k: v[days] for k, v in scalars.items()}, leads)
        for name, values in states.items():
            flat[name][days[0]:days[-1] + 1][:, geo.index] = values
    return make_dataset(
        out, grid, time=_dates(start_year, years), land=land,
        attrs={
            "title": TITLE,
            "synthetic": "yes",
            "comment": COMMENT,
            "source": f"seaice_ldm.data.synthesize(years={years}, grid='{grid.name}', seed={seed}, "
                      f"start_year={start_year})",
        },
    )


def _dates(start_year: int, years: int) -> np.ndarray:
    """Daily dates of ``years`` calendar years without 29 February."""
    days = pd.date_range(f"{start_year}-01-01", f"{start_year + years - 1}-12-31", freq="D")
    return days[~((days.month == 2) & (days.day == 29))].to_numpy().astype("datetime64[ns]")


# --- The physics-shaped recipe --------------------------------------------------------------------


def _season(day_of_year: np.ndarray, peak: float) -> np.ndarray:
    """Annual cycle in [-1, 1], +1 at day ``peak``; the second harmonic gives a broad maximum and a
    sharp minimum (used for the thickness cycle)."""
    phase = 2 * np.pi * (day_of_year - peak) / DAYS_PER_YEAR
    return ((np.cos(phase) - 0.25 * np.cos(2 * phase) + 0.25) / 1.25).astype(np.float32)


# Seasonal forcing of the ice edge at mid-month (January ... December), calibrated once so that the
# default grid's monthly mean extent follows an NSIDC-like climatology of the 2000s (million km2:
# 13.9 14.7 15.0 14.3 13.0 11.0 8.0 5.8 4.8 6.8 9.6 12.2): maximum in March, decline from April,
# minimum in September. Calibration: the mean extent of two synthetic years with the forcing held at
# a constant c, inverted month by month (see docs/DESIGN.md, "Synthetic climate").
EDGE_FORCING = (0.79, 1.07, 1.22, 0.88, 0.49, 0.13, -0.30, -0.69, -0.86, -0.43, -0.02, 0.38)
_MID_MONTH = (15.5, 45.0, 74.5, 105.0, 135.5, 166.0, 196.5, 227.5, 258.0, 288.5, 319.0, 349.5)  # day of year - 1


def _edge_forcing(day_of_year: np.ndarray) -> np.ndarray:
    """The ice edge's seasonal forcing on ``day_of_year`` (0-based): a periodic cubic spline through
    :data:`EDGE_FORCING`."""
    knots = np.array(_MID_MONTH + (_MID_MONTH[0] + DAYS_PER_YEAR,))
    spline = CubicSpline(knots, np.array(EDGE_FORCING + (EDGE_FORCING[0],)), bc_type="periodic")
    return spline(np.mod(day_of_year - knots[0], DAYS_PER_YEAR) + knots[0]).astype(np.float32)


def _states(
    geo: _Geography, days: np.ndarray, noise: dict, year_offset: np.ndarray, scalars: dict, leads: np.ndarray
) -> tuple[dict, np.ndarray]:
    """The five variables on ocean cells, ``(days, cells)`` float32, and the lead damage of the last day
    (``leads`` is that of the day before the first)."""
    doy = (days % DAYS_PER_YEAR).astype(np.float32)
    s = _edge_forcing(doy)[:, None]  # ~ +1 mid-March (extent maximum), ~ -1 mid-September (minimum)
    summer = np.clip((1.0 - s) / 2.0, 0.0, 1.0)
    s_thick = _season(doy, peak=115.0)[:, None]  # thickness peaks late April, bottoms out in autumn
    # Each year's offset sits mid-year; linear in between, so 1 January has no jump.
    offset = np.interp(days / DAYS_PER_YEAR, np.arange(year_offset.size) - 0.5, year_offset)
    offset = offset.astype(np.float32)[:, None]

    # Ice potential (about 1 per 1000 km): > 0 where ice can exist; the ice edge is its zero level set.
    # Terms: seasonal swing of the edge (~800 km); distance from the old-ice axis; continentality
    # (land-locked seas such as Hudson Bay and the Siberian shelves freeze in winter and melt out in
    # summer, except near the old-ice axis); warm Atlantic/Pacific inflow; interannual offset;
    # anomalies that are larger in summer, when the edge is most variable.
    potential = (
        2.4 + 0.75 * s - geo.r + geo.cont * (2.2 * s - 0.2) * geo.seasonal_cont - 2.2 * geo.warm + offset
        + (0.16 + 0.2 * summer) * noise["potential"] + (0.12 + 0.1 * summer) * noise["edge"]
    )
    width = (0.25 + 0.3 * summer) * np.exp(0.35 * noise["width"])  # MIZ wider in the melt season
    ice = potential > 0
    sic0 = np.clip(potential / width, 0.0, 1.0)

    # Thickness of the ice present: old thick ice near the axis, thin first-year ice toward the edge.
    background = (0.6 + 3.8 * np.exp(-((geo.r / 1.1) ** 1.5))) * (1.0 + 0.15 * s_thick)
    sit = background * np.exp(0.22 * noise["thickness"]) * np.tanh(2.0 * np.maximum(potential, 0.0) / width)

    # Drift: large-scale patterns with varying strength + eddies; thin ice moves faster, fast ice not.
    gyre = (0.9 + 0.5 * scalars["gyre"])[:, None]
    drift = (1.0 + 0.35 * scalars["drift"])[:, None]
    speed_factor = np.clip(1.3 - 0.12 * sit, 0.7, 1.3) * (1.0 + 0.2 * summer) * geo.damp
    siu = speed_factor * (gyre * geo.gyre[0] + drift * geo.drift[0] + noise["eddies_u"])
    siv = speed_factor * (gyre * geo.gyre[1] + drift * geo.drift[1] + noise["eddies_v"])

    # Damage on lead-like lines (level sets of anisotropic fields) and in the MIZ; open leads lower sic.
    mix = 0.5 * (1.0 + np.tanh(1.5 * noise["lead_mix"]))
    lines = np.maximum(mix * np.exp(-(noise["leads1"] / 0.3) ** 2),
                       (1.0 - mix) * np.exp(-(noise["leads2"] / 0.3) ** 2))
    intensity = (0.7 + 0.6 * np.exp(-sit)) * (0.8 + 2.5 * np.hypot(siu, siv))
    threshold = 0.35
    fresh = np.clip((intensity * lines - threshold) / (1.0 - threshold), 0.0, 1.0)
    sid_leads = _heal(fresh, leads, HEALING)
    sid_miz = np.minimum(1.2 * (1.0 - sic0) ** 2, 1.0)  # broken-up floes near the edge
    sid = 1.0 - (1.0 - sid_leads) * (1.0 - sid_miz)
    sic = sic0 * (1.0 - (0.04 + 0.3 * summer) * sid_leads)  # leads refreeze fast in winter

    no_ice = ~ice
    for a in (sit, sid, siu, siv, sic):
        a[no_ice] = 0.0
    return {"sit": sit, "sic": sic, "sid": sid, "siu": siu, "siv": siv}, sid_leads[-1]


def _heal(fresh: np.ndarray, before: np.ndarray, rate: float) -> np.ndarray:
    """Damage breaks fast and heals slowly (as in brittle rheologies): each day keeps the larger of
    the fresh damage and the damage of the day before less ``rate``, so healed ice returns to exactly 0."""
    out = np.empty_like(fresh)
    for day, today in enumerate(fresh):
        before = out[day] = np.maximum(today, before - rate)
    return out


def _year_offsets(rng: np.random.Generator, years: int) -> np.ndarray:
    """Ice-potential offset per year (one extra each side for interpolation): variability + mild decline."""
    k = np.arange(years + 2, dtype=np.float32)
    return (0.12 * rng.standard_normal(years + 2) - 0.02 * k).astype(np.float32)


# --- Geography on a grid ----------------------------------------------------------------------------


def _geography(grid: Grid, land: np.ndarray) -> _Geography:
    index = np.flatnonzero(~land)
    xx, yy = np.meshgrid(grid.x, grid.y)
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)

    def points(latlon):
        lat, lon = np.asarray(latlon, dtype=float).T[:2]
        return np.column_stack(to_xy.transform(lon, lat))

    def on_ocean(a):
        return a.reshape(-1)[index].astype(np.float32)

    r, _ = _polyline_distance(xx, yy, points(MULTIYEAR_ICE_AXIS))
    sigma_cells = 400e3 / grid.dx
    cont = ndimage.gaussian_filter(land.astype(float), sigma_cells, mode="nearest")
    warm = _blobs(xx, yy, points(ATLANTIC_WATER), [w for *_, w in ATLANTIC_WATER], 450e3)
    warm += _blobs(xx, yy, points(PACIFIC_WATER), [w for *_, w in PACIFIC_WATER], 500e3)
    coast = ndimage.distance_transform_edt(~land) * grid.dx
    damp = 1.0 - np.exp(-np.maximum(coast - 0.5 * grid.dx, 0.0) / 80e3)
    gyre = _gyre(xx, yy, points([BEAUFORT_GYRE_CENTRE])[0], radius=550e3, speed=0.1)
    tpd = _current(xx, yy, points(TRANSPOLAR_DRIFT), half_width=450e3, speed=0.1)
    egc = _current(xx, yy, points(EAST_GREENLAND_CURRENT), half_width=150e3, speed=0.15)
    return _Geography(
        index=index,
        r=on_ocean(r / 1e6),
        cont=on_ocean(cont),
        seasonal_cont=on_ocean(1.0 - np.exp(-((r / 0.8e6) ** 2))),
        warm=on_ocean(np.minimum(warm, 1.2)),
        damp=on_ocean(damp),
        gyre=(on_ocean(gyre[0]), on_ocean(gyre[1])),
        drift=(on_ocean(tpd[0] + egc[0]), on_ocean(tpd[1] + egc[1])),
    )


def _polyline_distance(xx, yy, pts) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) to a polyline and, per cell, the unit direction (ex, ey) of its nearest segment."""
    best = np.full(xx.shape, np.inf)
    direction = np.zeros((2, *xx.shape))
    for a, b in zip(pts[:-1], pts[1:]):
        ab = b - a
        t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / (ab @ ab), 0.0, 1.0)
        d = np.hypot(xx - a[0] - t * ab[0], yy - a[1] - t * ab[1])
        closer = d < best
        best[closer] = d[closer]
        direction[:, closer] = (ab / np.hypot(*ab))[:, None]
    return best, direction


def _blobs(xx, yy, centres, weights, radius) -> np.ndarray:
    """Sum of Gaussian bumps of the given weights and radius (m)."""
    return sum(w * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / (2 * radius**2))
               for c, w in zip(centres, weights))


def _gyre(xx, yy, centre, radius, speed) -> tuple[np.ndarray, np.ndarray]:
    """Anticyclonic (clockwise) gyre from a Gaussian streamfunction high: u = -dpsi/dy, v = dpsi/dx."""
    psi = speed * radius * np.exp(0.5) * np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * radius**2))
    return psi * (yy - centre[1]) / radius**2, -psi * (xx - centre[0]) / radius**2


def _current(xx, yy, pts, half_width, speed) -> tuple[np.ndarray, np.ndarray]:
    """A current along a polyline: Gaussian cross-stream profile, flowing along the nearest segment."""
    distance, direction = _polyline_distance(xx, yy, pts)
    profile = speed * np.exp(-0.5 * (distance / half_width) ** 2)
    return profile * direction[0], profile * direction[1]


# --- Random fields ----------------------------------------------------------------------------------


class _RandomField:
    """Spectral Gaussian random field of unit variance, AR(1) in time, sampled on ocean cells.

    Only wavenumbers whose amplitude matters are drawn; the AR(1) runs on their coefficients (linear,
    so it equals AR(1) of the field). The eddy field returns velocities from its streamfunction.
    """

    def __init__(self, spec: _FieldSpec, grid: Grid, index: np.ndarray, rng: np.random.Generator):
        self.spec, self.grid, self.index, self.rng = spec, grid, index, rng
        ky = 2 * np.pi * np.fft.fftfreq(grid.ny, d=grid.dx)[:, None]
        kx = 2 * np.pi * np.fft.rfftfreq(grid.nx, d=grid.dx)[None, :]
        angle = np.deg2rad(spec.angle_deg)
        k_along = kx * np.cos(angle) + ky * np.sin(angle)
        k_across = -kx * np.sin(angle) + ky * np.cos(angle)
        amplitude = np.exp(-((k_along * spec.along) ** 2 + (k_across * spec.across) ** 2) / 4)
        # Hermitian pairs count twice except the kx = 0 and Nyquist columns: exact unit variance.
        weight = np.full(amplitude.shape, 4.0)
        weight[:, 0] = 1.0
        if grid.nx % 2 == 0:
            weight[:, -1] = 1.0
        amplitude *= grid.nx * grid.ny * np.sqrt(2.0 / np.sum(weight * amplitude**2))
        self.modes = np.nonzero(amplitude > 1e-4 * amplitude.max())
        self.amplitude = amplitude[self.modes].astype(np.complex64)
        self.k = (np.broadcast_to(kx, amplitude.shape)[self.modes].astype(np.float32),
                  np.broadcast_to(ky, amplitude.shape)[self.modes].astype(np.float32))
        self.state = self._white(1)[0]  # stationary start

    def _white(self, n: int) -> np.ndarray:
        z = self.rng.standard_normal((n, self.amplitude.size, 2), dtype=np.float32)
        return z.view(np.complex64)[..., 0] / np.float32(np.sqrt(2.0))

    def advance(self, n: int) -> np.ndarray:
        """Spectral coefficients of the next ``n`` days, ``(n, modes)``."""
        phi = self.spec.phi
        coeffs, _ = lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], self._white(n), axis=0,
                            zi=(phi * self.state)[None])
        self.state = coeffs[-1]
        return coeffs.astype(np.complex64) * self.amplitude

    def field(self, coeffs: np.ndarray) -> np.ndarray:
        """The field on ocean cells, ``(n, cells)`` float32."""
        spectrum = np.zeros((coeffs.shape[0], self.grid.ny, self.grid.nx // 2 + 1), dtype=np.complex64)
        spectrum[:, self.modes[0], self.modes[1]] = coeffs
        field = np.fft.irfft2(spectrum, s=self.grid.shape).reshape(coeffs.shape[0], -1)
        return np.take(field, self.index, axis=1)

    def velocity(self, coeffs: np.ndarray, speed: float) -> tuple[np.ndarray, np.ndarray]:
        """Non-divergent velocity (u, v) = (-dpsi/dy, dpsi/dx) of the field taken as a streamfunction,
        scaled so each component has standard deviation ``speed`` (isotropic fields: <k_y^2> = 1/L^2)."""
        scale = np.complex64(1j * speed * self.spec.along)
        kx, ky = self.k
        return self.field(-scale * ky * coeffs), self.field(scale * kx * coeffs)


def _ar1_scalar(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """Unit-variance AR(1) series of length ``n`` (stationary start)."""
    start = rng.standard_normal()
    x, _ = lfilter([np.sqrt(1 - phi**2)], [1.0, -phi], rng.standard_normal(n), zi=[phi * start])
    return x.astype(np.float32)
