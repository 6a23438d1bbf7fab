import numpy as np
import pyproj
import pytest

from seaice_ldm.data import GRIDS, DataError, Grid, load_land_mask
from seaice_ldm.data.landmask import _connected_to_pole
from seaice_ldm.data.shipped_masks import BUILD_COMMAND

LAND_POINTS = {  # (lat, lon)
    "central Greenland": (72.0, -40.0),
    "Siberia (Yakutia)": (66.0, 125.0),
    "Alaska interior": (65.0, -150.0),
    "Sweden": (64.0, 17.0),
    "Ellesmere Island": (80.0, -80.0),
}
OCEAN_POINTS = {
    "North Pole": (89.0, 0.0),
    "Beaufort Sea": (75.0, -145.0),
    "Fram Strait": (79.0, -3.0),
    "Barents Sea": (74.0, 35.0),
    "Baffin Bay": (73.0, -65.0),
    "Hudson Bay": (60.0, -85.0),
}


def cell_of(grid, lat, lon):
    x, y = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon, lat)
    return int(np.argmin(np.abs(grid.y - y))), int(np.argmin(np.abs(grid.x - x)))


@pytest.mark.parametrize("name", list(GRIDS))
def test_shipped_masks(name):
    grid = GRIDS[name]
    mask = load_land_mask(grid)
    assert mask.land.shape == mask.land_fraction.shape == grid.shape
    assert mask.land.dtype == bool
    assert 0.0 <= mask.land_fraction.min() and mask.land_fraction.max() <= 1.0
    unsure = np.abs(mask.land_fraction - 0.5) <= 1 / 255  # the fraction is stored in 8 bits
    np.testing.assert_array_equal(mask.land[~unsure], mask.land_fraction[~unsure] >= 0.5)
    c = grid.ny // 2
    assert not mask.land[c - 1:c + 1, c - 1:c + 1].any(), "the pole must be ocean"
    for place, (lat, lon) in LAND_POINTS.items():
        assert mask.land[cell_of(grid, lat, lon)], place
    for place, (lat, lon) in OCEAN_POINTS.items():
        assert not mask.land[cell_of(grid, lat, lon)], place


def test_resolutions_agree_on_land_share():
    coarse = load_land_mask(GRIDS["arctic50km"]).land_fraction
    fine = load_land_mask(GRIDS["arctic25km"]).land_fraction
    fine_coarsened = fine.reshape(128, 2, 128, 2).mean(axis=(1, 3))
    assert abs(coarse.mean() - fine.mean()) < 0.005
    assert np.abs(coarse - fine_coarsened).mean() < 0.03


def test_lakes_become_land_but_narrow_diagonal_straits_stay_open():
    water = np.zeros((9, 9), dtype=bool)
    water[3:6, 3:6] = True  # the pole's sea, at the centre
    water[6, 6] = water[7, 7] = True  # a strait touching the sea only diagonally
    water[0:2, 0:2] = True  # a lake
    ocean = _connected_to_pole(water)
    assert ocean[4, 4] and ocean[7, 7]
    assert not ocean[0:2, 0:2].any()


def test_missing_mask_names_the_build_command():
    with pytest.raises(DataError, match=BUILD_COMMAND.replace(".", r"\.")):
        load_land_mask(Grid("nowhere", 4, 4, 1e5))


@pytest.mark.slow  # builds the mask from GLOBE at 15 x 15 points a cell
def test_builder_reproduces_the_shipped_mask(tmp_path):
    pytest.importorskip("global_land_mask")
    from seaice_ldm.data import build_masks

    (path,) = build_masks(["arctic50km"], tmp_path)
    assert path.stat().st_size < 20_000 and sorted(p.name for p in tmp_path.iterdir()) == ["arctic50km.npz"]
    with np.load(path) as built:
        np.testing.assert_array_equal(built["land"].astype(bool), load_land_mask(GRIDS["arctic50km"]).land)
