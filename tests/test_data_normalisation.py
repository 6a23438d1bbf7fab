import json

import numpy as np
import pytest

from seaice_ldm.data import (
    VARIABLE_NAMES, DataError, NormStats, compute_norm_stats, denormalise, normalise, normalised_bounds,
    split_by_year, to_arrays,
)

YEARLY = np.array([f"{y}-{m:02d}-01" for y in range(2000, 2004) for m in (1, 5, 9)], dtype="datetime64[D]")


@pytest.fixture
def splits(make_tiny):
    ds = make_tiny(YEARLY)
    ds["sit"] = ds["sit"] + (ds["time"].dt.year - 2000) * 0.5  # later years thicker: stats must see train only
    return split_by_year(ds, val_years=1, test_years=1)


def test_stats_equal_numpy_over_ocean_cells_of_the_training_split(splits):
    stats = compute_norm_stats(splits["train"])
    assert stats.names == VARIABLE_NAMES
    ocean = splits["train"]["land"].values == 0
    for name, mean, std in zip(stats.names, stats.mean, stats.std):
        cells = splits["train"][name].values[:, ocean].astype(np.float64)
        assert mean == pytest.approx(cells.mean(), rel=1e-10)
        assert std == pytest.approx(cells.std(), rel=1e-10)
    everything = np.concatenate([s["sit"].values[:, ocean] for s in splits.values()])
    assert stats.mean[0] < everything.mean() - 0.1


def test_stats_on_dask_arrays(splits):
    train = splits["train"]
    assert compute_norm_stats(train.chunk({"time": 2}), ("sic",)) == compute_norm_stats(train, ("sic",))


def test_round_trip_and_land(splits):
    stats = compute_norm_stats(splits["train"])
    x, ocean = to_arrays(splits["val"], stats.names)
    z = normalise(x, stats, ocean)
    assert z.dtype == np.float32 and (z[..., ~ocean] == 0).all()
    np.testing.assert_allclose(z[:, 1][:, ocean].mean(), (x[:, 1][:, ocean].mean() - stats.mean[1]) / stats.std[1],
                               rtol=1e-5)
    np.testing.assert_allclose(denormalise(normalise(x, stats), stats), x, atol=1e-5)


def test_normalised_bounds(splits):
    stats = compute_norm_stats(splits["train"])
    lower, upper = normalised_bounds(stats)
    assert lower.dtype == np.float32 and lower.shape == (5,)
    sic = stats.names.index("sic")
    assert lower[sic] == pytest.approx(-stats.mean[sic] / stats.std[sic])
    assert upper[sic] == pytest.approx((1 - stats.mean[sic]) / stats.std[sic])
    assert upper[0] == np.inf and lower[3] == -np.inf and upper[4] == np.inf
    # Censoring commutes with normalisation: a value at the bound maps onto the normalised bound.
    at_bound = np.zeros((5, 1, 1), dtype=np.float32)
    assert normalise(at_bound, stats)[sic, 0, 0] == pytest.approx(lower[sic])


def test_json_round_trip():
    stats = NormStats(("sic", "sit"), (0.5, 1.2), (0.4, 0.9))
    assert NormStats.from_dict(json.loads(json.dumps(stats.to_dict()))) == stats


def test_errors(splits):
    train = splits["train"].copy()
    train["sid"] = train["sid"] * 0 + 0.3
    with pytest.raises(DataError, match="sid.*constant"):
        compute_norm_stats(train)
    stats = NormStats(("sic", "sit"), (0.5, 1.2), (0.4, 0.9))
    with pytest.raises(ValueError, match="2 channels"):
        normalise(np.zeros((3, 10, 12)), stats)


def test_values_at_a_bound_normalise_exactly_onto_the_normalised_bound():
    # statistics of the default training set, for which float64 bound arithmetic once missed sid = 0 by 1 ulp
    stats = NormStats(names=("sit", "sic", "sid", "siu", "siv"),
                      mean=(1.1086960852962613, 0.5110617900440128, 0.08363390422165122, 0.0064815080779206235,
                            -0.020438642888687415),
                      std=(1.357832723034945, 0.48173862677545887, 0.1995023989644616, 0.03663135013489313,
                           0.0521350607975507))
    lower, upper = normalised_bounds(stats)
    zeros, ones = np.zeros((5, 2, 2), np.float32), np.ones((5, 2, 2), np.float32)
    for i in range(3):  # sit, sic, sid have a lower bound 0: the censored likelihood tests y <= lower
        assert (normalise(zeros, stats)[i] == lower[i]).all()
    for i in (1, 2):  # sic, sid have an upper bound 1
        assert (normalise(ones, stats)[i] == upper[i]).all()
