"""Stage 2 of the journey kernel, the decision (the search ends): the consideration set, one
Bernoulli per channel with probability ``reach * open * logistic(visibility + w_h * habit)``; a
nested logit over the considered channels plus the outside option (an online and an offline
nest; the BOPIS delivery/pick-up nest inside an online channel); an online choice orders at
once, an offline one travels to a store. Equations: docs/model.md, "Decision".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.channels import fulfilment as fl
from omnisim.channels.catalog import store_for
from omnisim.channels.service import arrival_time
from omnisim.consumers import hooks
from omnisim.consumers.population import TRAVELLING
from omnisim.consumers.stages.common import (
    end_journey,
    in_window,
    quote,
    row,
    schedule,
    utility,
)
from omnisim.consumers.stages.purchase import order_online
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr


@njit(cache=True, inline="always", _nrt=False)
def _inclusive(util, cons, offline, side, lam):
    """Inclusive value lam ln(sum_c e^(util_c / lam)) (utils) of the nest of the considered
    channels c with ``offline[c] == side``; -inf when the nest is empty (its weight is 0)."""
    hi = -np.inf
    for c in range(util.shape[0]):
        if cons[c] and bool(offline[c]) == side and util[c] > hi:
            hi = util[c]
    if hi == -np.inf:
        return hi
    total = 0.0
    for c in range(util.shape[0]):
        if cons[c] and bool(offline[c]) == side:
            total += np.exp((util[c] - hi) / lam)
    return hi + lam * np.log(total)


@njit(cache=True, inline="always", _nrt=False)
def decide(i, t, k, sched, trail, counts, do_trail, price, util, cons):
    pop, ch, w, keys, led = k.pop, k.chan, k.weights, k.keys, k.ledger
    habit = pop.habit
    acc, ch_acc, lwin = led.acc, led.channel, led.window
    rating_sum, rating_n = k.rating.sum, k.rating.n
    c_n = price.shape[0]
    j = pop.journey[i]
    s = pop.segment[i]
    r = pop.region[i]
    sw = pop.switches[i]
    first = sw == 0
    inw = in_window(lwin, t)
    # Purchase intent (word of mouth) in every channel's utility; channels a click or a search
    # ad puts into consideration (media).
    forced, intent, social = hooks.decision(i, t, j, s, first, inw, k)
    aware = hooks.awareness(i, t, k)
    # Omnichannel: buy online, pick up in store, for consumers with a pick-up store.
    om = k.fulfil
    pc = om.pickup_channel
    can_pick = om.bopis and ch.stores.count[pc, r] > 0
    # Consideration set.
    n_cons = 0
    seen = np.inf
    lo, hi = np.inf, 0.0  # channel conflict: lowest and highest goods price considered
    home = -1  # the considered channel the consumer is most used to: where the search starts
    key_c = keys[rs.CONSIDER]
    u_pair = (0.0, 0.0)
    for c in range(c_n):
        if c % 2 == 0:
            u_pair = rs.uniform2(key_c, i, j, c // 2)
        u = u_pair[0] if c % 2 == 0 else u_pair[1]
        p, promo, live = quote(i, c, t, k)
        price[c] = p
        reach = ch.reach[c, r]
        ok = False
        if live and reach > 0.0 and not (int(pop.failed[i]) >> c) & 1:
            x = (
                ch.visibility[c]
                + w.consider_habit * habit[i, c]
                + hooks.consideration_shift(c, t, k)
            )
            q = reach / (1.0 + np.exp(-x))
            ok = u < q or (forced >> c) & 1 == 1
        cons[c] = ok
        if ok:
            n_cons += 1
            # Membership and delivery fee (docs/model.md, "Members"): the price per unit paid
            # includes the fee; the price weighed is also net of the points' value.
            _, bonus, cut, fee = hooks.channel_terms(i, c, k)
            paid = p + fee / pop.units[i] if fee > 0.0 else p
            weighed = paid - p * cut if cut > 0.0 else paid
            if paid < seen:
                seen = paid
            if p < lo:
                lo = p
            if p > hi:
                hi = p
            if home < 0 or habit[i, c] > habit[i, home]:
                home = c
            if first and inw:
                ch_acc[c, lg.CH_CONSIDERED] += 1.0
            # Utility (docs/model.md, "Decision"); online, the wait is that of the first
            # fulfilment candidate (the channel's nearest node without omnichannel routing).
            wait = ch.travel_days[c] if ch.offline[c] else om.lead[c, r] + ch.delivery_delay[c]
            rating = (w.prior_weight * w.prior_rating + rating_sum[c]) / (
                w.prior_weight + rating_n[c]
            )
            v = utility(i, c, s, weighed, wait, rating, aware, promo, bonus, intent, social, k)
            if can_pick:
                # BOPIS nest (docs/model.md, "Omnichannel fulfilment"): the pick-up branch pays
                # no delivery fee and waits for the goods to be ready plus the trip.
                q_pick = 0.0
                if om.offers_pickup[c]:
                    weighed_p = p - p * cut if cut > 0.0 else p
                    wait_p = om.ready_days + ch.travel_days[pc]
                    v_p = utility(
                        i, c, s, weighed_p, wait_p, rating, aware, promo, bonus, intent, social, k
                    )
                    v, q_pick = fl.nest(v, v_p - om.pickup_effort, w.nest_fulfil)
                om.pickup_p[c] = q_pick
            util[c] = v
    if first:
        pop.min_price[i] = seen
        pop.search_channel[i] = home
        pop.price_spread[i] = np.log(hi / lo) if n_cons > 1 else 0.0
        if inw:
            if n_cons > 0:
                acc[lg.SEARCHES] += 1.0
            else:
                acc[lg.NO_CONSIDERATION] += 1.0
            if n_cons > 1:  # channel conflict: the price spread the search met
                acc[lg.PRICE_SPREAD_SUM] += hi / lo - 1.0
                acc[lg.PRICE_SPREAD_N] += 1.0
        if n_cons > 0:
            row(trail, counts, do_trail, tr.SEARCH, t, i, home, -1, 0, float(n_cons))
        else:
            row(trail, counts, do_trail, tr.NO_CONSIDERATION, t, i, -1, -1, 0, np.nan)
    elif seen < pop.min_price[i]:
        pop.min_price[i] = seen
    if n_cons == 0:
        end_journey(i, t, k, sched, counts)
        return
    # Nested logit with the outside option (docs/model.md, "Decision: nests"): util[c] becomes
    # the choice weight of channel c, e0 that of the outside option, total their sum.
    v0 = hooks.outside_option(i, r, s, t, k)
    lam_on, lam_off = w.nest_online, w.nest_offline
    if lam_on == 1.0 and lam_off == 1.0:  # a plain logit: the nests change nothing
        vmax = v0
        for c in range(c_n):
            if cons[c] and util[c] > vmax:
                vmax = util[c]
        total = np.exp(v0 - vmax)
        e0 = total
        for c in range(c_n):
            if cons[c]:
                util[c] = np.exp(util[c] - vmax)
                total += util[c]
    else:
        iv_on = _inclusive(util, cons, ch.offline, False, lam_on)
        iv_off = _inclusive(util, cons, ch.offline, True, lam_off)
        vmax = max(v0, iv_on, iv_off)
        total = np.exp(v0 - vmax)
        e0 = total
        for c in range(c_n):
            if cons[c]:
                if ch.offline[c]:
                    util[c] = np.exp(iv_off - vmax + (util[c] - iv_off) / lam_off)
                else:
                    util[c] = np.exp(iv_on - vmax + (util[c] - iv_on) / lam_on)
                total += util[c]
    target = rs.uniform(keys[rs.CHOICE], i, j, sw) * total - e0
    if target <= 0.0:
        if inw:
            acc[lg.OUTSIDE_CHOICES] += 1.0
        row(trail, counts, do_trail, tr.OUTSIDE_CHOICE, t, i, -1, -1, 0, np.nan)
        end_journey(i, t, k, sched, counts)
        return
    pick = -1
    for c in range(c_n):
        if cons[c]:
            pick = c
            target -= util[c]
            if target <= 0.0:
                break
    pop.channel[i] = pick
    if ch.offline[pick]:  # offline: travel to the consumer's store of the channel
        store = store_for(pick, r, i, ch.stores)
        pop.node[i] = store
        u_travel, u_open = rs.uniform2(keys[rs.TRAVEL], i, j, sw)
        trip = t - ch.travel_days[pick] * np.log(u_travel)
        arrive = arrival_time(store, trip, u_open, k.queues)
        pop.stage[i] = TRAVELLING
        schedule(sched, counts, i, arrive)
    else:
        # BOPIS: the pick-up branch of the chosen channel's nest.
        pickup = can_pick and (
            rs.uniform(keys[rs.OMNICHANNEL], i, j, fl.SLOT_PICKUP + sw) < om.pickup_p[pick]
        )
        order_online(i, t, pick, price[pick], pickup, k, sched, trail, counts, do_trail)
