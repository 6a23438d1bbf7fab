"""The library functions behind the dashboard's MIZ tools (``seaice_ldm.evaluation``: transects, miz, cover,
seasonal), checked on hand-built fields against numbers worked out here independently."""

from __future__ import annotations

import numpy as np
import pytest

from seaice_ldm.data import get_grid
from seaice_ldm.evaluation import (along_distance, box_mask, cycle_from_months, cycle_from_states, excess,
                                   excess_share, ice_area, mid_month_dates, miz_box, miz_probability,
                                   miz_width_in_box, miz_widths_by_region, sample_along, state_numbers,
                                   transect_points)

X = np.arange(10) * 10_000.0  # 10 km cells, centres 0 ... 90 km
Y = np.arange(8) * 10_000.0
AREA = np.full((8, 10), 1e8)  # 100 km2 each


# ----------------------------------------------------------------------------------------- transects
def test_transect_points_are_evenly_spaced_and_end_at_b():
    p = transect_points((0, 0), (30_000, 40_000), spacing=10_000)
    assert len(p) == 6 and np.allclose(p[-1], (30_000, 40_000))
    assert np.allclose(np.hypot(*np.diff(p, axis=0).T), 10_000)


def test_nearest_keeps_cell_values_and_linear_interpolates_a_plane():
    xx, yy = np.meshgrid(X, Y)
    plane = 2.0 * xx / 1e4 + 3.0 * yy / 1e4  # exactly bilinear
    pts = np.array([[12_000.0, 21_000.0], [55_000.0, 35_000.0]])
    lin = sample_along(plane, X, Y, pts, method="linear")
    assert np.allclose(lin, [2 * 1.2 + 3 * 2.1, 2 * 5.5 + 3 * 3.5])
    near = sample_along(plane, X, Y, pts, method="nearest")
    assert np.allclose(near, [2 * 1 + 3 * 2, 2 * 6 + 3 * 4])  # 5.5 rounds to 6 (half to even), 3.5 to 4
    # a stack of fields: the leading axes are kept
    stack = np.stack([plane, 2 * plane])
    assert sample_along(stack, X, Y, pts, method="linear").shape == (2, 2)


def test_sampling_is_nan_next_to_land_and_outside_the_grid():
    f = np.ones((8, 10))
    f[3, 4] = np.nan
    pts = np.array([[44_000.0, 34_000.0], [45_000.0, 35_000.0], [500_000.0, 0.0], [80_000.0, 10_000.0]])
    lin = sample_along(f, X, Y, pts, method="linear")
    assert np.isnan(lin[0]) and np.isnan(lin[1]) and np.isnan(lin[2]) and lin[3] == 1.0
    near = sample_along(f, X, Y, pts, method="nearest")
    assert np.isnan(near[0]) and near[1] == 1.0 and np.isnan(near[2])


def test_true_distance_from_the_pole_is_the_meridian_arc():
    """From the pole along a meridian to 80 N: WGS84 meridian arc 80-90 N is 1116.4 km (geodesy tables)."""
    from seaice_ldm.data import project_lonlat

    x, y = project_lonlat([-45.0], [80.0], "EPSG:3413")
    pts = transect_points((0.0, 0.0), (float(x[0]), float(y[0])), spacing=20_000)
    d = along_distance(pts)
    assert d[0] == 0 and np.all(np.diff(d) > 0)
    assert d[-1] == pytest.approx(1116.4, rel=2e-3)
    assert np.hypot(x[0], y[0]) / 1e3 != pytest.approx(d[-1], rel=1e-3)  # the map length is not the true one


# ----------------------------------------------------------------------------------------- miz
def test_miz_probability_counts_members_inside_the_open_interval():
    sic = np.array([[[0.15, 0.5]], [[0.5, 0.8]], [[0.9, np.nan]], [[0.2, 0.79]]])
    p = miz_probability(sic)
    assert p[0, 0] == pytest.approx(2 / 4)  # 0.15 is not > 0.15
    assert np.isnan(p[0, 1])  # one member is land there


def test_box_mask_and_miz_width_in_a_box():
    """A straight edge along y with a MIZ two cells wide: width = 2 cells = 20 km, inside any box across it."""
    sic = np.zeros((8, 10))
    sic[:, 3:5] = 0.5  # MIZ columns x = 30, 40 km
    sic[:, 5:] = 1.0
    box = (0.0, 90_000.0, 20_000.0, 60_000.0)
    mask = box_mask(X, Y, box)
    assert mask.sum() == 10 * 5 and mask[2:7].all() and not mask[:2].any()
    width = miz_width_in_box(sic, X, Y, AREA, box)
    # MIZ area inside: 2 columns x 5 rows x 100 km2 = 1000 km2; edge inside the box: the sic = 0.15 contour runs
    # between cell centres y = 20 and 60 km, 40 km long: 1000 / 40 = 25 km (contours join cell centres)
    assert width / 1e3 == pytest.approx(1000.0 / 40.0, rel=1e-6)
    widths = miz_widths_by_region(np.stack([sic, sic]), X, Y, AREA, {"a": box, "empty": (0, 20_000, 0, 70_000)})
    assert np.allclose(widths["a"], 25.0) and np.all(np.isnan(widths["empty"]))


