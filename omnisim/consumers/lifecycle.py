"""The customer lifecycle: churn and win-back, recruitment channel, cross-channel buying, active
customers over time, customer lifetime value (CLV) and the spend behind acquisition (CAC).

Settings come from the scenario's ``lifecycle:`` section (`omnisim.scenario.schema.Lifecycle`);
equations are in ``docs/model.md``, section "Customer lifecycle", and the KPIs in
``docs/outputs.md``. This module holds

* `CustomerLifecycle`: the per-consumer lifecycle state (one 16-byte record a consumer, so that
  a purchase touches one cache line, which the kernel prefetches) and the kernel's lifecycle
  inputs, handed to the journey kernel as one `LifecycleState` (its ``k.lifecycle``,
  `CustomerLifecycle.state`), and the end-of-run tallies (`CustomerLifecycle.finish`);
* the compiled helpers the journey kernel calls at a purchase (`on_purchase`), at churn
  (`on_churn`), at a review that may end the consumer's life with the brand (`churns`) and when
  a promotion priced a purchase (`promotion_cut`).

`LifecycleState`, a named tuple read by name:

* ``records``: one `STATE_DTYPE` record per consumer (index = consumer id), fields

  - ``acquired`` (float32): time of the first purchase ever, the acquisition (days; NaN: none);
  - ``covered`` (int32): index of the first ledger period end not yet covered by a purchase
    (active-customer count);
  - ``mask`` (uint16): bit c set once the consumer buys in channel c in the measurement window;
  - ``first`` (int8): channel of the first purchase ever, the recruitment channel (-1: none);
  - ``flags`` (uint8): bit 0 `CHURNED_IN_WINDOW`, bit 1 `IN_CLV_COHORT`, bits 2 to 7 the
    number of lives the consumer has ended (churned), modulo 64: the key of the next life's
    churn threshold and of its win-back delay;
  - ``churn_left`` (float32): what is left of the current life's churn threshold, an Exp(1)
    draw that each review's churn hazard uses up (NaN: not drawn yet; `churns`);

* ``params``: the settings (`LifecycleParams`, read only);
* ``active_diff`` (int64, one more than the ledger's periods): difference array of the active
  customers at each period end;
* ``node_unit_margin`` (float64, one per stock node): at a store the dealer network supplies,
  the brand's margin per unit it sold into the network (its selling price to the first level
  less ``unit_cost``); NaN at the other nodes (`set_network_margin`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine.prefetch import prefetch
from omnisim.engine.state import F64, I64, ArrayKind, Float, Int, build

if TYPE_CHECKING:
    from omnisim.engine.ledger import Ledger
    from omnisim.scenario.schema import Scenario

# Bits of the flags array.
CHURNED_IN_WINDOW = 1
IN_CLV_COHORT = 2

LIFE_SHIFT = 2  # flags bits 2 to 7: lives ended, modulo 64
LIFE_MASK = np.uint8(0xFC)

# Slot of the win-back delay draw in the `winback` stream (keyed by the life that ended). The
# forward-recurrence draw of the next need uses the same key, keyed by the journey that churned,
# from slot 0 up (gamma attempts) and `needs.EQUILIBRIUM_SLOT`; 255 is out of their way.
WINBACK_DELAY_SLOT = 255
# Slots of the `review` stream: a life's churn threshold (keyed by the life; the per-journey
# draws of the review use slots 0 to 2) and the cause of a churn (keyed by the journey).
THRESHOLD_SLOT = 8
CAUSE_SLOT = 2

STATE_DTYPE = np.dtype(
    [
        ("acquired", np.float32),
        ("covered", np.int32),
        ("mask", np.uint16),
        ("first", np.int8),
        ("flags", np.uint8),
        ("churn_left", np.float32),
    ]
)
BYTES_PER_CONSUMER = STATE_DTYPE.itemsize  # 16


class LifecycleParams(NamedTuple):
    """The lifecycle's settings for one run (days unless said)."""

    winback_days: Float  # mean win-back delay; inf = never
    active_days: Float  # A: a customer is active at t if they bought in (t - A, t]
    clv_days: Float  # CLV observation window per customer; inf = to the horizon
    cohort_cutoff: Float  # latest acquisition time of the CLV cohort: H - clv_days (inf = all)
    discount_per_day: Float  # continuous discount rate per day, annual rate / 365
    warmup: Float  # W
    horizon: Float  # H
    period: Float  # P, the ledger's time-series period
    n_periods: Int  # number of ledger periods


class LifecycleState(NamedTuple):
    """The lifecycle's kernel state (layout in the module docstring)."""

    records: ArrayKind(STATE_DTYPE)[1]  # per consumer
    params: LifecycleParams
    active_diff: I64[1]  # per ledger period, one more: difference array of active customers
    node_unit_margin: F64[1]  # per stock node: the brand's unit margin (currency; NaN: none)


