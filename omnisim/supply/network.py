"""The supply network: the brand, dealer levels, and the stock nodes they replenish.

The network is a directed tree held as a networkx ``DiGraph``: the brand (the root, unlimited
stock) supplies the dealers of the first level, each dealer supplies dealers of the level below
or stock nodes (stores, warehouses) that name it as their ``supplier``. Stock nodes without a
supplier are not part of the network; `omnisim.supply.inventory.Inventory` refills them from the
brand as before.

Every dealer and every supplied stock node ("terminal") runs one SimPy review process:

* every ``review_days`` (first review at day 0) it closes the period's demand: for a dealer the
  units its children ordered (plus demand fed with `SupplyNetwork.demand`), for a terminal the
  units consumers asked for (`Inventory.asked`, counted in the journey kernel: sold + lost);
* it forecasts demand per review period as the moving average of the last ``p`` closed periods
  (periods not yet seen count as ``initial_forecast``);
* it sets the order-up-to level ``S`` (fixed, or forecast x (mean lead time / review + 1) +
  safety) and orders ``S - position``, where position = on hand + on order - backlog owed; an
  (s, S) policy orders only when position <= s;
* its parent ships what it has at once; the rest waits in the parent's backlog (served first come,
  first served as stock arrives) or is cancelled (``shortage: lost``);
* a shipment arrives after a lead-time draw from the ``supply`` random stream.

Terminal stock stays in the shared ``Inventory.stock`` array, which the compiled journey kernel
takes units from directly; dealers' stock lives here. Shipment arrivals are scheduled with
SimPy's urgent priority, so that at a common instant they land before the reviews and before the
consumer clock: a review sees what arrived at its own instant.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import simpy
from simpy.events import URGENT

from omnisim.channels.catalog import Geography
from omnisim.scenario.schema import (
    InventoryPolicy,
    LeadTime,
    LeadTimeDistribution,
    PolicyKind,
    Scenario,
    Shortage,
)
from omnisim.supply.inventory import Inventory

BRAND = "<brand>"
"""Name of the network's root in the graph and the records; the angle brackets keep it apart
from any dealer or stock node a scenario names."""

OrderRecorder = Callable[[float, int, int], None]


@dataclass(frozen=True)
class NodeSettings:
    """Settings of one network node, with the level's defaults and overrides resolved."""

    name: str
    kind: str  # "brand", "dealer" or "terminal"
    level: str  # level name; "brand" or "terminal" for the other kinds
    region: int  # index into the geography's regions (-1 for the brand)
    parent: int  # network index of the parent (-1 for the brand)
    review_days: float
    lead_time: LeadTime
    policy: InventoryPolicy
    shortage: Shortage
    holding_per_unit_day: float  # currency / unit / day
    ordering_cost: float  # currency / order
    purchase_price: float  # currency / unit (the parent's selling price)
    markup: float  # fraction on the purchase price
    initial_stock: int | None
    terminal: int  # index into Inventory's arrays, -1 unless a terminal


def _terminal_policy(node) -> InventoryPolicy:
    rep = node.replenishment
    if rep.policy is not None:
        return rep.policy
    if rep.reorder_point is not None:
        return InventoryPolicy(
            kind=PolicyKind.s_S, order_up_to=rep.order_up_to, reorder_point=rep.reorder_point
        )
    return InventoryPolicy(kind=PolicyKind.order_up_to, order_up_to=rep.order_up_to)


