import numpy as np
import pytest
import scipy.stats
import xarray as xr

from seaice_ldm.evaluation.metrics import (
    bound_share,
    bound_violation_share,
    ice_integrals,
    miz_error,
    miz_mask,
    ocean_values,
    reconstruction_errors,
    wasserstein_per_variable,
)

NAN = np.nan


def make_dataset(variables: dict, land: np.ndarray, cell_area: np.ndarray | None = None, dim="member"):
    """Canonical-layout dataset from ``{name: (n, y, x) array}`` (float32) with land and cell_area coords."""
    ny, nx = land.shape
    cell_area = np.full((ny, nx), 1e12) if cell_area is None else cell_area
    return xr.Dataset(
        {name: ((dim, "y", "x"), np.asarray(v, dtype=np.float32)) for name, v in variables.items()},
        coords={
            "x": np.arange(nx) * 5e4,
            "y": np.arange(ny) * 5e4,
            "land": (("y", "x"), land.astype(np.int8)),
            "cell_area": (("y", "x"), cell_area),
        },
    )


# ---- bounds -----------------------------------------------------------------------------------------

LAND_2x3 = np.array([[1, 0, 0], [0, 0, 0]])


def bounds_dataset():
    # 2 members x (2 x 3) cells, one land cell -> 10 ocean values per variable
    sic = [[[NAN, 0.0, 1.0], [0.5, 1.0, 1.2]], [[NAN, -0.1, 0.0], [0.3, 0.9, 1.0]]]
    # the land cell holds a finite value: it must be excluded through the `land` coordinate
    sit = [[[5.0, 0.0, 2.0], [-1.0, 0.0, 3.0]], [[5.0, 0.0, 1.0], [1.0, 1.0, 0.5]]]
    siu = [[[NAN, -9.0, 9.0], [0.0, 1.0, 2.0]], [[NAN, 0.0, 1.0], [2.0, 3.0, 4.0]]]
    return make_dataset({"sit": sit, "sic": sic, "siu": siu}, LAND_2x3)


def test_ocean_values_excludes_land():
    ds = bounds_dataset()
    assert ocean_values(ds, "sic").size == 10
    assert ocean_values(ds, "sit").size == 10
    assert 5.0 not in ocean_values(ds, "sit")


def test_ocean_values_without_land_coord_uses_nan():
    ds = bounds_dataset().drop_vars("land")
    assert ocean_values(ds, "sic").size == 10
    assert ocean_values(ds, "sit").size == 12  # no NaN and no land flag: all cells count


def test_bound_share_counts_exact_bounds():
    shares = bound_share(bounds_dataset())
    # sic == 0: 2 of 10, sic == 1: 3 of 10; sit == 0: 3 of 10, sit has no upper bound
    assert shares["sic"] == pytest.approx({"lower": 0.2, "upper": 0.3})
    assert shares["sit"] == pytest.approx({"lower": 0.3})
    assert "siu" not in shares


def test_bound_violation_share_counts_strict_excursions_only():
    shares = bound_violation_share(bounds_dataset())
    # sic: -0.1 and 1.2 (values exactly 0 or 1 are no violation); sit: -1.0; siu is unbounded
    assert shares == pytest.approx({"sic": 0.2, "sit": 0.1})


def test_bounds_argument_overrides_defaults():
    shares = bound_violation_share(bounds_dataset(), bounds={"siu": (-5.0, 5.0)})
    assert shares == pytest.approx({"siu": 0.2})


# ---- ice integrals ----------------------------------------------------------------------------------

LAND_4x4 = np.zeros((4, 4), dtype=int)
LAND_4x4[0, 0] = LAND_4x4[3, 0] = 1
WEIGHT_4x4 = np.array([[1.0] * 4, [1.0] * 4, [2.0] * 4, [2.0] * 4])  # cell area in 1e6 km2


def integrals_dataset(dim="member"):
    sic0 = [[NAN, 0.0, 0.1, 0.2], [0.5, 0.9, 1.0, 0.15], [0.8, 0.16, 0.0, 1.0], [NAN, 0.3, 0.6, 0.05]]
    sic1 = np.ones((4, 4))
    sic1[0, 0] = NAN
    sic1[3, 0] = 0.5  # finite value on land: excluded through `land`
    sit = np.stack([np.full((4, 4), 2.0), np.full((4, 4), 1.0)])
    sit[:, LAND_4x4 == 1] = NAN
    return make_dataset({"sic": [sic0, sic1], "sit": sit}, LAND_4x4, WEIGHT_4x4 * 1e12, dim=dim)


