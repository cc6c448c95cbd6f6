"""Channels compiled into arrays: prices over time, reach, fulfilment nodes and lead times.

The scenario's channel list becomes a `ChannelTable` of numpy arrays indexed by channel number,
so that the journey evaluates every considered channel of a thousand consumers in one
expression. Time-dependent terms (promotions, livestream sessions, store opening hours) are pure
functions of the event time, so they are exact whatever the bucket width.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
        given = np.zeros((r, r), dtype=bool)
        for a, row in m.distance_days.items():
            for b, d in row.items():
                i, j = idx[a], idx[b]
                days[i, j] = d
                given[i, j] = True
                if not given[j, i]:
                    days[j, i] = d
        shares = np.array([x.population_share for x in m.regions], dtype=np.float64)
        return cls(names, shares / shares.sum(), days)


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

        # Promotions: piecewise-constant discount per channel.
        self._promos = [
            (
                p.start_day,
                p.end_day,
                p.discount,
                np.array([p.channels is None or name in p.channels for name in self.names]),
            )
            for p in sc.promotions
        ]
        # Livestream sessions.
        self._sessions = [
            (ci, c.sessions)
            for ci, c in enumerate(chans)
            if c.type == ChannelType.livestream and c.sessions is not None
        ]

    def index(self, name: str) -> int:
        return self.names.index(name)

    def live(self, t: np.ndarray) -> np.ndarray:
        """(n_events, C) bool: channel open at time t (livestreams only during sessions)."""
        out = np.ones((len(t), self.n), dtype=bool)
        for ci, s in self._sessions:
            since = t - (s.first_day + s.start_hour / 24.0)
            phase = np.mod(since, s.every_days)
            out[:, ci] = (since >= 0) & (phase < s.duration_hours / 24.0)
        return out

    def discount(self, t: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Price cut (fraction) per event and channel at time t, and a promotion flag."""
        disc = np.zeros((len(t), self.n))
        promo = np.zeros((len(t), self.n), dtype=bool)
        for start, end, d, mask in self._promos:
            on = (t >= start) & (t < end)
            if on.any():
                hit = on[:, None] & mask[None, :]
                disc = np.where(hit, 1.0 - (1.0 - disc) * (1.0 - d), disc)
                promo |= hit
        for ci, s in self._sessions:
            on = live[:, ci]
            disc[:, ci] = np.where(on, 1.0 - (1.0 - disc[:, ci]) * (1.0 - s.discount), disc[:, ci])
        return disc, promo

    def store_for(self, channels: np.ndarray, regions: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The store a consumer visits for an offline channel: one of the channel's stores in
        their region, fixed per consumer (a stable hash of the id spreads consumers evenly)."""
        count = self.store_count[channels, regions]
        pick = (ids.astype(np.int64) * 2654435761 >> 7) % np.maximum(count, 1)
        return self.store_flat[self.store_first[channels, regions] + pick]