class CustomerLifecycle:
    """Lifecycle state of one replication (index = consumer id) and its kernel tuple."""

    def __init__(self, sc: Scenario, n: int, ledger: Ledger) -> None:
        lc = sc.lifecycle
        horizon, warmup = float(sc.horizon_days), float(sc.warmup_days)
        self.n_periods = ledger.n_periods
        self.records = np.zeros(n, dtype=STATE_DTYPE)
        self.records["acquired"] = np.nan
        self.records["first"] = -1
        self.records["churn_left"] = np.nan
        clv_days = np.inf if lc.clv_days is None else float(lc.clv_days)
        self.params = build(
            LifecycleParams,
            winback_days=np.inf if lc.winback_days is None else float(lc.winback_days),
            active_days=float(lc.active_days),
            clv_days=clv_days,
            cohort_cutoff=horizon - clv_days if np.isfinite(clv_days) else np.inf,
            discount_per_day=lc.annual_discount_rate / 365.0,
            warmup=warmup,
            horizon=horizon,
            period=float(ledger.period),
            n_periods=self.n_periods,
        )
        self.active_diff = np.zeros(self.n_periods + 1, dtype=np.int64)
        self.node_unit_margin = np.full(len(sc.nodes), np.nan)

    def set_network_margin(self, terminals: np.ndarray, unit_margin: float) -> None:
        """The stock nodes (indices) the dealer network supplies, and the brand's margin per
        unit on the goods it sells into the network (currency / unit): the CLV margin of a
        purchase served there (docs/model.md, 16b)."""
        self.node_unit_margin[terminals] = unit_margin

    def state(self) -> LifecycleState:
        """The lifecycle's kernel state (layout in the module docstring)."""
        return build(
            LifecycleState,
            records=self.records,
            params=self.params,
            active_diff=self.active_diff,
            node_unit_margin=self.node_unit_margin,
        )

    def active_series(self) -> np.ndarray:
        """Active customers at each ledger period end (count)."""
        return np.cumsum(self.active_diff)[: self.n_periods]

    def finish(self, ledger: Ledger, purchases_in_window: np.ndarray) -> dict[str, float]:
        """End of run: write the active-customer series into the ledger's time series and
        return the lifecycle tallies for the ledger dict (counts of consumers)."""
        series = self.active_series()
        ledger.series[:, lg.TS_ACTIVE_CUSTOMERS] = series
        bought = purchases_in_window > 0
        churned = (self.records["flags"] & CHURNED_IN_WINDOW) != 0
        mask = self.records["mask"]
        return {
            "churners": int(churned.sum()),
            "customers": int((bought | churned).sum()),
            # Two bits or more set: x & (x - 1) clears the lowest set bit.
            "cross_channel_buyers": int(((mask & (mask - np.uint16(1))) != 0).sum()),
            "active_at_horizon": int(series[-1]),
        }


# ------------------------------------------------------------------------------------------
# Compiled helpers (called from the journey kernel, `omnisim.consumers.journey`).


@njit(cache=True, inline="always", _nrt=False)
def period_end(k, warmup, horizon, period, n):
    """End of ledger period ``k``: ``W + (k + 1) P``, the last one ends at the horizon."""
    return horizon if k >= n - 1 else warmup + (k + 1) * period


@njit(cache=True, inline="always", _nrt=False)
def first_end_from(x, warmup, horizon, period, n):
    """Index of the first ledger period end ``>= x`` (``n`` if none)."""
    if x > horizon:
        return n
    k = int(np.ceil((x - warmup) / period)) - 1
    if k < 0:
        k = 0
    elif k > n - 1:
        k = n - 1
    # Exact against the period ends as `period_end` computes them (rounding of the guess).
    while k > 0 and period_end(k - 1, warmup, horizon, period, n) >= x:
        k -= 1
    while k < n and period_end(k, warmup, horizon, period, n) < x:
        k += 1
    return k


@njit(cache=True, inline="always", _nrt=False)
def prefetch_consumer(lc: LifecycleState, i: int) -> None:
    """Start loading consumer ``i``'s lifecycle record (a hint; changes no result)."""
    prefetch(lc.records, i)


@njit(cache=True, inline="always", _nrt=False)
def brand_margin(nd, q, brand, cross, unit_cost, order_cost, lc: LifecycleState):
    """The brand's contribution margin of a purchase of ``q`` units served at node ``nd``
    (currency): the brand's take of the sale less the goods at ``unit_cost`` and the order
    cost; at a store the dealer network supplies, the goods were the network's, so the brand
    earned its margin per unit when it sold them into the network, and of the sale only what
    an omnichannel allocation gives it (``cross``: the order was cross-fulfilled)."""
    per_unit = lc.node_unit_margin[nd]
    if per_unit == per_unit:  # not NaN: a store of the dealer network
        return q * per_unit + (brand if cross else 0.0) - order_cost
    return brand - q * unit_cost - order_cost


