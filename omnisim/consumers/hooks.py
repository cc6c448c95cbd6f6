"""The journey kernel's mechanism hooks: a fixed, documented order of points in a consumer's
journey where mechanisms act, so that the stages (`omnisim.consumers.stages`) call a hook and
never name a mechanism.

Each hook below is listed in the order the kernel reaches it in one journey; inside a hook, the
mechanisms that take part act in the order written (that order is part of the model: it fixes
which state a mechanism sees). Every hook is compiled inline into the stage that calls it, so
a hook costs nothing over calling the mechanisms directly. A mechanism switched off has the
"off" form of its state (`omnisim.engine.state.off`), for which its part of each hook returns
the neutral value at once.

0. `prefetch` (dispatch, the event 8 ahead): lifecycle, memory, media, heterogeneity.
1. `stale` (dispatch, before an event): media (calendar entries a click made stale).
2. `extra_occasion`, `awareness`, `referred` (need; decision): media (a click's extra
   occasion; adstock lift; a click made the consumer aware).
3. `decision` (decision, once): word of mouth (purchase intent), media (channels a click or a
   search ad puts into consideration).
4. `consideration_shift` (decision, per channel): shocks (traffic multiplier, log odds).
5. `channel_terms` (price and decision, per channel): membership (price factor, utility bonus,
   points, delivery fee).
6. `outside_option` (decision, once, after the channels): competition, shocks (competitors'
   prices), heterogeneity (the consumer's price sensitivity).
7. `shipment_factor` (delivery): shocks (lead-time multiplier).
8. `promotion_cut` (purchase in the window): lifecycle (promotion spend).
9. `checkout` (purchase): membership (points, tier, joining; the delivery fee).
10. `after_purchase` (purchase): lifecycle (recruitment, activity, CLV margin), word of mouth
    (a buyer becomes an adopter), heterogeneity (the purchase count that tells a repeat).
11. `after_use` (review): word of mouth (the valence of the consumer's talks).
12. `churns` (review): lifecycle (the life's churn threshold), heterogeneity (drop-out after a
    repeat purchase).
13. `after_churn` (review, churn): lifecycle (the win-back time).

Adding a mechanism: its module declares its state (with `build` and `off`) and its compiled
parts, `omnisim.consumers.kernel.Kernel` gets its field (built in `Journey`), and the hooks it
takes part in call it here (docs/architecture.md, "Adding a mechanism").
"""

from __future__ import annotations

from numba import njit

from omnisim.consumers import heterogeneity as ht
from omnisim.consumers import lifecycle as lcm
from omnisim.engine import streams as rs
from omnisim.engine.prefetch import prefetch as pf
from omnisim.market import competition as cm
from omnisim.market import shocks as shk
from omnisim.marketing import media as md
from omnisim.marketing import membership as ms
from omnisim.marketing import social as so


@njit(cache=True, inline="always", _nrt=False)
def prefetch(k, i):
    """0. Start loading consumer ``i``'s mechanism state (a hint; changes no result): each
    per-consumer array an event reads is a cache miss at a million consumers, so every
    mechanism that is on asks for its own."""
    lcm.prefetch_consumer(k.lifecycle, i)
    mem = k.memory
    if mem.on != 0:
        pf(mem.since, i)
    md = k.media
    if md.consumer_bytes.shape[0] > 0:
        pf(md.consumer_bytes, i)
        if md.adstock.shape[0] > 0:
            pf(md.adstock, i)
    taste = k.taste
    if taste.price.shape[0] > 0:
        pf(taste.price, i)
    if taste.time.shape[0] > 0:
        pf(taste.time, i)
    if taste.need_scale.shape[0] > 0:
        pf(taste.need_scale, i)


@njit(cache=True, inline="always", _nrt=False)
def stale(i, t, due, k) -> bool:
    """1. Whether the event of consumer ``i`` at ``t`` is a stale calendar entry (skip it)."""
    return md.skip_stale(i, t, due, k.media)


@njit(cache=True, inline="always", _nrt=False)
def awareness(i, t, k) -> float:
    """2. Consumer ``i``'s effective awareness at ``t``: the stored awareness lifted by media
    adstock (docs/model.md, "Media"); exactly the stored awareness without media."""
    return md.effective_awareness(i, t, k.pop.awareness[i], k.media)


@njit(cache=True, inline="always", _nrt=False)
def referred(i, t, k) -> bool:
    """2. Whether consumer ``i`` clicked an ad lately (so is aware at this need)."""
    return md.referred(i, t, k.media)


@njit(cache=True, inline="always", _nrt=False)
def extra_occasion(i, k) -> bool:
    """2. Whether consumer ``i``'s need, come before its renewal epoch, is an extra occasion
    (media: a click's incrementality) rather than the next need brought forward."""
    return md.extra_occasion(i, k.media)


