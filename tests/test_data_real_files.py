"""Files shaped like what sea-ice scientists have (CS2SMOS-, OSI-SAF-, neXtSIM-like, EASE2, zarr stores), and
broken ones: each is read right (checked against pyproj and the source arrays) or refused with a message
that names the file and the problem."""

from pathlib import Path

import numpy as np
import pyproj
import pytest
import xarray as xr

from seaice_ldm.data import GRIDS, DataError, DataNote, grid_from_dataset, open_dataset, write_dataset

ARCTIC = GRIDS["arctic50km"]


def cf_mapping(epsg: int, wkt: bool = False) -> dict:
    """A grid-mapping variable's attributes as a product writes them (CF parameters, usually no WKT)."""
    attrs = pyproj.CRS(f"EPSG:{epsg}").to_cf()
    return attrs if wkt else {k: v for k, v in attrs.items() if k != "crs_wkt"}


def product(path, fields: dict, x, y, *, mapping: tuple[str, dict] | None = ("crs", cf_mapping(3413)),
            dims=("time", "y", "x"), times=None, xy_attrs=None, extra=None):
    """A plain product file: ``fields`` {name: (values, attrs)}, x/y coordinates named after ``dims``, the grid
    mapping ``mapping`` (name, CF attributes; EPSG:3413 unless given, None for none)."""
    ydim, xdim = dims[-2:]
    attrs = xy_attrs or {}
    coords = {xdim: (xdim, x, attrs.get("x", {})), ydim: (ydim, y, attrs.get("y", {}))}
    if times is not None:
        coords["time"] = times
    variables = {}
    for name, (values, var_attrs) in fields.items():
        var_attrs = dict(var_attrs)
        if mapping is not None:
            var_attrs["grid_mapping"] = mapping[0]
        variables[name] = (dims, values, var_attrs)
    ds = xr.Dataset(variables, coords=coords)
    if mapping is not None:
        ds[mapping[0]] = xr.DataArray(np.int32(0), attrs=mapping[1])
    for name, value in (extra or {}).items():
        ds[name] = value
    ds.to_netcdf(path)
    return path


def arctic_sic(n=2):
    """Concentration on the default grid with its shipped land (NaN) and some exact 0 and 1."""
    rng = np.random.default_rng(0)
    sic = np.clip(rng.uniform(-0.3, 1.3, (n, *ARCTIC.shape)), 0, 1).astype(np.float32)
    land = ARCTIC.coords()["land"].values.astype(bool)
    sic[:, land] = np.nan
    return sic, land


TIMES2 = np.array(["2010-01-01", "2010-01-02"], dtype="datetime64[ns]")


# --- the grid mapping ---------------------------------------------------------------------------------


def test_ease2_file_is_read_in_its_own_crs_not_as_epsg3413(tmp_path):
    sic, _ = arctic_sic()
    path = product(tmp_path / "ease2.nc", {"sic": (sic, {})}, ARCTIC.x, ARCTIC.y,
                   mapping=("Lambert_Azimuthal_Grid", cf_mapping(6931)), times=TIMES2)
    ds = open_dataset(path)
    grid = grid_from_dataset(ds)
    assert grid.name == "custom" and grid.crs == "EPSG:6931"
    xx, yy = np.meshgrid(ARCTIC.x, ARCTIC.y)
    lon, lat = pyproj.Transformer.from_crs("EPSG:6931", "EPSG:4326", always_xy=True).transform(xx, yy)
    np.testing.assert_allclose(ds["lat"].values, lat, atol=1e-9)
    np.testing.assert_allclose(ds["lon"].values, lon, atol=1e-9)
    # EASE2 is equal-area: every 50 km cell covers 2500 km2 of the ellipsoid
    np.testing.assert_allclose(ds["cell_area"].values, ARCTIC.dx ** 2, rtol=1e-6)
    assert pyproj.CRS.from_cf(ds["crs"].attrs).to_epsg() == 6931


