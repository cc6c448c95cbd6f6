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
* a shipment arrives after a lead-time draw from the ``supply`` random stream: a counter-based
  draw keyed by the receiving node (its name) and the day the shipment leaves, so a node's
  shipments of a given day draw the same lead times under every strategy (common random
  numbers), however many orders other nodes placed before.

Prices follow ``network.pricing`` (cost-plus markups or shares of the list price), and
``network.flatten`` removes levels before the tree is built; every shipment in the measurement
window is paid at the child's purchase price, which gives each node's revenue, purchases and
profit (docs/model.md, 17a).

With ``network.exit``, a check process lets dealers whose trailing profit falls below a floor
leave; their children re-attach to the nearest surviving dealer of the level above
(docs/model.md, 17a, "Dealer exit").

Terminal stock stays in the shared ``Inventory.stock`` array, which the compiled journey kernel
takes units from directly; dealers' stock lives here. Shipment arrivals are scheduled with
SimPy's urgent priority, so that at a common instant they land before the reviews and before the
consumer clock: a review sees what arrived at its own instant.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

import networkx as nx
import numpy as np
import simpy
from simpy.events import URGENT

from omnisim.channels.catalog import Geography
from omnisim.engine import streams as rs
from omnisim.scenario.schema import (
    OFFLINE_TYPES,
    FlattenPrice,
    InventoryPolicy,
    LeadTime,
    LeadTimeDistribution,
    PolicyKind,
    Pricing,
    Reattach,
    Scenario,
    Shortage,
)
from omnisim.supply.inventory import Inventory

if TYPE_CHECKING:
    from omnisim.market.shocks import Shocks

BRAND = "<brand>"
"""Name of the network's root in the graph and the records; the angle brackets keep it apart
from any dealer or stock node a scenario names."""

OrderRecorder = Callable[[float, int, int], None]


class Prices(NamedTuple):
    """A node's prices (currency / unit)."""

    buy: float  # what it pays its parent
    sell: float  # what it charges its children (a dealer) or consumers (a terminal)
    consumer: float  # a terminal's consumer price (0: the channel's own)


@dataclass
class Owed:
    """An order waiting in a dealer's backlog: ``units`` still owed to ``child`` (-1: fed
    demand)."""

    child: int
    units: int


@dataclass(frozen=True)
class Window:
    """The measurement window (days)."""

    warmup: float
    horizon: float


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
    selling_price: float = 0.0  # currency / unit: to children (consumers for a terminal)
    consumer_price: float = 0.0  # terminal: consumer price in stores; 0 = the channel's price


@dataclass
class _Link:
    """A node of the network tree before its settings are resolved."""

    name: str
    kind: str  # "dealer" or "terminal"
    level: str
    rank: int  # index of the level in `network.levels` (a terminal: below every level)
    region: int
    parent: str  # BRAND or a dealer's name
    spec: object  # the scenario's Dealer or StockNode


def _tree(sc: Scenario, geo: Geography) -> list[_Link]:
    """The scenario's full network (no flattening): dealers in level order, each after its
    parent, then the supplied stock nodes in scenario order."""
    net = sc.network
    region = {r: k for k, r in enumerate(geo.names)}
    out: list[_Link] = []
    for k, lv in enumerate(net.levels):
        above = [d for d in net.dealers if k > 0 and d.level == net.levels[k - 1].name]
        for d in net.dealers:
            if d.level != lv.name:
                continue
            if k == 0:
                parent = BRAND
            elif d.parent is not None:
                parent = d.parent
            else:  # nearest dealer of the level above; ties go to the first listed
                rd = region[d.region]
                best = min(
                    range(len(above)), key=lambda j: (geo.days[rd, region[above[j].region]], j)
                )
                parent = above[best].name
            out.append(_Link(d.name, "dealer", lv.name, k, region[d.region], parent, d))
    for n in sc.nodes:
        if n.supplier is not None:
            rank = len(net.levels)
            out.append(_Link(n.name, "terminal", "terminal", rank, region[n.region], n.supplier, n))
    return out


