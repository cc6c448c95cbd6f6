"""Channels compiled into arrays: prices over time, reach, fulfilment nodes and lead times.

The scenario's channel list becomes a `ChannelTable` of numpy arrays indexed by channel number,
read by the compiled journey kernel. Time-dependent terms (promotions, livestream sessions,
store opening hours) are pure functions of the event time, so they are exact whatever the
bucket width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine.state import F64, I64, Bool, build, from_object
from omnisim.scenario.schema import OFFLINE_TYPES, ChannelType, Scenario


@dataclass(frozen=True)
class Geography:
    """Regions and the transport-time matrix between them (days)."""

    names: tuple[str, ...]
    shares: np.ndarray  # population shares, normalised
    days: np.ndarray  # (R, R) symmetric transport time

    @classmethod
    def from_scenario(cls, sc: Scenario) -> Geography:
        m = sc.market
        names = tuple(r.name for r in m.regions)
        idx = {n: i for i, n in enumerate(names)}
        r = len(names)
        days = np.full((r, r), m.default_distance_days)
        np.fill_diagonal(days, m.same_region_days)
        # A pair applies both ways (validation refuses two different values for it).
        for a, row in m.distance_days.items():
            for b, d in row.items():
                i, j = idx[a], idx[b]
                days[i, j] = days[j, i] = d
        shares = np.array([x.population_share for x in m.regions], dtype=np.float64)
        return cls(names, shares / shares.sum(), days)


class StoreIndex(NamedTuple):
    """The stores of each offline channel in each region, as CSR arrays: the stores of channel
    c in region r are ``flat[first[c, r] : first[c, r] + count[c, r]]`` (node numbers)."""

    first: I64[2]
    count: I64[2]
    flat: I64[1]


class Sessions(NamedTuple):
    """Livestream sessions per channel: every ``every`` days from ``start``, open for
    ``duration`` days (every 0: always open), at a price cut ``discount`` (fraction)."""

    every: F64[1]
    start: F64[1]
    duration: F64[1]
    discount: F64[1]


class Promotions(NamedTuple):
    """Price promotions: promotion k cuts the price by ``discount[k]`` (fraction) in the
    channels of ``mask[k]`` during [start[k], end[k]) (days)."""

    start: F64[1]
    end: F64[1]
    discount: F64[1]
    mask: Bool[2]


class ChannelState(NamedTuple):
    """Per-channel parameters as the journey kernel reads them (index = channel number)."""

    price_index: F64[1]  # channel price / list price
    asc: F64[1]  # alternative-specific constant of the utility (utils)
    visibility: F64[1]  # consideration intercept (log-odds)
    commission: F64[1]  # platform commission (fraction of the value)
    intermediary_margin: F64[1]  # dealer or host margin (fraction of the value)
    order_cost: F64[1]  # cost per order to the brand (currency)
    service_quality: F64[1]  # satisfaction constant (scale points)
    member_discount: F64[1]  # price cut for members (fraction)
    travel_days: F64[1]  # mean trip to a store (days)
    recognises: Bool[1]  # the channel recognises membership
    offline: Bool[1]  # a store channel
    reach: F64[2]  # channel x region: probability a consumer can use the channel
    stores: StoreIndex
    ship_node: I64[2]  # channel x region: the nearest node of an online channel
    expected_lead: F64[2]  # channel x region: handling plus transport (days)
    promised: F64[2]  # channel x region: delivery promise (days)
    handling_days: F64[1]  # handling at the shipping node (days)
    delivery_delay: F64[1]  # mean random delay of a delivery (days)
    sessions: Sessions
    promos: Promotions
    node_price: F64[1]  # per node: consumer price set by the dealer network (0: the channel's)
    node_priced: Bool[1]  # the channel has dealer-priced stores


class ChannelTable:
    """Per-channel parameters as arrays (index = channel number in scenario order)."""

    def __init__(self, sc: Scenario, geo: Geography, node_index: dict[str, int]) -> None:
        chans = sc.channels
        self.names: tuple[str, ...] = tuple(c.name for c in chans)
        self.n = len(chans)
        if self.n > 16:
            raise ValueError("at most 16 channels are supported")
        self.types: tuple[ChannelType, ...] = tuple(c.type for c in chans)
        self.offline = np.array([c.type in OFFLINE_TYPES for c in chans])
        self.list_price = sc.product.list_price
        f = lambda attr: np.array([getattr(c, attr) for c in chans], dtype=np.float64)  # noqa: E731
        self.price_index = f("price_index")
        self.asc = f("asc")
        self.visibility = f("visibility")
        self.commission = f("commission")
        self.intermediary_margin = f("intermediary_margin")
        self.fixed_cost_per_day = f("fixed_cost_per_day")
        self.order_cost = f("order_cost")
        self.service_quality = f("service_quality")
        self.member_discount = f("member_discount")
        self.travel_days = f("travel_hours") / 24.0
        self.recognises = np.array([c.recognises_membership for c in chans])

        r = len(geo.names)
        region_idx = {n: i for i, n in enumerate(geo.names)}
        node_region = {n.name: region_idx[n.region] for n in sc.nodes}
        # reach[c, r]: probability a consumer of region r can use channel c.
        self.reach = np.zeros((self.n, r))
        # Offline: stores of the channel in each region (a consumer visits one of them).
        self.store_first = np.zeros((self.n, r), dtype=np.int64)
        self.store_count = np.zeros((self.n, r), dtype=np.int64)
        store_flat: list[int] = []
        # Online: the nearest node ships; lead = handling + transport.
        self.ship_node = np.zeros((self.n, r), dtype=np.int64)
        self.expected_lead = np.zeros((self.n, r))
        self.promised = np.zeros((self.n, r))
        for ci, c in enumerate(chans):
            base = (
                np.array([c.reach.get(g, 0.0) for g in geo.names])
                if isinstance(c.reach, dict)
                else np.full(r, float(c.reach))
            )
            if c.type in OFFLINE_TYPES:
                for ri in range(r):
                    stores = [node_index[nn] for nn in c.nodes if node_region[nn] == ri]
                    self.store_first[ci, ri] = len(store_flat)
                    self.store_count[ci, ri] = len(stores)
                    store_flat.extend(stores)
                    if not stores:
                        base[ri] = 0.0
            else:
                for ri in range(r):
                    dist = [geo.days[node_region[nn], ri] for nn in c.nodes]
                    k = int(np.argmin(dist))  # first nearest on ties: scenario order decides
                    self.ship_node[ci, ri] = node_index[c.nodes[k]]
                    self.expected_lead[ci, ri] = c.handling_days + dist[k]
                    self.promised[ci, ri] = (
                        c.promised_days
                        if c.promised_days is not None
                        else c.handling_days + dist[k] + c.delivery_delay_days
                    )
            self.reach[ci] = base
        self.store_flat = np.array(store_flat, dtype=np.int64)
        self.handling_days = f("handling_days")
        self.delivery_delay = f("delivery_delay_days")

        # Promotions: a price cut per channel while they run (cuts compound).
        promos = sc.promotions
        self.promo_start = np.array([p.start_day for p in promos], dtype=np.float64)
        self.promo_end = np.array([p.end_day for p in promos], dtype=np.float64)
        self.promo_discount = np.array([p.discount for p in promos], dtype=np.float64)
        self.promo_mask = np.array(
            [[p.channels is None or name in p.channels for name in self.names] for p in promos],
            dtype=np.bool_,
        ).reshape(len(promos), self.n)
        # Livestream sessions: every `every` days from `start`, open for `duration` days.
        self.session_every = np.zeros(self.n)
        self.session_start = np.zeros(self.n)
        self.session_duration = np.zeros(self.n)
        self.session_discount = np.zeros(self.n)
        for ci, c in enumerate(chans):
            if c.type == ChannelType.livestream and c.sessions is not None:
                ss = c.sessions
                self.session_every[ci] = ss.every_days
                self.session_start[ci] = ss.first_day + ss.start_hour / 24.0
                self.session_duration[ci] = ss.duration_hours / 24.0
                self.session_discount[ci] = ss.discount
        # Consumer prices set by the dealer network at the stores it supplies (0 = the
        # channel's price); `set_node_prices` fills them. The flag per channel keeps the
        # kernel's store lookup off channels without such stores.
        self.node_price = np.zeros(len(sc.nodes))
        self.node_priced = np.zeros(self.n, dtype=np.bool_)
        self._channel_nodes = [[node_index[nn] for nn in c.nodes] for c in chans]

    def set_node_prices(self, prices: np.ndarray) -> None:
        """Set the consumer price (currency / unit, before promotions and member discounts)
        of each stock node; 0 keeps the channel's price. Applies to offline channels only:
        online orders pay the channel's price wherever they ship from."""
        self.node_price[:] = prices
        for ci in range(self.n):
            self.node_priced[ci] = bool(self.offline[ci]) and any(
                prices[k] > 0.0 for k in self._channel_nodes[ci]
            )

    def index(self, name: str) -> int:
        return self.names.index(name)

    def stores(self) -> StoreIndex:
        return build(
            StoreIndex, first=self.store_first, count=self.store_count, flat=self.store_flat
        )

    def state(self) -> ChannelState:
        """The arrays the journey kernel reads (it shares them: `set_node_prices` reaches it)."""
        sessions = build(
            Sessions,
            every=self.session_every,
            start=self.session_start,
            duration=self.session_duration,
            discount=self.session_discount,
        )
        promos = build(
            Promotions,
            start=self.promo_start,
            end=self.promo_end,
            discount=self.promo_discount,
            mask=self.promo_mask,
        )
        return from_object(
            ChannelState, self, stores=self.stores(), sessions=sessions, promos=promos
        )


