"""The membership programme: tiers, points, free delivery, recognition and recruitment.

Equations are in ``docs/model.md``, section "Members". In short:

* a member's **tier** is the highest whose ``min_spend`` their qualifying amount reaches (spend
  on goods, or points earned, since joining, where recognised); tiers never go down;
* where a member is **recognised** (a channel that ``recognises_membership``, and with
  ``recognition: where_joined`` only the channel they joined in) they get the larger of the
  tier's discount and the channel's ``member_discount``, the choice bonus
  ``journey.choice.member``, points (``points_per_currency`` per currency paid for goods, each
  costing the brand ``point_value * redemption_rate`` when earned, and valued by consumers as a
  price cut of the same fraction), and no ``delivery_fee`` if the tier has free delivery;
* a non-member who buys in a recognising channel **joins** at checkout with probability
  ``join_probability`` (or the channel's override), from the ``membership`` random stream.

Everything the kernel reads or updates for the programme is one tuple, ``ctx[14]`` of the
journey kernel (`MembershipState.arrays`); its layout is the index constants below. Without a
``membership`` section the tuple still carries the channels' delivery fees, and the helpers
reduce to today's member discount and bonus exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.scenario.schema import Qualifying, Recognition, Scenario

# Layout of the kernel tuple (ctx[14]).
(
    M_PARAMS,  # float64[4]: see P_* below
    M_TIER_MIN,  # float64[tiers]: threshold of each tier (currency or points)
    M_TIER_DISCOUNT,  # float64[tiers]: price cut of each tier (fraction)
    M_TIER_POINTS,  # float64[tiers]: points per currency paid
    M_TIER_FREE,  # bool[tiers]: free delivery
    M_JOIN_P,  # float64[channels]: probability of joining at checkout (0 where not recognised)
    M_FEE,  # float64[channels]: delivery fee per order (currency; online channels only)
    M_JOINED,  # int8[consumers]: channel a member joined in (-1: not a member / none)
    M_TIER,  # int8[consumers]: a member's tier
    M_QUALIFYING,  # float32[consumers]: spend (currency) or points since joining
    M_JOINED_BY_CHANNEL,  # float64[channels]: members joined in the window, per channel
) = range(11)
# Entries of M_PARAMS.
P_ON, P_EVERYWHERE, P_BY_POINTS, P_POINT_COST = range(4)

BYTES_PER_CONSUMER = 1 + 1 + 4  # joined channel, tier, qualifying amount


@njit(cache=True, inline="always", _nrt=False)
def tier_for(amount: float, tier_min: np.ndarray) -> int:
    """The highest tier whose threshold ``amount`` reaches (thresholds increase, the first is
    0, so every amount >= 0 has one)."""
    k = 0
    while k + 1 < tier_min.shape[0] and tier_min[k + 1] <= amount:
        k += 1
    return k


@njit(cache=True, inline="always", _nrt=False)
def benefit(i, c, member, member_discount, recognises, w_member, mem):
    """(price factor, utility bonus, points value as a fraction of the price, delivery fee)
    for consumer ``i`` in channel ``c``.

    Without a programme this is today's rule: a member in a recognising channel pays
    ``1 - member_discount`` of the price and gets the bonus ``w_member``."""
    fee = mem[M_FEE][c]
    if not (member[i] and recognises[c]):
        return 1.0, 0.0, 0.0, fee
    par = mem[M_PARAMS]
    if par[P_ON] == 0.0:
        return 1.0 - member_discount[c], w_member, 0.0, fee
    if par[P_EVERYWHERE] == 0.0 and mem[M_JOINED][i] != c:
        return 1.0, 0.0, 0.0, fee
    k = mem[M_TIER][i]
    d = mem[M_TIER_DISCOUNT][k]
    if member_discount[c] > d:
        d = member_discount[c]
    if mem[M_TIER_FREE][k]:
        fee = 0.0
    return 1.0 - d, w_member, mem[M_TIER_POINTS][k] * par[P_POINT_COST], fee


@njit(cache=True, _nrt=False)
def purchase(i, t, c, value, member, recognises, journey, key, mem, acc, lwin) -> float:
    """Book a purchase of goods worth ``value`` (currency) by consumer ``i`` in channel ``c``
    at ``t`` for the programme: member orders and revenue, points earned and their cost, the
    qualifying amount and tier, and a non-member's joining at checkout. Returns the delivery
    fee the consumer pays (0 offline or with free delivery), tallied here too."""
    fee = mem[M_FEE][c]
    par = mem[M_PARAMS]
    inw = lwin[0] <= t < lwin[1]
    if member[i]:
        if inw:
            acc[lg.MEMBER_ORDERS] += 1.0
            acc[lg.MEMBER_REVENUE] += value
        if (
            par[P_ON] != 0.0
            and recognises[c]
            and (par[P_EVERYWHERE] != 0.0 or mem[M_JOINED][i] == c)
        ):
            k = mem[M_TIER][i]
            if mem[M_TIER_FREE][k]:
                fee = 0.0
            points = value * mem[M_TIER_POINTS][k]
            if inw and points > 0.0:
                acc[lg.POINTS_EARNED] += points
                acc[lg.POINTS_COST] += points * par[P_POINT_COST]
            qual = mem[M_QUALIFYING]
            qual[i] += points if par[P_BY_POINTS] != 0.0 else value
            mem[M_TIER][i] = tier_for(qual[i], mem[M_TIER_MIN])
    elif par[P_ON] != 0.0:
        p_join = mem[M_JOIN_P][c]
        # Benefits start with the next purchase: this one was paid as a non-member.
        if p_join > 0.0 and rs.uniform(key, i, journey, 0) < p_join:
            member[i] = True
            mem[M_JOINED][i] = c
            mem[M_TIER][i] = 0
            mem[M_QUALIFYING][i] = 0.0
            if inw:
                acc[lg.MEMBERS_JOINED] += 1.0
                mem[M_JOINED_BY_CHANNEL][c] += 1.0
            if t < lwin[1]:
                acc[lg.MEMBER_DAYS] += lwin[1] - (t if t > lwin[0] else lwin[0])
    if fee > 0.0 and inw:
        acc[lg.DELIVERY_FEES] += fee
    return fee


class MembershipState:
    """The programme's inputs and per-member state for one replication.

    Args:
        sc: the scenario.
        member: the population's member flags (`Population.member`), read here and set by
            joining in the kernel.
        segment: each consumer's segment index.
        key: the key of the ``membership`` random stream.
    """

    def __init__(self, sc: Scenario, member: np.ndarray, segment: np.ndarray, key) -> None:
        m = sc.membership
        chans = sc.channels
        self.on = m is not None
        self.channel_names = [c.name for c in chans]
        recognises = np.array([c.recognises_membership for c in chans])
        self.fee = np.array([c.delivery_fee for c in chans], dtype=np.float64)
        self.joined_by_channel = np.zeros(len(chans))
        if m is None:
            self.params = np.zeros(4)
            self.tier_names: list[str] = []
            self.tier_min = np.zeros(1)
            self.tier_discount = np.zeros(1)
            self.tier_points = np.zeros(1)
            self.tier_free = np.zeros(1, dtype=np.bool_)
            self.join_p = np.zeros(len(chans))
            # Nobody reads per-consumer programme state without a programme.
            self.joined = np.zeros(0, dtype=np.int8)
            self.tier = np.zeros(0, dtype=np.int8)
            self.qualifying = np.zeros(0, dtype=np.float32)
            self.initial_members = 0
            return
        self.params = np.array(
            [
                1.0,
                1.0 if m.recognition == Recognition.everywhere else 0.0,
                1.0 if m.qualifying == Qualifying.points else 0.0,
                m.point_value * m.redemption_rate,
            ]
        )
        self.tier_names = [t.name for t in m.tiers]
        self.tier_min = np.array([t.min_spend for t in m.tiers], dtype=np.float64)
        self.tier_discount = np.array([t.discount for t in m.tiers], dtype=np.float64)
        self.tier_points = np.array([t.points_per_currency for t in m.tiers], dtype=np.float64)
        self.tier_free = np.array([t.free_delivery for t in m.tiers], dtype=np.bool_)
        self.join_p = np.array(
            [
                m.join_probability_by_channel.get(c.name, m.join_probability)
                if c.recognises_membership
                else 0.0
                for c in chans
            ]
        )
        n = len(member)
        self.joined = np.full(n, -1, dtype=np.int8)
        self.tier = np.zeros(n, dtype=np.int8)
        self.qualifying = np.zeros(n, dtype=np.float32)
        self.joined[member] = initial_channels(sc, member, segment, recognises, key)[member]
        self.initial_members = int(member.sum())

    def state(self) -> tuple:
        """The programme's kernel state, in the order of the M_* constants."""
        return (
            self.params,
            self.tier_min,
            self.tier_discount,
            self.tier_points,
            self.tier_free,
            self.join_p,
            self.fee,
            self.joined,
            self.tier,
            self.qualifying,
            self.joined_by_channel,
        )

    def programme_cost(self, sc: Scenario, member_days: float) -> float:
        """Fixed cost over the window plus the cost per member per day of membership in it
        (currency); ``member_days`` counts the members who joined during the run."""
        m = sc.membership
        if m is None:
            return 0.0
        days = max(sc.horizon_days - sc.warmup_days, 0.0)
        total_days = member_days + self.initial_members * days
        return m.fixed_cost_per_day * days + m.cost_per_member_per_year / 365.0 * total_days

    def records(self, member: np.ndarray) -> dict:
        """End-of-run state for the ledger: members per tier and recruitment per channel."""
        counts = np.bincount(self.tier[member], minlength=len(self.tier_names))
        return {
            "tiers": list(self.tier_names),
            "members": int(member.sum()),
            "tier_members": counts[: len(self.tier_names)].astype(float).tolist(),
            "ch_members_joined": self.joined_by_channel.tolist(),
        }


