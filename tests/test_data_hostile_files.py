"""Files a user may hand over that used to be read wrong without a word or refused with a traceback or a
misleading cause (issue 26): each is now read right or refused with one paragraph that names the file, the
variable or value, and the fix. The expected values come from pyproj and the arrays written, not from the code."""

import shutil
import warnings

import numpy as np
import pyproj
import pytest
import xarray as xr

from seaice_ldm.data import DataError, DataNote, Grid, make_dataset, open_dataset, validate_dataset, write_dataset
from seaice_ldm.data import sizes

GRID = Grid("custom", nx=16, ny=12, dx=25_000.0)
TIMES = np.arange("2001-01-01", "2001-01-07", dtype="datetime64[D]").astype("datetime64[ns]")


def fields(seed=0, n=6):
    rng = np.random.default_rng(seed)
    sic = np.clip(rng.uniform(-0.3, 1.3, (n, *GRID.shape)), 0, 1)
    return {"sit": np.where(sic > 0, rng.uniform(0.1, 3.0, sic.shape), 0.0), "sic": sic,
            "siu": rng.normal(0, 0.1, sic.shape) * (sic > 0)}


def land():
    mask = np.zeros(GRID.shape, bool)
    mask[:3, :5] = True
    return mask


def product(path, variables: dict, *, crs="EPSG:3413", latlon=None, x=None, y=None, mapping=True):
    """A product file: {name: (values, attrs)} on (time, y, x), a CF grid mapping unless ``mapping=False``,
    2-D lat/lon when ``latlon`` names the CRS they come from."""
    x = GRID.x if x is None else x
    y = GRID.y if y is None else y
    coords = {"time": TIMES, "x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})}
    ds = xr.Dataset({k: (("time", "y", "x"), v.astype(np.float32), {**a, **({"grid_mapping": "crs"} if mapping else {})})
                     for k, (v, a) in variables.items()}, coords=coords)
    if mapping:
        ds["crs"] = xr.DataArray(np.int32(0), attrs=pyproj.CRS(crs).to_cf())
    if latlon:
        xx, yy = np.meshgrid(x, y)
        lon, lat = pyproj.Transformer.from_crs(latlon, "EPSG:4326", always_xy=True).transform(xx, yy)
        ds = ds.assign_coords(lat=(("y", "x"), lat.astype(np.float32), {"standard_name": "latitude"}),
                              lon=(("y", "x"), lon.astype(np.float32), {"standard_name": "longitude"}))
    ds.to_netcdf(path)
    return path


def with_land(values):
    out = values.copy()
    out[:, land()] = np.nan
    return out


# --- empty, text, truncated, several files -------------------------------------------------------------------


def test_an_empty_file_is_named_as_empty(tmp_path):
    (tmp_path / "empty.nc").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty.nc is empty \(0 bytes\).*Give a netCDF-4/HDF5 or netCDF-3 file"):
        open_dataset(tmp_path / "empty.nc")


def test_a_text_file_is_named_as_not_netcdf(tmp_path):
    (tmp_path / "notes.nc").write_text("sea ice thickness from the cruise, see attached\n")
    with pytest.raises(DataError, match=r"notes.nc is not a netCDF file \(it starts with 'sea ice thickness"):
        open_dataset(tmp_path / "notes.nc")


@pytest.mark.parametrize("fmt", ["NETCDF4", "NETCDF3_64BIT", "NETCDF3_CLASSIC"])
def test_a_truncated_file_is_named_as_truncated(tmp_path, fmt):
    """A netCDF-3 file cut short used to read zeros for the missing bytes ("x spacing of 0 m")."""
    path = product(tmp_path / "whole.nc", {"sic": (with_land(fields()["sic"]), {})})
    xr.open_dataset(path).load().to_netcdf(tmp_path / "fmt.nc", format=fmt)
    data = (tmp_path / "fmt.nc").read_bytes()
    (tmp_path / "cut.nc").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataError, match=rf"cut.nc is truncated: it has {len(data) * 2 // 3} bytes, its header says "
                                        rf"it holds {len(data)}"):
        open_dataset(tmp_path / "cut.nc")
    assert open_dataset(tmp_path / "fmt.nc")["sic"].shape == (6, *GRID.shape)


