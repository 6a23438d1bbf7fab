"""Choosing the latent model size: the cheapest within 5 % of the best fair CRPS."""

import math

import pytest

from seaice_ldm.evaluation.frontier import pick, relative_crps


def test_relative_crps_is_the_geometric_mean_of_the_ratios():
    best = {"sit": 0.2, "sic": 0.1}
    assert relative_crps(best, best) == 1.0
    assert relative_crps({"sit": 0.4, "sic": 0.1}, best) == pytest.approx(math.sqrt(2.0))


@pytest.mark.parametrize(("small", "chosen"), [(1.04, "small"), (1.06, "large")])
def test_pick_takes_the_cheapest_within_tolerance(small, chosen):
    rows = {"small": {"relative_crps": small, "gflop_per_state": 7.0},
            "large": {"relative_crps": 1.0, "gflop_per_state": 25.0}}
    assert pick(rows, tolerance=1.05) == chosen
