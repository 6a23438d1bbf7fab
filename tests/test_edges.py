"""Ice-edge diagnostics against analytic geometry: discs, annuli and a straight edge."""

from __future__ import annotations

import numpy as np
import pytest

from seaice_ldm.data import get_grid
from seaice_ldm.evaluation.edges import (
    contour_lines, edge_length, edge_probability, grid_edge, iiee, iiee_sic, ice_mask, isolated_ice_cells,
    isolated_pack_gaps, line_length, miz_area, miz_width,
)

N, DX = 400, 10e3
X = (np.arange(N) - (N - 1) / 2) * DX
XX, YY = np.meshgrid(X, X)
R = np.hypot(XX, YY)
AREA = np.full((N, N), DX * DX)


def disc(radius: float, centre=(0.0, 0.0), ramp: float = 200e3) -> np.ndarray:
    """sic = 0.15 exactly on a circle of ``radius``, rising linearly inwards over ``ramp`` per unit sic."""
    r = np.hypot(XX - centre[0], YY - centre[1])
    return np.clip(0.15 + (radius - r) / ramp, 0.0, 1.0)


def test_iiee_of_concentric_discs_is_the_annulus_area():
    r1, r2 = 0.8e6, 1.1e6
    out = iiee_sic(disc(r1), disc(r2), AREA)
    annulus = np.pi * (r2**2 - r1**2)
    assert out["iiee"] == pytest.approx(annulus, rel=0.01)
    # the smaller field misses ice everywhere in the annulus: all underestimate, no misplacement
    assert out["overestimate"] == 0.0
    assert out["aee"] == pytest.approx(out["iiee"]) and out["me"] == 0.0


def test_iiee_of_shifted_discs_is_twice_the_lens_complement():
    r, d = 0.9e6, 0.5e6  # two equal discs, centres d apart: IIEE = 2 (pi r^2 - lens)
    lens = 2 * r**2 * np.arccos(d / (2 * r)) - d / 2 * np.sqrt(4 * r**2 - d**2)
    out = iiee_sic(disc(r, (-d / 2, 0.0)), disc(r, (d / 2, 0.0)), AREA)
    assert out["iiee"] == pytest.approx(2 * (np.pi * r**2 - lens), rel=0.01)
    # same extent: the error is all misplacement
    assert out["aee"] < 0.01 * out["iiee"]
    assert out["me"] == pytest.approx(out["iiee"], rel=0.01)


def test_iiee_is_symmetric_zero_for_identical_and_weighted_by_cell_area():
    a, b = disc(0.7e6), disc(1.0e6)
    assert iiee_sic(a, a, AREA)["iiee"] == 0.0
    ab, ba = iiee_sic(a, b, AREA), iiee_sic(b, a, AREA)
    assert ab["iiee"] == ba["iiee"] and ab["overestimate"] == ba["underestimate"]
    weights = np.where(XX > 0, 2.0, 1.0) * AREA  # doubling the area of the right half
    assert iiee_sic(a, b, weights)["iiee"] == pytest.approx(1.5 * ab["iiee"], rel=0.01)


def test_iiee_ignores_land_and_masks():
    a, b = disc(0.7e6), disc(1.0e6)
    land = XX < 0
    a[land] = np.nan
    full = iiee_sic(disc(0.7e6), b, AREA)["iiee"]
    assert iiee_sic(a, b, AREA)["iiee"] == pytest.approx(full / 2, rel=0.02)
    assert iiee(ice_mask(a), ice_mask(b), AREA, valid=~land)["iiee"] == pytest.approx(full / 2, rel=0.02)


def test_edge_length_of_a_disc_is_its_circumference():
    for radius in (0.3e6, 1.2e6):
        assert edge_length(disc(radius), X, X, AREA) == pytest.approx(2 * np.pi * radius, rel=0.002)