def test_ease2_file_with_an_epsg3413_grid_is_refused(tmp_path):
    sic, _ = arctic_sic()
    path = product(tmp_path / "ease2.nc", {"sic": (sic, {})}, ARCTIC.x, ARCTIC.y,
                   mapping=("Lambert_Azimuthal_Grid", cf_mapping(6931)), times=TIMES2)
    with pytest.raises(DataError, match=r"CRS mismatch: .*ease2.nc is on .*EASE-Grid 2.0.*EPSG:6931.*"
                                         r"'arctic50km' is on EPSG:3413.*regrid"):
        open_dataset(path, grid="arctic50km")


def test_epsg3411_polar_stereographic_is_not_taken_for_epsg3413(tmp_path):
    sic, _ = arctic_sic()
    path = product(tmp_path / "hughes.nc", {"sic": (sic, {})}, ARCTIC.x, ARCTIC.y,
                   mapping=("polar_stereographic", cf_mapping(3411)), times=TIMES2)
    assert grid_from_dataset(open_dataset(path)).crs == "EPSG:3411"
    with pytest.raises(DataError, match="CRS mismatch.*EPSG:3411"):
        open_dataset(path, grid="arctic50km")


def test_epsg3413_written_as_cf_parameters_under_another_name_is_the_named_grid(tmp_path):
    sic, land = arctic_sic()
    path = product(tmp_path / "nsidc.nc", {"sic": (sic, {})}, ARCTIC.x, ARCTIC.y,
                   mapping=("Polar_Stereographic_Grid", cf_mapping(3413)), times=TIMES2)
    ds = open_dataset(path)
    assert grid_from_dataset(ds) == ARCTIC
    np.testing.assert_array_equal(ds["land"].values.astype(bool), land)


# --- x/y units, layouts, dims ---------------------------------------------------------------------------


def test_cs2smos_like_dims_in_km_are_renamed_and_converted(tiny, tiny_grid, tmp_path):
    path = product(tmp_path / "cs2smos.nc", {"sea_ice_thickness": (tiny["sit"].values, {"units": "m"})},
                   tiny_grid.x / 1000, tiny_grid.y / 1000, dims=("time", "yc", "xc"), times=tiny["time"].values,
                   xy_attrs={"x": {"units": "km"}, "y": {"units": "km"}})
    with pytest.warns(DataNote) as notes:
        ds = open_dataset(path)
    text = " ".join(str(n.message) for n in notes)
    assert "xc, yc renamed to x, y" in text and "converted from km to m" in text
    assert grid_from_dataset(ds) == grid_from_dataset(tiny)
    np.testing.assert_array_equal(ds["x"].values, tiny_grid.x)
    np.testing.assert_array_equal(ds["sit"].values, tiny["sit"].values)
    assert "converted from km to m" in ds.attrs["history"]


def test_osisaf_like_decreasing_y_is_flipped(tiny, tiny_grid, tmp_path):
    flipped = tiny["sic"].values[:, ::-1]
    path = product(tmp_path / "osisaf.nc", {"ice_conc": (flipped * 100, {"units": "%"})},
                   tiny_grid.x / 1000, tiny_grid.y[::-1] / 1000, dims=("time", "yc", "xc"),
                   times=tiny["time"].values, xy_attrs={"x": {"units": "km"}, "y": {"units": "km"}})
    with pytest.warns(DataNote, match="y decreasing.*flipped"):
        ds = open_dataset(path)
    np.testing.assert_array_equal(ds["y"].values, tiny_grid.y)
    np.testing.assert_allclose(ds["sic"].values, tiny["sic"].values, atol=1e-6)
    np.testing.assert_array_equal(ds["land"].values, tiny["land"].values)


