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

Everything the kernel reads or updates for the programme is one `ProgrammeState`, a named
tuple read by name (`MembershipState.state`), ``k.members`` of the journey kernel. Without a
``membership`` section it is the off form (`omnisim.engine.state.off`: empty arrays, ``on`` 0)
that still carries the channels' delivery fees, and the helpers reduce to today's member
discount and bonus exactly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine.ledger import Window
from omnisim.engine.state import F32, F64, I8, Bool, Float, build, off
from omnisim.scenario.schema import Qualifying, Recognition, Scenario


class Tiers(NamedTuple):
    """The programme's tiers, lowest first (index = tier)."""

    min_spend: F64[1]  # threshold of each tier (currency or points; the first is 0)
    discount: F64[1]  # price cut of each tier (fraction)
    points: F64[1]  # points per currency paid for goods
    free_delivery: Bool[1]  # no delivery fee


class ProgrammeState(NamedTuple):
    """The membership programme's kernel state (docs/model.md, "Members"). Settings are 1.0 or
    0.0 flags but ``point_cost``; the kernel writes only the per-consumer arrays and
    ``joined_by_channel``."""

    on: Float  # 1 with a ``membership`` section
    everywhere: Float  # 1: recognised in every recognising channel (else where joined only)
    by_points: Float  # 1: tiers qualify by points earned (else by spend on goods)
    point_cost: Float  # the brand's cost of one point when earned (currency)
    tiers: Tiers
    join_p: F64[1]  # per channel: probability of joining at checkout (0 where not recognised)
    fee: F64[1]  # per channel: delivery fee per order (currency; online channels only)
    joined: I8[1]  # per consumer: channel a member joined in (-1: not a member / none)
    tier: I8[1]  # per consumer: a member's tier
    qualifying: F32[1]  # per consumer: spend (currency) or points since joining
    joined_by_channel: F64[1]  # per channel: members joined in the window


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
def benefit(i, c, member, member_discount, recognises, w_member, mem: ProgrammeState):
    """(price factor, utility bonus, points value as a fraction of the price, delivery fee)
    for consumer ``i`` in channel ``c``.

    Without a programme this is today's rule: a member in a recognising channel pays
    ``1 - member_discount`` of the price and gets the bonus ``w_member``."""
    fee = mem.fee[c]
    if not (member[i] and recognises[c]):
        return 1.0, 0.0, 0.0, fee
    if mem.on == 0.0:
        return 1.0 - member_discount[c], w_member, 0.0, fee
    if mem.everywhere == 0.0 and mem.joined[i] != c:
        return 1.0, 0.0, 0.0, fee
    k = mem.tier[i]
    d = mem.tiers.discount[k]
    if member_discount[c] > d:
        d = member_discount[c]
    if mem.tiers.free_delivery[k]:
        fee = 0.0
    return 1.0 - d, w_member, mem.tiers.points[k] * mem.point_cost, fee


@njit(cache=True, _nrt=False)
def purchase(
    i, t, c, value, member, recognises, journey, key, mem: ProgrammeState, acc, lwin: Window
) -> float:
    """Book a purchase of goods worth ``value`` (currency) by consumer ``i`` in channel ``c``
    at ``t`` (days) for the programme: member orders and revenue, points earned and their
    cost, the qualifying amount and tier, and a non-member's joining at checkout; tallies in
    the ledger's scalars ``acc`` count what falls in its window ``lwin``. Returns the delivery
    fee the consumer pays (0 offline or with free delivery), tallied here too."""
    fee = mem.fee[c]
    inw = lwin.warmup <= t < lwin.horizon
    if member[i]:
        if inw:
            acc[lg.MEMBER_ORDERS] += 1.0
            acc[lg.MEMBER_REVENUE] += value
        if mem.on != 0.0 and recognises[c] and (mem.everywhere != 0.0 or mem.joined[i] == c):
            k = mem.tier[i]
            if mem.tiers.free_delivery[k]:
                fee = 0.0
            points = value * mem.tiers.points[k]
            if inw and points > 0.0:
                acc[lg.POINTS_EARNED] += points
                acc[lg.POINTS_COST] += points * mem.point_cost
            qual = mem.qualifying
            qual[i] += points if mem.by_points != 0.0 else value
            mem.tier[i] = tier_for(qual[i], mem.tiers.min_spend)
    elif mem.on != 0.0:
        p_join = mem.join_p[c]
        # Benefits start with the next purchase: this one was paid as a non-member.
        if p_join > 0.0 and rs.uniform(key, i, journey, 0) < p_join:
            member[i] = True
            mem.joined[i] = c
            mem.tier[i] = 0
            mem.qualifying[i] = 0.0
            if inw:
                acc[lg.MEMBERS_JOINED] += 1.0
                mem.joined_by_channel[c] += 1.0
            if t < lwin.horizon:
                acc[lg.MEMBER_DAYS] += lwin.horizon - (t if t > lwin.warmup else lwin.warmup)
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
            # Nobody reads tiers, joining or per-consumer programme state without a programme:
            # only the delivery fees (and the per-channel tally, never added to).
            self.tier_names: list[str] = []
            self.initial_members = 0
            self._state = off(
                ProgrammeState, fee=self.fee, joined_by_channel=self.joined_by_channel
            )
            return
        self.tier_names = [t.name for t in m.tiers]
        tiers = build(
            Tiers,
            min_spend=np.array([t.min_spend for t in m.tiers], dtype=np.float64),
            discount=np.array([t.discount for t in m.tiers], dtype=np.float64),
            points=np.array([t.points_per_currency for t in m.tiers], dtype=np.float64),
            free_delivery=np.array([t.free_delivery for t in m.tiers], dtype=np.bool_),
        )
        join_p = np.array(
            [
                m.join_probability_by_channel.get(c.name, m.join_probability)
                if c.recognises_membership
                else 0.0
                for c in chans
            ]
        )
        n = len(member)
        joined = np.full(n, -1, dtype=np.int8)
        joined[member] = initial_channels(sc, member, segment, recognises, key)[member]
        self.initial_members = int(member.sum())
        self._state = build(
            ProgrammeState,
            on=1.0,
            everywhere=1.0 if m.recognition == Recognition.everywhere else 0.0,
            by_points=1.0 if m.qualifying == Qualifying.points else 0.0,
            point_cost=m.point_value * m.redemption_rate,
            tiers=tiers,
            join_p=join_p,
            fee=self.fee,
            joined=joined,
            tier=np.zeros(n, dtype=np.int8),
            qualifying=np.zeros(n, dtype=np.float32),
            joined_by_channel=self.joined_by_channel,
        )

    def state(self) -> ProgrammeState:
        """The programme's kernel state."""
        return self._state

    # The per-consumer arrays the kernel updates (empty without a programme).
    @property
    def joined(self) -> np.ndarray:
        """Channel each member joined in (int8; -1: not a member)."""
        return self._state.joined

    @property
    def tier(self) -> np.ndarray:
        """Each member's tier (int8)."""
        return self._state.tier

    @property
    def qualifying(self) -> np.ndarray:
        """Each member's qualifying amount since joining (float32; currency or points)."""
        return self._state.qualifying

    @property
    def tier_min(self) -> np.ndarray:
        """Each tier's threshold (currency or points)."""
        return self._state.tiers.min_spend

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