def test_a_folder_that_is_not_a_zarr_store_is_named(tmp_path):
    (tmp_path / "data.zarr").mkdir()
    (tmp_path / "data.zarr" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match=r"data.zarr is a folder but not a zarr store"):
        open_dataset(tmp_path / "data.zarr")


def _canonical(times, seed=0, grid=GRID):
    values = {k: v[: len(times)] for k, v in fields(seed, len(times)).items()}
    return make_dataset(values, grid, time=times, land=land())


def test_files_with_overlapping_times_are_named(tmp_path):
    write_dataset(_canonical(TIMES[:4]), tmp_path / "a.nc")
    write_dataset(_canonical(TIMES[2:]), tmp_path / "b.nc")
    with pytest.raises(DataError, match=r"a.nc and .*b.nc overlap in time \(2001-01-03 is in both ranges\)"):
        open_dataset(str(tmp_path / "*.nc"))


def test_files_on_different_grids_or_with_other_variables_are_named(tmp_path):
    write_dataset(_canonical(TIMES[:3]), tmp_path / "a.nc")
    write_dataset(_canonical(TIMES[3:], grid=Grid("custom", nx=16, ny=12, dx=12_500.0)), tmp_path / "b.nc")
    with pytest.raises(DataError, match=r"b.nc is on another grid than .*a.nc \(coordinate '[xy]' differs\)"):
        open_dataset([tmp_path / "a.nc", tmp_path / "b.nc"])
    write_dataset(_canonical(TIMES[3:]).drop_vars("siu"), tmp_path / "c.nc")
    with pytest.raises(DataError, match=r"c.nc holds variables \['sic', 'sit'\], .*a.nc holds \['sic', 'sit', 'siu'\]"):
        open_dataset([tmp_path / "a.nc", tmp_path / "c.nc"])


def test_a_zarr_variable_without_metadata_is_not_dropped(tmp_path):
    store = write_dataset(_canonical(TIMES), tmp_path / "s.zarr")
    (store / "sic" / "zarr.json").unlink()
    with pytest.raises(DataError, match=r"s.zarr: folder 'sic' has no zarr array metadata .* 'sic' would be left out"):
        open_dataset(store)


def test_a_zarr_v2_variable_that_kept_only_its_attributes_is_not_dropped(tmp_path):
    """A v2 array folder that lost `.zarray` still holds `.zattrs`: zarr only warns "not recognized" and
    xarray leaves the variable out, so `data check` used to list the other variables and say nothing."""
    store = tmp_path / "v2.zarr"
    xr.open_dataset(write_dataset(_canonical(TIMES), tmp_path / "s.nc")).load().to_zarr(
        store, zarr_format=2, consolidated=False)
    assert open_dataset(store)["sit"].shape == (6, *GRID.shape)
    (store / "sit" / ".zarray").unlink()
    assert (store / "sit" / ".zattrs").exists()
    with pytest.raises(DataError, match=r"v2.zarr: folder 'sit' has no zarr array metadata \(zarr.json for zarr v3, "
                                        r"\.zarray for v2; only \.zattrs is left\), so .* 'sit' would be left out; "
                                        r"restore the metadata"):
        open_dataset(store)


