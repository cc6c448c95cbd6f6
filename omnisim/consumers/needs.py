"""The need process: a renewal process per consumer, on a clock modulated by season and events.

Inter-need times ``X`` are i.i.d. per consumer (gamma, lognormal or exponential with the
segment's mean and coefficient of variation) in *operational time* ``tau``. Real time ``t`` and
operational time are linked by the cumulative need-rate multiplier

    Lambda(t) = integral_0^t m(s) ds,   m(t) = (1 + A cos(2 pi (t - peak) / 365)) * prod_k g_k(t)

where ``A`` is the seasonal amplitude and ``g_k`` the need multiplier of promotion or shock ``k``
while it runs (`omnisim.market.shocks`). A consumer whose need falls at ``t`` has the next one at
``Lambda^-1(Lambda(t) + X)``: a renewal process whose rate follows ``m(t)`` (time-change; exact
for a Poisson process, the standard modulated-renewal construction otherwise). ``Lambda`` is
tabulated on an hourly grid (``m`` piecewise constant per hour) and inverted by interpolation.

The first need of each consumer is drawn from the renewal process's equilibrium (forward
recurrence) distribution, so the need rate is stationary from day 0: for gamma(k, theta) the
residual time is ``U * Y`` with ``Y ~ gamma(k + 1, theta)`` (the length-biased law), for
lognormal(mu, sigma) it is ``U * LN(mu + sigma^2, sigma)``, and exponential is memoryless.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine.state import F64, I64, Float, build
from omnisim.engine.streams import gamma, normal, uniform
from omnisim.market.shocks import fold_need_rate
from omnisim.scenario.schema import NeedDistribution, Scenario

GRID_DAYS = 1.0 / 24.0
DIST_CODES = {
    NeedDistribution.gamma: 0,
    NeedDistribution.lognormal: 1,
    NeedDistribution.exponential: 2,
}
EQUILIBRIUM_SLOT = 250  # slot of the uniform that draws the forward-recurrence time


class NeedLaw(NamedTuple):
    """Each segment's inter-need distribution (operational days)."""

    dist: I64[1]  # DIST_CODES: 0 gamma, 1 lognormal, 2 exponential
    mean: F64[1]  # mean interval (days)
    shape: F64[1]  # gamma shape k = 1 / cv^2
    ln_mu: F64[1]  # lognormal mu
    ln_sigma: F64[1]  # lognormal sigma


class ClockTable(NamedTuple):
    """The tabulated operational clock: what `to_op` and `to_real` read."""

    cum: F64[1]  # Lambda at the hourly grid points (operational days)
    start: I64[1]  # inverse look-up: the grid cell holding operational time k * step
    step: Float  # operational days between look-up marks