@pytest.mark.parametrize("units", ["degrees_east", "degree"])
def test_degrees_as_x_y_are_refused_with_a_pointer_to_regridding(tiny, tmp_path, units):
    x, y = np.linspace(-180, 180, 12), np.linspace(60, 90, 10)
    path = product(tmp_path / "latlon.nc", {"sic": (tiny["sic"].values, {})}, x, y, times=tiny["time"].values,
                   xy_attrs={"x": {"units": units}, "y": {"units": "degrees_north"}})
    with pytest.raises(DataError, match=rf"latlon.nc: coordinate 'x' is in {units}.*regrid"):
        open_dataset(path)


def test_km_values_without_units_are_refused(tiny, tiny_grid, tmp_path):
    path = product(tmp_path / "nounits.nc", {"sic": (tiny["sic"].values, {})}, tiny_grid.x / 1e6,
                   tiny_grid.y / 1e6, times=tiny["time"].values)
    with pytest.raises(DataError, match="coordinate 'x' has a spacing of 0.05 m \\(no units given\\)"):
        open_dataset(path)


def test_lat_lon_dims_are_refused(tiny, tmp_path):
    ds = xr.Dataset({"sic": (("time", "lat", "lon"), tiny["sic"].values)}, coords={"time": tiny["time"].values})
    ds.to_netcdf(tmp_path / "ll.nc")
    with pytest.raises(DataError, match="latitude-longitude grid.*regrid"):
        open_dataset(tmp_path / "ll.nc")


# --- land masks -----------------------------------------------------------------------------------------


def _filled(tiny):
    """sic and sit with land filled with 0 instead of NaN (as many model outputs are)."""
    return {n: (np.nan_to_num(tiny[n].values), {}) for n in ("sic", "sit")}


def test_ambiguous_mask_variable_is_refused_and_read_with_a_convention(tiny, tiny_grid, tmp_path):
    land = tiny["land"].values.astype(bool)
    path = product(tmp_path / "ocean_mask.nc", _filled(tiny), tiny_grid.x, tiny_grid.y, times=tiny["time"].values,
                   extra={"mask": (("y", "x"), (~land).astype(np.int8))})  # 1 = ocean
    with pytest.raises(DataError, match="'mask' of .*ocean_mask.nc does not say whether 1 means land or ocean"):
        open_dataset(path)
    np.testing.assert_array_equal(open_dataset(path, land_mask="1=ocean")["land"].values, land)
    # the wrong convention makes the zero-filled land the only "ocean": all-zero fields, refused
    with pytest.raises(DataError, match=r"land mask of .*ocean_mask.nc \(--land-mask 1=land\) does not fit the data: "
                                        r"every variable is 0 in every ocean cell.*wrong way round"):
        open_dataset(path, land_mask="1=land")


def test_mask_with_cf_flag_meanings_is_read_by_them(tiny, tiny_grid, tmp_path):
    land = tiny["land"].values.astype(bool)
    mask = xr.DataArray((~land).astype(np.int8), dims=("y", "x"),
                        attrs={"flag_values": np.array([0, 1], np.int8), "flag_meanings": "land ocean"})
    path = product(tmp_path / "flags.nc", _filled(tiny), tiny_grid.x, tiny_grid.y, times=tiny["time"].values,
                   extra={"mask": mask})
    np.testing.assert_array_equal(open_dataset(path)["land"].values, land)


def test_land_filled_with_zero_and_no_mask_is_refused(tiny, tiny_grid, tmp_path):
    path = product(tmp_path / "model.nc", _filled(tiny), tiny_grid.x, tiny_grid.y, times=tiny["time"].values)
    with pytest.raises(DataError, match=r"model.nc has no cell that is NaN.*12 cells \(10.0%\) are 0 .*land mask"):
        open_dataset(path)


