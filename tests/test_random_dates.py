"""All seasons through the date condition (``date="random"``): each member for its own drawn day of the year."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from seaice_ldm.checkpoints.build import Loaded
from seaice_ldm.data import Grid
from seaice_ldm.diffusion.precond import EDMPrecond
from seaice_ldm.models.unet import UNet, UNetConfig
from seaice_ldm.options import RANDOM_DATES, SampleRequest, all_seasons_way
from seaice_ldm.pipeline import Generator, Pipeline


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


def _pipeline() -> tuple[Pipeline, Generator]:
    torch.manual_seed(0)
    net = UNet(UNetConfig(2, 2, (8, 16), 1, (), date_conditioning=True))
    for p in net.parameters():  # the zero-initialised output layer would hide every date
        torch.nn.init.normal_(p, std=0.2) if p.ndim > 1 else None
    meta = {"space": "data", "config": {"diffusion": {"sigma_max": 20.0}}}
    gen = Generator(Loaded(EDMPrecond(net).eval(), meta, Path("tiny")))
    ocean = np.ones((8, 8), bool)
    return Pipeline({("data", "censored"): gen}, ocean, Grid("custom", 8, 8, 5e4), torch.device("cpu")), gen


@pytest.mark.parametrize("sampler", ["dpmpp2m", "heun"])
def test_each_member_is_sampled_for_its_own_day(sampler):
    """Member i of a random-date ensemble (in batches of 2) = member i of an ensemble all for member i's day."""
    pipe, gen = _pipeline()
    days = SampleRequest(date="random", members=5, seed=3).days_of_year()
    mixed = pipe._sample_normalised(gen, 5, 4, sampler, 3, 2, None, days)
    for i, day in enumerate(days):
        alone = pipe._sample_normalised(gen, 5, 4, sampler, 3, 5, None, np.full(5, day))
        torch.testing.assert_close(mixed[i], alone[i], rtol=1e-5, atol=1e-5)
    unconditional = pipe._sample_normalised(gen, 5, 4, sampler, 3, 2, None, None)
    assert (mixed - unconditional).abs().amax() > 1e-3  # the days did reach the network
