"""Omnichannel fulfilment and profit allocation: which stock node serves an order, and who is
paid what when a node of another channel fulfils it.

Settings come from the scenario's ``omnichannel:`` section (`omnisim.scenario.schema.Omnichannel`:
``shared_inventory``, ``endless_aisle_acceptance``, ``ship_from_store``, ``nearest_dispatch``,
``online_order_offline_fulfilment``, ``store_handling_days``, ``bopis``, ``allocation``);
equations are in ``docs/model.md``, section "Omnichannel fulfilment and profit allocation", and
the KPIs in ``docs/outputs.md``. This module holds

* `Fulfilment`: the routing tables, built once in Python, and the kernel's inputs, handed to the
  journey kernel as one `FulfilmentState` (`Fulfilment.state`);
* compiled helpers the journey kernel calls: `route` (the candidate an online order goes to),
  `candidate` (the k-th candidate of a consumer's list), `pool_pick` (the node an endless-aisle
  order ships from), `nest` (the pick-up / delivery nest of BOPIS) and `settle` (the split of a
  purchase's value, with the allocation's credits and tallies).

There is no per-consumer state: every input is per channel, region or node (0 bytes a consumer).
``FulfilmentState.on`` false: the feature is off and the kernel behaves exactly as without it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.channels.catalog import ChannelTable, Geography, store_for
from omnisim.engine import ledger as lg
from omnisim.engine.state import F64, I64, Bool, Flag, Float, Int, build
from omnisim.scenario.schema import OFFLINE_TYPES, Scenario


class FulfilmentState(NamedTuple):
    """Omnichannel fulfilment as the journey kernel reads it (days, fractions, node numbers)."""

    on: Flag  # some omnichannel fulfilment or allocation rule is on
    shared: Flag  # shared inventory (rerouting to the pool, endless aisle)
    aisle_accept: Float  # probability a store visitor meeting a stock-out accepts delivery
    store_handling: Float  # handling time of a store that ships or hands over an order (days)
    bopis: Flag  # buy online, pick up in store
    ready_days: Float  # time from order to goods ready for pick-up (days)
    pickup_effort: Float  # disutility of collecting (utils)
    pickup_channel: Int  # offline channel whose stores hand out pick-ups (-1: none)
    taker_share: Float  # share of the value net of commission (and host margin) kept by the taker
    territory_channel: Int  # offline channel credited with the territory commission (-1: none)
    territory_share: Float  # territory commission as a share of the value net of commission
    # The static candidate list of each (channel, region) as CSR arrays, with each candidate's
    # handling time (days).
    first: I64[2]
    count: I64[2]
    node: I64[1]
    handling: F64[1]
    # Where the consumer's own stores (O2O) enter the list: after that many static candidates;
    # the offline channels whose store in the consumer's region is an O2O candidate.
    o2o_pos: I64[2]
    o2o_channels: I64[1]
    # The endless-aisle pool of each region, nearest first (CSR).
    pool_first: I64[1]
    pool_count: I64[1]
    pool_node: I64[1]
    is_store: Bool[1]  # per node
    dealer: Bool[1]  # per node: dealer-owned
    own: Bool[2]  # channel x node: the node is listed in the channel's ``nodes``
    lead: F64[2]  # channel x region: expected lead of the first candidate, without the delay
    promise: F64[2]  # channel x region: the promise of the first candidate (days)
    offers_pickup: Bool[1]  # per channel: the online channel offers pick-up in store
    pickup_p: F64[1]  # scratch of each decision: the pick-up branch's probability per channel


# How an order was fulfilled; every mode but MODE_OWN is a cross-fulfilment (the value of the
# trail's `cross_fulfilment` rows).
MODE_OWN = 0  # at one of the taking channel's own nodes
MODE_POOL = 1  # online, at a warehouse (or other non-store node) outside the channel's nodes
MODE_PICKUP = 2  # online, picked up in a store (BOPIS)
MODE_O2O = 3  # online, dispatched to the consumer's own offline outlet (O2O)
MODE_AISLE = 4  # a store sale delivered from another node (endless aisle)
MODE_SFS = 5  # online, shipped from a store outside the channel's nodes (ship from store)
MODE_NAMES = ("own", "pool", "pickup", "o2o", "endless_aisle", "ship_from_store")

# Slots of the `omnichannel` stream's draws (keyed by consumer and journey; `+ switches` so a
# re-decision after a switch draws afresh).
SLOT_PICKUP = 0  # the pick-up branch of BOPIS
SLOT_AISLE = 32  # endless aisle: acceptance and delivery delay (one hash, two uniforms)
SLOT_AISLE_USE = 64  # endless aisle: the use time after receipt


class Fulfilment:
    """Routing tables and allocation settings of one scenario (see the module docstring)."""

    def __init__(self, sc: Scenario, geo: Geography, chan: ChannelTable) -> None:
        om = sc.omnichannel
        nodes = sc.nodes
        n_nodes, n_ch, n_reg = len(nodes), chan.n, len(geo.names)
        node_index = {n.name: k for k, n in enumerate(nodes)}
        region_index = {g: r for r, g in enumerate(geo.names)}
        self.node_names = tuple(n.name for n in nodes)
        self.channel_names = chan.names
        self.region_names = geo.names
        node_region = np.array([region_index[n.region] for n in nodes], dtype=np.int64)
        self.is_store = np.array([n.kind == "store" for n in nodes], dtype=np.bool_)
        offline = [c.type in OFFLINE_TYPES for c in sc.channels]
        own_lists = [[node_index[x] for x in c.nodes] for c in sc.channels]
        self.own = np.zeros((n_ch, n_nodes), dtype=np.bool_)
        for ci, lst in enumerate(own_lists):
            self.own[ci, lst] = True
        # Owners: a dealer-network terminal, or a store of a channel with an intermediary
        # margin (a dealer store), is the dealer's; every other node is the brand's.
        self.dealer = np.array([n.supplier is not None for n in nodes], dtype=np.bool_)
        for ci, c in enumerate(sc.channels):
            if offline[ci] and c.intermediary_margin > 0.0:
                self.dealer[own_lists[ci]] = True
        stores = sorted({k for ci in range(n_ch) if offline[ci] for k in own_lists[ci]})
        warehouses = [k for k in range(n_nodes) if not self.is_store[k]]

        shared, sfs = om.shared_inventory, om.ship_from_store
        nearest, o2o = om.nearest_dispatch, om.online_order_offline_fulfilment
        b = om.bopis
        a = om.allocation
        territory = -1 if a.territory_channel is None else chan.index(a.territory_channel)
        self.on = bool(
            shared
            or sfs
            or nearest
            or o2o
            or b is not None
            or (territory >= 0 and a.territory_share > 0.0)
        )
        pickup = -1
        if b is not None:
            pickup = (
                chan.index(b.pickup_channel)
                if b.pickup_channel is not None
                else next(ci for ci in range(n_ch) if offline[ci])
            )
        self.settings = {
            "on": self.on,
            "shared": shared,
            "aisle_accept": om.endless_aisle_acceptance,
            "store_handling": om.store_handling_days,
            "bopis": b is not None,
            "ready_days": b.ready_hours / 24.0 if b is not None else 0.0,
            "pickup_effort": b.pickup_effort if b is not None else 0.0,
            "pickup_channel": pickup,
            "taker_share": a.order_taker_share,
            "territory_channel": territory,
            "territory_share": a.territory_share if territory >= 0 else 0.0,
        }
        self.bopis = np.array(
            [
                b is not None and not offline[ci] and (b.channels is None or name in b.channels)
                for ci, name in enumerate(chan.names)
            ],
            dtype=np.bool_,
        )
        self.o2o_channels = np.array(
            [ci for ci in range(n_ch) if o2o and offline[ci]], dtype=np.int64
        )

        # Static candidate lists of each (online channel, region), in preference order.
        first = np.zeros((n_ch, n_reg), dtype=np.int64)
        count = np.zeros((n_ch, n_reg), dtype=np.int64)
        o2o_pos = np.zeros((n_ch, n_reg), dtype=np.int64)
        flat: list[int] = []
        handling: list[float] = []
        self.lead = chan.expected_lead.copy()
        self.promise = chan.promised.copy()
        for ci, c in enumerate(sc.channels):
            if offline[ci]:
                continue
            for r in range(n_reg):
                dist = geo.days[node_region, r]
                home = int(chan.ship_node[ci, r])
                lst = [home]

                def add(group: list[int], lst: list[int] = lst, dist: np.ndarray = dist) -> None:
                    for k in sorted(group, key=lambda k: dist[k]):  # stable: ties keep order
                        if k not in lst:
                            lst.append(k)

                if shared:
                    add([k for k in own_lists[ci] if k != home] + warehouses)
                if sfs:
                    add(stores)
                if nearest:
                    lst.sort(key=lambda k: dist[k])  # stable: home first among equals
                    # The consumer's own outlets (distance D[r, r]) go after the nodes nearer
                    # than that, first among the equals.
                    o2o_pos[ci, r] = sum(1 for k in lst if dist[k] < geo.days[r, r])
                first[ci, r], count[ci, r] = len(flat), len(lst)
                for k in lst:
                    own = bool(self.own[ci, k])
                    h = om.store_handling_days if self.is_store[k] and not own else c.handling_days
                    flat.append(k)
                    handling.append(h)
                # Expected lead and promise of the first candidate (the home node: unchanged).
                local = (
                    o2o
                    and o2o_pos[ci, r] == 0
                    and any(chan.store_count[oc, r] > 0 for oc in self.o2o_channels)
                )
                if local:
                    lead = om.store_handling_days + geo.days[r, r]
                elif lst[0] != home:
                    k = lst[0]
                    lead = handling[first[ci, r]] + dist[k]
                else:
                    continue
                self.lead[ci, r] = lead
                self.promise[ci, r] = (
                    c.promised_days if c.promised_days is not None else lead + c.delivery_delay_days
                )
        self.first, self.count, self.o2o_pos = first, count, o2o_pos
        self.flat = np.array(flat, dtype=np.int64)
        self.handling = np.array(handling, dtype=np.float64)

        # Endless-aisle pool of each region: warehouses (and stores with ship_from_store),
        # nearest first (ties in scenario order).
        pool_nodes = sorted(warehouses + (stores if sfs else []))
        pool_first = np.zeros(n_reg, dtype=np.int64)
        pool_count = np.zeros(n_reg, dtype=np.int64)
        pool: list[int] = []
        for r in range(n_reg):
            dist = geo.days[node_region, r]
            lst = sorted(pool_nodes, key=lambda k: dist[k])
            pool_first[r], pool_count[r] = len(pool), len(lst)
            pool.extend(lst)
        self.pool_first, self.pool_count = pool_first, pool_count
        self.pool = np.array(pool, dtype=np.int64)
        self.pickup_p = np.zeros(n_ch)
        self._stores = chan.stores()

    def state(self) -> FulfilmentState:
        """The journey kernel's view of the routing tables and settings."""
        return build(
            FulfilmentState,
            **self.settings,
            first=self.first,
            count=self.count,
            node=self.flat,
            handling=self.handling,
            o2o_pos=self.o2o_pos,
            o2o_channels=self.o2o_channels,
            pool_first=self.pool_first,
            pool_count=self.pool_count,
            pool_node=self.pool,
            is_store=self.is_store,
            dealer=self.dealer,
            own=self.own,
            lead=self.lead,
            promise=self.promise,
            offers_pickup=self.bopis,
            pickup_p=self.pickup_p,
        )

    def candidates(self, channel: str, region: str, consumer: int = 0) -> list[str]:
        """Names of the candidate nodes of an online order of ``channel`` from ``region`` by
        ``consumer``, in preference order (the consumer decides which O2O outlets)."""
        ci = self.channel_names.index(channel)
        r = self.region_names.index(region)
        out = []
        n = self.count[ci, r] + len(self.o2o_channels)
        for k in range(n):
            node, _, _ = candidate(consumer, ci, r, k, self.state(), self._stores)
            if node >= 0:
                out.append(self.node_names[node])
        return out

    def pool_names(self, region: str) -> list[str]:
        """Names of the endless-aisle pool of ``region``, nearest first."""
        r = self.region_names.index(region)
        a = self.pool_first[r]
        return [self.node_names[k] for k in self.pool[a : a + self.pool_count[r]]]