def build_settings(sc: Scenario, geo: Geography) -> list[NodeSettings]:
    """Resolve the scenario's network into per-node settings, index 0 the brand, then dealers in
    level order (each after its parent), then the supplied stock nodes in scenario order.
    Assumes `cross_reference_problems` found nothing."""
    net = sc.network
    if net is None:
        return []
    region = {r: k for k, r in enumerate(geo.names)}
    levels = {lv.name: lv for lv in net.levels}
    brand = NodeSettings(
        BRAND, "brand", "brand", -1, -1, 0.0, LeadTime(), InventoryPolicy(), Shortage.backlog,
        0.0, 0.0, 0.0, 0.0, None, -1,
    )  # fmt: skip
    out = [brand]
    index: dict[str, int] = {}
    for k, lv in enumerate(net.levels):
        above = [d for d in net.dealers if k > 0 and d.level == net.levels[k - 1].name]
        for d in net.dealers:
            if d.level != lv.name:
                continue
            if k == 0:
                parent = 0
            elif d.parent is not None:
                parent = index[d.parent]
            else:  # nearest dealer of the level above; ties go to the first listed
                rd = region[d.region]
                best = min(
                    range(len(above)), key=lambda j: (geo.days[rd, region[above[j].region]], j)
                )
                parent = index[above[best].name]
            p = out[parent]
            price = sc.product.unit_cost if parent == 0 else p.purchase_price * (1 + p.markup)
            rate = d.holding_cost_rate if d.holding_cost_rate is not None else lv.holding_cost_rate
            out.append(
                NodeSettings(
                    name=d.name,
                    kind="dealer",
                    level=lv.name,
                    region=region[d.region],
                    parent=parent,
                    review_days=d.review_days if d.review_days is not None else lv.review_days,
                    lead_time=d.lead_time if d.lead_time is not None else lv.lead_time,
                    policy=d.policy if d.policy is not None else lv.policy,
                    shortage=d.shortage if d.shortage is not None else lv.shortage,
                    # A yearly rate on the value of the stock, per unit and day.
                    holding_per_unit_day=rate * price / 365.0,
                    ordering_cost=(
                        d.ordering_cost if d.ordering_cost is not None else lv.ordering_cost
                    ),
                    purchase_price=price,
                    markup=d.markup if d.markup is not None else lv.markup,
                    initial_stock=d.initial_stock,
                    terminal=-1,
                )
            )
            index[d.name] = len(out) - 1
    del levels
    for t, n in enumerate(sc.nodes):
        if n.supplier is None:
            continue
        parent = index[n.supplier]
        p = out[parent]
        rep = n.replenishment
        out.append(
            NodeSettings(
                name=n.name,
                kind="terminal",
                level="terminal",
                region=region[n.region],
                parent=parent,
                review_days=rep.review_days,
                lead_time=(
                    rep.lead_time
                    if rep.lead_time is not None
                    else LeadTime(mean_days=rep.lead_time_days)
                ),
                policy=_terminal_policy(n),
                shortage=Shortage.lost,  # consumers who find no stock are lost (or switch)
                holding_per_unit_day=n.holding_cost_per_unit_day,
                ordering_cost=n.order_fixed_cost,
                purchase_price=p.purchase_price * (1 + p.markup),
                markup=0.0,
                initial_stock=n.initial_stock,
                terminal=t,
            )
        )
    return out


def order_up_to_level(policy: InventoryPolicy, forecast: float, lead_periods: float) -> float:
    """S (units): the fixed level, or forecast x (lead periods + 1) + safety."""
    if policy.order_up_to is not None:
        return float(policy.order_up_to)
    return forecast * (lead_periods + 1.0) + policy.safety_units