def test_straight_edge_length_and_miz_width():
    ramp = 400e3  # sic rises from 0 to 1 over 400 km along x: MIZ (0.15..0.8) is 0.65 * 400 km wide
    sic = np.clip((XX + 1e6) / ramp, 0.0, 1.0)
    height = X[-1] - X[0]  # the contour runs along y through the cell centres
    assert edge_length(sic, X, X, AREA) == pytest.approx(height, rel=1e-6)
    assert miz_area(sic, AREA) == pytest.approx(0.65 * ramp * N * DX, rel=0.03)
    assert miz_width(sic, X, X, AREA) == pytest.approx(0.65 * ramp, rel=0.03)


def test_miz_width_of_a_disc_is_annulus_area_over_circumference():
    radius, ramp = 1.2e6, 200e3
    inner = radius - 0.65 * ramp
    expected = np.pi * (radius**2 - inner**2) / (2 * np.pi * radius)
    assert miz_width(disc(radius, ramp=ramp), X, X, AREA) == pytest.approx(expected, rel=0.01)
    assert np.isnan(miz_width(np.zeros((N, N)), X, X, AREA))  # no edge, no width


def test_true_length_divides_by_the_scale_factor():
    line = np.array([[0.0, 0.0], [1e5, 0.0], [np.nan, np.nan], [0.0, 1e5], [0.0, 3e5]])
    assert line_length(line) == pytest.approx(3e5)
    # cells twice as small in true area per side: k = dx / sqrt(A) = 2, true length halves
    assert line_length(line, X, X, AREA / 4.0) == pytest.approx(1.5e5)


def test_edge_length_on_the_polar_grid_uses_true_lengths():
    """A parallel of latitude on EPSG:3413: the true length of the 75 N circle on the WGS84 ellipsoid."""
    grid = get_grid("arctic25km")
    lon, lat = grid.lonlat()
    sic = np.clip(0.15 + (lat - 75.0) / 5.0, 0.0, 1.0)
    a, e2 = 6378137.0, 0.00669437999014
    phi = np.radians(75.0)
    expected = 2 * np.pi * a * np.cos(phi) / np.sqrt(1 - e2 * np.sin(phi) ** 2)  # parallel circumference
    assert edge_length(sic, grid.x, grid.y, grid.cell_area()) == pytest.approx(expected, rel=0.002)
    # the projected length differs by the scale factor at 75 N (about 0.6 % here): the correction matters
    projected = edge_length(sic, grid.x, grid.y)
    assert abs(projected / expected - 1) > 0.004