# ------------------------------------------------------------------------------------------
# Compiled helpers (called from the journey kernel, `omnisim.consumers.journey`).


@njit(cache=True, inline="always", _nrt=False)
def candidate(i, c, r, k, f, stores):
    """(node, handling days, mode) of the ``k``-th candidate of consumer ``i``'s online order in
    channel ``c`` from region ``r``; node -1 when that slot is an O2O outlet the consumer's
    region lacks. Slots: the static list, with the consumer's O2O outlets (one per channel of
    ``o2o_channels``) inserted after ``o2o_pos[c, r]`` static candidates."""
    pos = f.o2o_pos[c, r]
    o2o = f.o2o_channels
    n_o = o2o.shape[0]
    if pos <= k < pos + n_o:
        oc = o2o[k - pos]
        if stores.count[oc, r] == 0:
            return -1, 0.0, MODE_OWN
        node = store_for(oc, r, i, stores)
        mode = MODE_OWN if f.own[c, node] else MODE_O2O
        return node, f.store_handling, mode
    at = f.first[c, r] + (k if k < pos else k - n_o)
    node = f.node[at]
    if f.own[c, node]:
        mode = MODE_OWN
    elif f.is_store[node]:
        mode = MODE_SFS
    else:
        mode = MODE_POOL
    return node, f.handling[at], mode