@njit(cache=True, inline="always", _nrt=False)
def decision(i, t, j, s, first, inw, k) -> tuple[int, float, bool]:
    """3. At a decision of consumer ``i`` (journey ``j``, segment ``s``; ``first``: not after a
    switch; ``inw``: in the window): (bit set of channels put into consideration, purchase
    intent in utils, whether word of mouth runs)."""
    social = so.enabled(k.social)
    intent = so.intent_utility(i, t, k.social) if social else 0.0
    forced = md.at_decision(i, t, j, s, first, inw, k.media)
    return forced, intent, social


@njit(cache=True, inline="always", _nrt=False)
def consideration_shift(c, t, k) -> float:
    """4. Shift of the log odds of considering channel ``c`` at ``t``."""
    return shk.log_traffic(c, t, k.shocks)


@njit(cache=True, inline="always", _nrt=False)
def channel_terms(i, c, k) -> tuple[float, float, float, float]:
    """5. (price factor, utility bonus in utils, points value as a fraction of the price,
    delivery fee in currency) of consumer ``i`` in channel ``c`` (docs/model.md, "Members")."""
    ch = k.chan
    return ms.benefit(
        i, c, k.pop.member, ch.member_discount, ch.recognises, k.weights.member, k.members
    )


@njit(cache=True, inline="always", _nrt=False)
def outside_option(i, r, s, t, k) -> float:
    """6. Utility of the outside option (utils) for consumer ``i`` of segment ``s`` in region
    ``r`` at ``t`` (docs/model.md, "Decision: competition"), with their own price sensitivity
    ("Heterogeneity")."""
    share, beta = k.weights.competitor_share, ht.price_factor(i, k.taste)
    return cm.outside_utility(r, s, t, k.seg, k.shocks, share, beta)


@njit(cache=True, inline="always", _nrt=False)
def shipment_factor(t, k) -> float:
    """7. Multiplier on the lead time of a shipment started at ``t``."""
    return shk.lead_factor(t, k.shocks)


@njit(cache=True, inline="always", _nrt=False)
def promotion_cut(c, t_price, q, p, k) -> float:
    """8. The price cut promotions gave on ``q`` units bought at ``p`` in channel ``c``, priced
    at ``t_price`` (currency)."""
    pr = k.chan.promos
    return lcm.promotion_cut(c, t_price, q, p, pr.start, pr.end, pr.discount, pr.mask)


@njit(cache=True, inline="always", _nrt=False)
def checkout(i, t, c, value, k) -> float:
    """9. Consumer ``i`` pays ``value`` in channel ``c`` at ``t``: membership points, tier and
    joining; returns the delivery fee paid (currency)."""
    return ms.purchase(
        i,
        t,
        c,
        value,
        k.pop.member,
        k.chan.recognises,
        k.pop.journey[i],
        k.keys[rs.MEMBERSHIP],
        k.members,
        k.ledger.acc,
        k.ledger.window,
    )


@njit(cache=True, inline="always", _nrt=False)
def after_purchase(i, t, c, nd, q, brand, cross, inw, k):
    """10. After consumer ``i`` bought ``q`` units in channel ``c`` from node ``nd`` at ``t``
    (``brand``: the brand's take in currency; ``cross``: cross-fulfilled)."""
    margin = lcm.brand_margin(
        nd, q, brand, cross, k.weights.unit_cost, k.chan.order_cost[c], k.lifecycle
    )
    lcm.on_purchase(i, t, c, margin, inw, k.lifecycle, k.ledger.acc, k.ledger.channel)
    ht.on_purchase(i, k.taste)
    so.on_purchase(i, t, k.pop.awareness[i], k.social)


@njit(cache=True, inline="always", _nrt=False)
def after_use(i, sat, k):
    """11. Consumer ``i`` used the product with satisfaction ``sat`` (scale points)."""
    so.on_use(i, sat, k.social)


@njit(cache=True, inline="always", _nrt=False)
def churns(i, j, p_churn, k):
    """12. Whether consumer ``i``'s review of journey ``j`` ends their life with the brand:
    churn with probability ``p_churn`` (a bad experience), else drop-out after a repeat
    purchase (heterogeneity), drawn on the life's threshold (lifecycle). Returns (churned,
    dropped_out)."""
    p_drop = ht.dropout_probability(i, k.taste)
    return lcm.churns(i, j, p_churn, p_drop, k.lifecycle, k.keys[rs.REVIEW])


@njit(cache=True, inline="always", _nrt=False)
def after_churn(i, j, t, inw, k) -> float:
    """13. Consumer ``i`` churned at ``t`` (journey ``j``): when they come back (days; inf:
    never)."""
    return lcm.on_churn(i, j, t, inw, k.lifecycle, k.keys[rs.WINBACK])