@njit(cache=True, inline="always", _nrt=False)
def on_purchase(i, t, c, margin, inw, lc: LifecycleState, acc, ch_acc):
    """A purchase by consumer ``i`` at ``t`` in channel ``c`` whose contribution margin to the
    brand is ``margin``: recruitment, channel mask, active coverage and CLV."""
    prm, diff = lc.params, lc.active_diff
    me = lc.records[i]
    if me["first"] < 0:  # the first purchase ever: the consumer is recruited by channel c
        me["first"] = c
        me["acquired"] = t
        if inw:
            ch_acc[c, lg.CH_NEW_CUSTOMERS] += 1.0
            if t <= prm.cohort_cutoff:
                me["flags"] |= IN_CLV_COHORT
                acc[lg.CLV_COHORT] += 1.0
    if inw:
        me["mask"] |= np.uint16(1 << c)
    if me["flags"] & IN_CLV_COHORT:
        age = t - me["acquired"]
        if age < prm.clv_days:
            acc[lg.CLV_SUM] += margin * np.exp(-prm.discount_per_day * age)
    # Active at a period end e iff a purchase t <= e < t + A: the purchase covers the period
    # ends [first end >= t, first end >= t + A); add the part not covered yet.
    w, h, p, n = prm.warmup, prm.horizon, prm.period, prm.n_periods
    k_b = first_end_from(t + prm.active_days, w, h, p, n)
    if k_b > me["covered"]:  # (usually not, once A spans the rest of the run)
        k_a = first_end_from(t, w, h, p, n)
        start = k_a if k_a > me["covered"] else me["covered"]
        if k_b > start:
            diff[start] += 1
            diff[k_b] -= 1
        me["covered"] = k_b


@njit(cache=True, _nrt=False)
def churns(i, j, p_churn, p_drop, lc: LifecycleState, key):
    """Whether consumer ``i``'s review of journey ``j`` ends its life with the brand, and
    whether as a drop-out: it churns with probability ``p_churn`` (a bad experience), else
    drops out with probability ``p_drop`` (docs/model.md, section 16, "How the churn is drawn").

    Each life has one Exp(1) threshold E, keyed by the consumer and its life number; a review
    uses up the hazard h = -ln(1 - p_churn) - ln(1 - p_drop), and the life ends when the
    hazards used add up past E. Given the life so far, that happens at this review with
    probability 1 - exp(-h) = 1 - (1 - p_churn)(1 - p_drop), as one Bernoulli draw per review
    would; but a strategy that gives a consumer more (or fewer) reviews moves the churn to
    another review of the same consumer instead of drawing it anew, which keeps churn paired
    under common random numbers. Returns (churned, dropped_out)."""
    if p_churn <= 0.0 and p_drop <= 0.0:
        return False, False
    me = lc.records[i]
    left = float(me["churn_left"])
    life = int(me["flags"]) >> LIFE_SHIFT
    if np.isnan(left):
        left = -np.log(rs.uniform(key, i, life, THRESHOLD_SLOT))
    left += np.log1p(-p_churn) + np.log1p(-p_drop)
    if left > 0.0:
        me["churn_left"] = np.float32(left)
        return False, False
    me["churn_left"] = np.nan
    me["flags"] = (me["flags"] & ~LIFE_MASK) | np.uint8(((life + 1) & 63) << LIFE_SHIFT)
    # The cause, with the probabilities of satisfaction churn first, then drop-out.
    total = 1.0 - (1.0 - p_churn) * (1.0 - p_drop)
    return True, rs.uniform(key, i, j, CAUSE_SLOT) * total >= p_churn


@njit(cache=True, _nrt=False)
def on_churn(i, j, t, inw, lc: LifecycleState, key) -> float:
    """Consumer ``i`` churns at ``t`` (journey ``j``): the time they come back, inf if never.
    The delay is keyed by the life that ended, so that it is paired across strategies."""
    me = lc.records[i]
    if inw:
        me["flags"] |= CHURNED_IN_WINDOW
    mean = lc.params.winback_days
    if not np.isfinite(mean):
        return np.inf
    life = (int(me["flags"]) >> LIFE_SHIFT) - 1
    return t - mean * np.log(rs.uniform(key, i, life & 63, WINBACK_DELAY_SLOT))


@njit(cache=True, _nrt=False)
def promotion_factor(c, t, start, end, discount, mask):
    """Product of (1 - discount) over the promotions running on channel ``c`` at ``t``."""
    f = 1.0
    for k in range(len(start)):
        if mask[k, c] and start[k] <= t < end[k]:
            f *= 1.0 - discount[k]
    return f


@njit(cache=True, _nrt=False)
def promotion_cut(c, t_price, q, p, start, end, discount, mask):
    """Money promotions took off a purchase of ``q`` units paid ``p`` each, priced at
    ``t_price``: ``q (p / f - p)`` with ``f`` the promotions' price factor (0 if f = 0 or
    no promotion runs)."""
    f = promotion_factor(c, t_price, start, end, discount, mask)
    if f <= 0.0 or f >= 1.0:
        return 0.0
    return q * (p / f - p)
