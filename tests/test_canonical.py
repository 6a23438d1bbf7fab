"""The canonical Dataset contract: every way the package makes a Dataset passes the one check, the check
refuses what is not canonical, and hand-edited checkpoint values are refused naming the key."""

import numpy as np
import pyproj
import pytest
import xarray as xr

from seaice_ldm.data import (
    GRIDS, DataError, Grid, NormStats, check_canonical, make_dataset, open_dataset, with_cf, write_dataset,
)


def test_every_builder_output_passes_the_contract(tiny, synthetic_2y, tmp_path):
    check_canonical(tiny)
    check_canonical(synthetic_2y)
    for name in ("a.nc", "a.zarr"):
        check_canonical(open_dataset(write_dataset(tiny, tmp_path / name)))
    ensemble = make_dataset({"sic": np.zeros((3, 10, 12))}, Grid("custom", 12, 10, 5e4),
                            land=np.zeros((10, 12), bool))
    check_canonical(ensemble)
    assert ensemble["member"].dtype == np.int32 and ensemble["member"].attrs["standard_name"] == "realization"


def test_with_cf_completes_an_ensemble_with_extra_leading_dims(tiny):
    bare = xr.concat([tiny[["sic"]].drop_attrs(deep=False)] * 2, dim="source").drop_vars("crs")
    bare["sic"].attrs = {}
    done = with_cf(bare, Grid("custom", 12, 10, 5e4), {"title": "two sources"})
    check_canonical(done)
    assert done.attrs["title"] == "two sources" and done["sic"].attrs["grid_mapping"] == "crs"


def test_crs_variable_follows_cf_and_pyproj():
    attrs = GRIDS["arctic50km"].crs_variable().attrs
    assert attrs["latitude_of_projection_origin"] == 90.0 and attrs["long_name"]
    assert pyproj.CRS.from_cf(attrs).to_epsg() == 3413
    without_wkt = {k: v for k, v in attrs.items() if k != "crs_wkt"}  # what CF-only readers use
    crs = pyproj.CRS.from_cf(without_wkt)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(1e6, -5e5)
    lon0, lat0 = pyproj.Transformer.from_crs("EPSG:3413", "EPSG:4326", always_xy=True).transform(1e6, -5e5)
    assert (lon, lat) == pytest.approx((lon0, lat0), abs=1e-9)


@pytest.mark.parametrize("spoil, message", [
    (lambda ds: ds.drop_vars("crs"), "no grid mapping variable 'crs'"),
    (lambda ds: ds.assign_attrs(Conventions="CF-1.6"), "Conventions"),
    (lambda ds: ds.assign(sic=ds["sic"].astype(np.float64)), "'sic' is float64"),
    (lambda ds: ds.assign(sic=ds["sic"].assign_attrs(standard_name="ice")), "'sic' has standard_name = 'ice'"),
    (lambda ds: ds.assign(sid=ds["sid"].assign_attrs(units="%")), "'sid' has units = '%'"),
    (lambda ds: ds.assign_coords(time=np.arange(6)), "'time' is missing or not datetime64"),
])
def test_the_check_refuses_what_is_not_canonical(tiny, spoil, message):
    with pytest.raises(DataError, match=message):
        check_canonical(spoil(tiny))


@pytest.mark.parametrize("meta, key", [
    ({"names": ["sit"], "mean": [1.0], "std": [0.0]}, r"norm_stats.std\[0\] \(sit\)"),
    ({"names": ["sit"], "mean": [float("nan")], "std": [1.0]}, r"norm_stats.mean\[0\] \(sit\)"),
    ({"names": ["salt"], "mean": [1.0], "std": [1.0]}, r"norm_stats.names"),
    ({"names": ["sit"], "mean": ["a lot"], "std": [1.0]}, r"norm_stats: names, mean and std"),
    ({"names": ["sit"], "std": [1.0]}, r"norm_stats: key 'mean' is missing"),
])
def test_hand_edited_normalisation_stats_are_refused_naming_the_key(meta, key):
    with pytest.raises(DataError, match=key):
        NormStats.from_dict(meta)


@pytest.mark.parametrize("fields, key", [
    ({"nx": 0}, "grid nx"), ({"dx": -5.0}, "grid dx"), ({"dx": float("nan")}, "grid dx"),
    ({"crs": "EPSG:4326"}, "not a projected CRS"), ({"crs": "EPSG:99999999"}, "grid crs"),
    ({"ny": "128"}, "grid ny"),
])
def test_hand_edited_grid_values_are_refused_naming_the_key(fields, key):
    values = {"name": "arctic50km", "nx": 128, "ny": 128, "dx": 50_000.0, **fields}
    with pytest.raises(DataError, match=key):
        Grid(**values)
