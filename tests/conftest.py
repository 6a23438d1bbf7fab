"""Test tiers (``--tier``) and shared data fixtures: a tiny canonical data set on a custom grid, and a short
synthetic run.

Tiers: ``fast`` (the default lane, a few minutes: everything not marked ``slow`` or ``browser``), ``slow``
(tests marked ``slow``: trained models, long sampling, whole-file checks), ``browser`` (tests marked
``browser``: the dashboard in headless Chromium) and ``all``.
"""

from __future__ import annotations

import numpy as np
import pytest

from seaice_ldm.data import Grid, make_dataset, synthesize

TIERS = ("fast", "slow", "browser", "all")
TIER_MARKS = ("browser", "slow")  # a test's tier: its first mark of these, else fast


def pytest_addoption(parser):
    parser.addoption("--tier", choices=TIERS, default="fast",
                     help="which tests to run: fast (default: all not marked slow or browser), slow, browser, all")


def pytest_report_header(config):
    return f"tier: {config.getoption('--tier')} (--tier {'|'.join(TIERS)})"


def tier_of(item: pytest.Item) -> str:
    return next((mark for mark in TIER_MARKS if item.get_closest_marker(mark)), "fast")


@pytest.hookimpl(trylast=True)  # after tests/browser/conftest.py has marked its tests
def pytest_collection_modifyitems(config, items):
    tier = config.getoption("--tier")
    if tier == "all":
        return
    selected = [item for item in items if tier_of(item) == tier]
    deselected = [item for item in items if tier_of(item) != tier]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture
def one_thread():
    """One torch thread for tiny networks: two threads on a busy 2-core machine are many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY_GRID = Grid("custom", nx=12, ny=10, dx=50_000.0)


def _tiny_land() -> np.ndarray:
    """A land block in one corner of the tiny grid (True = land)."""
    land = np.zeros(TINY_GRID.shape, dtype=bool)
    land[:3, :4] = True
    return land


def _make_tiny(times=None, seed: int = 0):
    """A small physical canonical Dataset (all five variables, exact 0/1 values present)."""
    if times is None:
        times = np.arange("2000-01-01", "2000-01-07", dtype="datetime64[D]")
    times = np.asarray(times, dtype="datetime64[ns]")
    rng = np.random.default_rng(seed)
    shape = (times.size, *TINY_GRID.shape)
    sic = np.clip(rng.uniform(-0.3, 1.3, shape), 0.0, 1.0)
    data = {
        "sit": np.where(sic > 0, rng.uniform(0.1, 4.0, shape), 0.0),
        "sic": sic,
        "sid": np.clip(rng.uniform(-0.5, 1.1, shape), 0.0, 1.0) * (sic > 0),
        "siu": rng.normal(0.0, 0.1, shape) * (sic > 0),
        "siv": rng.normal(0.0, 0.1, shape) * (sic > 0),
    }
    return make_dataset(data, TINY_GRID, time=times, land=_tiny_land(), attrs={"title": "tiny test data"})


@pytest.fixture
def tiny_grid() -> Grid:
    return TINY_GRID


@pytest.fixture
def make_tiny():
    """Factory ``make_tiny(times=None, seed=0)`` of tiny canonical Datasets (6 daily states by default)."""
    return _make_tiny


@pytest.fixture
def tiny():
    return _make_tiny()


@pytest.fixture(scope="session")
def synthetic_2y():
    """Two synthetic years on the default grid (about 3 s, shared by the session)."""
    return synthesize(years=2, seed=0)