# --- values that are no data ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, fill, units, message", [
    ("sit", 9.969209968386869e36, "m", r"'sit' .* values above 50 m.*9.96921e\+36 is the netCDF default fill value"),
    ("siu", 1e30, "m s-1", r"'siu' .* values above 5 m s-1.*1e\+30 is a common fill value"),
    ("siu", -999.0, "m s-1", r"'siu' .* values below -5 m s-1.*-999 is a common fill value"),
])
def test_undeclared_fill_values_in_the_ocean_are_refused_naming_the_value(tmp_path, name, fill, units, message):
    values = {k: with_land(v) for k, v in fields().items()}
    values[name][2, 6, 8] = fill
    path = product(tmp_path / "f.nc", {k: (v, {"units": "m s-1" if k == "siu" else ("m" if k == "sit" else "1")})
                                       for k, v in values.items()})
    with pytest.raises(DataError, match=message + r".*_FillValue or missing_value"):
        open_dataset(path)


def test_land_filled_with_an_undeclared_fill_is_not_blamed_on_zeros(tmp_path):
    values = fields()
    values["sic"][:, 5:, 10:] = 0.0  # open ocean that never freezes: 0 in every variable
    values["sit"][:, 5:, 10:] = 0.0
    values["siu"][:, 5:, 10:] = 0.0
    for v in values.values():
        v[:, land()] = 9.969209968386869e36
    path = product(tmp_path / "fill.nc", {k: (v, {}) for k, v in values.items()})
    with pytest.raises(DataError, match=r"'sit' holds 9.96921e\+36 \(as written in the file\) in 15 cells at every "
                                        r"time.*netCDF default fill value.*does not declare"):
        open_dataset(path)


def test_nsidc_flag_values_are_named_as_flags(tmp_path):
    sic = 100 * fields()["sic"]
    sic[:, land()] = 254.0  # land
    sic[:, 0, 15] = 251.0  # pole hole
    path = product(tmp_path / "nsidc.nc", {"sic": (sic, {"units": "%"})})
    with pytest.raises(DataError, match=r"'sic' holds 251, 254 \(as written in the file\).*NSIDC flag value"):
        open_dataset(path)


def test_fractions_labelled_percent_are_refused(tmp_path):
    path = product(tmp_path / "pc.nc", {"sic": (with_land(fields()["sic"]), {"units": "%"})})
    with pytest.raises(DataError, match=r"'sic' .* labelled '%' but its largest value is 1: these are fractions, "
                                        r"which would be read 100 times too small; set its units attribute to '1'"):
        open_dataset(path)


def test_percent_labelled_as_fractions_is_named(tmp_path):
    path = product(tmp_path / "one.nc", {"sic": (100 * with_land(fields()["sic"]), {"units": "1"})})
    with pytest.raises(DataError, match=r"values up to 100 look like percent; set its units attribute to '%'"):
        open_dataset(path)


def test_velocities_in_cm_per_second_labelled_m_per_second_are_refused(tmp_path):
    siu = 100 * with_land(fields()["siu"])
    path = product(tmp_path / "cm.nc", {"siu": (siu, {"units": "m/s"})})
    with pytest.raises(DataError, match=r"'siu' .* values (above|below) -?5 m s-1.*check its units attribute \('m/s'\)"):
        open_dataset(path)


@pytest.mark.parametrize("name, units, message", [
    ("sit", "cm", r"'sit' .* labelled 'cm', but once converted to m its values are implausibly small: only 0 of its "
                  r"\d+ ice-covered values .* exceed 0.05 m, the largest is 0.0299\d* m \(2.99\d* cm in the file\).*"
                  r"correct its units attribute, e.g. to 'm' \(the largest value would then be 2.99\d* m\)"),
    ("siu", "cm/s", r"'siu' .* labelled 'cm/s', but once converted to m s-1 its values are implausibly small: .* "
                    r"exceed 0.01 m s-1, the largest is 0.00\d+ m s-1 .*correct its units attribute, e.g. to 'm s-1'"),
    ("siu", "m/day", r"'siu' .* labelled 'm/day', .* the largest is \d.\d+e-06 m s-1 \(0.\d+ m/day in the file\).*"
                     r"correct its units attribute, e.g. to 'm s-1'"),
])
def test_values_far_too_small_for_their_units_are_refused(tmp_path, name, units, message):
    """Thickness in metres labelled cm, drift in m/s labelled cm/s or m/day used to be read 100 or 86400 times
    too small without a word: the converted values are far below any real ice."""
    values = {k: with_land(v) for k, v in fields().items()}
    attrs = {"sit": "m", "sic": "1", "siu": "m s-1", name: units}
    path = product(tmp_path / "small.nc", {k: (v, {"units": attrs[k]}) for k, v in values.items()})
    with pytest.raises(DataError, match=message):
        open_dataset(path)