def test_edge_probability():
    members = np.stack([disc(r) for r in (0.5e6, 0.7e6, 0.9e6, 1.1e6)])
    p = edge_probability(members)
    assert p[N // 2, N // 2] == 1.0 and p[0, 0] == 0.0
    at = np.argmin(np.abs(X - 0.8e6))
    assert p[N // 2, at] == 0.5


def test_contour_lines_of_a_cone_are_a_circle_and_nothing_on_an_all_nan_field():
    x = y = np.linspace(-1, 1, 40)
    xx, yy = np.meshgrid(x, y)
    lines = contour_lines(1 - np.hypot(xx, yy), x, y, 0.15)
    assert lines.shape[1] == 2 and len(lines) > 10
    np.testing.assert_allclose(np.hypot(*lines[np.isfinite(lines[:, 0])].T), 0.85, atol=0.02)
    assert contour_lines(np.full((40, 40), np.nan), x, y, 0.15).shape == (0, 2)


def test_speckle_counts_single_cell_ice_patches():
    sic = np.zeros((2, 8, 9))
    sic[0, 1, 1] = 0.5                   # isolated
    sic[0, 4, 4] = sic[0, 5, 5] = 0.9    # diagonal neighbours: one 8-connected patch, not speckle
    sic[0, 7, 8] = 0.2                   # isolated, in the corner
    sic[0, 2, 6] = 0.15                  # at the threshold: no ice
    sic[:, 0, 8] = np.nan                # land
    sic[1, 2:5, 2:5] = 1.0               # a solid patch
    sic[1, 3, 3] = 0.0                   # with a hole: no speckle either
    sic[1, 0, 7] = 0.3
    assert isolated_ice_cells(sic).tolist() == [2, 1]
    # in open water: (1, 1) and (7, 8) (the grid's border is not land); (0, 7) touches the land at (0, 8)
    assert isolated_ice_cells(sic, open_water=True).tolist() == [2, 0]


def test_speckle_matches_a_neighbour_count_on_random_fields():
    rng = np.random.default_rng(3)
    sic = np.where(rng.random((5, 30, 40)) < 0.12, rng.uniform(0.16, 1.0, (5, 30, 40)), 0.0)
    sic[:, :3, :3] = np.nan
    ice = np.isfinite(sic) & (np.nan_to_num(sic) > 0.15)
    padded = np.pad(ice, ((0, 0), (1, 1), (1, 1)))
    neighbours = sum(padded[:, 1 + a:31 + a, 1 + b:41 + b].astype(int)
                     for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0))
    expected = (ice & (neighbours == 0)).sum(axis=(1, 2))
    assert expected.min() > 0
    assert isolated_ice_cells(sic).tolist() == expected.tolist()
    ocean = np.pad(np.isfinite(sic), ((0, 0), (1, 1), (1, 1)), constant_values=True)  # beyond the border: not land
    ocean_ring = sum(ocean[:, 1 + a:31 + a, 1 + b:41 + b].astype(int)
                     for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0))
    open_water = (ice & (neighbours == 0) & (ocean_ring == 8)).sum(axis=(1, 2))
    assert 0 < open_water.sum() < expected.sum()
    assert isolated_ice_cells(sic, open_water=True).tolist() == open_water.tolist()
    # within two cells of the border: distance to the nearest of the four sides, counted cell by cell
    rows, cols = np.indices((30, 40))
    near = np.array([[min(r, 29 - r, c, 39 - c) <= 1 for r, c in zip(rr, cc)] for rr, cc in zip(rows, cols)])
    at_edge = (ice & (neighbours == 0) & (ocean_ring == 8) & near).sum(axis=(1, 2))
    assert 0 < at_edge.sum() < open_water.sum()
    assert isolated_ice_cells(sic, open_water=True, within=grid_edge((30, 40), 2)).tolist() == at_edge.tolist()


def test_pack_gaps_are_single_cells_below_0_8_inside_pack_ice_at_sea():
    sic = np.full((2, 9, 9), 0.95)
    sic[0, 2, 2] = 0.79                  # a gap
    sic[0, 6, 6] = 0.8                   # at the threshold: pack, not a gap
    sic[0, 4, 7] = sic[0, 5, 8] = 0.5    # diagonal neighbours: one patch of two cells, not a gap
    sic[0, 0, 4] = 0.0                   # on the border (beyond it is not land): a gap
    sic[1, 1, 1] = 0.3
    sic[1, 0, 0] = np.nan                # land next to (1, 1): not at sea
    sic[1, 7, 7] = 0.6
    sic[1, 6, 6] = 0.7                   # touches (7, 7)
    assert isolated_pack_gaps(sic).tolist() == [2, 0]


def test_pack_gaps_match_a_neighbour_count_on_random_fields():
    rng = np.random.default_rng(5)
    sic = np.where(rng.random((4, 30, 40)) < 0.1, rng.uniform(0.0, 0.8, (4, 30, 40)), rng.uniform(0.8, 1.0, (4, 30, 40)))
    sic[:, 10:13, 20:22] = np.nan
    gap = np.isfinite(sic) & (np.nan_to_num(sic, nan=1.0) < 0.8)
    pack_at_sea = np.pad(np.isfinite(sic) & ~gap, ((0, 0), (1, 1), (1, 1)), constant_values=True)
    surrounded = np.all([pack_at_sea[:, 1 + a:31 + a, 1 + b:41 + b]
                         for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)], axis=0)
    expected = (gap & surrounded).sum(axis=(1, 2))
    assert expected.min() > 0
    assert isolated_pack_gaps(sic).tolist() == expected.tolist()


def test_grid_edge_marks_the_border_band():
    edge = grid_edge((6, 7), 2)
    assert edge.sum() == 6 * 7 - 2 * 3  # all but the 2 x 3 core
    assert not edge[2:4, 2:5].any() and edge[1, 3] and edge[4, 3] and edge[3, 1] and edge[3, 5]
    assert grid_edge((6, 7), 1).sum() == 6 * 7 - 4 * 5
