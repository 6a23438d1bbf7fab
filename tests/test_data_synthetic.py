import numpy as np
import pyproj
import pytest
import xarray as xr

from seaice_ldm.data import GRIDS, synthesize, validate_dataset

GRID = GRIDS["arctic50km"]


@pytest.fixture(scope="module")
def ds(synthetic_2y):
    return synthetic_2y


@pytest.fixture(scope="module")
def ocean(ds):
    return ds["land"].values == 0


@pytest.fixture(scope="module")
def values(ds, ocean):
    """Each variable on ocean cells, (time, cells)."""
    return {name: ds[name].values[:, ocean] for name in ds.data_vars}


def near(lat, lon, radius_km):
    """Cells within ``radius_km`` (projected) of a point."""
    x, y = pyproj.Transformer.from_crs("EPSG:4326", GRID.crs, always_xy=True).transform(lon, lat)
    xx, yy = np.meshgrid(GRID.x - x, GRID.y - y)
    return np.hypot(xx, yy) < radius_km * 1e3, (xx, yy)


def test_layout_and_labels(ds):
    assert ds.sizes["time"] == 730 and ds["time"].dtype.kind == "M"
    assert np.unique(ds["time"].dt.year).tolist() == [2000, 2001]
    assert all(ds[n].dtype == np.float32 for n in ds.data_vars)
    assert ds.attrs["synthetic"] == "yes"
    assert "Synthetic" in ds.attrs["title"] and "not observations" in ds.attrs["title"]
    assert "SYNTHETIC" in ds.attrs["comment"] and ds.attrs["grid_name"] == "arctic50km"
    validate_dataset(ds, "arctic50km", tolerance=0.0)


def test_bounds_and_land(ds, ocean, values):
    assert values["sit"].min() >= 0
    for name in ("sic", "sid"):
        assert values[name].min() >= 0 and values[name].max() <= 1
    for name in ds.data_vars:
        assert np.isnan(ds[name].values[:, ~ocean]).all()
        assert np.isfinite(values[name]).all()


def test_point_masses_and_marginal_ice_zone(values):
    sic, sid = values["sic"], values["sid"]
    assert 0.25 < (sic == 0).mean() < 0.7
    assert 0.2 < (sic == 1).mean() < 0.6
    miz = ((sic > 0.15) & (sic < 0.8)).mean()
    assert 0.02 < miz < 0.15
    ice = sic > 0
    assert (sid[ice] == 0).mean() > 0.5 and (sid == 1).sum() > 0


def test_no_ice_no_thickness_damage_or_drift(values):
    no_ice = values["sic"] == 0
    for name in ("sit", "sid", "siu", "siv"):
        assert (values[name][no_ice] == 0).all(), name
    assert (values["sit"][~no_ice] > 0).all()
    ice = ~no_ice
    assert np.corrcoef(values["sic"][ice], values["sit"][ice])[0, 1] > 0.2


# NSIDC-like monthly mean Arctic extent of the 2000s (million km2), January ... December: the observed
# shape is a March maximum, a clear decline from April and a September minimum.
OBSERVED_EXTENT = (13.9, 14.7, 15.0, 14.3, 13.0, 11.0, 8.0, 5.8, 4.8, 6.8, 9.6, 12.2)


def test_seasonal_cycle_follows_the_observed_climatology(ds):
    extent = ((ds["sic"] > 0.15) * ds["cell_area"]).sum(("y", "x")) / 1e12
    monthly = extent.groupby(ds["time"].dt.month).mean().values
    assert np.abs(monthly - np.array(OBSERVED_EXTENT)).max() < 1.0
    assert np.argmax(monthly) == 2 and np.argmin(monthly) == 8  # March maximum, September minimum
    assert monthly[3] < monthly[2] - 0.3 and monthly[4] < monthly[3] - 0.5  # declining from April
    for year in (2000, 2001):  # every year has the cycle, not just the mean
        months = extent.sel(time=str(year)).groupby(f"time.month").mean().values
        assert months[2] > months[8] + 7


def test_thickest_ice_north_of_greenland_and_the_archipelago(ds):
    march = ds["sit"].sel(time="2000-03").mean("time").values
    north_of_greenland, _ = near(84.0, -60.0, 400)
    laptev, _ = near(77.0, 125.0, 400)
    assert np.nanmean(march[north_of_greenland]) > 3.0
    assert np.nanmean(march[north_of_greenland]) > np.nanmean(march[laptev]) + 1.5


def test_beaufort_gyre_is_anticyclonic_and_transpolar_drift_heads_to_fram_strait(ds):
    winter = ds.sel(time="2000-01")
    u, v = winter["siu"].mean("time").values, winter["siv"].mean("time").values
    ring, (dx, dy) = near(76.0, -145.0, 600)
    ring &= np.hypot(dx, dy) > 150e3
    counter_clockwise = (-dy * u + dx * v) / np.hypot(dx, dy)
    assert np.nanmean(counter_clockwise[ring]) < -0.02  # clockwise = anticyclonic in the north
    pole, _ = near(90.0, 0.0, 400)
    fram_x, fram_y = pyproj.Transformer.from_crs("EPSG:4326", GRID.crs, always_xy=True).transform(0.0, 80.0)
    towards_fram = (u * fram_x + v * fram_y) / np.hypot(fram_x, fram_y)
    assert np.nanmean(towards_fram[pole]) > 0.03


def test_day_to_day_autocorrelation(values):
    sic = values["sic"][:365]
    anomaly = sic - sic.mean(axis=0)
    lag1 = (anomaly[1:] * anomaly[:-1]).sum() / np.sqrt((anomaly[1:] ** 2).sum() * (anomaly[:-1] ** 2).sum())
    assert lag1 > 0.5
    sid = values["sid"]
    assert np.corrcoef(sid[1:].ravel(), sid[:-1].ravel())[0, 1] > 0.5  # leads persist for days


@pytest.mark.slow  # generates two synthetic climates (about 2 s)
def test_deterministic_for_a_seed_and_extending_keeps_earlier_years(ds):
    again = synthesize(years=1, seed=0)
    xr.testing.assert_equal(again, ds.sel(time="2000"))
    other = synthesize(years=1, seed=1)
    assert not np.array_equal(other["sic"].values, again["sic"].values, equal_nan=True)


@pytest.mark.slow
def test_finer_grid_shows_the_same_geography(synthetic_2y):
    fine = synthesize(years=1, grid="arctic25km", seed=0)
    validate_dataset(fine, "arctic25km", tolerance=0.0)
    coarse_march = (synthetic_2y["sic"].sel(time="2000-03") > 0.15).mean("time")
    fine_march = (fine["sic"].sel(time="2000-03") > 0.15).mean("time").coarsen(y=2, x=2).mean()
    assert float(np.abs(fine_march.values - coarse_march.values)[~np.isnan(coarse_march.values)].mean()) < 0.1