def test_thin_summer_ice_slow_drift_and_no_drift_are_still_read(tmp_path):
    """The check is on the whole file's thickest / fastest 1 % of ice: late-summer states of thin ice with a
    little thick ice left, slow drift, or a model without drift (all 0) are real data and read as written."""
    rng = np.random.default_rng(1)
    sic = with_land(np.clip(rng.uniform(-0.5, 1.0, (6, *GRID.shape)), 0, 1))
    sit = np.where(sic > 0, rng.uniform(0.02, 0.3, sic.shape), 0.0)
    sit[:, 6:8, 10:12] = 1.5  # the thick multi-year ice that survives the summer: 2 % of the cells
    slow = np.where(sic > 0, rng.normal(0, 0.02, sic.shape), 0.0)
    sit, slow = with_land(sit), with_land(slow)
    path = product(tmp_path / "summer.nc", {"sit": (sit, {"units": "m"}), "sic": (sic, {"units": "1"}),
                                            "siu": (slow, {"units": "m s-1"}), "siv": (0 * slow, {"units": "m/s"})})
    ds = open_dataset(path)
    np.testing.assert_allclose(ds["sit"].values, sit.astype(np.float32), equal_nan=True)
    np.testing.assert_allclose(ds["siu"].values, slow.astype(np.float32), equal_nan=True)
    assert float(abs(ds["siv"]).max()) == 0.0


@pytest.mark.parametrize("tolerance", [float("nan"), float("inf"), -0.1, 2.0, "0.1"])
def test_a_tolerance_that_would_switch_the_bound_check_off_is_refused(tmp_path, tolerance):
    path = product(tmp_path / "t.nc", {"sic": (with_land(fields()["sic"]) * 1.5, {})})
    with pytest.raises(DataError, match=r"tolerance must be a finite number between 0 and 0.5"):
        open_dataset(path, tolerance=tolerance)
    with pytest.raises(DataError, match=r"tolerance must be a finite number"):
        validate_dataset(_canonical(TIMES), tolerance=tolerance)


# --- where the grid is on Earth ----------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["EPSG:3995", "EPSG:3413", "EPSG:6931"])
def test_a_file_without_grid_mapping_is_read_through_its_lat_lon(tmp_path, crs):
    """Data on EPSG:3995 used to be taken for EPSG:3413: every map 45 degrees rotated."""
    path = product(tmp_path / "ll.nc", {"sic": (with_land(fields()["sic"]), {})}, mapping=False, latlon=crs)
    ds = open_dataset(path)
    xx, yy = np.meshgrid(GRID.x, GRID.y)
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xx, yy)
    np.testing.assert_allclose(ds["lat"].values, lat, atol=1e-6)
    np.testing.assert_allclose(ds["lon"].values, lon, atol=1e-6)
    assert pyproj.CRS.from_cf(ds["crs"].attrs) == pyproj.CRS(crs)


