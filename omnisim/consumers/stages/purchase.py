"""Stage 3 of the journey kernel, purchase and fulfilment: an online order routed to a stock
node (`omnisim.channels.fulfilment`), a store visit with its shelf and queue
(`omnisim.channels.service`), the endless aisle; the goods change hands (ledger, membership,
lifecycle, word of mouth); a stock-out or a balk ends in a switch or a lost sale. Equations:
docs/model.md, "Purchase" and "Omnichannel fulfilment".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.channels import fulfilment as fl
from omnisim.channels.catalog import store_for
from omnisim.channels.service import ADMITTED, FULL, STOCKOUT
from omnisim.channels.service import service_time as _service_time
from omnisim.channels.service import visit as _visit
from omnisim.consumers import hooks
from omnisim.consumers.population import FULFILMENT, SEARCHING
from omnisim.consumers.stages.common import end_journey, in_window, period, quote, row, schedule
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr
from omnisim.engine.memory import recall


@njit(cache=True, _nrt=False)
def order_online(i, t, c, p, pickup, k, sched, trail, counts, do_trail):
    pop, ch, geo, stock, keys, led = k.pop, k.chan, k.geo, k.stock, k.keys, k.ledger
    om = k.fulfil
    r = pop.region[i]
    want = pop.units[i]
    # Fulfilment routing (docs/model.md, "Omnichannel fulfilment"): a pick-up takes the
    # consumer's pick-up store's stock if it holds the whole basket, else the order is delivered;
    # a delivery goes to the first candidate node with the stock (without omnichannel routing
    # the candidates are the channel's nearest node alone).
    mode = fl.MODE_OWN
    handling = 0.0
    node = -1
    slot = slot_first = 0
    if not om.on:  # no routing: the channel's nearest node
        node = ch.ship_node[c, r]
        handling = ch.handling_days[c]
    elif pickup:
        node = store_for(om.pickup_channel, r, i, ch.stores)
        if stock[node] >= want:
            mode = fl.MODE_OWN if om.own[c, node] else fl.MODE_PICKUP
        else:
            pickup = False
            node = -1
    if node < 0:
        slot, slot_first = fl.route(i, c, r, want, stock, om, ch.stores)
        node, handling, mode = fl.candidate(i, c, r, slot, om, ch.stores)
    k.asked[node] += want  # units asked at the node (sold + lost): the node's demand
    have = stock[node]
    got = want if want < have else have
    if got <= 0:
        stockout(i, t, c, node, want, k, sched, trail, counts, do_trail)
        return
    stock[node] -= got
    if got < want:
        lost(i, t, c, node, want - got, k, trail, counts, do_trail)
    pop.node[i] = node
    j, sw = pop.journey[i], pop.switches[i]
    u_delay, u_use = rs.uniform2(keys[rs.DELIVERY], i, j, sw)
    # A pick-up: ready, then the trip to the store; a delivery: handling at the node, transport
    # and the channel's random delay, longer for orders placed in a shock.
    transport = geo.days[geo.node_region[node], r]
    lead = (
        om.ready_days + ch.travel_days[om.pickup_channel]
        if pickup
        else (handling + transport - ch.delivery_delay[c] * np.log(u_delay))
        * hooks.shipment_factor(t, k)
    )
    late = 0.0 if pickup else lead - om.promise[c, r]
    pop.late_days[i] = late if late > 0.0 else 0.0
    pop.queue_days[i] = 0.0
    acc, lwin = led.acc, led.window
    if in_window(lwin, t):
        acc[lg.ONLINE_ORDERS] += 1.0
        if pickup:
            acc[lg.PICKUPS] += 1.0
        elif slot != slot_first:
            acc[lg.REROUTED_ORDERS] += 1.0
        acc[lg.DELIVERY_DAYS_SUM] += lead
        if late > 0.0:
            acc[lg.LATE_ORDERS] += 1.0
        promotion_spend(c, t, got, p, k)
    in_transit(t, lead, got, acc, lwin)
    purchase(i, t, c, node, got, p, t + lead, u_use, k, sched, trail, counts, do_trail, mode, -1)


@njit(cache=True, inline="always", _nrt=False)
def in_transit(t, lead, units, acc, lwin):
    """Units in transit from ``t`` for ``lead`` days, integrated over the window (Little's
    law: L = lambda W)."""
    a = t if t > lwin.warmup else lwin.warmup
    b = t + lead if t + lead < lwin.horizon else lwin.horizon
    if b > a:
        acc[lg.TRANSIT_UNIT_DAYS] += (b - a) * units


@njit(cache=True, inline="always", _nrt=False)
def arrive(i, t, k, sched, trail, counts, do_trail):
    pop, qs, stock, keys, led = k.pop, k.queues, k.stock, k.keys, k.ledger
    j, sw = pop.journey[i], pop.switches[i]
    store = pop.node[i]
    c = pop.channel[i]
    want = pop.units[i]
    u_s, u_p = rs.uniform2(keys[rs.SERVICE], i, j, sw)
    z = rs.normal(keys[rs.SERVICE], i, j, 16 + sw)
    service = _service_time(store, u_s, z, qs)
    patience = -np.log(u_p) * qs.patience[store]
    reason, got, start, end = _visit(store, t, want, stock, service, patience, qs)
    # A balking visitor asks for nothing. (Two comparisons: kept simple for numba.)
    if reason == STOCKOUT or reason == ADMITTED:  # noqa: SIM109
        k.asked[store] += want
    acc, lwin = led.acc, led.window
    inw = in_window(lwin, t)
    if inw:
        acc[lg.STORE_ARRIVALS] += 1.0
    row(trail, counts, do_trail, tr.STORE_ARRIVAL, t, i, c, store, want, np.nan)
    if reason == STOCKOUT:
        # Omnichannel: the endless aisle may deliver the basket from another node.
        if k.fulfil.shared and endless_aisle(
            i, t, c, store, want, k, sched, trail, counts, do_trail
        ):
            return
        stockout(i, t, c, store, want, k, sched, trail, counts, do_trail)
        return
    if reason != ADMITTED:
        if inw:
            acc[lg.BALKS] += 1.0
            if reason == FULL:
                acc[lg.BLOCKED] += 1.0
        row(trail, counts, do_trail, tr.BALK, t, i, c, store, 0, np.nan)
        switch_or_leave(i, t, k, sched, trail, counts, do_trail)
        return
    if inw:
        acc[lg.STORE_ADMITTED] += 1.0
        if start > t:
            acc[lg.STORE_WAITED] += 1.0
        acc[lg.STORE_WAIT_DAYS_SUM] += start - t
    if got < want:
        lost(i, t, c, store, want - got, k, trail, counts, do_trail)
    pop.queue_days[i] = start - t
    pop.late_days[i] = 0.0
    p, _, _ = quote(i, c, t, k)
    if in_window(lwin, end):
        promotion_spend(c, t, got, p, k)  # priced at arrival, bought at the end of service
    _, u_use = rs.uniform2(keys[rs.DELIVERY], i, j, sw)
    purchase(i, end, c, store, got, p, end, u_use, k, sched, trail, counts, do_trail, 0, -1)


@njit(cache=True, _nrt=False)
def endless_aisle(i, t, c, store, want, k, sched, trail, counts, do_trail) -> bool:
    """Omnichannel, shared inventory: a visitor who met a stock-out at ``store`` accepts home
    delivery from the nearest stocked node of the pool with probability
    ``endless_aisle_acceptance`` (docs/model.md, "Omnichannel fulfilment"). Returns whether
    they bought so; else nothing has changed."""
    pop, ch, geo, stock, keys, led = k.pop, k.chan, k.geo, k.stock, k.keys, k.ledger
    om = k.fulfil
    j, sw = pop.journey[i], pop.switches[i]
    r = pop.region[i]
    u_accept, u_delay = rs.uniform2(keys[rs.OMNICHANNEL], i, j, fl.SLOT_AISLE + sw)
    if u_accept >= om.aisle_accept:
        return False
    node = fl.pool_pick(r, store, want, stock, om)
    if node < 0:
        return False
    # The basket is asked at (sold or lost at) the fulfilling node, not at the store.
    k.asked[store] -= want
    k.asked[node] += want
    have = stock[node]
    got = want if want < have else have
    stock[node] -= got
    if got < want:
        lost(i, t, c, node, want - got, k, trail, counts, do_trail)
    met = pop.stockouts_met
    if met[i] < 255:
        met[i] += 1  # the empty shelf was met all the same
    handling = om.store_handling if om.is_store[node] else ch.handling_days[c]
    lead = handling + geo.days[geo.node_region[node], r] - ch.delivery_delay[c] * np.log(u_delay)
    lead *= hooks.shipment_factor(t, k)  # shocks: longer leads of shipments started in a shock
    pop.node[i] = node
    pop.queue_days[i] = 0.0
    pop.late_days[i] = 0.0
    p, _, _ = quote(i, c, t, k)
    acc, lwin = led.acc, led.window
    if in_window(lwin, t):
        acc[lg.ENDLESS_AISLE_ORDERS] += 1.0
        promotion_spend(c, t, got, p, k)
    in_transit(t, lead, got, acc, lwin)
    u_use = rs.uniform(keys[rs.OMNICHANNEL], i, j, fl.SLOT_AISLE_USE + sw)
    t_got, mode = t + lead, fl.MODE_AISLE
    purchase(i, t, c, node, got, p, t_got, u_use, k, sched, trail, counts, do_trail, mode, store)
    return True


# Inlined: with the customer-lifecycle hook, LLVM no longer inlines a call of it, and passing
# the kernel state to the call costs more than the purchase itself (150,000 consumers of
# benchmarks/million.yaml: 1.43 s -> 1.67 s a run, 1.54 s inlined).
@njit(cache=True, inline="always", _nrt=False)
def purchase(i, t, c, nd, q, p, t_receive, u_use, k, sched, trail, counts, do_trail, mode, taker):
    """Goods change hands at ``t``; the consumer has them at ``t_receive``. ``mode``: how the
    order was fulfilled (`omnisim.channels.fulfilment`, MODE_*; 0 at the channel's own node),
    ``taker``: the store that took an endless-aisle order (else -1)."""
    pop, ch, w, led = k.pop, k.chan, k.weights, k.ledger
    acc, ch_acc, nd_acc, series, ts_ch, lwin = (
        led.acc,
        led.channel,
        led.node,
        led.series,
        led.series_channel,
        led.window,
    )
    value = p * q
    platform = value * ch.commission[c]
    dealer = value * ch.intermediary_margin[c]
    brand = value - platform - dealer
    if k.fulfil.on:  # omnichannel profit allocation
        split = (platform, dealer, brand)
        split = fl.settle(i, pop.region[i], c, nd, taker, mode, value, split, k.fulfil, ch, led, t)
        platform, dealer, brand = split
    if in_window(lwin, t):
        acc[lg.PURCHASES] += 1.0
        acc[lg.UNITS] += q
        acc[lg.REVENUE] += value
        acc[lg.BRAND_TAKE] += brand
        acc[lg.DEALER_TAKE] += dealer
        acc[lg.PLATFORM_TAKE] += platform
        acc[lg.COGS] += q * w.unit_cost
        acc[lg.ORDER_COSTS] += ch.order_cost[c]
        ch_acc[c, lg.CH_ORDERS] += 1.0
        ch_acc[c, lg.CH_UNITS] += q
        ch_acc[c, lg.CH_REVENUE] += value
        ch_acc[c, lg.CH_BRAND] += brand
        nd_acc[nd, lg.ND_UNITS] += q
        if mode == fl.MODE_OWN:  # a cross-fulfilled order's money is in the node credits
            nd_acc[nd, lg.ND_REVENUE] += value
            nd_acc[nd, lg.ND_PLATFORM] += platform
            nd_acc[nd, lg.ND_BRAND] += brand
        per = period(lwin, series.shape[0], t)
        series[per, lg.TS_PURCHASES] += 1.0
        series[per, lg.TS_REVENUE] += value
        ts_ch[per, c] += value
        pop.purchases_in_window[i] += 1
        conflict(pop.search_channel[i], c, value, ch.offline, acc)
    elif t < lwin.warmup:
        pop.bought_before_window[i] = True  # bought during the warm-up (lifecycle KPIs)
    # Membership: points, tier, joining at checkout; the delivery fee paid (docs/model.md,
    # "Members").
    fee = hooks.checkout(i, t, c, value, k)
    if mode == fl.MODE_PICKUP and fee > 0.0:  # omnichannel: a pick-up pays no delivery fee
        if in_window(lwin, t):
            acc[lg.DELIVERY_FEES] -= fee
        fee = 0.0
    pop.ever_bought[i] = True
    pop.paid[i] = p if fee == 0.0 else p + fee / q
    if w.aware_after:
        recall(i, t, k.memory, pop.segment, pop.awareness, pop.habit)
        a = pop.awareness[i]
        pop.awareness[i] = a + w.aware_lift * (1.0 - a)
    hooks.after_purchase(i, t, c, nd, q, brand, mode != fl.MODE_OWN, in_window(lwin, t), k)
    row(trail, counts, do_trail, tr.PURCHASE, t, i, c, nd, q, p)
    if mode != fl.MODE_OWN:
        row(trail, counts, do_trail, tr.CROSS_FULFILMENT, t, i, c, nd, q, float(mode))
    row(trail, counts, do_trail, tr.RECEIVE, t_receive, i, c, nd, q, np.nan)
    pop.stage[i] = FULFILMENT
    t_review = t_receive - w.use_days * np.log(u_use)
    if t_review < lwin.horizon:
        schedule(sched, counts, i, t_review)


@njit(cache=True, inline="always", _nrt=False)
def conflict(home, c, value, offline, acc):
    """Channel conflict: an in-window purchase in the other world (offline / online) than the
    channel the search started in: showrooming (searched offline, bought online) or
    webrooming (the reverse)."""
    if home < 0 or offline[home] == offline[c]:
        return
    if offline[home]:
        acc[lg.SHOWROOMING_ORDERS] += 1.0
        acc[lg.SHOWROOMING_REVENUE] += value
    else:
        acc[lg.WEBROOMING_ORDERS] += 1.0
        acc[lg.WEBROOMING_REVENUE] += value


@njit(cache=True, _nrt=False)
def lost(i, t, c, nd, units, k, trail, counts, do_trail):
    led = k.ledger
    if in_window(led.window, t):
        led.acc[lg.STOCKOUTS] += 1.0
        led.acc[lg.LOST_UNITS] += units
        led.channel[c, lg.CH_LOST] += units
        led.node[nd, lg.ND_LOST] += units
    row(trail, counts, do_trail, tr.STOCKOUT, t, i, c, nd, units, np.nan)


@njit(cache=True, _nrt=False)
def stockout(i, t, c, nd, units, k, sched, trail, counts, do_trail):
    lost(i, t, c, nd, units, k, trail, counts, do_trail)
    met = k.pop.stockouts_met
    if met[i] < 255:
        met[i] += 1
    switch_or_leave(i, t, k, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def switch_or_leave(i, t, k, sched, trail, counts, do_trail):
    """After a stock-out or a balk: re-decide without that channel, or give up."""
    pop, w, led = k.pop, k.weights, k.ledger
    j, sw, c = pop.journey[i], pop.switches[i], pop.channel[i]
    u = rs.uniform(k.keys[rs.SWITCH], i, j, sw)
    if u < w.switch_p and sw < w.max_switches:
        pop.failed[i] = int(pop.failed[i]) | (1 << int(c))
        pop.switches[i] = sw + 1
        pop.stage[i] = SEARCHING
        if in_window(led.window, t):
            led.acc[lg.SWITCHES] += 1.0
        row(trail, counts, do_trail, tr.SWITCH, t, i, c, -1, 0, np.nan)
        schedule(sched, counts, i, t)
    else:
        row(trail, counts, do_trail, tr.LOST_SALE, t, i, c, -1, 0, np.nan)
        end_journey(i, t, k, sched, counts)


@njit(cache=True, _nrt=False)
def promotion_spend(c, t_price, q, p, k):
    """The price cut promotions gave on an in-window purchase (customer lifecycle)."""
    k.ledger.channel[c, lg.CH_PROMOTION_SPEND] += hooks.promotion_cut(c, t_price, q, p, k)
