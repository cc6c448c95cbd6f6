"""The need process: a renewal process per consumer, on a clock modulated by season and events.

Inter-need times ``X`` are i.i.d. per consumer (gamma, lognormal or exponential with the
segment's mean and coefficient of variation) in *operational time* ``tau``. Real time ``t`` and
operational time are linked by the cumulative need-rate multiplier

    Lambda(t) = integral_0^t m(s) ds,   m(t) = (1 + A cos(2 pi (t - peak) / 365)) * prod_k g_k(t)

where ``A`` is the seasonal amplitude and ``g_k`` the need multiplier of promotion ``k`` while it
runs. A consumer whose need falls at ``t`` has the next one at ``Lambda^-1(Lambda(t) + X)``:
a renewal process whose rate follows ``m(t)`` (time-change; exact for a Poisson process, the
standard modulated-renewal construction otherwise). ``Lambda`` is tabulated on an hourly grid
(``m`` piecewise constant per hour) and inverted by interpolation.

The first need of each consumer is drawn from the renewal process's equilibrium (forward
recurrence) distribution, so the need rate is stationary from day 0: for gamma(k, theta) the
residual time is ``U * Y`` with ``Y ~ gamma(k + 1, theta)`` (the length-biased law), for
lognormal(mu, sigma) it is ``U * LN(mu + sigma^2, sigma)``, and exponential is memoryless.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from omnisim.engine.streams import exponential, gamma_from_uniforms, normal
from omnisim.scenario.schema import NeedDistribution, Scenario

GRID_DAYS = 1.0 / 24.0
Uniforms = Callable[[int, np.ndarray], tuple[np.ndarray, np.ndarray]]


class NeedClock:
    """Maps between real time and operational (need) time, and draws inter-need times."""

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
        self.rate = rate
        self.cum = np.concatenate(([0.0], np.cumsum(rate) * GRID_DAYS))
        segs = sc.segments
        self.mean = np.array([s.need.mean_interval_days for s in segs])
        cv = np.array([s.need.cv for s in segs])
        self.dist = [s.need.distribution for s in segs]
        self.shape = 1.0 / cv**2
        self.ln_sigma = np.sqrt(np.log1p(cv**2))
        self.ln_mu = np.log(self.mean) - 0.5 * self.ln_sigma**2

    def to_op(self, t: np.ndarray) -> np.ndarray:
        """Operational time Lambda(t)."""
        return np.interp(t, self.grid, self.cum)

    def to_real(self, tau: np.ndarray) -> np.ndarray:
        """Real time Lambda^-1(tau); beyond the tabulated horizon, +inf (never reached)."""
        out = np.interp(tau, self.cum, self.grid)
        out[tau > self.cum[-1]] = np.inf
        return out

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        """The need-rate multiplier m(t)."""
        i = np.clip((np.asarray(t) / GRID_DAYS).astype(np.int64), 0, len(self.rate) - 1)
        return self.rate[i]

    def draw(
        self,
        seg: np.ndarray,
        u_a: np.ndarray,
        u_b: np.ndarray,
        more: Uniforms,
        equilibrium: bool = False,
    ) -> np.ndarray:
        """Inter-need times (operational days) for consumers of segments ``seg``.

        ``u_a``, ``u_b`` are two uniforms per consumer; ``more(k, idx)`` gives further pairs for
        gamma rejections. ``equilibrium`` draws the forward-recurrence time instead (first need).
        """
        out = np.empty(len(seg))
        for s, dist in enumerate(self.dist):
            idx = np.flatnonzero(seg == s)
            if len(idx) == 0:
                continue
            ua, ub = u_a[idx], u_b[idx]
            if dist == NeedDistribution.exponential:
                x = exponential(ua, self.mean[s])
            elif dist == NeedDistribution.lognormal:
                mu = self.ln_mu[s] + (self.ln_sigma[s] ** 2 if equilibrium else 0.0)
                x = np.exp(mu + self.ln_sigma[s] * normal(ua))
                if equilibrium:
                    x *= ub
            else:
                k = self.shape[s] + (1.0 if equilibrium else 0.0)

                def sub(attempt: int, rej: np.ndarray, idx=idx) -> tuple[np.ndarray, np.ndarray]:
                    return more(attempt, idx[rej])

                x = gamma_from_uniforms(np.full(len(idx), k), ua, ub, sub)
                x *= self.mean[s] / self.shape[s]
                if equilibrium:
                    x *= more(99, idx)[1]
            out[idx] = x
        return out