class SupplyNetwork:
    """The network's state and SimPy processes.

    Args:
        sc: a validated scenario with a ``network`` section.
        inventory: the stock nodes' inventory (terminal stock lives in ``inventory.stock``);
            omitted = a fresh `Inventory` of ``sc`` (standalone use, e.g. tests).
        rng: generator of the lead-time draws (the run's ``supply`` stream); omitted = one
            seeded from the scenario's seed.
        record_order: ``(t, node, units)`` callback for every order a terminal places (the
            run's ledger counts them as replenishment orders, like the brand-supplied nodes').
        allow_negative_orders: let reviews place negative orders (returns to the brand), as the
            linear model of the bullwhip formula assumes; a test-only switch.
        geo: the market geography (omitted = built from ``sc``).
    """

    def __init__(
        self,
        sc: Scenario,
        inventory: Inventory | None = None,
        rng: np.random.Generator | None = None,
        record_order: OrderRecorder | None = None,
        allow_negative_orders: bool = False,
        geo: Geography | None = None,
    ) -> None:
        if sc.network is None:
            raise ValueError("the scenario has no `network` section")
        self.geo = geo if geo is not None else Geography.from_scenario(sc)
        self.inventory = inventory if inventory is not None else Inventory(sc)
        self.rng = rng if rng is not None else np.random.default_rng(sc.seed)
        self.record_order = record_order
        self.allow_negative = allow_negative_orders
        self.window = (sc.warmup_days, sc.horizon_days)
        self.nodes = build_settings(sc, self.geo)
        self.index = {s.name: k for k, s in enumerate(self.nodes)}
        n = len(self.nodes)
        self.graph = nx.DiGraph()
        for s in self.nodes:
            self.graph.add_node(s.name, kind=s.kind, level=s.level)
        for s in self.nodes[1:]:
            self.graph.add_edge(self.nodes[s.parent].name, s.name)
        self.children = [[c for c in range(n) if self.nodes[c].parent == k] for k in range(n)]
        i64 = lambda: np.zeros(n, dtype=np.int64)  # noqa: E731
        self.on_hand = i64()  # dealers only; terminals use inventory.stock
        self.on_order = i64()  # ordered, not yet received (includes backlog at the parent)
        self.in_transit = i64()  # shipped by the parent, not yet arrived
        self.backlog_units = i64()  # units this node owes its children (and fed demand)
        self.backlog: list[deque[list[int]]] = [deque() for _ in range(n)]
        self.period_demand = i64()
        self.history: list[deque[int]] = [
            deque(maxlen=s.policy.forecast_periods) for s in self.nodes
        ]
        self.asked_seen = i64()
        # Whole-run totals (units, counts): conservation holds on these.
        self.received = i64()
        self.shipped = i64()  # to child nodes
        self.served = i64()  # to demand fed with `demand`
        self.ordered = i64()  # units ordered (positive orders)
        self.orders_placed = i64()
        self.short_orders = i64()  # orders not shipped in full at once
        self.short_units = i64()  # units not shipped at once (backlogged or lost)
        self.lost_units = i64()  # units of orders cancelled under `shortage: lost`
        # Over the measurement window.
        self.area = np.zeros(n)  # on-hand unit-days
        self.ordering_cost = np.zeros(n)
        self._last_t = np.zeros(n)
        # Per review (bullwhip needs orders per review period).
        self.review_times: list[list[float]] = [[] for _ in range(n)]
        self.orders: list[list[int]] = [[] for _ in range(n)]
        self.demand_series: list[list[int]] = [[] for _ in range(n)]
        self.env: simpy.Environment | None = None
        for k, s in enumerate(self.nodes):
            if s.kind == "brand":
                continue
            stock = s.initial_stock
            if stock is None:
                lead_periods = s.lead_time.mean_days / s.review_days
                stock = max(
                    0, round(order_up_to_level(s.policy, s.policy.initial_forecast, lead_periods))
                )
            if s.kind == "dealer":
                self.on_hand[k] = stock
            else:
                self.inventory.stock[s.terminal] = stock
                self.inventory.initial[s.terminal] = stock
        self.initial = np.array([self.stock_of(k) for k in range(n)], dtype=np.int64)

    # ------------------------------------------------------------------ state

    def stock_of(self, k: int) -> int:
        """Units on hand at node ``k`` (0 for the brand, whose stock is unlimited)."""
        s = self.nodes[k]
        if s.kind == "terminal":
            return int(self.inventory.stock[s.terminal])
        return int(self.on_hand[k])

    def net_stock(self, name: str) -> int:
        """On hand minus backlog owed (units): negative when more is owed than held."""
        k = self.index[name]
        return self.stock_of(k) - int(self.backlog_units[k])

    def _touch(self, k: int) -> None:
        """Integrate dealer ``k``'s on-hand stock up to now over the window (before a change)."""
        now = self.env.now
        a = max(self._last_t[k], self.window[0])
        b = min(now, self.window[1])
        if b > a:
            self.area[k] += (b - a) * self.on_hand[k]
        self._last_t[k] = now

    def accrue_terminals(self, t0: float, t1: float) -> None:
        """Add terminal on-hand over ``[t0, t1)`` at the stock of ``t0`` (the run's bucket
        approximation, as for the holding cost of the ledger)."""
        a, b = max(t0, self.window[0]), min(t1, self.window[1])
        if b <= a:
            return
        stock = self.inventory.stock
        for k, s in enumerate(self.nodes):
            if s.kind == "terminal":
                self.area[k] += (b - a) * stock[s.terminal]

    # ------------------------------------------------------------------ processes

    def start(self, env: simpy.Environment) -> None:
        """Start one review process per dealer and supplied stock node."""
        self.env = env
        self._last_t[:] = env.now
        for k, s in enumerate(self.nodes):
            if s.kind != "brand":
                env.process(self._review(k))

    def lead_draw(self, k: int) -> float:
        """A lead time (days) for a shipment to node ``k``."""
        lt = self.nodes[k].lead_time
        m, cv = lt.mean_days, lt.cv
        if lt.distribution == LeadTimeDistribution.fixed or cv == 0.0 or m == 0.0:
            return m
        if lt.distribution == LeadTimeDistribution.gamma:
            return float(self.rng.gamma(1.0 / cv**2, m * cv**2))
        s2 = math.log1p(cv * cv)
        return float(self.rng.lognormal(math.log(m) - s2 / 2.0, math.sqrt(s2)))

    def _review(self, k: int):
        s = self.nodes[k]
        env = self.env
        lead_periods = s.lead_time.mean_days / s.review_days
        first = True
        while True:
            if s.kind == "terminal":
                asked = int(self.inventory.asked[s.terminal])
                self.period_demand[k] += asked - self.asked_seen[k]
                self.asked_seen[k] = asked
            if not first:  # the review at day 0 closes no period
                d = int(self.period_demand[k])
                self.history[k].append(d)
                self.demand_series[k].append(d)
            self.period_demand[k] = 0
            first = False
            h = self.history[k]
            p = s.policy.forecast_periods
            forecast = (sum(h) + (p - len(h)) * s.policy.initial_forecast) / p
            target = order_up_to_level(s.policy, forecast, lead_periods)
            position = self.stock_of(k) + int(self.on_order[k]) - int(self.backlog_units[k])
            q = 0
            if s.policy.kind == PolicyKind.order_up_to or position <= s.policy.reorder_point:
                # Half-way cases to even: rounding S always up would bias the stock upward.
                q = round(target - position)
                if q < 0 and not self.allow_negative:
                    q = 0
            self.review_times[k].append(env.now)
            self.orders[k].append(q)
            if q != 0:
                self._place(k, q)
            yield env.timeout(s.review_days)

    def _place(self, k: int, q: int) -> None:
        s = self.nodes[k]
        now = self.env.now
        self.on_order[k] += q
        if q > 0:
            self.ordered[k] += q
            self.orders_placed[k] += 1
            if self.window[0] <= now < self.window[1]:
                self.ordering_cost[k] += s.ordering_cost
            if s.kind == "terminal" and self.record_order is not None:
                self.record_order(now, s.terminal, q)
        if s.parent == 0:
            self._ship(0, k, q)
        elif q < 0:
            raise ValueError("negative orders (returns) can go only to the brand")
        else:
            self._take_order(s.parent, k, q)

    def _take_order(self, p: int, child: int, q: int) -> int:
        """Dealer ``p`` receives an order of ``q`` units from ``child`` (-1: fed demand);
        returns the units shipped at once."""
        self.period_demand[p] += q
        if self.nodes[p].shortage == Shortage.backlog:
            before = self.backlog_units[p]
            self.backlog[p].append([child, q])
            self.backlog_units[p] += q
            self._serve_backlog(p)
            sent = int(before + q - self.backlog_units[p])
            # Shipped from this order: whatever the older backlog left over.
            sent = max(0, sent - int(before))
        else:
            sent = min(q, int(self.on_hand[p]))
            if sent > 0:
                self._ship(p, child, sent)
            short = q - sent
            if short > 0:
                self.lost_units[p] += short
                if child >= 0:
                    self.on_order[child] -= short  # cancelled: the child will order again
        if sent < q:
            self.short_orders[p] += 1
            self.short_units[p] += q - sent
        return sent

    def _serve_backlog(self, p: int) -> None:
        """Ship the backlog of dealer ``p`` first come, first served from its stock."""
        queue = self.backlog[p]
        while queue and self.on_hand[p] > 0:
            entry = queue[0]
            give = min(entry[1], int(self.on_hand[p]))
            self._ship(p, entry[0], give)
            self.backlog_units[p] -= give
            entry[1] -= give
            if entry[1] == 0:
                queue.popleft()

    def _ship(self, p: int, child: int, q: int) -> None:
        """Send ``q`` units from ``p`` to ``child`` (-1: to fed demand, delivered at once)."""
        if p != 0:
            self._touch(p)
            self.on_hand[p] -= q
        if child < 0:
            self.served[p] += q
            return
        self.shipped[p] += q
        self.in_transit[child] += q
        env = self.env
        ev = env.event()
        ev._ok = True
        ev._value = None
        ev.callbacks.append(lambda _e, c=child, u=q: self._arrive(c, u))
        # Urgent: at a common instant, arrivals come before reviews and the consumer clock.
        env.schedule(ev, URGENT, self.lead_draw(child))

    def _arrive(self, k: int, q: int) -> None:
        s = self.nodes[k]
        self.in_transit[k] -= q
        self.on_order[k] -= q
        self.received[k] += q
        if s.kind == "terminal":
            self.inventory.stock[s.terminal] += q
            self.inventory.delivered[s.terminal] += q
        else:
            self._touch(k)
            self.on_hand[k] += q
            self._serve_backlog(k)

    # ------------------------------------------------------------------ driving it directly

    def demand(self, name: str, units: int) -> int:
        """Demand of ``units`` at node ``name`` now, without the consumer kernel; returns the
        units served at once. At a terminal it acts as consumers asking (lost sales, counted in
        ``Inventory.asked``); at a dealer as an order from outside the network, under the
        dealer's shortage rule."""
        k = self.index[name]
        s = self.nodes[k]
        if s.kind == "terminal":
            self.inventory.asked[s.terminal] += units
            take = min(units, int(self.inventory.stock[s.terminal]))
            self.inventory.stock[s.terminal] -= take
            return take
        if s.kind != "dealer":
            raise ValueError("the brand takes no demand")
        return self._take_order(k, -1, units)

    # ------------------------------------------------------------------ records

    def records(self) -> dict:
        """Per-node records for the run's ledger (units, counts, currency; see docs/model.md).

        Totals are over the whole run (so that conservation can be checked on them); on-hand
        average, holding and ordering cost are over the measurement window; the per-review
        series carry their review times."""
        if self.env is not None:
            for k, s in enumerate(self.nodes):
                if s.kind == "dealer":
                    self._touch(k)
        span = self.window[1] - self.window[0]
        out = {}
        for k, s in enumerate(self.nodes):
            on_hand_avg = float(self.area[k] / span) if span > 0 else 0.0
            out[s.name] = {
                "kind": s.kind,
                "level": s.level,
                "parent": self.nodes[s.parent].name if s.parent >= 0 else None,
                "purchase_price": s.purchase_price,
                "initial_stock": int(self.initial[k]),
                "end_stock": self.stock_of(k),
                "received": int(self.received[k]),
                "shipped": int(self.shipped[k]),
                "served": int(self.served[k]),
                "in_transit": int(self.in_transit[k]),
                "on_order": int(self.on_order[k]),
                "ordered": int(self.ordered[k]),
                "orders_placed": int(self.orders_placed[k]),
                "backlog_end": int(self.backlog_units[k]),
                "short_orders": int(self.short_orders[k]),
                "short_units": int(self.short_units[k]),
                "lost_units": int(self.lost_units[k]),
                "asked": (int(self.inventory.asked[s.terminal]) if s.kind == "terminal" else None),
                "on_hand_avg": on_hand_avg,
                "holding_cost": float(self.area[k] * s.holding_per_unit_day),
                "ordering_cost": float(self.ordering_cost[k]),
                "review_times": list(self.review_times[k]),
                "orders": list(self.orders[k]),
                "demand": list(self.demand_series[k]),
            }
        return {"window": list(self.window), "nodes": out}