@njit(cache=True, _nrt=False)
def route(i, c, r, want, stock, f, stores):
    """(chosen slot, first slot) of consumer ``i``'s online order of ``want`` units: the first
    candidate with at least ``want`` units; else the one with most stock (a partial fill); else,
    all empty, the first candidate (a stock-out there)."""
    n = f.count[c, r] + f.o2o_channels.shape[0]
    first = -1
    best = -1
    best_have = 0
    for k in range(n):
        node, _, _ = candidate(i, c, r, k, f, stores)
        if node < 0:
            continue
        if first < 0:
            first = k
        have = stock[node]
        if have >= want:
            return k, first
        if have > best_have:
            best = k
            best_have = have
    if best >= 0:
        return best, first
    return first, first


@njit(cache=True, _nrt=False)
def pool_pick(r, exclude, want, stock, f):
    """The node an endless-aisle order of ``want`` units from region ``r`` ships from: the
    nearest node of the pool, other than ``exclude``, with at least ``want`` units; else the one
    with most stock; -1 when the whole pool is empty."""
    a = f.pool_first[r]
    best = -1
    best_have = 0
    for k in range(a, a + f.pool_count[r]):
        node = f.pool_node[k]
        if node == exclude:
            continue
        have = stock[node]
        if have >= want:
            return node
        if have > best_have:
            best = node
            best_have = have
    return best


