import numpy as np
import pytest
import xarray as xr

from seaice_ldm.data import GRIDS, DataError, Grid, get_grid, grid_from_dataset

WGS84_A = 6378137.0
WGS84_E = 0.0818191908426215


def analytic_scale_factor(lat_deg, lat_ts_deg=70.0, a=WGS84_A, e=WGS84_E):
    """Point scale factor k of the north polar stereographic projection on the ellipsoid with true scale
    at ``lat_ts`` (Snyder 1987, Map Projections: A Working Manual, eqs. 14-15, 15-9, 21-34, 21-33)."""
    def m(phi):
        return np.cos(phi) / np.sqrt(1 - e**2 * np.sin(phi) ** 2)

    def t(phi):
        return np.tan(np.pi / 4 - phi / 2) / ((1 - e * np.sin(phi)) / (1 + e * np.sin(phi))) ** (e / 2)

    phi, phi_c = np.deg2rad(lat_deg), np.deg2rad(lat_ts_deg)
    rho = a * m(phi_c) * t(phi) / t(phi_c)
    return rho / (a * m(phi))


def test_named_grids():
    assert set(GRIDS) == {"arctic50km", "arctic25km", "arctic12km"}
    expected = {"arctic50km": (128, 50e3), "arctic25km": (256, 25e3), "arctic12km": (512, 12.5e3)}
    for name, (n, dx) in expected.items():
        grid = get_grid(name)
        assert (grid.nx, grid.ny, grid.dx, grid.crs) == (n, n, dx, "EPSG:3413")
        np.testing.assert_allclose(np.diff(grid.x), dx)
        np.testing.assert_allclose(np.diff(grid.y), dx)
        assert grid.x[0] == -grid.x[-1] == -(n - 1) / 2 * dx  # centred on the pole
    assert get_grid(GRIDS["arctic25km"]) is GRIDS["arctic25km"]


def test_get_grid_error_lists_valid_names():
    with pytest.raises(DataError, match="arctic50km, arctic25km, arctic12km"):
        get_grid("arctic1km")


def test_centre_is_the_pole_and_lon0_points_down():
    grid = Grid("odd", nx=5, ny=5, dx=100e3)
    lon, lat = grid.lonlat()
    assert lat[2, 2] == pytest.approx(90.0)
    assert lat[2, 2] > lat.max(where=np.arange(25).reshape(5, 5) != 12, initial=-90)
    assert lon[0, 2] == pytest.approx(-45.0)  # straight below the pole (negative y): lon_0 = -45
    assert lon[2, 4] == pytest.approx(45.0)  # to the right (positive x)
    assert lat[2, 4] == pytest.approx(lat[0, 2])


def test_cell_area_matches_analytic_scale_factor():
    grid = GRIDS["arctic50km"]
    _, lat = grid.lonlat()
    area = grid.cell_area()
    for i, j in [(0, 0), (10, 100), (64, 64), (63, 20), (127, 127)]:
        k = analytic_scale_factor(lat[i, j])
        assert area[i, j] == pytest.approx(grid.dx**2 / k**2, rel=1e-6)
    # True scale at 70 N: cells there are dx^2 on the ground.
    near_70 = np.abs(lat - 70) < 0.2
    np.testing.assert_allclose(area[near_70], grid.dx**2, rtol=3e-3)


def test_total_area_independent_of_resolution():
    coarse, fine = GRIDS["arctic50km"].cell_area().sum(), GRIDS["arctic25km"].cell_area().sum()
    assert coarse == pytest.approx(fine, rel=1e-4)
    assert 38e12 < coarse < 42e12  # a 6400 km square, shrunk near the pole and stretched at the corners


def test_coords_and_crs_variable():
    grid = GRIDS["arctic50km"]
    coords = grid.coords()
    assert coords["x"].attrs["standard_name"] == "projection_x_coordinate"
    assert coords["y"].attrs["units"] == "m"
    assert coords["lat"].dims == ("y", "x") and coords["cell_area"].attrs["units"] == "m2"
    assert coords["land"].dtype == np.int8 and set(np.unique(coords["land"])) == {0, 1}
    crs = grid.crs_variable()
    assert crs.name == "crs"
    assert crs.attrs["grid_mapping_name"] == "polar_stereographic"
    assert crs.attrs["standard_parallel"] == 70.0
    assert crs.attrs["straight_vertical_longitude_from_pole"] == -45.0


def _axes(x, y):
    return xr.Dataset(coords={"x": x, "y": y})


def test_grid_from_dataset_named_and_custom():
    grid = GRIDS["arctic25km"]
    assert grid_from_dataset(_axes(grid.x, grid.y)) == grid
    custom = grid_from_dataset(_axes(np.arange(5) * 10e3 + 1e5, np.arange(3) * 10e3 - 2e5))
    assert (custom.name, custom.nx, custom.ny, custom.dx) == ("custom", 5, 3, 10e3)
    assert (custom.x0, custom.y0) == (1.2e5, -1.9e5)
    np.testing.assert_allclose(custom.x, np.arange(5) * 10e3 + 1e5)


@pytest.mark.parametrize("x, y, message", [
    (np.array([0.0, 1.0, 3.0]), np.array([0.0, 1.0]), "uniform spacing"),
    (np.array([0.0, 2.0, 4.0]), np.array([0.0, 1.0]), "not square"),
    (np.array([4.0, 2.0, 0.0]), np.array([0.0, 2.0]), "increasing"),
])
def test_grid_from_dataset_errors(x, y, message):
    with pytest.raises(DataError, match=message):
        grid_from_dataset(_axes(x, y))