def initial_channels(
    sc: Scenario, member: np.ndarray, segment: np.ndarray, recognises: np.ndarray, key
) -> np.ndarray:
    """The channel each consumer would have joined in as an initial member: ``initial_channel``
    if set, else a draw with probabilities proportional to the segment's initial habits over the
    recognising channels (uniform over them if those habits are all 0); -1 if no channel
    recognises membership. One uniform per consumer (journey 0, slot 0 of the stream)."""
    m = sc.membership
    n = len(member)
    names = [c.name for c in sc.channels]
    if m.initial_channel is not None:
        return np.full(n, names.index(m.initial_channel), dtype=np.int8)
    out = np.full(n, -1, dtype=np.int8)
    if not recognises.any():
        return out
    u = rs.uniforms(key, np.arange(n, dtype=np.int64), 0, 0)
    for si, s in enumerate(sc.segments):
        w = np.array(
            [s.habits.get(c, 0.0) if r else 0.0 for c, r in zip(names, recognises, strict=True)]
        )
        if w.sum() <= 0.0:
            w = recognises.astype(np.float64)
        cum = np.cumsum(w / w.sum())
        cum[-1] = 1.0
        mine = segment == si
        out[mine] = np.minimum(np.searchsorted(cum, u[mine], side="right"), len(names) - 1)
    return out
