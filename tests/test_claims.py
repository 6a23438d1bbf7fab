"""The claim verdicts follow their stated thresholds."""

import copy

from seaice_ldm.evaluation.claims import verdicts

NAMES = ("sit", "sic", "sid", "siu", "siv")


def _gen(crps=1.0, ssr=1.0, violation=0.0, miz=1.0, at0=0.4, at1=0.3, seconds=1.0, gflop=1.0):
    return {
        "crps": dict.fromkeys(NAMES, crps),
        "small_scale_ratio": dict.fromkeys(NAMES, ssr),
        "bound_violation": {"sit": violation, "sic": violation, "sid": 0.0},
        "integrals": {"miz_area": {"mean": miz, "std": 0.1}},
        "bound_share": {"sic": {"lower": at0, "upper": at1}},
        "seconds_per_state": seconds,
        "gflop_per_state": gflop,
    }


def _results():
    return {
        "reference": {"integrals": {"miz_area": {"mean": 1.0, "std": 0.1}},
                      "bound_share": {"sic": {"lower": 0.4, "upper": 0.3}}},
        "generators": {
            "LDM (censored)": _gen(crps=1.0, ssr=0.5, seconds=0.01, gflop=7.0),
            "LDM (gaussian)": _gen(crps=1.0, violation=0.1, miz=2.0, at0=0.0, at1=0.0, seconds=0.01, gflop=7.0),
            "data-space DM (censored)": _gen(crps=1.1, ssr=0.9, seconds=0.3, gflop=70.0),
        },
    }


def test_all_claims_hold_on_a_constructed_case():
    assert [c["holds"] for c in verdicts(_results())] == [True, True, True, True]


def test_each_claim_fails_past_its_threshold():
    r = copy.deepcopy(_results())
    r["generators"]["data-space DM (censored)"]["crps"] = dict.fromkeys(NAMES, 2.0)  # LDM ratio 0.5 < 0.8
    r["generators"]["data-space DM (censored)"]["small_scale_ratio"] = dict.fromkeys(NAMES, 0.1)
    r["generators"]["LDM (censored)"]["crps"] = dict.fromkeys(NAMES, 1.1)  # censored/Gaussian 1.1 > 1.05
    r["generators"]["data-space DM (censored)"]["gflop_per_state"] = 69.0  # 9.9 x < 10 x (seconds do not count)
    assert [c["holds"] for c in verdicts(r)] == [False, False, False, False]


def test_missing_models_are_not_tested():
    r = _results()
    del r["generators"]["data-space DM (censored)"]
    assert [c["holds"] for c in verdicts(r)] == [None, None, True, None]


def test_report_says_which_models_were_fine_tuned_inside_a_ring_of_land():
    from seaice_ldm.evaluation.report import _training_lines

    line = _training_lines({
        "LDM (censored)": {"steps": 12000, "best_val_step": 12000, "p_mean": 0.1, "p_std": 2.0, "sigma_max": 150.0},
        "data-space DM": {"steps": 1500, "best_val_step": 250, "p_mean": 0.5, "p_std": 2.2, "sigma_max": 307.0,
                          "margin": 8, "warm_start_steps": 13250},
    })[0]
    assert "LDM (censored) 12000 steps (best validation at 12000)" in line
    assert "data-space DM 13250 steps, then 1500 with a ring of land 8 cells wide (best validation at 250 of those)" in line