@njit(cache=True)
def is_open(ci: int, t: float, sessions: Sessions) -> bool:
    """Whether channel ``ci`` takes orders at ``t``: always, but a livestream only in a session."""
    every, start, duration = sessions.every, sessions.start, sessions.duration
    if every[ci] <= 0.0:
        return True
    since = t - start[ci]
    return since >= 0.0 and (since % every[ci]) < duration[ci]


@njit(cache=True)
def price_cut(
    ci: int, t: float, live: bool, sessions: Sessions, promos: Promotions
) -> tuple[float, bool]:
    """(multiplier on the channel price, promotion running) at ``t``; cuts compound."""
    session_discount = sessions.discount
    promo_start, promo_end = promos.start, promos.end
    promo_discount, promo_mask = promos.discount, promos.mask
    factor = 1.0
    promo = False
    for k in range(len(promo_start)):
        if promo_mask[k, ci] and promo_start[k] <= t < promo_end[k]:
            factor *= 1.0 - promo_discount[k]
            promo = True
    if live and session_discount[ci] > 0.0:
        factor *= 1.0 - session_discount[ci]
    return factor, promo


@njit(cache=True, inline="always")
def store_for(ci: int, region: int, cid: int, stores: StoreIndex) -> int:
    """The store a consumer visits for offline channel ``ci``: one of the channel's stores in
    their region, fixed per consumer (a multiplicative hash of the id spreads them evenly)."""
    n = stores.count[ci, region]
    pick = ((cid * 2654435761) >> 7) % n if n > 0 else 0
    return stores.flat[stores.first[ci, region] + pick]
