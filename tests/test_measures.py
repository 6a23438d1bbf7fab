"""The autoencoder issue's measures against hand-built fields with known answers: damage lines, the MIZ of
paired states, physical consistency, roughness and small-scale power, bootstrap intervals and verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from seaice_ldm.data import Grid, make_dataset
from seaice_ldm.evaluation import autoencoder, consistency, damage, miz, smoothness, uncertainty
from seaice_ldm.evaluation.spectra import ocean_boxes

N = 40
GRID = Grid("test", N, N, 25e3)
SEA = np.zeros((N, N), dtype=bool)  # no land


def dataset(**fields) -> "xr.Dataset":
    return make_dataset(fields, GRID, land=SEA)


def pack(n=N) -> np.ndarray:
    """sic = 1 everywhere but a ring of open water three cells wide along the grid's border."""
    sic = np.ones((n, n))
    sic[:3], sic[-3:], sic[:, :3], sic[:, -3:] = 0, 0, 0, 0
    return sic


# ------------------------------------------------------------------ damage lines
def test_pack_interior_matches_a_brute_force_distance():
    rng = np.random.default_rng(0)
    sic = (rng.uniform(size=(25, 25)) > 0.15).astype(float) * 0.9
    sic[rng.uniform(size=sic.shape) < 0.05] = np.nan  # land
    got = damage.pack_interior(sic, cells=3)
    ice = np.nan_to_num(sic) > 0.15
    not_ice = [(i, j) for i in range(-1, 26) for j in range(-1, 26)
               if not (0 <= i < 25 and 0 <= j < 25) or not ice[i, j]]
    pts = np.array(not_ice)
    for i in range(25):
        for j in range(25):
            distance = np.min(np.hypot(pts[:, 0] - i, pts[:, 1] - j))
            assert got[i, j] == (ice[i, j] and distance >= 3), (i, j)


def test_lines_blobs_and_short_segments_are_told_apart():
    sic, sid = pack(), np.zeros((N, N))
    sid[10, 8:20] = 1.0                     # a straight line, 12 cells: a line
    for k in range(8):                      # a diagonal line, 8 cells (8-connected): a line
        sid[20 + k, 8 + k] = 0.9
    sid[25:30, 25:30] = 0.8                 # a 5 x 5 blob: long enough skeleton? width 25/len > 2: not a line
    sid[12, 28:31] = 0.7                    # 3 cells: too short
    sid[4, 10:20] = 1.0                     # a line inside the band near open water: not pack interior
    sid[15, 8:20] = 0.4                     # below the damage threshold
    count = damage.count_lines(sid, sic)
    assert count.lines == 2
    assert count.line_cells == 12 + 8
    assert count.high_cells == 12 + 8 + 25 + 3
    assert count.share == pytest.approx(20 / 48)


def test_line_counts_pool_over_a_dataset():
    sic, sid = pack(), np.zeros((N, N))
    sid[10, 8:20] = 1.0
    ds = dataset(sic=np.stack([sic, sic]), sid=np.stack([sid, np.zeros_like(sid)]))
    counts = damage.damage_lines(ds)
    assert [c.lines for c in counts] == [1, 0]
    pooled = damage.total(counts)
    assert pooled.lines_per_state == 0.5 and pooled.share == 1.0


def test_line_summary_intervals_resample_whole_states():
    """Two states, a 12-cell line and a 4 x 4 blob: a resample holds the line twice (share 1, 2 lines), the blob
    twice (share 0, 0 lines) or both (12/28, 1 line), each pair of draws 1/4, 1/4, 1/2; so the 90 % interval is
    [0, 1] for both, around the pooled values 12/28 and 0.5."""
    sic, line, blob = pack(), np.zeros((N, N)), np.zeros((N, N))
    line[10, 8:20] = 1.0
    blob[20:24, 20:24] = 1.0
    got = autoencoder.line_summary(dataset(sic=np.stack([sic, sic]), sid=np.stack([line, blob])))
    assert got["share"] == pytest.approx(12 / 28) and got["lines_per_state"] == 0.5
    assert got["share_estimate"] == pytest.approx({"value": 12 / 28, "low": 0.0, "high": 1.0})
    assert got["lines_per_state_estimate"] == pytest.approx({"value": 0.5, "low": 0.0, "high": 1.0})


# ------------------------------------------------------------------ the MIZ of paired states
def band(start: int) -> np.ndarray:
    """Open water left of column ``start``, a MIZ band (sic 0.5) of 4 columns, pack to the right."""
    sic = np.ones((N, N))
    sic[:, :start] = 0.0
    sic[:, start:start + 4] = 0.5
    return sic


