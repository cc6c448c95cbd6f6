"""Consumers as a struct of arrays: one numpy array per attribute, one element per consumer.

A million consumers cost about a hundred bytes each (see `bytes_per_consumer`); no Python object
exists per consumer. Segment, region, membership and awareness are drawn once from the
``population`` stream, so every strategy of a run starts from the same people.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from omnisim.engine import streams as rs
from omnisim.engine.stages import CHURNED, FULFILMENT, SEARCHING, STAGE_NAMES, TRAVELLING, WAIT_NEED
from omnisim.engine.state import F32, F64, I8, I16, U8, U16, U32, Bool, from_object
from omnisim.scenario.schema import Scenario

# The stage a consumer is in is the kind of their next pending event (`omnisim.engine.stages`).
__all__ = [
    "CHURNED",
    "FULFILMENT",
    "SEARCHING",
    "STAGE_NAMES",
    "TRAVELLING",
    "WAIT_NEED",
    "Population",
    "PopulationState",
    "bytes_per_consumer",
]


def bytes_per_consumer(n_channels: int) -> int:
    """Planned memory per consumer (bytes): state arrays, the pending event and headroom for
    the per-bucket temporaries."""
    state = 2 + 2 + 4 + 1 + 1 + 4 + 8 + 1 + 2 + 2 + 1 + 1 + 4 + 2 + 4 + 4 + 4 + 2 + 1 + 1
    habits = 4 * n_channels
    calendar = 12 * 2  # id + time, with room for the slot partition copy
    membership = 1 + 1 + 4  # membership programme: joined channel, tier, qualifying amount
    lifecycle = 12  # customer lifecycle state (omnisim/consumers/lifecycle.py)
    conflict = 1 + 4  # channel conflict: search channel, price spread seen
    return state + habits + calendar + membership + lifecycle + conflict + 64


class PopulationState(NamedTuple):
    """Every consumer's state, one array element per consumer (`Population`'s attributes)."""

    segment: I16[1]
    region: I16[1]
    awareness: F32[1]  # probability of considering the brand at a need, in [0, 1]
    member: Bool[1]  # holds a membership
    habit: F32[2]  # consumer x channel, in [0, 1]
    stage: I8[1]  # WAIT_NEED ... CHURNED: the kind of the pending event
    journey: U32[1]  # needs so far (the draw counter)
    tau_next: F64[1]  # operational time of the next need (days)
    channel: I8[1]  # the channel of the current journey (-1: none)
    node: I16[1]  # the stock node or store serving it (-1: none)
    failed: U16[1]  # bit c: channel c failed this journey
    switches: U8[1]  # re-decisions this journey
    stockouts_met: U8[1]
    min_price: F32[1]  # lowest price per unit seen in the journey's searches (currency)
    units: I16[1]  # the basket (units)
    paid: F32[1]  # price per unit paid, delivery fee included (currency)
    queue_days: F32[1]  # time queued in the store (days)
    late_days: F32[1]  # delivery later than promised (days)
    purchases_in_window: U16[1]
    ever_bought: Bool[1]
    bought_before_window: Bool[1]  # bought during the warm-up
    search_channel: I8[1]  # the channel the journey's search started in (-1: none yet)
    price_spread: F32[1]  # log(highest / lowest goods price) across the considered channels


class Population:
    """Consumer state arrays (index = consumer id)."""

    def __init__(self, sc: Scenario, keys: np.ndarray, channel_names: tuple[str, ...]) -> None:
        n = sc.market.consumers
        self.n = n
        ids = np.arange(n, dtype=np.int64)
        key = keys[rs.POPULATION]
        u_seg = rs.uniforms(key, ids, 0, 0)
        u_reg = rs.uniforms(key, ids, 0, 1)
        u_member = rs.uniforms(key, ids, 0, 2)
        shares = np.array([s.share for s in sc.segments], dtype=np.float64)
        cum = np.cumsum(shares / shares.sum())
        cum[-1] = 1.0
        self.segment = np.searchsorted(cum, u_seg, side="right").astype(np.int16)
        region_names = [r.name for r in sc.market.regions]
        pop_shares = np.array([r.population_share for r in sc.market.regions])
        self.region = np.zeros(n, dtype=np.int16)
        self.awareness = np.zeros(n, dtype=np.float32)
        self.member = np.zeros(n, dtype=bool)
        self.habit = np.zeros((n, len(channel_names)), dtype=np.float32)
        for si, s in enumerate(sc.segments):
            mine = self.segment == si
            w = (
                np.array([s.region_mix.get(r, 0.0) for r in region_names])
                if s.region_mix
                else pop_shares
            )
            rc = np.cumsum(w / w.sum())
            rc[-1] = 1.0
            self.region[mine] = np.searchsorted(rc, u_reg[mine], side="right")
            self.awareness[mine] = s.awareness
            self.member[mine] = u_member[mine] < s.membership_share
            row = np.array([s.habits.get(c, 0.0) for c in channel_names], dtype=np.float32)
            self.habit[mine] = row
        self.stage = np.full(n, WAIT_NEED, dtype=np.int8)
        # Journey state.
        self.journey = np.zeros(n, dtype=np.uint32)  # needs so far (the draw counter)
        self.tau_next = np.zeros(n)  # operational time of the next need
        self.channel = np.full(n, -1, dtype=np.int8)
        self.node = np.full(n, -1, dtype=np.int16)
        self.failed = np.zeros(n, dtype=np.uint16)  # bit c: channel c failed this journey
        self.switches = np.zeros(n, dtype=np.uint8)
        self.stockouts_met = np.zeros(n, dtype=np.uint8)
        self.min_price = np.zeros(n, dtype=np.float32)
        self.units = np.zeros(n, dtype=np.int16)
        self.paid = np.zeros(n, dtype=np.float32)
        self.queue_days = np.zeros(n, dtype=np.float32)
        self.late_days = np.zeros(n, dtype=np.float32)
        self.purchases_in_window = np.zeros(n, dtype=np.uint16)
        self.ever_bought = np.zeros(n, dtype=bool)
        # A purchase dated before the measurement window (the warm-up): tells a new customer
        # (first purchase in the window) from a returning one.
        self.bought_before_window = np.zeros(n, dtype=bool)
        # Channel conflict (docs/model.md, "Channel conflict"): the channel the current journey's
        # search started in (-1: none yet) and log(highest / lowest goods price) across the
        # channels it considered.
        self.search_channel = np.full(n, -1, dtype=np.int8)
        self.price_spread = np.zeros(n, dtype=np.float32)

    def state(self) -> PopulationState:
        """The state arrays, as the journey kernel reads them."""
        return from_object(PopulationState, self)

    def stage_counts(self) -> np.ndarray:
        """Consumers per stage (sums to the population: each is in exactly one)."""
        return np.bincount(self.stage, minlength=len(STAGE_NAMES))
