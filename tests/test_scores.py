import itertools

import numpy as np
import pytest
import scoringrules as sr
import xarray as xr

from seaice_ldm.evaluation.scores import crps_fair, energy_distance_fields, energy_score, ensemble_crps


def fair_crps_by_hand(members, y):
    """mean |X_i - y| - 1 / (2 m (m - 1)) sum_{i,j} |X_i - X_j|"""
    m = len(members)
    spread = sum(abs(a - b) for a, b in itertools.product(members, members))
    return np.mean([abs(x - y) for x in members]) - spread / (2 * m * (m - 1))


def fair_es_by_hand(members, y):
    """mean ||X_i - y|| - 1 / (2 m (m - 1)) sum_{i,j} ||X_i - X_j||"""
    m = len(members)
    spread = sum(np.linalg.norm(a - b) for a, b in itertools.product(members, members))
    return np.mean([np.linalg.norm(x - y) for x in members]) - spread / (2 * m * (m - 1))


def make_dataset(values, dim, land=None, name="sit"):
    values = np.asarray(values, dtype=np.float32)
    ny, nx = values.shape[1:]
    coords = {"x": np.arange(nx) * 5e4, "y": np.arange(ny) * 5e4}
    if land is not None:
        values = values.copy()
        values[:, land == 1] = np.nan
        coords["land"] = (("y", "x"), land.astype(np.int8))
    return xr.Dataset({name: ((dim, "y", "x"), values)}, coords=coords)


LAND = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]])


def ensemble_and_reference(seed=0, n_members=4, n_states=3):
    rng = np.random.default_rng(seed)
    ens = make_dataset(rng.normal(size=(n_members, 3, 3)), "member", LAND)
    ref = make_dataset(rng.normal(size=(n_states, 3, 3)), "time", LAND)
    return ens, ref


# ---- CRPS -------------------------------------------------------------------------------------------


def test_crps_fair_two_members_closed_form():
    # mean(|1 - 0.5|, |3 - 0.5|) - (|1 - 3| + |3 - 1|) / (2 * 2 * 1) = 1.5 - 1 = 0.5
    assert crps_fair(np.array([1.0, 3.0]), np.array(0.5)) == pytest.approx(0.5)


def test_crps_fair_matches_hand_formula_and_fair_estimator():
    rng = np.random.default_rng(1)
    ens, obs = rng.normal(size=(5, 20)), rng.normal(size=20)
    got = crps_fair(ens, obs, member_axis=0)
    expected = [fair_crps_by_hand(ens[:, c], obs[c]) for c in range(20)]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(got, sr.crps_ensemble(obs, ens, m_axis=0, estimator="fair"), rtol=1e-10)
    np.testing.assert_allclose(crps_fair(ens.T, obs, member_axis=1), got, rtol=1e-12)


def test_crps_fair_perfect_deterministic_ensemble_is_zero():
    obs = np.array([0.3, -2.0, 7.5])
    np.testing.assert_allclose(crps_fair(np.tile(obs, (4, 1)), obs), 0.0, atol=1e-12)


def test_crps_fair_needs_two_members():
    with pytest.raises(ValueError):
        crps_fair(np.ones((1, 3)), np.zeros(3))


def test_ensemble_crps_averages_cells_and_reference_states():
    ens, ref = ensemble_and_reference()
    out = ensemble_crps(ens, ref)
    e, r = ens["sit"].values.astype(float), ref["sit"].values.astype(float)
    ocean_cells = list(zip(*np.nonzero(LAND == 0)))
    expected = np.mean([fair_crps_by_hand(e[:, i, j], r[t, i, j]) for t in range(3) for i, j in ocean_cells])
    assert list(out) == ["sit"]
    assert out["sit"] == pytest.approx(expected, rel=1e-10)


# ---- energy score -----------------------------------------------------------------------------------