def test_paired_miz_of_a_shifted_band():
    truth = dataset(sic=np.stack([band(10)]))
    pred = dataset(sic=np.stack([band(11)]))
    pairs = miz.paired_miz(truth, pred)
    # MIZ columns 10-13 vs 11-14: columns 10 and 14 differ, over all N rows
    assert pairs["misclassified"][0] == 2 * N and pairs["miz_cells"][0] == 4 * N
    # inside the truth's MIZ the prediction is 0 in column 10 (error 0.5), 0.5 elsewhere (error 0)
    assert pairs["squared_error"][0] == pytest.approx(N * 0.25)
    # the ice edge moved by one column: IIEE = the area of that column
    area = truth["cell_area"].values
    assert pairs["iiee"][0] == pytest.approx(area[:, 10].sum() * 1e-12)
    summary = miz.summarise(pairs)
    assert summary["misclassified"].value == pytest.approx(0.5)
    assert summary["rmse_sic_in_miz"].value == pytest.approx(np.sqrt(0.25 / 4))


def test_paired_differences_of_two_shifted_bands():
    """Two predictions of the same two states: one exact, one with the band shifted by a column (the case above);
    the differences are the pooled measures' differences, and the shift's cost lies inside every interval."""
    truth = dataset(sic=np.stack([band(10), band(20)]))
    exact = miz.paired_miz(truth, truth)
    shifted = miz.paired_miz(truth, dataset(sic=np.stack([band(11), band(21)])))
    diff = miz.paired_differences(shifted, exact)
    assert diff["misclassified"].value == pytest.approx(0.5)  # 2 of 4 columns, in both states
    assert diff["rmse_sic_in_miz"].value == pytest.approx(np.sqrt(0.25 / 4))
    area = truth["cell_area"].values
    assert diff["iiee"].value == pytest.approx((area[:, 10].sum() + area[:, 20].sum()) / 2 * 1e-12)
    assert all(d.low <= d.value <= d.high for d in diff.values())


def test_paired_miz_refuses_unpaired_states():
    truth = dataset(sic=np.stack([band(10)]))
    pred = dataset(sic=np.stack([band(10), band(11)]))
    with pytest.raises(ValueError, match="as many"):
        miz.paired_miz(truth, pred)


# ------------------------------------------------------------------ physical consistency
def test_open_water_properties_and_ice_without_thickness():
    sic = np.zeros((1, N, N))
    sic[0, :, 20:] = 1.0
    sit = np.where(sic > 0, 2.0, 0.0)
    sit[0, :4, :4] = 0.5            # thickness in 16 open-water cells
    sit[0, :5, 30] = 0.0            # 5 ice cells without thickness
    sid = np.zeros_like(sic)
    sid[0, 0, :8] = 0.005           # below the limit
    siu, siv = np.zeros_like(sic), np.zeros_like(sic)
    siu[0, 10, :2], siv[0, 10, :2] = 0.03, 0.04   # 5 cm/s in 2 cells
    ds = dataset(sit=sit, sic=sic, sid=sid, siu=siu, siv=siv)
    out = consistency.consistency(ds)
    water = N * 20
    assert out["open_water"]["sit"]["share"] == pytest.approx(16 / water)
    assert out["open_water"]["sid"]["share"] == 0.0
    assert out["open_water"]["speed"]["share"] == pytest.approx(2 / water)
    assert out["ice_without_thickness"] == pytest.approx(5 / (N * 20))


# ------------------------------------------------------------------ smoothness
def test_roughness_of_a_checkerboard_in_the_pack():
    a = 0.3
    sic = pack()
    i, j = np.indices((N, N))
    field = 1.0 + a * np.where((i + j) % 2 == 0, 1.0, -1.0)
    ds = dataset(sic=sic[None], sit=field[None])
    # the 3 x 3 mean of a +-a checkerboard is +-a/9 of the centre's sign: the residual is 8a/9 everywhere
    assert smoothness.roughness(ds["sit"], ds["sic"])[0] == pytest.approx(8 * a / 9)


def test_roughness_ignores_cells_next_to_the_ice_edge():
    sic = pack()
    field = np.where(sic > 0, 1.0, 0.0)  # a step at the edge only
    ds = dataset(sic=sic[None], sit=field[None])
    assert smoothness.roughness(ds["sit"], ds["sic"])[0] == 0.0


