"""Competition: the competitors' price the outside option carries (docs/model.md, "Decision:
competition").

The outside option of a consumer of segment ``s`` in region ``r`` is buying from a competitor
(a share ``σ`` of its weight at the reference price) or not buying. Competitors sell at
``x_rs(t) · p_ref``, where ``x_rs = price_index · m_r · m_s`` (scenario ``competition:``) and a
shock multiplies it by ``M(t)`` (``competitor_price_multiplier``). The competitor is weighed
with the segment's own price sensitivity ``β_s``, as the brand's channels are, so

    exp(V_0) = exp(outside_utility_s) · (1 − σ + σ · (x_rs M(t))^(−β_s)),

and the outside option's utility is ``V_0 = outside_utility_s + ln(1 − σ + σ (x_rs M)^(−β_s))``.
At ``x_rs M = 1`` the term is 0, exactly: a scenario without a ``competition:`` section
has the outside option it had before.

`outside_table` tabulates ``V_0`` at ``M = 1`` (region x segment), once per run;
`outside_utility` is what the decision reads, recomputing only while a shock moves competitors'
prices.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.market import shocks as shk
from omnisim.scenario.schema import Scenario


def log_price_index(sc: Scenario) -> np.ndarray:
    """(R regions x S segments) ``ln x_rs``, the log of competitors' price index."""
    comp = sc.competition
    region = np.array([comp.regions.get(r.name, 1.0) for r in sc.market.regions])
    segment = np.array([comp.segments.get(s.name, 1.0) for s in sc.segments])
    return np.log(comp.price_index) + np.log(region)[:, None] + np.log(segment)[None, :]


def outside_table(sc: Scenario) -> np.ndarray:
    """(R regions x S segments) the outside option's utility at competitors' static prices
    (utils): ``outside_utility_s`` where ``x_rs = 1`` or ``σ = 0``."""
    lx = log_price_index(sc)
    base = np.array([s.outside_utility for s in sc.segments], dtype=np.float64)
    beta = np.array([s.price_sensitivity for s in sc.segments], dtype=np.float64)
    out = np.empty(lx.shape)
    for r in range(lx.shape[0]):
        for s in range(lx.shape[1]):
            out[r, s] = base[s] + competitor_term(lx[r, s], beta[s], sc.competition.share)
    return out


@njit(cache=True, inline="always", _nrt=False)
def competitor_term(log_x, beta, share):
    """``ln(1 − σ + σ x^(−β))`` (utils), 0.0 exactly at ``ln x = 0`` or ``σ = 0``."""
    if log_x == 0.0 or share == 0.0 or beta == 0.0:
        return 0.0
    if share == 1.0:
        return -beta * log_x
    return np.log(1.0 - share + share * np.exp(-beta * log_x))


@njit(cache=True, inline="always", _nrt=False)
def outside_utility(r, s, t, seg, sh, share, beta_factor):
    """The outside option's utility (utils) for segment ``s`` in region ``r`` at ``t``, for a
    consumer whose price sensitivity is the segment's times ``beta_factor``: the tabulated
    value, or, while a shock moves competitors' prices or for a consumer's own sensitivity,
    recomputed."""
    lm = shk.log_competitor_price(t, sh)
    if lm == 0.0 and beta_factor == 1.0:
        return seg.outside[r, s]
    beta = seg.price_sensitivity[s] * beta_factor
    return seg.outside_utility[s] + competitor_term(seg.log_price_index[r, s] + lm, beta, share)