class NeedClock:
    """The tabulated operational clock and each segment's inter-need distribution."""

    def __init__(self, sc: Scenario) -> None:
        end = sc.horizon_days + 1.0
        self.grid = np.arange(0.0, end + GRID_DAYS, GRID_DAYS)
        mid = self.grid[:-1] + 0.5 * GRID_DAYS
        rate = 1.0 + sc.seasonality.amplitude * np.cos(
            2.0 * np.pi * (mid - sc.seasonality.peak_day) / 365.0
        )
        for p in sc.promotions:
            rate = np.where(
                (mid >= p.start_day) & (mid < p.end_day), rate * p.need_multiplier, rate
            )
        rate = fold_need_rate(sc.shocks, mid, rate)  # shocks (omnisim.market.shocks)
        self.rate = rate
        self.cum = np.concatenate(([0.0], np.cumsum(rate) * GRID_DAYS))
        # Inverse look-up: start[k] is the grid cell holding operational time k * step, with
        # step no wider than the narrowest cell, so Lambda^-1 is a look-up and a short scan.
        positive = rate[rate > 0]
        self.step = GRID_DAYS * (float(positive.min()) if len(positive) else 1.0)
        marks = np.arange(int(self.cum[-1] / self.step) + 2) * self.step
        self.start = np.clip(
            np.searchsorted(self.cum, marks, side="right") - 1, 0, len(self.cum) - 2
        ).astype(np.int64)
        segs = sc.segments
        self.mean = np.array([s.need.mean_interval_days for s in segs])
        cv = np.array([s.need.cv for s in segs])
        self.dist = np.array([DIST_CODES[s.need.distribution] for s in segs], dtype=np.int64)
        self.shape = 1.0 / cv**2
        self.ln_sigma = np.sqrt(np.log1p(cv**2))
        self.ln_mu = np.log(self.mean) - 0.5 * self.ln_sigma**2

    def law(self) -> NeedLaw:
        """Each segment's inter-need distribution, as the kernels read it."""
        return build(
            NeedLaw,
            dist=self.dist,
            mean=self.mean,
            shape=self.shape,
            ln_mu=self.ln_mu,
            ln_sigma=self.ln_sigma,
        )

    def table(self) -> ClockTable:
        """The tabulated clock, as `to_op` and `to_real` read it."""
        return build(ClockTable, cum=self.cum, start=self.start, step=self.step)

    def to_op(self, t: np.ndarray) -> np.ndarray:
        """Operational time Lambda(t) (vector form, for checks)."""
        return np.array([to_op(self.cum, x) for x in np.asarray(t, dtype=np.float64)])

    def to_real(self, tau: np.ndarray) -> np.ndarray:
        """Real time Lambda^-1(tau); beyond the tabulated horizon, +inf (never reached)."""
        return np.array([to_real(self.table(), x) for x in np.asarray(tau, dtype=np.float64)])


@njit(cache=True)
def to_op(cum: np.ndarray, t: float) -> float:
    """Lambda(t) by linear interpolation on the hourly grid."""
    x = t / GRID_DAYS
    i = int(x)
    if i >= len(cum) - 1:
        return cum[-1] + (x - (len(cum) - 1)) * GRID_DAYS
    if i < 0:
        return 0.0
    return cum[i] + (x - i) * (cum[i + 1] - cum[i])


@njit(cache=True)
def to_real(table, tau: float) -> float:
    """Lambda^-1(tau) on the grid; +inf beyond it. ``table`` is `NeedClock.table()`: the cell
    ``lo`` with Lambda[lo] <= tau < Lambda[lo + 1] is found from the look-up and a scan of a
    few cells (the same cell a bisection finds)."""
    cum, start, step = table.cum, table.start, table.step
    n = len(cum)
    if tau >= cum[n - 1]:
        return np.inf
    k = int(tau / step)
    lo = start[k] if k > 0 else 0
    while cum[lo + 1] <= tau:
        lo += 1
    return (lo + (tau - cum[lo]) / (cum[lo + 1] - cum[lo])) * GRID_DAYS


@njit(cache=True)
def draw_interval(
    s: int,
    law: NeedLaw,
    key: np.uint64,
    cid: int,
    journey: int,
    equilibrium: bool,
) -> float:
    """One inter-need time (operational days) of a consumer of segment ``s``; with
    ``equilibrium`` the forward-recurrence time instead (the first need)."""
    dist, mean, shape, ln_mu, ln_sigma = law.dist, law.mean, law.shape, law.ln_mu, law.ln_sigma
    code = dist[s]
    if code == 2:  # exponential: memoryless, the equilibrium law is the same
        return -mean[s] * np.log(uniform(key, cid, journey, 0))
    if code == 1:
        mu = ln_mu[s] + (ln_sigma[s] ** 2 if equilibrium else 0.0)
        x = np.exp(mu + ln_sigma[s] * normal(key, cid, journey, 0))
    else:
        k = shape[s] + (1.0 if equilibrium else 0.0)
        x = gamma(k, key, cid, journey, 0) * mean[s] / shape[s]
    if equilibrium:
        x *= uniform(key, cid, journey, EQUILIBRIUM_SLOT)
    return x