def test_small_scale_power_of_white_noise_and_of_its_smoothed_copy():
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(6, N, N))
    smooth = (noise + np.roll(noise, 1, 1) + np.roll(noise, 1, 2) + np.roll(noise, (1, 1), (1, 2))) / 4
    ds = dataset(sit=noise, siu=smooth)
    boxes = ocean_boxes(np.ones((N, N), bool), 16)
    white = smoothness.small_scale_power(ds["sit"], boxes)
    # white noise of variance 1 has the flat level dx^2 (km^2) at every wavenumber
    assert np.mean(white) == pytest.approx(25.0**2, rel=0.15)
    ratio = np.mean(smoothness.small_scale_power(ds["siu"], boxes)) / np.mean(white)
    # a 2 x 2 box mean damps k > k_N / 2 by |cos(pi k dx)|^4 averaged over the annuli: well below 1/4
    assert ratio < 0.25


def test_yearly_power_ratios():
    power = np.array([1.0, 1.0, 3.0, 3.0])
    out = smoothness.yearly_power_ratios(power, np.array([2000, 2000, 2001, 2001]))
    assert out == {2000: 0.5, 2001: 1.5}


# ------------------------------------------------------------------ intervals and verdicts
def test_bootstrap_interval_of_a_mean_agrees_with_the_t_interval():
    x = np.random.default_rng(2).normal(3.0, 2.0, size=400)
    est = uncertainty.mean_estimate(x, draws=4000)
    low, high = stats.t.interval(0.9, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert est.value == pytest.approx(x.mean())
    assert est.low == pytest.approx(low, abs=0.03) and est.high == pytest.approx(high, abs=0.03)


def test_paired_difference_removes_the_shared_part():
    rng = np.random.default_rng(3)
    shared = rng.normal(0, 10, size=100)  # the year-to-year part common to both
    a, b = shared + 1.0 + rng.normal(0, 0.1, 100), shared + rng.normal(0, 0.1, 100)
    est = uncertainty.paired_difference(a, b)
    assert est.low > 0.9 and est.high < 1.1
    unpaired = uncertainty.ratio_of_means(a - shared.mean(), b - shared.mean() + 5.0)
    assert np.isfinite(unpaired.low)


def test_verdicts():
    E = uncertainty.Estimate
    assert uncertainty.below(E(0.5, 0.4, 0.6), 1.0) == uncertainty.HOLDS
    assert uncertainty.below(E(1.5, 1.2, 1.8), 1.0) == uncertainty.FAILS
    assert uncertainty.below(E(0.9, 0.7, 1.1), 1.0) == uncertainty.UNDECIDED
    assert uncertainty.above(E(2.0, 1.5, 2.5), 1.0) == uncertainty.HOLDS
    assert uncertainty.within(E(1.0, 0.9, 1.1), 0.8, 1.25) == uncertainty.HOLDS
    assert uncertainty.within(E(1.4, 1.3, 1.5), 0.8, 1.25) == uncertainty.FAILS
    assert uncertainty.within(E(1.2, 1.1, 1.3), 0.8, 1.25) == uncertainty.UNDECIDED
    assert uncertainty.below(E(0.5, float("nan"), float("nan")), 1.0) == uncertainty.NOT_TESTED
    assert uncertainty.combine([uncertainty.HOLDS, uncertainty.UNDECIDED]) == uncertainty.UNDECIDED
    assert uncertainty.combine([uncertainty.HOLDS, uncertainty.FAILS]) == uncertainty.FAILS
    assert uncertainty.combine([uncertainty.HOLDS] * 2) == uncertainty.HOLDS


# ------------------------------------------------------------------ the no-ice rule
def test_no_ice_rule_zeroes_ice_properties_where_sic_is_at_or_below_zero():
    from seaice_ldm.data import no_ice_rule

    sic = np.full((1, N, N), 0.5)
    sic[0, :, :10] = 0.0    # open water, censored
    sic[0, :, 10:12] = -0.2  # a Gaussian decoder below the bound: no ice either
    land = np.zeros((N, N), dtype=bool)
    land[-2:, :] = True
    fields = {n: np.full((1, N, N), 0.3) for n in ("sit", "sid", "siu", "siv")}
    ds = make_dataset({"sic": sic, **fields}, GRID, land=land)
    out = no_ice_rule(ds)
    for n in fields:
        v = out[n].values[0]
        assert np.all(v[:-2, :12] == 0.0) and np.all(v[:-2, 12:] == 0.3), n
        assert np.isnan(v[-2:]).all()  # land stays land
    np.testing.assert_array_equal(out["sic"].values, ds["sic"].values)  # sic itself untouched
    assert out["sit"].attrs == ds["sit"].attrs
    after = consistency.consistency(out)["open_water"]
    assert all(after[p]["share"] == 0.0 for p in after)