def test_zarr_store_with_a_missing_spatial_chunk_is_named(tiny, tmp_path):
    store = tmp_path / "chunks.zarr"
    tiny.drop_vars("land").to_zarr(store, encoding={n: {"chunks": (6, 5, 6)} for n in tiny.data_vars},
                                   consolidated=False)
    files = sorted(p for p in (store / "sic").rglob("*") if p.is_file() and p.name != "zarr.json")
    assert len(files) == 4
    files[-1].unlink()  # the chunk of y 5:10, x 6:12: all ocean
    with pytest.raises(DataError, match=r"chunks.zarr: variable 'sic' is missing 1 of 4 chunks "
                                         r"\(e.g. index ranges \[0:6\], \[5:10\], \[6:12\]\)"):
        open_dataset(store)


def test_infinite_values_are_named_as_non_finite(tiny, tmp_path):
    bad = tiny.copy(deep=True)
    bad["siu"].values[0, 5, 5] = np.inf
    bad["siv"].values[1, 6, 6] = -np.inf
    with pytest.raises(DataError) as err:
        open_dataset(write_dataset(bad, tmp_path / "inf.nc"))
    assert "'siu' (sea-ice velocity along x (grid-eastward)) has 1 non-finite values" in str(err.value)
    assert "'siv' (sea-ice velocity along y (grid-northward)) has 1 non-finite values" in str(err.value)


# --- time and broken files --------------------------------------------------------------------------------


def test_time_without_units_missing_or_empty_is_refused(tiny, tiny_grid, tmp_path):
    sic = (tiny["sic"].values, {})
    no_units = product(tmp_path / "no_units.nc", {"sic": sic}, tiny_grid.x, tiny_grid.y, times=np.arange(6))
    with pytest.raises(DataError, match="no_units.nc: time has no usable units"):
        open_dataset(no_units)
    missing = product(tmp_path / "no_time.nc", {"sic": sic}, tiny_grid.x, tiny_grid.y)
    with pytest.raises(DataError, match="no_time.nc: dimension 'time' has no coordinate variable"):
        open_dataset(missing)
    empty = product(tmp_path / "empty.nc", {"sic": (tiny["sic"].values[:0], {})}, tiny_grid.x, tiny_grid.y,
                    times=tiny["time"].values[:0])
    with pytest.raises(DataError, match="empty.nc: the 'time' dimension is empty"):
        open_dataset(empty)


def test_noleap_model_calendar_is_converted_with_a_note(tiny, tmp_path):
    path = tmp_path / "nextsim.nc"
    ds = tiny.copy()
    ds["time"].encoding.update(units="days since 2000-01-01", calendar="noleap")
    ds.to_netcdf(path)
    with pytest.warns(DataNote, match="'noleap' calendar converted"):
        back = open_dataset(path)
    np.testing.assert_array_equal(back["time"].values, tiny["time"].values)


def _corrupt_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def test_corrupt_compressed_chunk_is_a_data_error_naming_the_file(tmp_path):
    rng = np.random.default_rng(0)
    sic = rng.uniform(0, 1, (40, *ARCTIC.shape)).astype(np.float32)  # incompressible: chunks fill the file
    ds = xr.Dataset({"sic": (("time", "y", "x"), sic)},
                    coords={"x": ARCTIC.x, "y": ARCTIC.y,
                            "time": np.arange("2000-01-01", 40, dtype="datetime64[D]").astype("datetime64[ns]")})
    path = tmp_path / "corrupt.nc"
    ds.to_netcdf(path, encoding={"sic": {"zlib": True, "chunksizes": (1, *ARCTIC.shape)}})
    _corrupt_middle(path)
    with pytest.raises(DataError, match=r"corrupt.nc"):
        open_dataset(path, land_mask=np.zeros(ARCTIC.shape, bool))


def test_corrupt_zarr_chunk_is_a_data_error_naming_the_store(tiny, tmp_path):
    store = tmp_path / "bad.zarr"
    write_dataset(tiny, store)
    chunk = next(p for p in (store / "sic").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x00garbage" * 16)
    with pytest.raises(DataError, match=r"cannot read the values of .*bad.zarr"):
        open_dataset(store)
