"""Polar stereographic grids (EPSG:3413) centred on the North Pole, and their CF coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import xarray as xr

from .shipped_masks import load_land_mask
from .variables import DataError

DEFAULT_CRS = "EPSG:3413"  # NSIDC Sea Ice Polar Stereographic North: true scale at 70 N, lon_0 = -45


@dataclass(frozen=True)
class Grid:
    """A square-cell grid of ``ny`` x ``nx`` cells of ``dx`` metres in a projected CRS.

    Cell centres are at ``x0 + (i - (nx - 1) / 2) * dx`` (likewise for y), so with the default
    ``x0 = y0 = 0`` the grid is centred on the pole; offsets only occur for custom grids read from files.
    """

    name: str
    nx: int
    ny: int
    dx: float
    crs: str = DEFAULT_CRS
    x0: float = 0.0
    y0: float = 0.0

    def __post_init__(self):
        for key in ("nx", "ny"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
                raise DataError(f"grid {key} must be an integer of at least 2, got {value!r}")
        for key in ("dx", "x0", "y0"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
                raise DataError(f"grid {key} must be a finite number, got {value!r}")
        if self.dx <= 0:
            raise DataError(f"grid dx must be positive (metres), got {self.dx!r}")
        try:
            projected = pyproj.CRS(self.crs).is_projected
        except pyproj.exceptions.CRSError as err:
            raise DataError(f"grid crs {self.crs!r} is not a coordinate reference system: {err}") from None
        if not projected:
            raise DataError(f"grid crs {self.crs!r} is not a projected CRS (x/y in metres); regrid to EPSG:3413")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def x(self) -> np.ndarray:
        """Cell-centre x coordinates (m), increasing."""
        return self.x0 + (np.arange(self.nx) - (self.nx - 1) / 2) * self.dx

    @property
    def y(self) -> np.ndarray:
        """Cell-centre y coordinates (m), increasing."""
        return self.y0 + (np.arange(self.ny) - (self.ny - 1) / 2) * self.dx

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of the cell centres, each ``(ny, nx)`` (read-only, cached)."""
        return _lonlat(self)

    def cell_area(self) -> np.ndarray:
        """True cell area on the ellipsoid (m2), ``(ny, nx)``: dx^2 divided by the areal scale factor."""
        return _cell_area(self)

    def coords(self, land: np.ndarray | None = None) -> dict[str, xr.DataArray]:
        """CF coordinates x, y, lat, lon, cell_area and land, ready to build a canonical Dataset.

        ``land`` (bool ``(ny, nx)``, True = land) defaults to the shipped mask of this named grid.
        """
        if land is None:
            land = load_land_mask(self).land
        lon, lat = self.lonlat()
        yx = ("y", "x")
        return {
            "x": xr.DataArray(self.x, dims="x", attrs={
                "standard_name": "projection_x_coordinate", "long_name": "x coordinate of projection",
                "units": "m", "axis": "X"}),
            "y": xr.DataArray(self.y, dims="y", attrs={
                "standard_name": "projection_y_coordinate", "long_name": "y coordinate of projection",
                "units": "m", "axis": "Y"}),
            "lat": xr.DataArray(lat, dims=yx, attrs={
                "standard_name": "latitude", "long_name": "latitude", "units": "degrees_north"}),
            "lon": xr.DataArray(lon, dims=yx, attrs={
                "standard_name": "longitude", "long_name": "longitude", "units": "degrees_east"}),
            "cell_area": xr.DataArray(self.cell_area(), dims=yx, attrs={
                "standard_name": "cell_area", "long_name": "true cell area on the ellipsoid", "units": "m2"}),
            "land": xr.DataArray(np.asarray(land, dtype=np.int8), dims=yx, attrs={
                "long_name": "land mask", "flag_values": np.array([0, 1], dtype=np.int8),
                "flag_meanings": "ocean land"}),
        }

    def crs_variable(self) -> xr.DataArray:
        """The CF grid-mapping variable ``crs``: ``pyproj.CRS.to_cf()`` attributes, a long name, and for polar
        stereographic the ``latitude_of_projection_origin`` (+90 or -90) that CF requires."""
        crs = pyproj.CRS(self.crs)
        attrs = {"long_name": f"coordinate reference system ({crs.name})", **crs.to_cf()}
        if attrs.get("grid_mapping_name") == "polar_stereographic" and "latitude_of_projection_origin" not in attrs:
            attrs["latitude_of_projection_origin"] = 90.0 if attrs.get("standard_parallel", 90.0) > 0 else -90.0
        return xr.DataArray(np.int32(0), name="crs", attrs=attrs)


GRIDS: dict[str, Grid] = {
    "arctic50km": Grid("arctic50km", 128, 128, 50_000.0),
    "arctic25km": Grid("arctic25km", 256, 256, 25_000.0),
    "arctic12km": Grid("arctic12km", 512, 512, 12_500.0),
}
DEFAULT_GRID = "arctic50km"


def get_grid(name: str | Grid) -> Grid:
    """The named grid (a Grid passes through unchanged)."""
    if isinstance(name, Grid):
        return name
    try:
        return GRIDS[name]
    except KeyError:
        raise DataError(f"unknown grid '{name}'; valid names: {', '.join(GRIDS)}") from None


