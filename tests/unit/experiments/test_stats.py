"""Interval estimates and the sequential-stopping rule, against textbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from omnisim.experiments.stats import (
    more_replications,
    paired_interval,
    parse_targets,
    t_interval,
    welch_interval,
)


def test_paired_interval_is_the_t_interval_of_the_differences() -> None:
    rng = np.random.default_rng(3)
    b = rng.normal(100, 10, 12)
    x = b + rng.normal(2, 1, 12)
    assert paired_interval(x, b) == pytest.approx(t_interval(x - b))
    res = stats.ttest_rel(x, b)
    ci = res.confidence_interval(0.95)
    _, lo, hi = paired_interval(x, b)
    assert (lo, hi) == pytest.approx((ci.low, ci.high))


def test_welch_interval_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    x, b = rng.normal(5, 1, 9), rng.normal(4, 3, 9)
    ci = stats.ttest_ind(x, b, equal_var=False).confidence_interval(0.95)
    d, lo, hi = welch_interval(x, b)
    assert d == pytest.approx(x.mean() - b.mean())
    assert (lo, hi) == pytest.approx((ci.low, ci.high))


def test_intervals_of_degenerate_samples() -> None:
    mean, lo, hi = t_interval([3.0])  # a mean, but no interval from one value
    assert mean == 3.0 and math.isnan(lo) and math.isnan(hi)
    d, lo, hi = welch_interval([2.0], [1.0, 1.5])
    assert d == 0.75 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(v) for v in t_interval([1.0, math.nan]))
    assert welch_interval([1.0, 1.0], [1.0, 1.0]) == (0.0, 0.0, 0.0)


def test_more_replications_rule() -> None:
    rng = np.random.default_rng(5)
    x = list(rng.normal(100, 10, 10))  # half-width ~7% of the mean
    mean, lo, hi = t_interval(x)
    rel_now = (hi - lo) / 2 / mean
    assert more_replications([x], rel_now * 1.01, 10, 200) == 0
    # Halving the half-width needs four times the replications: 40 in all, 30 more (31 if
    # rounding puts the estimate a hair above 40).
    assert more_replications([x], rel_now / 2, 10, 200) in (30, 31)
    assert more_replications([x], rel_now / 100, 10, 25) == 15  # the cap
    assert more_replications([x], 0.5, 200, 200) == 0
    assert more_replications([[1.0]], 0.5, 1, 200) == 1  # an interval needs two


def test_parse_targets() -> None:
    assert parse_targets(["revenue=0.01", "needs = 0.2"]) == {"revenue": 0.01, "needs": 0.2}
    for bad in ["revenue", "revenue=x", "revenue=0", "revenue=1.5", "=0.1"]:
        with pytest.raises(ValueError, match="--target-ci"):
            parse_targets([bad])
    with pytest.raises(ValueError, match="unknown KPI"):
        parse_targets(["nope=0.1"], kpis=["revenue"])