def test_a_grid_mapping_that_its_own_lat_lon_contradict_is_named_not_passed_over(tmp_path):
    """A mapping saying EPSG:3995 over lat/lon of EPSG:3413 used to be read by the mapping without a word."""
    sic = {"sic": (with_land(fields()["sic"]), {})}
    with pytest.warns(DataNote, match=r"grid mapping 'crs' \(EPSG:3995\) and its own 2-D lat/lon disagree.*"
                                      r"they fit EPSG:3413.*correct the grid mapping variable"):
        open_dataset(product(tmp_path / "conflict.nc", sic, crs="EPSG:3995", latlon="EPSG:3413"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataNote)  # a file whose mapping and lat/lon agree reads without a note
        open_dataset(product(tmp_path / "agree.nc", sic, crs="EPSG:3995", latlon="EPSG:3995"))


def test_lat_lon_of_no_known_polar_grid_are_refused(tmp_path):
    path = product(tmp_path / "ll.nc", {"sic": (with_land(fields()["sic"]), {})}, mapping=False,
                   latlon="+proj=stere +lat_0=90 +lon_0=10 +lat_ts=60 +datum=WGS84")
    with pytest.raises(DataError, match=r"ll.nc has no grid mapping, and the x/y that its 2-D lat/lon give in "
                                        r"EPSG:3413.*add a CF grid mapping"):
        open_dataset(path)


def test_a_file_without_grid_mapping_or_lat_lon_is_refused_not_assumed(tmp_path):
    path = product(tmp_path / "bare.nc", {"sic": (with_land(fields()["sic"]), {})}, mapping=False)
    with pytest.raises(DataError, match=r"bare.nc has no grid mapping and no 2-D lat/lon.*nothing is assumed"):
        open_dataset(path)
    arctic = Grid("arctic50km", 128, 128, 50_000.0)
    values = np.full((6, 128, 128), 0.5, np.float32)
    values[:, :10] = np.nan
    named = product(tmp_path / "named.nc", {"sic": (values, {})}, mapping=False, x=arctic.x, y=arctic.y)
    assert open_dataset(named, grid="arctic50km").attrs["grid_name"] == "arctic50km"  # the caller names it


# --- the land mask ---------------------------------------------------------------------------------------------


def test_a_mask_whose_land_holds_the_sea_ice_is_refused(tmp_path):
    values = {k: with_land(v) for k, v in fields().items()}
    values = {k: np.nan_to_num(v) for k, v in values.items()}
    values["sic"][:, land()] = np.random.default_rng(1).uniform(0, 1, (6, int(land().sum())))
    path = product(tmp_path / "m.nc", {k: (v, {}) for k, v in values.items()})
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    ds["land_mask"] = (("y", "x"), (~land()).astype(np.int8))  # 1 = ocean, named as if 1 = land
    ds.to_netcdf(tmp_path / "m2.nc")
    with pytest.raises(DataError, match=r"land mask of .*m2.nc \(its mask variable\) does not fit the data: "
                                        r"100% of the cells it calls land hold values that change in time"):
        open_dataset(tmp_path / "m2.nc")


# --- sizes ------------------------------------------------------------------------------------------------------


def test_memory_is_checked_before_allocating(monkeypatch):
    from seaice_ldm.data import synthesize, to_arrays

    monkeypatch.setattr(sizes, "available_memory", lambda: 2 * sizes.GIB)
    with pytest.raises(DataError, match=r"500 synthetic years on arctic12km .* needs about 1782.2 GiB of memory; "
                                        r"this machine has 2.0 GiB available: ask for fewer years"):
        synthesize(years=500, grid="arctic12km")
    monkeypatch.setattr(sizes, "available_memory", lambda: 1000)
    small = _canonical(TIMES)  # 6 states x 3 variables x 12 x 16 cells x 4 bytes, and a copy: 27648 bytes
    with pytest.raises(DataError, match=r"loading 6 states of 3 variables on a 12 x 16 grid needs about 0.0 GiB"):
        to_arrays(small)


def test_a_store_copy_keeps_reading(tmp_path):
    store = write_dataset(_canonical(TIMES), tmp_path / "s.zarr")
    shutil.copytree(store, tmp_path / "copy.zarr")
    assert open_dataset(tmp_path / "copy.zarr")["sic"].shape == (6, *GRID.shape)