def test_energy_score_in_one_dimension_is_fair_crps():
    rng = np.random.default_rng(2)
    members, states = rng.normal(size=6), rng.normal(size=4)
    ens = make_dataset(members[:, None, None], "member")
    ref = make_dataset(states[:, None, None], "time")
    expected = np.mean([fair_crps_by_hand(members.astype(np.float32), y) for y in states.astype(np.float32)])
    assert energy_score(ens, ref, "sit") == pytest.approx(expected, rel=1e-6)
    assert energy_score(ens, ref, "sit") == pytest.approx(ensemble_crps(ens, ref)["sit"], rel=1e-10)


def test_energy_score_on_fields_matches_hand_formula():
    ens, ref = ensemble_and_reference(3)
    ocean = LAND == 0
    e, r = ens["sit"].values[:, ocean].astype(float), ref["sit"].values[:, ocean].astype(float)
    expected = np.mean([fair_es_by_hand(e, y) for y in r])
    assert energy_score(ens, ref, "sit") == pytest.approx(expected, rel=1e-10)


def test_energy_score_cell_subset_is_deterministic():
    ens, ref = ensemble_and_reference(4)
    subset = energy_score(ens, ref, "sit", max_dims=3, seed=5)
    assert subset == energy_score(ens, ref, "sit", max_dims=3, seed=5)
    assert subset != pytest.approx(energy_score(ens, ref, "sit"))


# ---- energy distance --------------------------------------------------------------------------------


def test_energy_distance_matches_hand_formula():
    a, b = ensemble_and_reference(5, n_members=4, n_states=5)
    b = b.rename(time="member")
    ocean = LAND == 0
    x, y = a["sit"].values[:, ocean].astype(float), b["sit"].values[:, ocean].astype(float)

    def mean_dist(p, q, skip_diagonal):
        pairs = itertools.product(range(len(p)), range(len(q)))
        return np.mean([np.linalg.norm(p[i] - q[j]) for i, j in pairs if not (skip_diagonal and i == j)])

    unbiased = 2 * mean_dist(x, y, False) - mean_dist(x, x, True) - mean_dist(y, y, True)
    biased = 2 * mean_dist(x, y, False) - mean_dist(x, x, False) - mean_dist(y, y, False)
    assert energy_distance_fields(a, b, "sit") == pytest.approx(unbiased, rel=1e-10)
    assert energy_distance_fields(a, b, "sit", unbiased=False) == pytest.approx(biased, rel=1e-10)


def test_energy_distance_identical_sets_zero_and_shift_positive():
    a, _ = ensemble_and_reference(6, n_members=8)
    assert energy_distance_fields(a, a, "sit", unbiased=False) == pytest.approx(0.0, abs=1e-12)
    shifted = a + 3.0
    assert energy_distance_fields(a, shifted, "sit") > 1.0
    assert energy_distance_fields(a, shifted, "sit", unbiased=False) > 1.0


def test_energy_distance_same_distribution_near_zero():
    rng = np.random.default_rng(7)
    a = make_dataset(rng.normal(size=(60, 3, 3)), "member", LAND)
    b = make_dataset(rng.normal(size=(60, 3, 3)), "member", LAND)
    shifted = make_dataset(rng.normal(size=(60, 3, 3)) + 1.0, "member", LAND)
    same, different = energy_distance_fields(a, b, "sit"), energy_distance_fields(a, shifted, "sit")
    assert abs(same) < 0.1 * different


def test_ensemble_crps_weights_cells_by_area():
    # two ocean cells, one three times the area of the other: the mean is the area-weighted mean
    members = np.array([[[0.0, 1.0]], [[1.0, 3.0]], [[2.0, 2.0]]])  # (member, y=1, x=2)
    truth = np.array([[[0.5, 0.0]]])
    ens = make_dataset(members, "member").assign_coords(cell_area=(("y", "x"), [[1.0, 3.0]]))
    ref = make_dataset(truth, "time").assign_coords(cell_area=(("y", "x"), [[1.0, 3.0]]))
    per_cell = [fair_crps_by_hand(members[:, 0, i], truth[0, 0, i]) for i in range(2)]
    assert ensemble_crps(ens, ref)["sit"] == pytest.approx((per_cell[0] + 3 * per_cell[1]) / 4, rel=1e-6)
