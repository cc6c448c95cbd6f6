"""Stock at stores and warehouses, refilled by periodic review from the brand.

Each node reviews its stock every ``review_days`` (first review at time 0). Its *stock position*
is on-hand plus on-order units. An order-up-to policy orders ``S - position``; with a reorder
point ``s`` (an (s, S) policy) it orders only when ``position <= s``. An order arrives after
``lead_time_days``. Reviews and deliveries are ordinary SimPy processes. Consumers take stock
first come, first served in the journey kernel; stock never goes negative: a shortfall is a
stock-out. Nodes whose ``supplier`` is a dealer are refilled by `omnisim.supply.network`
instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import simpy

from omnisim.scenario.schema import Scenario

if TYPE_CHECKING:
    from omnisim.market.shocks import Shocks


class Inventory:
    """On-hand and on-order units of every node, with replenishment processes."""

    def __init__(self, sc: Scenario, shocks: Shocks | None = None) -> None:
        self.shocks = shocks  # lead-time multipliers of shocks (omnisim.market.shocks)
        self.names = tuple(n.name for n in sc.nodes)
        reps = [n.replenishment for n in sc.nodes]
        self.order_up_to = np.array([r.order_up_to for r in reps], dtype=np.int64)
        self.reorder_point = np.array(
            [r.reorder_point if r.reorder_point is not None else -1 for r in reps],
            dtype=np.int64,
        )
        self.review_days = np.array([r.review_days for r in reps])
        self.lead_days = np.array([r.lead_time_days for r in reps])
        self.stock = np.array(
            [
                n.initial_stock if n.initial_stock is not None else n.replenishment.order_up_to
                for n in sc.nodes
            ],
            dtype=np.int64,
        )
        self.on_order = np.zeros(len(reps), dtype=np.int64)
        self.initial = self.stock.copy()
        self.delivered = np.zeros(len(reps), dtype=np.int64)  # units received, whole run
        # Units consumers asked for at each node (sold + lost), whole run: the journey kernel
        # counts them; a node supplied by a dealer forecasts its demand from them.
        self.asked = np.zeros(len(reps), dtype=np.int64)
        # Nodes the brand refills here; the others are run by `omnisim.supply.network`.
        self.from_brand = np.array([n.supplier is None for n in sc.nodes])
        self.holding_rate = np.array([n.holding_cost_per_unit_day for n in sc.nodes])
        self.order_cost = np.array([n.order_fixed_cost for n in sc.nodes])

    def start(self, env: simpy.Environment, on_order_placed=None) -> None:
        """Start one review process per node refilled by the brand (nodes with a `supplier`
        are reviewed by the supply network). ``on_order_placed(t, node, units)`` is called for
        every replenishment order (the ledger records it)."""
        for i in range(len(self.names)):
            if self.from_brand[i]:
                env.process(self._review(env, i, on_order_placed))

    def _review(self, env: simpy.Environment, i: int, record) -> simpy.events.Event:
        while True:
            position = int(self.stock[i] + self.on_order[i])
            s = int(self.reorder_point[i])
            if s < 0 or position <= s:
                q = int(self.order_up_to[i]) - position
                if q > 0:
                    self.on_order[i] += q
                    if record is not None:
                        record(env.now, i, q)
                    env.process(self._deliver(env, i, q))
            yield env.timeout(float(self.review_days[i]))

    def _deliver(self, env: simpy.Environment, i: int, q: int) -> simpy.events.Event:
        lead = float(self.lead_days[i])
        if self.shocks is not None:  # an order placed while a shock lasts takes longer
            lead *= self.shocks.lead_multiplier(env.now)
        yield env.timeout(lead)
        self.on_order[i] -= q
        self.stock[i] += q
        self.delivered[i] += q
