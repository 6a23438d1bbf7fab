"""All seasons through the date condition (``date="random"``): each member for its own drawn day of the year."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

import tiny_models as tiny
from seaice_ldm.options import RANDOM_DATES, SampleRequest, all_seasons_way
from seaice_ldm.pipeline.generate import sample_batch, MemberNoise


def test_random_days_cover_the_year_evenly_and_each_is_uniform():
    days = SampleRequest(date="random", members=48, seed=4).days_of_year()
    width = 365.25 / 48
    assert sorted(np.floor(days / width).astype(int)) == list(range(48))  # one member in each 48th of the year
    assert np.array_equal(days, SampleRequest(date=" Random ", members=48, seed=4).days_of_year())
    assert not np.array_equal(days, SampleRequest(date="random", members=48, seed=5).days_of_year())
    # over seeds, one member's day is uniform on [0, 365.25): Kolmogorov-Smirnov against scipy's uniform
    first = [SampleRequest(date="random", members=5, seed=s).days_of_year()[0] for s in range(400)]
    assert stats.kstest(first, stats.uniform(loc=0.0, scale=365.25).cdf).pvalue > 0.01


def test_all_seasons_are_drawn_for_date_conditioned_models_unless_asked_otherwise():
    assert all_seasons_way(None, True) == ("drawn", RANDOM_DATES)
    assert all_seasons_way(None, False) == ("dropped", None)  # an unconditional model has only that way
    assert all_seasons_way("dropped", True) == ("dropped", None)
    with pytest.raises(ValueError, match="needs date-conditioned models"):
        all_seasons_way("drawn", False)
    with pytest.raises(ValueError, match="drawn.*dropped.*got 'random'"):
        all_seasons_way("random", True)


def test_a_date_gives_every_member_its_day_and_none_gives_no_condition():
    assert np.array_equal(SampleRequest(date="2008-03-15", members=3).days_of_year(), [74.0, 74.0, 74.0])
    assert SampleRequest(date="2009-01-01", members=2).days_of_year().tolist() == [0.0, 0.0]
    assert SampleRequest(date=None).days_of_year() is None


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("sampler", ["dpmpp2m", "heun"])
def test_each_member_is_sampled_for_its_own_day(sampler):
    """Member i of a random-date ensemble = member i of an ensemble whose members all have member i's day."""
    gen, mask = tiny.data_generator(date_conditioning=True), tiny.mask()
    request = SampleRequest("data", members=5, steps=4, sampler=sampler, seed=3, date="random")
    days = torch.as_tensor(request.days_of_year(), dtype=torch.float32)

    def run(days):
        return sample_batch(gen, request, MemberNoise(request.member_seeds(), mask.device), days, mask, "float32")

    mixed = run(days)
    for i, day in enumerate(days):
        torch.testing.assert_close(mixed[i], run(torch.full((5,), float(day)))[i], rtol=1e-5, atol=1e-5)
    assert (mixed - run(None)).abs().amax() > 1e-3  # the days did reach the network
