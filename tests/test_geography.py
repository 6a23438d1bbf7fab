"""Geography with cartopy: the grid CRS against pyproj, the shipped coastline, graticule and regions."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from scipy import ndimage

from seaice_ldm.data import get_grid, load_land_mask
from seaice_ldm.data import geography as geo
from seaice_ldm.data.regions import PAN_ARCTIC, REGIONS, region_box


def test_cartopy_crs_is_epsg3413_to_well_under_a_metre():
    import cartopy.crs as ccrs

    crs = geo.cartopy_crs("EPSG:3413")
    assert isinstance(crs, ccrs.NorthPolarStereo)
    rng = np.random.default_rng(0)
    lon = rng.uniform(-180, 180, 5000)
    lat = rng.uniform(35, 90, 5000)
    x, y = geo.project_lonlat(lon, lat)
    px, py = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True).transform(lon, lat)
    assert np.max(np.hypot(x - px, y - py)) < 1e-3  # metres
    # and the grid's own lon/lat (pyproj) map back onto its cell centres
    grid = get_grid("arctic50km")
    glon, glat = grid.lonlat()
    gx, gy = geo.project_lonlat(glon, glat, grid.crs)
    xx, yy = np.meshgrid(grid.x, grid.y)
    assert np.max(np.hypot(gx - xx, gy - yy)) < 1e-3
    assert geo.cartopy_crs(grid) is crs  # a Grid works too (its crs attribute)


def test_cartopy_writes_nothing_in_home(tmp_path, monkeypatch):
    import cartopy

    folder = geo.configure_cartopy(tmp_path / "cartopy")
    assert cartopy.config["data_dir"] == str(folder)
    assert folder.is_dir()


def test_coastline_file_is_small_states_source_and_licence():
    path = geo.COASTLINE_PATH
    assert path.is_file() and path.stat().st_size < 200_000
    coast = geo.load_coastline()
    assert "Natural Earth" in coast.source and "public domain" in coast.licence
    assert coast.tolerance_m <= 10_000  # at most ~10 km detail
    assert 2_000 < coast.lon.size < 50_000 and coast.n_lines > 50
    ok = np.isfinite(coast.lon)
    assert np.all((coast.lon[ok] >= -180) & (coast.lon[ok] <= 180))
    assert coast.lat[ok].min() > 25 and coast.lat[ok].max() < 84


def test_projected_coastline_lies_on_the_shipped_land_mask_boundary():
    """An independent source (GLOBE 1 km land mask of arctic12km): coast vertices sit on its land/sea edge."""
    grid = get_grid("arctic12km")
    land = load_land_mask(grid).land
    xy = geo.projected_coastline(grid.crs)
    xy = xy[np.isfinite(xy[:, 0])]
    ix = np.rint((xy[:, 0] - grid.x[0]) / grid.dx).astype(int)
    iy = np.rint((xy[:, 1] - grid.y[0]) / grid.dx).astype(int)
    inside = (ix >= 0) & (ix < grid.nx) & (iy >= 0) & (iy < grid.ny)
    assert inside.mean() > 0.8
    boundary = land ^ ndimage.binary_erosion(land)
    near = ndimage.binary_dilation(boundary | (ndimage.binary_dilation(land) & ~land), iterations=2)
    share = near[iy[inside], ix[inside]].mean()
    assert share > 0.85, share  # within ~3 cells (37 km) of the mask's coast


def test_graticule_parallels_are_circles_of_the_right_radius():
    grat = geo.graticule("EPSG:3413")
    lines = grat["lines"]
    assert np.isnan(lines[:, 0]).sum() >= len(geo.PARALLELS) + 12 - 1  # 3 parallels and 12 meridians
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True)
    r = np.hypot(lines[:, 0], lines[:, 1])
    for p in geo.PARALLELS:
        expected = np.hypot(*to_xy.transform(0.0, p))
        assert np.sum(np.abs(r - expected) < 1.0) >= 700  # every vertex of that parallel
    texts = [t for *_, t in grat["labels"]]
    assert {"60°N", "70°N", "80°N", "0°", "180°", "90°E", "90°W"} <= set(texts)


def test_sea_labels_fall_on_ocean():
    grid = get_grid("arctic50km")
    land = load_land_mask(grid).land
    for x, y, name in geo.sea_labels(grid.crs):
        i = int(np.rint((x - grid.x[0]) / grid.dx))
        j = int(np.rint((y - grid.y[0]) / grid.dx))
        if 0 <= i < grid.nx and 0 <= j < grid.ny:
            assert not land[j, i], name


@pytest.mark.parametrize("name", [n for n in REGIONS if n != PAN_ARCTIC])
def test_region_boxes_are_squares_around_their_centre(name):
    grid = get_grid("arctic12km")
    x0, x1, y0, y1 = region_box(name, grid.x, grid.y, grid.crs)
    region = REGIONS[name]
    assert x1 - x0 == pytest.approx(2e3 * region.half_width_km)
    assert y1 - y0 == pytest.approx(2e3 * region.half_width_km)
    cx, cy = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True).transform(region.lon, region.lat)
    assert x0 < cx < x1 and y0 < cy < y1
    assert x0 >= grid.x[0] - grid.dx and x1 <= grid.x[-1] + grid.dx


def test_named_places_fall_in_their_regions():
    grid = get_grid("arctic50km")
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True)
    places = {"Fram Strait": (-5.0, 78.5), "Barents Sea": (40.0, 74.0), "Baffin Bay": (-65.0, 72.0),
              "Beaufort Sea": (-140.0, 72.0), "Chukchi/Bering": (-169.0, 65.8), "Greenland Sea": (-10.0, 75.0)}
    for name, (lon, lat) in places.items():
        x, y = to_xy.transform(lon, lat)
        x0, x1, y0, y1 = region_box(name, grid.x, grid.y)
        assert x0 < x < x1 and y0 < y < y1, name
    x0, x1, y0, y1 = region_box(PAN_ARCTIC, grid.x, grid.y)
    assert (x0, x1) == (-3.2e6, 3.2e6) and (y0, y1) == (-3.2e6, 3.2e6)
    with pytest.raises(KeyError):
        region_box("Atlantis", grid.x, grid.y)