def _flatten(sc: Scenario, geo: Geography, links: list[_Link]) -> list[_Link]:
    """Remove the levels `network.flatten` names and re-attach the orphans (docs/model.md,
    17a, "Flattening")."""
    net = sc.network
    fl = net.flatten
    removed = set(fl.remove_levels)
    rank = {lv.name: k for k, lv in enumerate(net.levels)}
    by_name = {x.name: x for x in links}
    keep = [
        _Link(x.name, x.kind, x.level, x.rank, x.region, x.parent, x.spec)
        for x in links
        if not (x.kind == "dealer" and x.level in removed)
    ]
    for x in keep:
        p = x.parent
        if p == BRAND or by_name[p].level not in removed:
            continue
        if fl.reattach == Reattach.level_above:
            while p != BRAND and by_name[p].level in removed:
                p = by_name[p].parent
        else:
            above = [k for k in range(rank[by_name[p].level]) if net.levels[k].name not in removed]
            cands = (
                [d for d in keep if d.kind == "dealer" and d.level == net.levels[max(above)].name]
                if above
                else []
            )
            if cands:  # nearest by transport time; ties go to the first listed
                best = min(
                    range(len(cands)), key=lambda j: (geo.days[x.region, cands[j].region], j)
                )
                p = cands[best].name
            else:
                p = BRAND
        x.parent = p
    return keep


def _prices(sc: Scenario, links: list[_Link]) -> dict[str, tuple[float, float, float]]:
    """(purchase, selling, consumer) price per node (currency / unit), the brand included
    (selling only). A terminal's consumer price is 0 under fixed_retail (the channel's)."""
    net = sc.network
    prod = sc.product
    levels = {lv.name: lv for lv in net.levels}
    cost_plus = net.pricing == Pricing.cost_plus
    brand_sell = (
        prod.unit_cost * (1.0 + net.brand_markup)
        if cost_plus
        else prod.list_price * net.brand_share
    )
    out = {BRAND: Prices(0.0, brand_sell, 0.0)}
    for x in links:  # parents come first
        buy = out[x.parent].sell
        if x.kind == "dealer":
            if cost_plus:
                m = x.spec.markup if x.spec.markup is not None else levels[x.level].markup
                sell = buy * (1.0 + m)
            else:
                sell = prod.list_price * levels[x.level].retail_share
            out[x.name] = Prices(buy, sell, 0.0)
        else:
            m = x.spec.markup if x.spec.markup is not None else net.terminal_markup
            consumer = buy * (1.0 + m) if cost_plus else 0.0
            out[x.name] = Prices(buy, consumer, consumer)
    return out


def _terminal_policy(node) -> InventoryPolicy:
    rep = node.replenishment
    if rep.policy is not None:
        return rep.policy
    if rep.reorder_point is not None:
        return InventoryPolicy(
            kind=PolicyKind.s_S, order_up_to=rep.order_up_to, reorder_point=rep.reorder_point
        )
    return InventoryPolicy(kind=PolicyKind.order_up_to, order_up_to=rep.order_up_to)


def _channel_retail(sc: Scenario, node: str) -> float:
    """A store's price in its first offline channel, before promotions (currency / unit);
    0 if no offline channel lists it."""
    for c in sc.channels:
        if c.type in OFFLINE_TYPES and node in c.nodes:
            return sc.product.list_price * c.price_index
    return 0.0


