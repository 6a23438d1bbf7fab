"""The claim verdicts follow their stated thresholds and intervals: holds, does not hold, not distinguishable."""

import copy

import numpy as np

from seaice_ldm.evaluation.claims import DM, LDM, LDM_G, crps_ratio, verdicts
from seaice_ldm.evaluation.markdown import _training
from seaice_ldm.evaluation.uncertainty import FAILS, HOLDS, NOT_TESTED, UNDECIDED

NAMES = ("sit", "sic", "sid", "siu", "siv")
RNG = np.random.default_rng(0)
STATES = 1.0 + 0.05 * RNG.normal(size=64)  # per-state difficulty, shared by every generator


def _gen(crps=1.0, power=1.0, violation=0.0, seconds=1.0, gflop=1.0, noise=0.01):
    members = 32
    return {
        "crps_per_state": {n: crps * STATES + noise * RNG.normal(size=STATES.size) for n in NAMES},
        "small_scale_power": {n: power * (1 + 0.05 * RNG.normal(size=members)) for n in NAMES},
        "roughness_per_state": {n: power * (1 + 0.05 * RNG.normal(size=members)) for n in NAMES if n != "sic"},
        "bound_violation": {"sit": violation, "sic": violation, "sid": 0.0},
        "seconds_per_state": seconds,
        "gflop_per_state": gflop,
    }


def _results(miz_rec=-0.05, miz_gen=-0.04):
    return {
        "generators": {
            LDM: _gen(crps=1.0, power=0.5, seconds=0.01, gflop=7.0),
            LDM_G: _gen(crps=1.0, violation=0.1, seconds=0.01, gflop=7.0),
            DM: _gen(crps=1.1, power=1.0, seconds=0.3, gflop=70.0),
        },
        "censoring_paired": {"reconstruction": {"value": miz_rec, "low": miz_rec - 0.01, "high": miz_rec + 0.01},
                             "generation": {"value": miz_gen, "low": miz_gen - 0.02, "high": miz_gen + 0.02}},
    }


def test_all_claims_hold_on_a_constructed_case():
    assert [c["verdict"] for c in verdicts(_results())] == [HOLDS] * 4


def test_each_claim_fails_past_its_threshold():
    r = copy.deepcopy(_results(miz_rec=0.05))
    r["generators"][DM] = _gen(crps=2.0, power=0.1, gflop=69.0, seconds=0.3)  # CRPS ratio 0.5 < 0.8; DM smoother
    r["generators"][LDM] = _gen(crps=1.2, power=0.5, seconds=0.01, gflop=7.0)  # censored / Gaussian 1.2 > 1.05
    assert [c["verdict"] for c in verdicts(r)] == [FAILS] * 4  # 69 / 7 = 9.9 x < 10 x: seconds do not count


def test_differences_inside_the_noise_are_not_distinguishable():
    r = _results(miz_gen=0.0)  # the generation interval straddles 0
    verdict = {c["number"]: c["verdict"] for c in verdicts(r)}
    assert verdict[3] == UNDECIDED
    r["generators"][DM] = _gen(crps=1.25, noise=0.3)  # ratio 0.8 within the member noise
    assert verdicts(r)[0]["verdict"] == UNDECIDED


def test_crps_ratio_interval_is_paired_over_states():
    a, b = _gen(crps=1.0, noise=0.001), _gen(crps=1.1, noise=0.001)
    est = crps_ratio(a, b)
    # the shared per-state difficulty cancels in the paired ratio: a tight interval around 1/1.1
    assert abs(est.value - 1 / 1.1) < 0.005 and est.high - est.low < 0.01


def test_missing_models_are_not_tested_and_nan_never_passes():
    r = _results()
    del r["generators"][DM]
    assert [c["verdict"] for c in verdicts(r)] == [NOT_TESTED, NOT_TESTED, HOLDS, NOT_TESTED]
    r = _results()
    r["generators"][DM]["crps_per_state"]["sic"][3] = np.nan  # one state's score lost: not judged on the rest
    claims = verdicts(r)
    assert claims[0]["verdict"] == NOT_TESTED and f"sic ({DM})" in claims[0]["evidence"]
    assert claims[2]["verdict"] == HOLDS  # censored vs Gaussian does not read the data-space model's scores
    r["generators"][LDM_G]["crps_per_state"]["siv"][:] = np.inf
    claims = verdicts(r)
    assert claims[2]["verdict"] == NOT_TESTED and f"siv ({LDM_G})" in claims[2]["evidence"]
    for g in r["generators"].values():
        g["crps_per_state"] = {n: np.full(STATES.size, np.nan) for n in NAMES}
    assert verdicts(r)[0]["verdict"] == NOT_TESTED


def test_report_says_which_models_were_fine_tuned_inside_a_ring_of_land():
    line = _training({"setup": {"training": {
        "LDM (censored)": {"steps": 12000, "best_val_step": 12000, "p_mean": 0.1, "p_std": 2.0, "sigma_max": 150.0},
        "data-space DM": {"steps": 1500, "best_val_step": 250, "p_mean": 0.5, "p_std": 2.2, "sigma_max": 307.0,
                          "margin": 8, "warm_start_steps": 13250},
    }}})[0]
    assert "LDM (censored) 12000 steps (best validation at 12000)" in line
    assert "data-space DM 13250 steps, then 1500 with a ring of land 8 cells wide (best validation at 250 of those)" in line
