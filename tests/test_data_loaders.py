from pathlib import Path

import numpy as np
import pyproj
import pytest
import xarray as xr

from seaice_ldm.data import (
    GRIDS, DataError, Grid, grid_from_dataset, make_dataset, open_dataset, to_arrays, validate_dataset,
    write_dataset,
)


def raw_file(path, variables, grid, times=None):
    """A plain (non-canonical) file: x/y/time coordinates, a CF grid mapping of the grid's CRS, and the given
    (dims, values, attrs) variables."""
    coords = {"x": grid.x, "y": grid.y}
    if times is not None:
        coords["time"] = times
    ds = xr.Dataset({k: (dims, v, {**attrs, "grid_mapping": "polar_stereographic"})
                     for k, (dims, v, attrs) in variables.items()}, coords=coords)
    ds["polar_stereographic"] = xr.DataArray(np.int32(0), attrs=pyproj.CRS(grid.crs).to_cf())
    ds.to_netcdf(path)
    return path


def write(ds, tmp_path, name="data.nc"):
    return write_dataset(ds, tmp_path / name)


# --- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.nc", "data.zarr"])
def test_round_trip(tiny, tmp_path, name):
    path = write(tiny, tmp_path, name)
    back = open_dataset(path)
    xr.testing.assert_identical(back, tiny)
    assert back["sic"].dtype == np.float32
    assert back["sic"].attrs["grid_mapping"] == "crs"
    assert back.attrs["Conventions"] == "CF-1.8"
    assert grid_from_dataset(back).shape == tiny["sic"].shape[1:]


def test_netcdf_is_compressed_with_one_chunk_per_state(tiny, tmp_path):
    path = write(tiny, tmp_path)
    with xr.open_dataset(path) as raw:
        encoding = raw["sit"].encoding
    assert encoding["zlib"] and encoding["complevel"] == 4
    assert encoding["chunksizes"] == (1, *tiny["sit"].shape[1:])


@pytest.mark.slow  # writes and opens several netCDF files (about 2 s)
def test_several_files_glob_and_list_are_combined_lazily(tiny, tmp_path):
    write(tiny.isel(time=slice(0, 3)), tmp_path, "a.nc")
    write(tiny.isel(time=slice(3, None)), tmp_path, "b.nc")
    by_glob = open_dataset(str(tmp_path / "*.nc"), chunks={"time": 2})
    assert by_glob["sic"].chunks is not None  # dask-backed
    xr.testing.assert_identical(by_glob.compute(), tiny)
    by_list = open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"])
    xr.testing.assert_identical(by_list.compute(), tiny)


