"""Uncertainty of the report's numbers and the three-way verdicts that follow from it.

Intervals are percentile bootstraps (Efron and Tibshirani 1993, ch. 13) over the independent units of a
comparison: reference dates for date-paired comparisons, states or members otherwise. A verdict compares
an interval with the claim's threshold: *holds* when the whole interval is on the claim's side, *does not
hold* when the whole interval is on the other side, and *not distinguishable* when the threshold lies inside
it, i.e. the difference is within the noise of member sampling and of the reference's year-to-year spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

HOLDS, FAILS, UNDECIDED, NOT_TESTED = "holds", "does not hold", "not distinguishable", "not tested"
LEVEL = 0.9  # two-sided: the 5th and 95th percentiles
DRAWS = 2000


@dataclass(frozen=True)
class Estimate:
    """A number with its bootstrap interval at :data:`LEVEL`."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


def bootstrap(statistic: Callable[..., float], *samples: np.ndarray, draws: int = DRAWS, seed: int = 0,
              paired: bool = False, level: float = LEVEL) -> Estimate:
    """``statistic(*samples)`` with a percentile interval from resampling each sample's units (first axis) with
    replacement; ``paired`` resamples the same units in every sample (they must have equal lengths)."""
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    value = float(statistic(*arrays))
    if any(len(a) < 2 for a in arrays):
        return Estimate(value, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    stats = np.empty(draws)
    for i in range(draws):
        if paired:
            index = rng.integers(0, len(arrays[0]), len(arrays[0]))
            stats[i] = statistic(*(a[index] for a in arrays))
        else:
            stats[i] = statistic(*(a[rng.integers(0, len(a), len(a))] for a in arrays))
    if not np.isfinite(stats).any():
        return Estimate(value, float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(stats, [tail, 100 - tail])
    return Estimate(value, float(low), float(high))


def mean_estimate(values: np.ndarray, **kwargs) -> Estimate:
    """The mean of ``values`` with its interval."""
    return bootstrap(np.nanmean, values, **kwargs)


def paired_difference(a: np.ndarray, b: np.ndarray, **kwargs) -> Estimate:
    """Mean of ``a - b`` over paired units (e.g. dates), with its interval."""
    return bootstrap(lambda x, y: np.nanmean(x - y), a, b, paired=True, **kwargs)


def ratio_of_means(a: np.ndarray, b: np.ndarray, **kwargs) -> Estimate:
    """``mean(a) / mean(b)`` with its interval: of two independent samples, or of paired units with
    ``paired=True``."""
    return bootstrap(lambda x, y: np.nanmean(x) / np.nanmean(y), a, b, **kwargs)


def below(estimate: Estimate, threshold: float) -> str:
    """Verdict on "the quantity is below ``threshold``"."""
    if not (np.isfinite(estimate.low) and np.isfinite(estimate.high)):
        return NOT_TESTED
    if estimate.high < threshold:
        return HOLDS
    return FAILS if estimate.low > threshold else UNDECIDED


def above(estimate: Estimate, threshold: float) -> str:
    """Verdict on "the quantity is above ``threshold``"."""
    flipped = Estimate(-estimate.value, -estimate.high, -estimate.low)
    return below(flipped, -threshold)


def within(estimate: Estimate, low: float, high: float) -> str:
    """Verdict on "the quantity lies in [low, high]": the whole interval inside, wholly outside, or across."""
    if not (np.isfinite(estimate.low) and np.isfinite(estimate.high)):
        return NOT_TESTED
    if low <= estimate.low and estimate.high <= high:
        return HOLDS
    return FAILS if estimate.high < low or estimate.low > high else UNDECIDED


def combine(verdicts: list[str]) -> str:
    """All parts of a claim together: holds if every part holds, fails if any fails, else not distinguishable."""
    if not verdicts or NOT_TESTED in verdicts:
        return NOT_TESTED
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    return FAILS if FAILS in verdicts else UNDECIDED