def grid_from_dataset(ds: xr.Dataset) -> Grid:
    """The Grid of a Dataset's 1-D ``x``/``y`` coordinates (m): a named grid if they equal one, else "custom"."""
    if "x" not in ds.coords or "y" not in ds.coords:
        raise DataError("data set has no 'x'/'y' projected coordinates (metres); pass the grid explicitly")
    x, y = (np.asarray(ds[c].values, dtype=float) for c in ("x", "y"))
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        raise DataError("coordinates 'x' and 'y' must be 1-D with at least two values")
    dx = _uniform_step(x, "x")
    dy = _uniform_step(y, "y")
    if not np.isclose(dx, dy, rtol=1e-6):
        raise DataError(f"grid cells are not square: dx = {dx:g} m, dy = {dy:g} m")
    crs = dataset_crs(ds)
    for grid in GRIDS.values():
        if grid.shape == (y.size, x.size) and _same_axes(grid, x, y) and same_crs(crs, grid.crs, x, y):
            return grid
    return Grid("custom", x.size, y.size, float(dx), crs_name(crs, x, y), float(x.mean()), float(y.mean()))


def _same_axes(grid: Grid, x: np.ndarray, y: np.ndarray) -> bool:
    """Cell centres agree to a thousandth of a cell."""
    tol = 1e-3 * grid.dx
    return bool(np.allclose(x, grid.x, rtol=0, atol=tol) and np.allclose(y, grid.y, rtol=0, atol=tol))


def _uniform_step(values: np.ndarray, name: str) -> float:
    steps = np.diff(values)
    if steps[0] <= 0 or not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        raise DataError(f"coordinate '{name}' is not increasing with uniform spacing")
    return float(steps[0])


def grid_mapping_name(ds: xr.Dataset) -> str | None:
    """The grid-mapping variable the data variables name in their CF ``grid_mapping`` attribute (else a
    variable called ``crs``, else None); variables that name different ones are refused."""
    named = set()
    for var in ds.data_vars.values():
        text = str(var.attrs.get("grid_mapping", var.encoding.get("grid_mapping", ""))).strip()
        if text:
            named.add(text.split(":")[0].split()[0])  # CF also allows "name: coord coord ..."
    if len(named) > 1:
        raise DataError(f"variables name different grid mappings {sorted(named)}; one grid per data set")
    name = named.pop() if named else ("crs" if "crs" in ds.variables else None)
    if name is not None and name not in ds.variables:
        raise DataError(f"variables name grid_mapping '{name}', but the data set has no variable '{name}'")
    return name


def dataset_crs(ds: xr.Dataset) -> pyproj.CRS:
    """The data set's CRS from its CF grid-mapping variable; EPSG:3413 when it has none."""
    name = grid_mapping_name(ds)
    if name is None:
        return pyproj.CRS(DEFAULT_CRS)
    try:
        crs = pyproj.CRS.from_cf(dict(ds[name].attrs))
    except pyproj.exceptions.CRSError as err:
        raise DataError(f"cannot read the grid-mapping variable '{name}': {err}") from None
    if not crs.is_projected:
        raise DataError(f"grid mapping '{name}' is not a projected CRS ({crs.name}); "
                        "regrid the data to EPSG:3413 first (e.g. with xESMF, pyresample or cdo)")
    return crs


def same_crs(a: pyproj.CRS | str, b: pyproj.CRS | str, x: np.ndarray, y: np.ndarray) -> bool:
    """Whether two CRSs put the points of the x/y grid at the same place on Earth (to 0.1 m)."""
    a, b = pyproj.CRS(a), pyproj.CRS(b)
    if a == b:
        return True
    xs, ys = np.meshgrid(x[:: max(1, x.size // 8)], y[:: max(1, y.size // 8)])
    lon, lat = pyproj.Transformer.from_crs(a, "EPSG:4326", always_xy=True).transform(xs, ys)
    xb, yb = pyproj.Transformer.from_crs("EPSG:4326", b, always_xy=True).transform(lon, lat)
    return bool(np.nanmax(np.hypot(xb - xs, yb - ys)) < 0.1)


def crs_name(crs: pyproj.CRS, x: np.ndarray, y: np.ndarray) -> str:
    """``"EPSG:3413"`` for the canonical CRS (however the file spells it), else ``"EPSG:n"`` or WKT."""
    if same_crs(crs, DEFAULT_CRS, x, y):
        return DEFAULT_CRS
    epsg = crs.to_epsg(min_confidence=20)  # CF parameters without WKT match their EPSG code only loosely ...
    if epsg and same_crs(crs, f"EPSG:{epsg}", x, y):  # ... so the code is taken only if it is the same CRS
        return f"EPSG:{epsg}"
    return crs.to_wkt()


@lru_cache(maxsize=8)
def _lonlat(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    xx, yy = np.meshgrid(grid.x, grid.y)
    lon, lat = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xx, yy)
    for a in (lon, lat):
        a.flags.writeable = False
    return lon, lat


@lru_cache(maxsize=8)
def _cell_area(grid: Grid) -> np.ndarray:
    lon, lat = _lonlat(grid)
    # Conformal projection: a dx-by-dx projected cell covers dx^2 / k^2 of the ellipsoid.
    areal_scale = pyproj.Proj(grid.crs).get_factors(lon, lat).areal_scale
    area = grid.dx * grid.dx / np.asarray(areal_scale)
    area.flags.writeable = False
    return area