def test_missing_paths_are_named(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        open_dataset(tmp_path / "absent.nc")
    with pytest.raises(DataError, match="no file matches"):
        open_dataset(str(tmp_path / "*.nc"))


# --- names, units, subsets, land ----------------------------------------------------------------------


def test_aliases_and_units_are_mapped(tiny, tiny_grid, tmp_path):
    sic, sit = tiny["sic"].values, tiny["sit"].values
    path = raw_file(tmp_path / "product.nc", {
        "siconc": (("time", "y", "x"), sic * 100, {"units": "%"}),
        "analysis_sea_ice_thickness": (("time", "y", "x"), sit * 100, {"units": "cm"}),
    }, tiny_grid, tiny["time"].values)
    ds = open_dataset(path)
    assert list(ds.data_vars) == ["sit", "sic"]
    np.testing.assert_allclose(ds["sic"].values, sic, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ds["sit"].values, sit, rtol=1e-6)
    assert ds["sic"].attrs["units"] == "1" and ds["sit"].attrs["units"] == "m"


def test_velocity_units_are_converted(tiny, tiny_grid, tmp_path):
    path = raw_file(tmp_path / "drift.nc", {
        "vxsi": (("time", "y", "x"), tiny["siu"].values * 86.4, {"units": "km/day"}),
    }, tiny_grid, tiny["time"].values)
    np.testing.assert_allclose(open_dataset(path)["siu"].values, tiny["siu"].values, rtol=1e-5, atol=1e-7)


def test_two_aliases_of_one_variable_are_refused(tiny, tiny_grid, tmp_path):
    sic = tiny["sic"].values
    path = raw_file(tmp_path / "twice.nc", {
        "siconc": (("time", "y", "x"), sic, {}), "ice_conc": (("time", "y", "x"), sic, {}),
    }, tiny_grid, tiny["time"].values)
    with pytest.raises(DataError, match="'siconc' and 'ice_conc' both map to 'sic'"):
        open_dataset(path)


def test_unknown_units_are_refused(tiny, tiny_grid, tmp_path):
    path = raw_file(tmp_path / "units.nc", {"sit": (("time", "y", "x"), tiny["sit"].values, {"units": "ft"})},
                    tiny_grid, tiny["time"].values)
    with pytest.raises(DataError, match="'sit' has unknown units 'ft'"):
        open_dataset(path)


def test_subset_of_variables(tiny, tmp_path):
    ds = open_dataset(write(tiny, tmp_path), variables=("sic", "sit"))
    assert list(ds.data_vars) == ["sit", "sic"]


def test_land_from_cells_nan_everywhere(tiny, tmp_path):
    ds = open_dataset(write(tiny.drop_vars("land"), tmp_path))
    np.testing.assert_array_equal(ds["land"].values, tiny["land"].values)


def test_land_from_explicit_mask_and_from_a_mask_variable(tiny, tiny_grid, tmp_path):
    land = tiny["land"].values.astype(bool)
    filled = {n: (("time", "y", "x"), np.nan_to_num(tiny[n].values), {}) for n in ("sic", "sit")}  # land = 0
    path = raw_file(tmp_path / "filled.nc", filled, tiny_grid, tiny["time"].values)
    ds = open_dataset(path, land_mask=land)
    np.testing.assert_array_equal(ds["land"].values, land)
    assert np.isnan(ds["sic"].values[:, land]).all()
    path = raw_file(tmp_path / "masked.nc", {**filled, "land": (("y", "x"), land.astype(np.int8), {})},
                    tiny_grid, tiny["time"].values)
    np.testing.assert_array_equal(open_dataset(path)["land"].values, land)


def test_values_within_tolerance_are_clipped(tiny, tmp_path):
    tiny["sic"][0, 5, 5] = 1.004
    tiny["sit"][0, 5, 5] = -0.004
    ds = open_dataset(write(tiny, tmp_path))
    assert ds["sic"].values[0, 5, 5] == 1.0 and ds["sit"].values[0, 5, 5] == 0.0


# --- bad input: one test each, the message names the problem --------------------------------------------


def _bad(tiny, tmp_path, match, **kwargs):
    with pytest.raises(DataError, match=match):
        open_dataset(write(tiny, tmp_path), **kwargs)


def test_unknown_variable_requested(tiny, tmp_path):
    _bad(tiny, tmp_path, "unknown variable 'salinity' requested", variables=("sic", "salinity"))


def test_missing_variable_requested(tiny, tmp_path):
    _bad(tiny[["sic"]], tmp_path, r"requested variables \['sit'\] are missing", variables=("sic", "sit"))


def test_no_known_variable(tiny, tiny_grid, tmp_path):
    path = raw_file(tmp_path / "ocean.nc", {"salinity": (("time", "y", "x"), tiny["sic"].values, {})},
                    tiny_grid, tiny["time"].values)
    with pytest.raises(DataError, match=r"no known sea-ice variable .*found: salinity"):
        open_dataset(path)


def test_wrong_dims(tiny, tmp_path):
    renamed = tiny[["sic"]].rename({"time": "t", "y": "lat_", "x": "lon_"})
    path = tmp_path / "dims.nc"
    renamed.drop_vars(["lat", "lon", "cell_area", "land"]).to_netcdf(path)
    # lat_/lon_ carry CF projection_x/y_coordinate names, so they are read as y/x; 't' is refused
    with pytest.raises(DataError, match=r"'sic' has dims \('t', 'y', 'x'\), expected \('time', 'y', 'x'\)"):
        open_dataset(path)


def test_grid_mismatch_shape(tiny, tmp_path):
    _bad(tiny, tmp_path, r"grid mismatch: .*data.nc has \(y, x\) = \(10, 12\), grid 'arctic50km'",
         grid="arctic50km")


def test_grid_mismatch_coordinates(tiny, tmp_path):
    shifted = Grid("custom", 12, 10, 50_000.0, x0=100e3)
    _bad(tiny, tmp_path, r"grid mismatch: coordinate 'x' of .*data.nc differs", grid=shifted)


def test_negative_thickness(tiny, tmp_path):
    tiny["sit"][1, 5, 5] = -0.5
    tiny["sit"][2, 6, 6] = -0.2
    _bad(tiny, tmp_path, r"'sit' \(sea-ice thickness\) has 2 values below its lower bound 0 m \(worst -0.5 m")


def test_concentration_above_one(tiny, tmp_path):
    tiny["sic"][1, 5, 5] = 1.5
    _bad(tiny, tmp_path, r"'sic' \(sea-ice concentration\) has 1 values above its upper bound 1 \(worst 1.5")


def test_nan_in_ocean(tiny, tmp_path):
    tiny["siu"][2, 5, 5] = np.nan
    _bad(tiny, tmp_path, "'siu' has 1 NaN values in ocean cells")


def test_all_nan_field(tiny, tmp_path):
    tiny["sid"][3] = np.nan
    _bad(tiny, tmp_path, "'sid' is all-NaN in 1 fields")


def test_time_not_increasing(make_tiny, tmp_path):
    days = np.array(["2000-01-01", "2000-01-03", "2000-01-02"], dtype="datetime64[D]")
    _bad(make_tiny(days), tmp_path, "time is not increasing: 2000-01-03.* is followed by 2000-01-02")


def test_duplicate_time(make_tiny, tmp_path):
    days = np.array(["2000-01-01", "2000-01-02", "2000-01-02"], dtype="datetime64[D]")
    _bad(make_tiny(days), tmp_path, "duplicate time values: 2000-01-02")


def test_validate_reports_every_value_problem_at_once(tiny):
    tiny["sit"][0, 5, 5] = -1.0
    tiny["sid"][0, 5, 5] = 2.0
    with pytest.raises(DataError) as err:
        validate_dataset(tiny)
    assert "'sit'" in str(err.value) and "'sid'" in str(err.value)


# --- atomic writing -----------------------------------------------------------------------------------


def _netcdf_fails_midway(self, path, *args, **kwargs):
    Path(path).write_bytes(b"half a file")
    raise RuntimeError("disk full")


def _zarr_fails_midway(self, store, *args, **kwargs):
    Path(store, "sic").mkdir(parents=True)
    Path(store, "sic", "c0").write_bytes(b"half a chunk")
    raise RuntimeError("disk full")


@pytest.mark.parametrize("name, method, failing", [
    ("out.nc", "to_netcdf", _netcdf_fails_midway), ("out.zarr", "to_zarr", _zarr_fails_midway),
])
def test_failed_write_leaves_nothing_behind(tiny, tmp_path, monkeypatch, name, method, failing):
    monkeypatch.setattr(xr.Dataset, method, failing)
    with pytest.raises(RuntimeError, match="disk full"):
        write_dataset(tiny, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_old_file(tiny, tmp_path, monkeypatch):
    path = write(tiny, tmp_path)
    before = path.read_bytes()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _netcdf_fails_midway)
    with pytest.raises(RuntimeError):
        write_dataset(tiny, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".data.nc.seaice-ldm.json", "data.nc"]  # no temporaries


# --- canonical construction and arrays ----------------------------------------------------------------


def test_make_dataset_for_an_ensemble(tiny_grid):
    land = np.zeros(tiny_grid.shape, dtype=bool)
    land[0, 0] = True
    ds = make_dataset({"siv": np.ones((3, *tiny_grid.shape)), "sic": np.zeros((3, *tiny_grid.shape))},
                      tiny_grid, land=land)
    assert list(ds.data_vars) == ["sic", "siv"] and ds["sic"].dims == ("member", "y", "x")
    np.testing.assert_array_equal(ds["member"].values, [0, 1, 2])
    assert np.isnan(ds["siv"].values[:, 0, 0]).all() and ds["siv"].dtype == np.float32
    validate_dataset(ds)


def test_make_dataset_refuses_unknown_names_and_shapes(tiny_grid):
    with pytest.raises(DataError, match="unknown variables"):
        make_dataset({"salinity": np.zeros((1, *tiny_grid.shape))}, tiny_grid,
                     land=np.zeros(tiny_grid.shape, bool))
    with pytest.raises(DataError, match="expected"):
        make_dataset({"sic": np.zeros((1, 3, 3))}, GRIDS["arctic50km"])


def test_to_arrays(tiny):
    x, ocean = to_arrays(tiny, ("sic", "siu"))
    assert x.shape == (6, 2, 10, 12) and x.dtype == np.float32
    np.testing.assert_array_equal(ocean, tiny["land"].values == 0)
    assert (x[..., ~ocean] == 0).all() and np.isfinite(x).all()
    np.testing.assert_array_equal(x[:, 1][:, ocean], tiny["siu"].values[:, ocean])