def build_settings(sc: Scenario, geo: Geography) -> list[NodeSettings]:
    """Resolve the scenario's network into per-node settings, index 0 the brand, then dealers in
    level order (each after its parent), then the supplied stock nodes in scenario order;
    flattening, if any, is applied. Assumes `cross_reference_problems` found nothing."""
    net = sc.network
    if net is None:
        return []
    levels = {lv.name: lv for lv in net.levels}
    full = _tree(sc, geo)
    links = _flatten(sc, geo, full) if net.flatten is not None else full
    prices = _prices(sc, links)
    if net.flatten is not None:
        before = _prices(sc, full)
        for x in links:
            if x.kind != "terminal":
                continue
            buy, _, consumer = prices[x.name]
            old_buy, _, old_consumer = before[x.name]
            if net.flatten.price == FlattenPrice.keep_retail:
                consumer = old_consumer  # 0 under fixed_retail: the channel's price stays
            elif net.pricing == Pricing.fixed_retail:
                retail = _channel_retail(sc, x.name)
                # The store's margin in currency stays; its purchase saving goes to consumers.
                consumer = max(retail - (old_buy - buy), 0.0) if retail > 0 else 0.0
            prices[x.name] = Prices(buy, consumer, consumer)
    brand = NodeSettings(
        BRAND, "brand", "brand", -1, -1, 0.0, LeadTime(), InventoryPolicy(), Shortage.backlog,
        0.0, 0.0, 0.0, 0.0, None, -1, prices[BRAND].sell, 0.0,
    )  # fmt: skip
    out = [brand]
    index: dict[str, int] = {BRAND: 0}
    terminal_of = {n.name: t for t, n in enumerate(sc.nodes)}
    for x in links:
        buy, sell, consumer = prices[x.name]
        if x.kind == "dealer":
            d, lv = x.spec, levels[x.level]
            rate = d.holding_cost_rate if d.holding_cost_rate is not None else lv.holding_cost_rate
            settings = NodeSettings(
                name=d.name,
                kind="dealer",
                level=lv.name,
                region=x.region,
                parent=index[x.parent],
                review_days=d.review_days if d.review_days is not None else lv.review_days,
                lead_time=d.lead_time if d.lead_time is not None else lv.lead_time,
                policy=d.policy if d.policy is not None else lv.policy,
                shortage=d.shortage if d.shortage is not None else lv.shortage,
                # A yearly rate on the value of the stock, per unit and day.
                holding_per_unit_day=rate * buy / 365.0,
                ordering_cost=d.ordering_cost if d.ordering_cost is not None else lv.ordering_cost,
                purchase_price=buy,
                markup=(sell / buy - 1.0) if buy > 0 else 0.0,
                initial_stock=d.initial_stock,
                terminal=-1,
                selling_price=sell,
            )
        else:
            n = x.spec
            rep = n.replenishment
            settings = NodeSettings(
                name=n.name,
                kind="terminal",
                level="terminal",
                region=x.region,
                parent=index[x.parent],
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
                purchase_price=buy,
                markup=(consumer / buy - 1.0) if buy > 0 and consumer > 0 else 0.0,
                initial_stock=n.initial_stock,
                terminal=terminal_of[n.name],
                selling_price=consumer,
                consumer_price=consumer,
            )
        out.append(settings)
        index[x.name] = len(out) - 1
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
        key: key of the lead-time draws (the run's ``supply`` stream,
            `omnisim.engine.streams`); omitted = that of replication 0 of the scenario's seed.
        record_order: ``(t, node, units)`` callback for every order a terminal places (the
            run's ledger counts them as replenishment orders, like the brand-supplied nodes').
        allow_negative_orders: let reviews place negative orders (returns to the brand), as the
            linear model of the bullwhip formula assumes; a test-only switch.
        geo: the market geography (omitted = built from ``sc``).
        shocks: the scenario's shocks, whose lead-time multipliers lengthen shipments sent
            while one lasts (omitted = none).
    """

    def __init__(
        self,
        sc: Scenario,
        inventory: Inventory | None = None,
        key: np.uint64 | None = None,
        record_order: OrderRecorder | None = None,
        allow_negative_orders: bool = False,
        geo: Geography | None = None,
        shocks: Shocks | None = None,
    ) -> None:
        if sc.network is None:
            raise ValueError("the scenario has no `network` section")
        self.geo = geo if geo is not None else Geography.from_scenario(sc)
        self.inventory = inventory if inventory is not None else Inventory(sc)
        self.key = np.uint64(key if key is not None else rs.Streams(sc.seed, 0).keys[rs.SUPPLY])
        self.record_order = record_order
        self.shocks = shocks
        self.allow_negative = allow_negative_orders
        self.window = Window(sc.warmup_days, sc.horizon_days)
        self.unit_cost = sc.product.unit_cost
        self.level_names = [lv.name for lv in sc.network.levels]
        self.list_price = sc.product.list_price
        self.nodes = build_settings(sc, self.geo)
        self.index = {s.name: k for k, s in enumerate(self.nodes)}
        n = len(self.nodes)
        # Lead-time draws: each node's own counter, keyed by its name (stable when a strategy
        # removes levels) and the day; shipments to a node on one day count from 0.
        self._draw_id = [zlib.crc32(s.name.encode()) for s in self.nodes]
        self._draw_day = [-1] * n
        self._draw_count = [0] * n
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
        self.backlog: list[deque[Owed]] = [deque() for _ in range(n)]
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
        # Money (currency) and flows (units) over the window; a sale is paid when shipped.
        self.revenue = np.zeros(n)  # sales to children (and fed demand, consumers)
        self.paid = np.zeros(n)  # paid to the parent for units it shipped
        self.cogs = np.zeros(n)  # units received x purchase price
        self.units_out = i64()  # units shipped to children, fed demand or consumers
        self.units_asked = i64()  # units ordered from the node (asked by consumers)
        self.units_short = i64()  # of these, not shipped at once (lost or backlogged)
        self.orders_in_window = i64()
        self._terminals = np.array(
            [s.terminal for s in self.nodes if s.kind == "terminal"], dtype=np.int64
        )
        # The same terminals as positions in this network's arrays (accrue_terminals runs once
        # per time bucket: one array operation, not a loop over nodes).
        self._terminal_rows = np.array(
            [k for k, s in enumerate(self.nodes) if s.kind == "terminal"], dtype=np.int64
        )
        # Units consumers asked for at all terminals, snapshot at each review of each node:
        # the consumer demand per review period the bullwhip ratio divides by.
        self.asked_at_review: list[list[int]] = [[] for _ in range(n)]
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
        self.stock_at_start = self.initial.copy()  # replaced when the window opens
        # Dealer exit (docs/model.md, 17a, "Dealer exit"). The whole-run money totals below
        # feed the trailing-profit check; nothing else reads them.
        self.exit = sc.network.exit
        self.cum_revenue = np.zeros(n)
        self.cum_cogs = np.zeros(n)
        self.cum_ordering = np.zeros(n)
        self.cum_holding = np.zeros(n)
        self.holding_w = np.zeros(n)  # window holding cost in currency (re-priced dealers)
        self.exited_at = np.full(n, np.nan)
        self.written_off = i64()  # units written off at exit (and arriving after it)
        self.exits: list[dict] = []
        self._repriced: set[int] = set()
        self.price_at_start = np.array([s.purchase_price for s in self.nodes])
        self._holding_rate = np.zeros(n)  # dealers: 1 / year
        levels = {lv.name: lv for lv in sc.network.levels}
        dealers = {d.name: d for d in sc.network.dealers}
        for k, s in enumerate(self.nodes):
            if s.kind == "dealer":
                d = dealers[s.name]
                self._holding_rate[k] = (
                    d.holding_cost_rate
                    if d.holding_cost_rate is not None
                    else levels[s.level].holding_cost_rate
                )
        self._cost_plus = sc.network.pricing == Pricing.cost_plus
        self._exit_base: dict[int, np.ndarray] = {}

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

    def _snapshot(self) -> None:
        self.stock_at_start = np.array([self.stock_of(k) for k in range(len(self.nodes))])
        self.price_at_start = np.array([s.purchase_price for s in self.nodes])

    def _in_window(self) -> bool:
        return self.window.warmup <= self.env.now < self.window.horizon

    def consumer_prices(self) -> np.ndarray:
        """Consumer price per stock node set by the network (currency / unit; 0 = the
        channel's price), for `ChannelTable.set_node_prices`."""
        out = np.zeros(len(self.inventory.names))
        for s in self.nodes:
            if s.kind == "terminal":
                out[s.terminal] = s.consumer_price
        return out

    def terminal_nodes(self) -> np.ndarray:
        """Indices (in `Inventory`'s arrays) of the stock nodes this network supplies."""
        return self._terminals.copy()

    def brand_unit_margin(self) -> float:
        """The brand's margin per unit it ships into the network (currency / unit): its selling
        price to the first level less the unit cost."""
        return self.nodes[0].selling_price - self.unit_cost

    def _touch(self, k: int) -> None:
        """Integrate dealer ``k``'s on-hand stock up to now over the window (before a change)."""
        now = self.env.now
        rate = self.nodes[k].holding_per_unit_day
        self.cum_holding[k] += (now - self._last_t[k]) * self.on_hand[k] * rate
        a = max(self._last_t[k], self.window.warmup)
        b = min(now, self.window.horizon)
        if b > a:
            self.area[k] += (b - a) * self.on_hand[k]
            self.holding_w[k] += (b - a) * self.on_hand[k] * rate
        self._last_t[k] = now

    def accrue_terminals(self, t0: float, t1: float) -> None:
        """Add terminal on-hand over ``[t0, t1)`` at the stock of ``t0`` (the run's bucket
        approximation, as for the holding cost of the ledger)."""
        a, b = max(t0, self.window.warmup), min(t1, self.window.horizon)
        if b <= a:
            return
        self.area[self._terminal_rows] += (b - a) * self.inventory.stock[self._terminals]

    # ------------------------------------------------------------------ processes

    def start(self, env: simpy.Environment) -> None:
        """Start one review process per dealer and supplied stock node."""
        self.env = env
        self._last_t[:] = env.now
        # Snapshot the stock as the window opens (urgent and scheduled first, so before any
        # arrival, review or sale at that instant): the margin values the stock change.
        ev = env.event()
        ev._ok = True
        ev._value = None
        ev.callbacks.append(lambda _e: self._snapshot())
        env.schedule(ev, URGENT, max(self.window.warmup - env.now, 0.0))
        # Children before parents (the nodes are in level order, each after its parent): at a
        # time several nodes review, an order a child places reaches its parent before the
        # parent's own review, which counts it (Chen et al. 2000: the stages of a period act
        # from the retailer up, with no information delay).
        for k in reversed(range(len(self.nodes))):
            if self.nodes[k].kind != "brand":
                env.process(self._review(k))
        if self.exit is not None:
            env.process(self._exit_snapshots())
            env.process(self._exit_checks())

    def lead_draw(self, k: int) -> float:
        """A lead time (days) for a shipment to node ``k`` sent now: one draw, times a shock's
        lead-time multiplier while one lasts (no extra draw: the `supply` stream is unchanged).
        The draw is keyed by (node ``k``, today, the shipments to ``k`` sent earlier today)."""
        lt = self.nodes[k].lead_time
        m, cv = lt.mean_days, lt.cv
        if lt.distribution == LeadTimeDistribution.fixed or cv == 0.0 or m == 0.0:
            d = m
        else:
            day = int(self.env.now)
            if day != self._draw_day[k]:
                self._draw_day[k], self._draw_count[k] = day, 0
            # 32 slots per shipment of the day (a gamma draw takes two per attempt), eight
            # shipments a day before the slots repeat.
            slot = 32 * (self._draw_count[k] % 8)
            self._draw_count[k] += 1
            who = self._draw_id[k]
            if lt.distribution == LeadTimeDistribution.gamma:
                d = float(rs.gamma(1.0 / cv**2, self.key, who, day, slot)) * m * cv**2
            else:
                s2 = math.log1p(cv * cv)
                z = rs.normal(self.key, who, day, slot)
                d = math.exp(math.log(m) - s2 / 2.0 + math.sqrt(s2) * z)
        if self.shocks is not None:
            d *= self.shocks.lead_multiplier(self.env.now)
        return d

    def _review(self, k: int):
        s = self.nodes[k]
        env = self.env
        lead_periods = s.lead_time.mean_days / s.review_days
        first = True
        while True:
            if self.exit is not None and self._gone(k):
                return
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
            self.asked_at_review[k].append(int(self.inventory.asked[self._terminals].sum()))
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
            self.cum_ordering[k] += s.ordering_cost
            if self._in_window():
                self.ordering_cost[k] += s.ordering_cost
                self.orders_in_window[k] += 1
                if s.parent == 0:  # the brand ships every order at once
                    self.units_asked[0] += q
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
        inw = self._in_window()
        if inw:
            self.units_asked[p] += q
        if self.nodes[p].shortage == Shortage.backlog:
            before = self.backlog_units[p]
            self.backlog[p].append(Owed(child, q))
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
            if inw:
                self.units_short[p] += q - sent
        return sent

    def _serve_backlog(self, p: int) -> None:
        """Ship the backlog of dealer ``p`` first come, first served from its stock."""
        queue = self.backlog[p]
        while queue and self.on_hand[p] > 0:
            entry = queue[0]
            give = min(entry.units, int(self.on_hand[p]))
            self._ship(p, entry.child, give)
            self.backlog_units[p] -= give
            entry.units -= give
            if entry.units == 0:
                queue.popleft()

    def _ship(self, p: int, child: int, q: int) -> None:
        """Send ``q`` units from ``p`` to ``child`` (-1: to fed demand, delivered at once)."""
        if p != 0:
            self._touch(p)
            self.on_hand[p] -= q
        # The child pays its purchase price when the goods leave; fed demand pays the
        # dealer's selling price.
        value = q * (
            self.nodes[child].purchase_price if child >= 0 else self.nodes[p].selling_price
        )
        self.cum_revenue[p] += value
        if self._in_window():
            self.revenue[p] += value
            self.units_out[p] += q
            if child >= 0:
                self.paid[child] += value
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
        self.cum_cogs[k] += q * s.purchase_price
        if self._in_window():
            self.cogs[k] += q * s.purchase_price
        if self.exit is not None and self._gone(k):  # the dealer has left: written off
            self.written_off[k] += q
            return
        if s.kind == "terminal":
            self.inventory.stock[s.terminal] += q
            self.inventory.delivered[s.terminal] += q
        else:
            self._touch(k)
            self.on_hand[k] += q
            self._serve_backlog(k)

    # ------------------------------------------------------------------ dealer exit

    def _gone(self, k: int) -> bool:
        """Has dealer ``k`` left the network?"""
        return not math.isnan(self.exited_at[k])

    def _exit_times(self) -> tuple[float, float, float]:
        ex = self.exit
        first = ex.after_days if ex.after_days is not None else self.window.warmup
        return first, ex.window_days, ex.check_every_days

    def _profit_state(self) -> np.ndarray:
        """Per node, the whole-run profit so far (currency): revenue - purchases + stock value
        (at the current purchase price) - holding - ordering; differences of two states give
        the profit between them."""
        for k, s in enumerate(self.nodes):
            if s.kind == "dealer":
                self._touch(k)
        value = np.array([self.on_hand[k] * s.purchase_price for k, s in enumerate(self.nodes)])
        return self.cum_revenue - self.cum_cogs + value - self.cum_holding - self.cum_ordering

    def _exit_snapshots(self):
        """The profit state at ``t_i - window`` for each check time ``t_i``."""
        env = self.env
        first, window, every = self._exit_times()
        i = 0
        while first + i * every - window < env.now:
            i += 1
        while True:
            yield env.timeout(max(first + i * every - window - env.now, 0.0))
            self._exit_base[i] = self._profit_state()
            i += 1

    def _exit_checks(self):
        """At ``t_i = first + i * every``: every dealer whose profit over ``[t_i - window,
        t_i]`` is below ``profit_floor * window`` exits (dealers in level order)."""
        env = self.env
        first, window, every = self._exit_times()
        floor = self.exit.profit_floor * window
        i = 0
        while True:
            yield env.timeout(max(first + i * every - env.now, 0.0))
            base = self._exit_base.pop(i, None)
            if base is not None:  # else the window would start before day 0
                profit = self._profit_state() - base
                for k, s in enumerate(self.nodes):
                    if s.kind == "dealer" and not self._gone(k) and profit[k] < floor:
                        self._exit(k, float(profit[k]))
            i += 1

    def _exit(self, k: int, profit: float) -> None:
        """Dealer ``k`` leaves: its stock is written off, its own open orders cancelled, the
        backlog it owes dropped (its children re-order it), its children re-attached."""
        s = self.nodes[k]
        now = self.env.now
        self._touch(k)
        stock = int(self.on_hand[k])
        self.written_off[k] += stock
        self.on_hand[k] = 0
        self.exited_at[k] = now
        # Its open orders waiting in its parent's backlog are cancelled.
        p = s.parent
        if p > 0:
            kept = deque()
            for entry in self.backlog[p]:
                if entry.child == k:
                    self.backlog_units[p] -= entry.units
                    self.on_order[k] -= entry.units
                else:
                    kept.append(entry)
            self.backlog[p] = kept
        # The backlog it owes is dropped: each child's on-order falls, so it re-orders.
        dropped = int(self.backlog_units[k])
        for entry in self.backlog[k]:
            if entry.child >= 0:
                self.on_order[entry.child] -= entry.units
        self.backlog[k].clear()
        self.backlog_units[k] = 0
        # Re-attach the children to the nearest surviving dealer of the closest level above.
        rank = {name: j for j, name in enumerate(self.level_names)}
        mine = rank[s.level]
        alive = [
            j
            for j, d in enumerate(self.nodes)
            if d.kind == "dealer" and rank[d.level] < mine and not self._gone(j)
        ]
        top = max((rank[self.nodes[j].level] for j in alive), default=-1)
        cands = [j for j in alive if rank[self.nodes[j].level] == top]
        moved: dict[str, str] = {}
        for c in self.children[k]:
            child = self.nodes[c]
            if cands:  # nearest by transport time; ties go to the first listed
                new = min(
                    cands, key=lambda j: (self.geo.days[child.region, self.nodes[j].region], j)
                )
            else:
                new = 0
            self.nodes[c] = replace(child, parent=new)
            self.children[new].append(c)
            self.graph.remove_edge(s.name, child.name)
            self.graph.add_edge(self.nodes[new].name, child.name)
            self._reprice(c)
            moved[child.name] = self.nodes[new].name
        self.children[k] = []
        self.graph.nodes[s.name]["exited_at"] = now
        self.exits.append(
            {
                "time": now,
                "dealer": s.name,
                "level": s.level,
                "trailing_profit": profit,
                "written_off": stock,
                "dropped_backlog": dropped,
                "new_parents": moved,
            }
        )

    def _reprice(self, c: int) -> None:
        """Node ``c`` buys at its (new) parent's selling price; under cost_plus a dealer's
        selling price follows its purchase price, down its subtree. Consumer prices stay."""
        s = self.nodes[c]
        buy = self.nodes[s.parent].selling_price
        if buy == s.purchase_price:
            return
        self._repriced.add(c)
        if s.kind == "dealer":
            self._touch(c)  # the holding cost so far at the old rate
            sell = buy * (1.0 + s.markup) if self._cost_plus else s.selling_price
            self.nodes[c] = replace(
                s,
                purchase_price=buy,
                selling_price=sell,
                holding_per_unit_day=self._holding_rate[c] * buy / 365.0,
            )
            for g in self.children[c]:
                self._reprice(g)
        else:
            self.nodes[c] = replace(s, purchase_price=buy)

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
            if self._in_window():  # in a run the journey kernel tallies consumer sales
                price = s.consumer_price if s.consumer_price > 0 else self.list_price
                self.revenue[k] += take * price
                self.units_out[k] += take
                self.units_asked[k] += units
                self.units_short[k] += units - take
            return take
        if s.kind != "dealer":
            raise ValueError("the brand takes no demand")
        if self._gone(k):
            raise ValueError(f"dealer {name!r} has left the network")
        return self._take_order(k, -1, units)

    # ------------------------------------------------------------------ records

    def records(self, consumer_sales: dict[str, np.ndarray] | None = None) -> dict:
        """Per-node records for the run's ledger (units, counts, currency; see docs/model.md,
        17a, "Ledgers").

        Unit totals (received, shipped, ...) are over the whole run, so that conservation can
        be checked on them; money, flows, fill rate, on-hand average and costs are over the
        measurement window; the per-review series carry their review times.

        Args:
            consumer_sales: the journey kernel's per-stock-node tallies over the window
                (``units``, ``lost_units``, ``revenue``, ``platform_take``, ``brand_take``,
                and ``credit``, the omnichannel allocation's credits); they replace a
                terminal's own tallies (kept only for demand fed with `demand`). Omitted when
                the network runs alone."""
        if self.env is not None:
            for k, s in enumerate(self.nodes):
                if s.kind == "dealer":
                    self._touch(k)
        span = self.window.horizon - self.window.warmup
        out = {}
        for k, s in enumerate(self.nodes):
            on_hand_avg = float(self.area[k] / span) if span > 0 else 0.0
            revenue = float(self.revenue[k])
            units_out, asked, short = (
                int(self.units_out[k]),
                int(self.units_asked[k]),
                int(self.units_short[k]),
            )
            extra: dict = {}
            if s.kind == "terminal" and consumer_sales is not None:
                t = s.terminal
                sold, lost = consumer_sales["units"][t], consumer_sales["lost_units"][t]
                value, platform = consumer_sales["revenue"][t], consumer_sales["platform_take"][t]
                # The store keeps what consumers pay net of a platform's commission, plus what
                # the omnichannel allocation credits it (orders it fulfilled for another
                # channel, its share of endless-aisle orders, territory commissions).
                revenue = float(value - platform)
                if "credit" in consumer_sales:
                    revenue += float(consumer_sales["credit"][t])
                units_out, asked, short = int(sold), int(sold + lost), int(lost)
                extra = {
                    "consumer_revenue": float(value),
                    "platform_take": float(platform),
                    "consumer_brand_take": float(consumer_sales["brand_take"][t]),
                    "omnichannel_credit": (
                        float(consumer_sales["credit"][t]) if "credit" in consumer_sales else 0.0
                    ),
                }
            stock_change = 0.0
            if s.kind == "brand":
                cogs = float(units_out * self.unit_cost)
                holding = ordering = 0.0
            else:
                cogs = float(self.cogs[k])
                # Periodic-inventory accounting: purchases less the rise in stock value is the
                # cost of the units sold, so a stock build-up is not counted as a loss.
                stock_change = float((self.stock_of(k) - self.stock_at_start[k]) * s.purchase_price)
                holding = float(self.area[k] * s.holding_per_unit_day)
                ordering = float(self.ordering_cost[k])
                if k in self._repriced:  # re-attached after an exit at another price
                    stock_change = float(
                        self.stock_of(k) * s.purchase_price
                        - self.stock_at_start[k] * self.price_at_start[k]
                    )
                    if s.kind == "dealer":
                        holding = float(self.holding_w[k])
            in_w = [
                q
                for t, q in zip(self.review_times[k], self.orders[k], strict=True)
                if self.window.warmup <= t < self.window.horizon
            ]
            daily_out = units_out / span if span > 0 else 0.0
            if self.exit is not None:
                t_exit = self.exited_at[k]
                extra = {
                    **extra,
                    "exited_at": float(t_exit) if not math.isnan(t_exit) else None,
                    "written_off": int(self.written_off[k]),
                }
            out[s.name] = {
                "kind": s.kind,
                "level": s.level,
                "parent": self.nodes[s.parent].name if s.parent >= 0 else None,
                "purchase_price": s.purchase_price,
                "selling_price": s.selling_price,
                "consumer_price": s.consumer_price,
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
                "revenue": revenue,
                "paid": float(self.paid[k]),
                "cogs": cogs,
                "stock_change_value": stock_change,
                "gross_margin": revenue - cogs + stock_change,
                "holding_cost": holding,
                "ordering_cost": ordering,
                "profit": revenue - cogs + stock_change - holding - ordering,
                "units_out": units_out,
                "units_asked": asked,
                "units_short": short,
                "fill_rate": (asked - short) / asked if asked > 0 else 1.0,
                "days_of_cover": on_hand_avg / daily_out if daily_out > 0 else None,
                "orders_in_window": int(self.orders_in_window[k]),
                "order_variance": float(np.var(in_w, ddof=1)) if len(in_w) > 1 else 0.0,
                "review_times": list(self.review_times[k]),
                "orders": list(self.orders[k]),
                "demand": list(self.demand_series[k]),
                "asked_at_review": list(self.asked_at_review[k]),
                **extra,
            }
        more = {"exits": [dict(e) for e in self.exits]} if self.exit is not None else {}
        return {
            "window": [self.window.warmup, self.window.horizon],
            "unit_cost": self.unit_cost,
            # Every level the scenario declares, flattened away or not, so that strategies
            # of one scenario report the same KPIs.
            "levels": [*self.level_names, "terminal"],
            "nodes": out,
            **more,
        }