@pytest.mark.parametrize("dim", ["member", "time"])
def test_ice_integrals_by_hand(dim):
    out = ice_integrals(integrals_dataset(dim))
    # member 0: extent: 4 cells of weight 1 and 5 of weight 2 have sic > 0.15 (0.15 itself is not)
    #           area: 0.3 + 2.55 + 2 * 1.96 + 2 * 0.95;  MIZ: 0.2, 0.5 (w 1), 0.16, 0.3, 0.6 (w 2)
    #           volume: sit = 2 m -> 2 * area
    # member 1: sic = 1 on 7 ocean cells of weight 1 and 7 of weight 2 -> 21; sit = 1 m
    np.testing.assert_allclose(out["extent"].values, [14.0, 21.0], rtol=1e-6)
    np.testing.assert_allclose(out["area"].values, [8.67, 21.0], rtol=1e-6)
    np.testing.assert_allclose(out["miz_area"].values, [8.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out["volume"].values, [17.34, 21.0], rtol=1e-6)
    assert out["extent"].dims == (dim,)
    assert {n: out[n].attrs["units"] for n in out.data_vars} == {
        "extent": "1e6 km2",
        "area": "1e6 km2",
        "miz_area": "1e6 km2",
        "volume": "1e3 km3",
    }


def test_ice_integrals_without_sit_has_no_volume():
    out = ice_integrals(integrals_dataset().drop_vars("sit"))
    assert set(out.data_vars) == {"extent", "area", "miz_area"}


def test_ice_integrals_lazy_with_dask():
    pytest.importorskip("dask")
    ds = integrals_dataset().chunk({"member": 1})
    out = ice_integrals(ds)
    assert out["extent"].chunks is not None
    np.testing.assert_allclose(out["extent"].values, [14.0, 21.0], rtol=1e-6)


def test_miz_mask_strict_limits():
    sic = np.array([0.0, 0.15, 0.151, 0.5, 0.799, 0.8, 1.0, NAN])
    np.testing.assert_array_equal(miz_mask(sic), [False, False, True, True, True, False, False, False])


# ---- Wasserstein ------------------------------------------------------------------------------------


def random_dataset(seed, n=5, shape=(6, 7), shift=0.0):
    rng = np.random.default_rng(seed)
    land = np.zeros(shape, dtype=int)
    land[:2, :2] = 1
    values = rng.normal(size=(n, *shape)) + shift
    values[:, land == 1] = NAN
    return make_dataset({"siu": values, "sic": rng.uniform(size=(n, *shape))}, land)


def test_wasserstein_matches_scipy():
    a, b = random_dataset(0), random_dataset(1, n=3)
    out = wasserstein_per_variable(a, b)
    assert list(out) == ["sic", "siu"]
    expected = scipy.stats.wasserstein_distance(ocean_values(a, "siu"), ocean_values(b, "siu"))
    assert out["siu"] == pytest.approx(expected, rel=1e-12)


def test_wasserstein_identical_is_zero_and_shift_gives_shift():
    a = random_dataset(0)
    assert wasserstein_per_variable(a, a, names=["siu"]) == {"siu": 0.0}
    shifted = random_dataset(0, shift=0.7)
    assert wasserstein_per_variable(a, shifted, names=["siu"])["siu"] == pytest.approx(0.7, rel=1e-5)


def test_wasserstein_subsampling_is_deterministic():
    a, b = random_dataset(0), random_dataset(1)
    first = wasserstein_per_variable(a, b, max_values=50)
    assert first == wasserstein_per_variable(a, b, max_values=50)
    assert first["siu"] != wasserstein_per_variable(a, b)["siu"]
    # equal pool sizes and one seed pick the same cells: a shift still gives exactly the shift
    shifted = random_dataset(0, shift=0.7)
    distance = wasserstein_per_variable(a, shifted, names=["siu"], max_values=50)["siu"]
    assert distance == pytest.approx(0.7, rel=1e-5)


# ---- reconstruction errors --------------------------------------------------------------------------


def test_reconstruction_errors_by_hand():
    truth = integrals_dataset("time").isel(time=[0])
    miz = miz_mask(truth["sic"]) & (truth["land"] == 0)  # 5 MIZ cells among 14 ocean cells
    error = xr.where(miz, 0.3, 0.1).astype(np.float32)
    pred = truth + error
    out = reconstruction_errors(truth, pred)
    assert list(out) == ["sit", "sic"]
    for name in ("sit", "sic"):
        assert out[name]["rmse"] == pytest.approx(np.sqrt((5 * 0.09 + 9 * 0.01) / 14), rel=1e-5)
        assert out[name]["mae"] == pytest.approx((5 * 0.3 + 9 * 0.1) / 14, rel=1e-5)
        assert out[name]["rmse_miz"] == pytest.approx(0.3, rel=1e-5)
    assert miz_error(truth, pred) == {n: out[n]["rmse_miz"] for n in out}


def test_miz_error_is_nan_without_miz():
    truth = integrals_dataset("time").isel(time=[1])  # sic = 1 everywhere
    assert np.isnan(miz_error(truth, truth + 1.0)["sit"])


def test_a_non_finite_member_does_not_hide_violations_at_its_cell():
    land = np.array([[0, 0]])
    sic = np.array([[[1.5, 0.5]], [[np.nan, 0.5]], [[0.2, 0.5]]])  # cell 0: one violation, one NaN
    share = bound_violation_share(make_dataset({"sic": sic}, land))["sic"]
    assert share == pytest.approx(2 / 6)  # the 1.5 and the NaN, out of 3 members x 2 ocean cells