def test_miz_box_grows_to_hold_the_miz_nearby_and_stays_square():
    sic = np.zeros((1, 8, 10))
    sic[0, 7, 9] = 0.5  # one MIZ cell at (90, 70) km
    box = (20_000.0, 60_000.0, 20_000.0, 60_000.0)  # centre (40, 40), half width 20 km
    out = miz_box(sic, X, Y, box, reach=3.0, pad=0.0)
    assert out[1] - out[0] == pytest.approx(out[3] - out[2])  # square
    assert out[0] <= 20_000 and out[1] >= 95_000 and out[3] >= 75_000  # holds the box and the cell's edges
    far = miz_box(sic, X, Y, box, reach=1.5)  # the cell is beyond 1.5 half widths: the box stays
    assert far == box
    limited = miz_box(sic, X, Y, box, reach=3.0, limits=(-5_000.0, 95_000.0, -5_000.0, 75_000.0))
    assert limited[1] <= 95_000 and limited[3] <= 75_000


# ----------------------------------------------------------------------------------------- cover
def test_ice_area_leaves_out_negative_and_excess_concentration():
    sic = np.array([[-0.3, -0.1, 0.1, 0.5, 1.2, np.nan]])
    area = np.full((1, 6), 2.0)
    # plain sum sic * A = 2 * (-0.3 - 0.1 + 0.1 + 0.5 + 1.2) = 2.8; physical: 2 * (0.5 + 1.0) = 3.0
    assert ice_area(sic, area) == pytest.approx(3.0)
    assert ice_area(np.stack([sic, sic]), area).shape == (2,)


def test_excess_and_tolerance():
    v = np.array([-0.5, -0.001, 0.0, 0.7, 1.0, 1.02, np.nan])
    e = excess(v, 0.0, 1.0)
    assert np.allclose(e[:6], [-0.5, -0.001, 0, 0, 0, 0.02]) and np.isnan(e[6])
    assert excess_share(v, 0.0, 1.0) == pytest.approx(3 / 6)
    assert excess_share(v, 0.0, 1.0, tolerance=0.01) == pytest.approx(2 / 6)  # -0.001 is within tolerance
    assert np.all(excess(v, None, None)[:6] == 0)


# ----------------------------------------------------------------------------------------- seasonal
def test_state_numbers_and_cycles_on_hand_built_states():
    grid = get_grid("arctic50km")
    x, y = grid.x, grid.y
    area = np.full(grid.shape, 2.5e9)  # 50 km x 50 km
    states = np.zeros((2, *grid.shape))
    states[0, 10:20, 10:20] = 1.0  # 100 cells of pack: extent 100 * 2500 km2 = 0.25e6 km2, no MIZ
    states[1, 10:20, 10:20] = 0.5  # 100 cells of MIZ
    n = state_numbers(states, x, y, area)
    assert np.allclose(n["extent"], [0.25, 0.25]) and np.allclose(n["miz_area"], [0.0, 0.25])
    assert n["miz_width"][0] == 0.0 and n["miz_width"][1] > 0
    cycle = cycle_from_months({3: states, 9: states[:1]}, x, y, area)
    assert cycle.sizes["month"] == 12 and int(cycle["count"].sel(month=3)) == 2
    assert float(cycle["miz_area"].sel(month=3)) == pytest.approx(0.125)
    assert float(cycle["miz_area_high"].sel(month=3)) == pytest.approx(0.225)  # 90 % quantile of (0, 0.25)
    assert np.isnan(float(cycle["extent"].sel(month=1))) and int(cycle["count"].sel(month=1)) == 0
    times = np.array(["2008-03-04", "2008-09-20"], dtype="datetime64[ns]")
    by_date = cycle_from_states(states, times, x, y, area)
    assert float(by_date["miz_area"].sel(month=3)) == 0.0 and float(by_date["miz_area"].sel(month=9)) == 0.25
    assert mid_month_dates(2008)[2] == "2008-03-15" and len(mid_month_dates()) == 12


def test_nearest_region_splits_the_grid_by_distance_in_half_widths():
    from seaice_ldm.evaluation import nearest_region

    small = (0.0, 20_000.0, 0.0, 20_000.0)  # centre (10, 10) km, half width 10 km
    big = (40_000.0, 100_000.0, 0.0, 60_000.0)  # centre (70, 30) km, half width 30 km
    own = nearest_region(X, Y, {"small": small, "big": big})
    assert (own["small"] ^ own["big"]).all()  # every cell belongs to exactly one
    # cell (30, 10) km: 20 km from the small centre (2 half widths), 44.7 km from the big one (1.5): the big one's
    assert own["big"][1, 3] and own["small"][1, 1]
