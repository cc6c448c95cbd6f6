"""Small compiled helpers every stage of the journey kernel shares: the measurement window,
trail rows, the in-bucket event heap and the calendar, the end of a journey, and the price and
utility a consumer sees in a channel (docs/model.md, "Decision").

Every function takes the journey kernel's state ``k`` (`omnisim.consumers.kernel.Kernel`),
``sched`` (`Schedule`), ``trail`` (`omnisim.engine.trail.Rows`) and ``counts`` (the counters
``N_*``) as it needs them; none allocates (the kernel runs without numba's reference counting).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.channels.catalog import is_open, price_cut, store_for
from omnisim.consumers import heterogeneity as ht
from omnisim.consumers import hooks
from omnisim.consumers.kernel import N_HEAP, N_TRAIL_ROWS
from omnisim.consumers.needs import to_real
from omnisim.consumers.population import WAIT_NEED
from omnisim.engine.buckets import P_BUCKET_END, insert
from omnisim.engine.heap import sift_down, sift_up


@njit(cache=True, inline="always", _nrt=False)
def in_window(lwin, t):
    return lwin.warmup <= t < lwin.horizon


@njit(cache=True, inline="always", _nrt=False)
def period(lwin, n_periods, t):
    p = int((t - lwin.warmup) / lwin.period)
    return p if p < n_periods else n_periods - 1


@njit(cache=True, inline="always", _nrt=False)
def row(trail, counts, do_trail, ev, t, cid, ch, nd, units, value):
    if do_trail:
        r = counts[N_TRAIL_ROWS]
        trail.event[r] = ev
        trail.time[r] = t
        trail.consumer[r] = cid
        trail.channel[r] = ch
        trail.node[r] = nd
        trail.units[r] = units
        trail.value[r] = value
        counts[N_TRAIL_ROWS] = r + 1


@njit(cache=True, _nrt=False)
def schedule(sched, counts, cid, t):
    """Queue consumer ``cid``'s next event at ``t``: inside the current bucket it joins the
    kernel's own heap (so it runs in exact time order among the bucket's events), otherwise
    it goes into the calendar's wheel."""
    heap_ids, heap_t, wheel, due = sched.heap_ids, sched.heap_t, sched.wheel, sched.due
    if due.shape[0] > 0:
        due[cid] = t
    n = counts[N_HEAP]
    if t < wheel.params[P_BUCKET_END] and n < heap_t.shape[0]:
        sift_up(heap_ids, heap_t, n, cid, t)
        counts[N_HEAP] = n + 1
        return
    insert(wheel, cid, t)


@njit(cache=True, _nrt=False)
def heap_pop(heap_ids, heap_t, counts):
    n = counts[N_HEAP] - 1
    top_id, top_t = heap_ids[0], heap_t[0]
    last_id, last_t = heap_ids[n], heap_t[n]
    counts[N_HEAP] = n
    if n > 0:
        sift_down(heap_ids, heap_t, n, last_id, last_t)
    return top_id, top_t


@njit(cache=True, _nrt=False)
def end_journey(i, t, k, sched, counts):
    """Back to waiting: the next need at the renewal epoch, or now if it has passed."""
    pop = k.pop
    pop.stage[i] = WAIT_NEED
    t_next = to_real(k.clock, pop.tau_next[i])
    if t_next < t:
        t_next = t
    if t_next < k.ledger.window.horizon:
        schedule(sched, counts, i, t_next)


@njit(cache=True, _nrt=False)
def quote(i, c, t, k) -> tuple[float, bool, bool]:
    """(price, promotion running, channel open) consumer i sees in channel c at t."""
    ch = k.chan
    live = is_open(c, t, ch.sessions)
    factor, promo = price_cut(c, t, live, ch.sessions, ch.promos)
    base = k.weights.list_price * ch.price_index[c]
    # An offline channel with dealer-priced stores (docs/model.md, 17a), in a region where it
    # has a store: prices are computed for every channel, reached or not.
    r = k.pop.region[i]
    if ch.node_priced[c] and ch.stores.count[c, r] > 0:
        store = store_for(c, r, i, ch.stores)
        if ch.node_price[store] > 0.0:
            base = ch.node_price[store]
    price = base * factor
    member_factor, _, _, _ = hooks.channel_terms(i, c, k)
    if member_factor != 1.0:
        price *= member_factor
    return price, promo, live


@njit(cache=True, inline="always", _nrt=False)
def utility(i, c, s, weighed, wait, rating, aware, promo, bonus, intent, social, k):
    """Consumer i's utility of channel c at the price weighed (per unit) and the expected wait
    (days) (docs/model.md, "Decision"); price and time sensitivities are the segment's times the
    consumer's own factors ("Heterogeneity")."""
    seg, w = k.seg, k.weights
    v = (
        k.chan.asc[c]
        + w.habit * k.pop.habit[i, c]
        - seg.price_sensitivity[s]
        * ht.price_factor(i, k.taste)
        * np.log(weighed / w.reference_price)
        - seg.time_sensitivity[s] * ht.time_factor(i, k.taste) * wait
        + seg.rating_sensitivity[s] * (rating - 3.0)
        + w.awareness * aware
    )
    if promo:
        v += w.promotion
    if bonus != 0.0:
        v += bonus
    if social:
        v += intent
    return v