@njit(cache=True, inline="always", _nrt=False)
def nest(v_delivery, v_pickup, lam):
    """(inclusive value, probability of the pick-up branch) of the BOPIS nest of dissimilarity
    ``lam`` in (0, 1]: IV = lam ln(e^(Vd/lam) + e^(Vp/lam)), P(pick-up) = 1 / (1 + e^((Vd -
    Vp)/lam)) (utils). Written as max + lam log1p(e^(-|Vd - Vp|/lam)) so that a small ``lam``
    cannot overflow."""
    hi = v_delivery if v_delivery > v_pickup else v_pickup
    gap = abs(v_delivery - v_pickup) / lam
    e = np.exp(-gap)
    iv = hi + lam * np.log1p(e)
    q = 1.0 / (1.0 + e) if v_pickup >= v_delivery else e / (1.0 + e)
    return iv, q


@njit(cache=True, _nrt=False)
def settle(i, r, c, nd, taker, mode, value, split, f, chp, led, t):
    """The split (platform, dealer, brand) of a purchase of ``value`` at ``t`` by consumer
    ``i`` of region ``r`` in channel ``c``, fulfilled at node ``nd`` (``taker``: the store an
    endless-aisle visitor stood in, else -1), given today's ``split``; books the allocation's
    credits per node and its tallies into the ledger ``led`` when ``t`` is in the window.

    A cross-fulfilled order (``mode`` > 0): the platform's commission K and an online taker's
    intermediary margin M come first; of the rest R = V - K - M the taker's owner keeps
    share * R and the fulfilling node's owner gets the rest. Every online order: the territory
    commission territory_share * (V - K) goes from the brand to the owner of the consumer's
    store of the territory channel. Brand-to-brand parts change nothing but the node credits."""
    platform, dealer, brand = split
    acc, nd_acc, lwin = led.acc, led.node, led.window
    inw = lwin.warmup <= t < lwin.horizon
    online = not chp.offline[c]
    credit = lg.ND_CREDIT
    if mode > 0:
        host = value * chp.intermediary_margin[c] if online else 0.0
        rest = value - platform - host
        keep = f.taker_share * rest
        give = rest - keep
        dealer = host
        brand = 0.0
        if not online and f.dealer[taker]:
            dealer += keep
        else:
            brand += keep
        if f.dealer[nd]:
            dealer += give
        else:
            brand += give
        if inw:
            acc[lg.CROSS_FULFILLED] += 1.0
            acc[lg.FULFILMENT_TRANSFER] += give
            nd_acc[nd, credit] += give
            if not online:
                nd_acc[taker, credit] += keep
    tc = f.territory_channel
    if online and tc >= 0 and chp.stores.count[tc, r] > 0:
        store = store_for(tc, r, i, chp.stores)
        amount = f.territory_share * (value - platform)
        if f.dealer[store]:
            brand -= amount
            dealer += amount
        if inw:
            acc[lg.TERRITORY_COMMISSION] += amount
            nd_acc[store, credit] += amount
    return platform, dealer, brand
