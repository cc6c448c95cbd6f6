"""The consumer journey: need -> search -> decision -> purchase -> fulfilment -> use & review.

The engine hands `Journey.advance` the consumers whose next event falls in the current time
bucket, sorted by time. Each consumer's pending event is the stage they are in
(`omnisim.consumers.population`). A compiled kernel (numba) advances them one by one in time
order, so stock, store queues and ratings see events in their exact order, and collects each
consumer's next event for the calendar. Equations are in ``docs/model.md``; in short:

* **need** (t): count the journey, draw the next renewal epoch and the basket; an aware consumer
  (probability = awareness) searches for an exponential time, an unaware one leaves the brand's
  market for this need (outside option).
* **decide** (the search ends): consideration set, one Bernoulli per channel with probability
  ``reach * open * logistic(visibility + w_h * habit)``; a multinomial logit over the considered
  channels plus the outside option; an online choice orders at once, an offline one travels to
  a store.
* **arrive** (store): shelf, queue and service (`omnisim.channels.service`).
* **purchase**: stock taken first come, first served; a shortfall is a stock-out, after which
  the consumer switches (re-decides without that channel) or the sale is lost.
* **review** (after use): satisfaction, a review into the public Bayesian-average rating, habit
  learning, churn; then the next need.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.channels import fulfilment as fl
from omnisim.channels.catalog import ChannelTable, Geography, is_open, price_cut, store_for
from omnisim.channels.service import ADMITTED, FULL, STOCKOUT, StoreQueues, arrival_time
from omnisim.channels.service import service_time as _service_time
from omnisim.channels.service import visit as _visit
from omnisim.consumers import lifecycle as lcm
from omnisim.consumers.needs import NeedClock, draw_interval, to_op, to_real
from omnisim.consumers.population import (
    CHURNED,
    FULFILMENT,
    SEARCHING,
    TRAVELLING,
    WAIT_NEED,
    Population,
)
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr
from omnisim.engine.buckets import P_BUCKET_END, insert
from omnisim.engine.ledger import Ledger
from omnisim.engine.prefetch import prefetch
from omnisim.market import shocks as shk
from omnisim.marketing import media as md
from omnisim.marketing import membership as ms
from omnisim.marketing import social as so
from omnisim.scenario.schema import Scenario
from omnisim.supply.inventory import Inventory

# Indices of the behavioural weights vector.
(
    W_HABIT,
    W_AWARENESS,
    W_PROMO,
    W_MEMBER,
    W_CONSIDER_HABIT,
    SWITCH_P,
    MAX_SWITCHES,
    SAT_BASE,
    SAT_PRICE,
    SAT_LATE,
    SAT_STOCKOUT,
    SAT_QUEUE,
    SAT_NOISE,
    POST_P,
    PRIOR_RATING,
    PRIOR_WEIGHT,
    STARS_PER_UNIT,
    USE_DAYS,
    HABIT_LR,
    HABIT_DECAY,
    CHURN_THRESHOLD,
    CHURN_P,
    AWARE_AFTER,
    UNIT_COST,
    LIST_PRICE,
    REFERENCE_PRICE,
    SAT_INCONSISTENCY,
    HABIT_INCONSISTENCY,
) = range(28)

TRAIL_ROWS_PER_EVENT = 8
PREFETCH_AHEAD = 8  # events of the batch whose consumer state is requested ahead of use
HEAP_PER_EVENT = 4  # room for same-bucket follow-up events per event in a batch


def _weights(sc: Scenario) -> np.ndarray:
    j = sc.journey
    return np.array(
        [
            j.choice.habit,
            j.choice.awareness,
            j.choice.promotion,
            j.choice.member,
            j.consideration.habit,
            j.stockout.switch_probability,
            j.stockout.max_switches,
            j.satisfaction.base,
            j.satisfaction.price_gap_weight,
            j.satisfaction.lateness_weight,
            j.satisfaction.stockout_weight,
            j.satisfaction.queue_weight,
            j.satisfaction.noise_sd,
            j.reviews.post_probability,
            j.reviews.prior_rating,
            j.reviews.prior_weight,
            j.reviews.stars_per_unit,
            j.reviews.use_days,
            j.habits.learning_rate,
            j.habits.decay,
            j.churn.threshold,
            j.churn.probability,
            1.0 if j.aware_after_purchase else 0.0,
            sc.product.unit_cost,
            sc.product.list_price,
            sc.product.reference,
            j.satisfaction.inconsistency_weight,
            j.habits.inconsistency_loss,
        ]
    )


def _poisson_cdf_table(means: np.ndarray) -> np.ndarray:
    """Row s: CDF of Poisson(means[s]) at 0, 1, ... (for inverse-CDF basket draws)."""
    from scipy.special import pdtr

    kmax = int(max(10, np.max(means) * 6 + 20))
    k = np.arange(kmax)
    out = np.ones((len(means), kmax))
    for s, m in enumerate(means):
        if m > 0:
            out[s] = pdtr(k, m)
    out[:, -1] = 1.0
    return out


def kernels_cached() -> bool:
    """Whether the compiled kernel is already in numba's on-disk cache (else the first run
    compiles it, which takes about a minute)."""
    from pathlib import Path

    cache = Path(__file__).parent / "__pycache__"
    return any(cache.glob("journey.advance_batch-*.nbi"))


class Journey:
    """Holds the kernel's inputs and runs it on each batch of due events."""

    def __init__(
        self,
        sc: Scenario,
        pop: Population,
        keys: np.ndarray,
        clock: NeedClock,
        geo: Geography,
        chan: ChannelTable,
        inventory: Inventory,
        queues: StoreQueues,
        ledger: Ledger,
        trail: bool,
        media: md.MediaRuntime | None = None,
        social: tuple | None = None,
        shocks: shk.Shocks | None = None,
    ) -> None:
        self.sc, self.pop, self.keys, self.clock = sc, pop, keys, clock
        self.chan, self.inventory, self.ledger = chan, inventory, ledger
        self.horizon = sc.horizon_days
        segs = sc.segments
        self.seg = (
            np.array([s.search_hours / 24.0 for s in segs]),
            np.array([s.price_sensitivity for s in segs]),
            np.array([s.time_sensitivity for s in segs]),
            np.array([s.rating_sensitivity for s in segs]),
            np.array([s.outside_utility for s in segs]),
            _poisson_cdf_table(np.array([s.need.basket_mean_units - 1.0 for s in segs])),
            *clock.params()[1:],
        )
        self.rating_sum = np.zeros(chan.n)
        self.rating_n = np.zeros(chan.n)
        node_region = np.array([geo.names.index(n.region) for n in sc.nodes], dtype=np.int64)
        self.geo = (geo.days, node_region)
        self.weights = _weights(sc)
        self.trail_on = trail
        self.events = 0
        # The membership programme (docs/model.md, "Members"): its tuple is ctx[14].
        self.membership = ms.MembershipState(sc, pop.member, pop.segment, keys[rs.MEMBERSHIP])
        self._scratch = (np.empty(chan.n), np.empty(chan.n), np.empty(chan.n, dtype=np.bool_))
        self.lifecycle = lcm.CustomerLifecycle(sc, pop.n, ledger)  # ctx[15]
        self.fulfilment = fl.Fulfilment(sc, geo, chan)  # ctx[17]
        self._ctx_static = (
            pop.arrays(),
            self.seg,
            chan.params(),
            self.geo,
            queues.params(),
            inventory.stock,
            clock.table(),
            (self.rating_sum, self.rating_n),
            self.weights,
            keys,
            ledger.state(),
            inventory.asked,
            media.state() if media is not None else md.off(),  # ctx[12]: the media plan
            so.off() if social is None else social,  # ctx[13]: word of mouth
            self.membership.state(),  # ctx[14]: the membership programme
            self.lifecycle.state(),  # ctx[15]: customer lifecycle (lifecycle.py)
            shk.off() if shocks is None else shocks.state(),  # ctx[16]: shocks
            self.fulfilment.state(),  # ctx[17]: omnichannel fulfilment (fulfilment.py)
        )
        # Each consumer's live calendar time when clicks can make entries stale (else empty).
        self._due = md.due_times(self._ctx_static[12])

    def rating(self) -> np.ndarray:
        """Public rating per channel: Bayesian average (m * prior + sum) / (m + n) (stars)."""
        w = self.weights
        m = w[PRIOR_WEIGHT]
        return (m * w[PRIOR_RATING] + self.rating_sum) / np.maximum(m + self.rating_n, 1e-12)

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Every consumer's first need (stationary start): (ids, times) before the horizon."""
        pop = self.pop
        t = first_needs(pop.segment, pop.tau_next, self.seg, self.clock.table(), self.keys)
        ids = np.flatnonzero(t < self.horizon)
        return ids, t[ids]

    def advance(self, ids: np.ndarray, t: np.ndarray, t_end: float, wheel: tuple):
        """Advance a time-sorted batch of consumers, due before ``t_end``, through every stage
        that falls before ``t_end``, in exact time order; later events go into ``wheel`` (the
        calendar's arrays). Returns the trail rows as a tuple of arrays with the trail on,
        else None."""
        n = len(ids)
        room = HEAP_PER_EVENT * n + 64
        wheel[-1][P_BUCKET_END] = t_end
        sched = (np.empty(room, dtype=np.int64), np.empty(room), wheel, self._due)
        cap = TRAIL_ROWS_PER_EVENT * (n + room) if self.trail_on else 0
        trail = (
            np.empty(cap, dtype=np.int8),
            np.empty(cap),
            np.empty(cap, dtype=np.int64),
            np.empty(cap, dtype=np.int64),
            np.empty(cap, dtype=np.int64),
            np.empty(cap, dtype=np.int64),
            np.empty(cap),
        )
        counts = np.zeros(4, dtype=np.int64)
        advance_batch(ids, t, self._ctx_static, sched, trail, counts, self.trail_on, *self._scratch)
        self.events += int(counts[3])
        m = int(counts[1])
        return tuple(a[:m] for a in trail) if self.trail_on else None


@njit(cache=True)
def first_needs(segment, tau_next, seg, table, keys) -> np.ndarray:
    """Draw each consumer's first need from the equilibrium law; returns real times."""
    dist, mean, shape, ln_mu, ln_sigma = seg[6], seg[7], seg[8], seg[9], seg[10]
    key = keys[rs.NEED]
    out = np.empty(len(segment))
    for i in range(len(segment)):
        tau = draw_interval(segment[i], dist, mean, shape, ln_mu, ln_sigma, key, i, 0, True)
        tau_next[i] = tau
        out[i] = to_real(table, tau)
    return out


# ------------------------------------------------------------------------------------------
# The kernel. `ctx` bundles every array it reads or updates (see Journey.__init__); ctx[11] is
# `Inventory.asked`, the units consumers asked for at each node; ctx[12] is the media plan
# (`omnisim.marketing.media`). `sched` is (heap ids, heap times, calendar wheel, due): `due`
# holds each consumer's live calendar time when media clicks can leave stale entries. ctx[13]
# is word of mouth's tuple (`omnisim.marketing.social`, its `P_ON` flag 0 without `social`);
# ctx[14] is the membership programme's tuple (`omnisim.marketing.membership`); ctx[15] is the
# customer lifecycle's tuple (`omnisim.consumers.lifecycle`); ctx[16] is the shocks' tuple
# (`omnisim.market.shocks`, no shock: K = 0); ctx[17] is omnichannel fulfilment's tuple
# (`omnisim.channels.fulfilment`, its `P_ON` 0 without the section's rules).


@njit(cache=True, inline="always", _nrt=False)
def _in(lwin, t):
    return lwin[0] <= t < lwin[1]


@njit(cache=True, inline="always", _nrt=False)
def _awareness(i, t, ctx):
    """Consumer i's effective awareness at t: the stored awareness pop[2][i] lifted by media
    adstock (docs/model.md, "Media"); exactly pop[2][i] without media."""
    return md.effective_awareness(i, t, ctx[0][2][i], ctx[12])


@njit(cache=True, inline="always", _nrt=False)
def _period(lwin, n_periods, t):
    p = int((t - lwin[0]) / lwin[2])
    return p if p < n_periods else n_periods - 1


@njit(cache=True, inline="always", _nrt=False)
def _row(trail, counts, do_trail, ev, t, cid, ch, nd, units, value):
    if do_trail:
        k = counts[1]
        trail[0][k] = ev
        trail[1][k] = t
        trail[2][k] = cid
        trail[3][k] = ch
        trail[4][k] = nd
        trail[5][k] = units
        trail[6][k] = value
        counts[1] = k + 1


@njit(cache=True, _nrt=False)
def _schedule(sched, counts, cid, t):
    """Queue consumer ``cid``'s next event at ``t``: inside the current bucket it joins the
    kernel's own heap (so it runs in exact time order among the bucket's events), otherwise
    it goes into the calendar's wheel."""
    heap_ids, heap_t, wheel, due = sched
    if due.shape[0] > 0:
        due[cid] = t
    n = counts[2]
    if t < wheel[-1][P_BUCKET_END] and n < heap_t.shape[0]:
        k = n
        while k > 0:
            parent = (k - 1) >> 1
            if heap_t[parent] <= t:
                break
            heap_t[k] = heap_t[parent]
            heap_ids[k] = heap_ids[parent]
            k = parent
        heap_t[k] = t
        heap_ids[k] = cid
        counts[2] = n + 1
        return
    insert(wheel, cid, t)


@njit(cache=True, _nrt=False)
def _heap_pop(heap_ids, heap_t, counts):
    n = counts[2] - 1
    top_id, top_t = heap_ids[0], heap_t[0]
    last_id, last_t = heap_ids[n], heap_t[n]
    counts[2] = n
    k = 0
    while True:
        c = 2 * k + 1
        if c >= n:
            break
        if c + 1 < n and heap_t[c + 1] < heap_t[c]:
            c += 1
        if heap_t[c] >= last_t:
            break
        heap_t[k] = heap_t[c]
        heap_ids[k] = heap_ids[c]
        k = c
    if n > 0:
        heap_t[k] = last_t
        heap_ids[k] = last_id
    return top_id, top_t


@njit(cache=True, _nrt=False)
def _end_journey(i, t, ctx, sched, counts):
    """Back to waiting: the next need at the renewal epoch, or now if it has passed."""
    pop = ctx[0]
    stage, tau_next = pop[5], pop[7]
    horizon = ctx[10][5][1]
    stage[i] = WAIT_NEED
    t_next = to_real(ctx[6], tau_next[i])
    if t_next < t:
        t_next = t
    if t_next < horizon:
        _schedule(sched, counts, i, t_next)


@njit(cache=True, inline="always", _nrt=False)
def _member_benefit(i, c, ctx):
    """(price factor, utility bonus, points value as a fraction of the price, delivery fee) of
    consumer i in channel c (docs/model.md, "Members")."""
    return ms.benefit(i, c, ctx[0][3], ctx[2][7], ctx[2][9], ctx[8][W_MEMBER], ctx[14])


@njit(cache=True, _nrt=False)
def _price(i, c, t, ctx) -> tuple[float, bool, bool]:
    """(price, promotion running, channel open) consumer i sees in channel c at t."""
    pop, chp, w = ctx[0], ctx[2], ctx[8]
    live = is_open(c, t, chp[20], chp[21], chp[22])
    factor, promo = price_cut(c, t, live, chp[23], chp[24], chp[25], chp[26], chp[27])
    base = w[LIST_PRICE] * chp[0][c]
    # An offline channel with dealer-priced stores (docs/model.md, 17a), in a region where it
    # has a store: prices are computed for every channel, reached or not.
    if chp[29][c] and chp[13][c, pop[1][i]] > 0:
        store = store_for(c, pop[1][i], i, chp[12], chp[13], chp[14])
        if chp[28][store] > 0.0:
            base = chp[28][store]
    price = base * factor
    member_factor, _, _, _ = _member_benefit(i, c, ctx)
    if member_factor != 1.0:
        price *= member_factor
    return price, promo, live


@njit(cache=True, inline="always", _nrt=False)
def _utility(i, c, s, weighed, wait, rating, aware, promo, bonus, intent, social, ctx):
    """Consumer i's utility of channel c at the price weighed (per unit) and the expected wait
    (days) (docs/model.md, "Decision")."""
    seg, chp, w = ctx[1], ctx[2], ctx[8]
    v = (
        chp[1][c]
        + w[W_HABIT] * ctx[0][4][i, c]
        - seg[1][s] * np.log(weighed / w[REFERENCE_PRICE])
        - seg[2][s] * wait
        + seg[3][s] * (rating - 3.0)
        + w[W_AWARENESS] * aware
    )
    if promo:
        v += w[W_PROMO]
    if bonus != 0.0:
        v += bonus
    if social:
        v += intent
    return v


@njit(cache=True, inline="always", _nrt=False)
def _prefetch_consumer(pop, i):
    """Start loading consumer ``i``'s state, every array of `Population.arrays` (a hint;
    changes no result)."""
    prefetch(pop[0], i)
    prefetch(pop[1], i)
    prefetch(pop[2], i)
    prefetch(pop[3], i)
    prefetch(pop[4], i)
    prefetch(pop[5], i)
    prefetch(pop[6], i)
    prefetch(pop[7], i)
    prefetch(pop[8], i)
    prefetch(pop[9], i)
    prefetch(pop[10], i)
    prefetch(pop[11], i)
    prefetch(pop[12], i)
    prefetch(pop[13], i)
    prefetch(pop[14], i)
    prefetch(pop[15], i)
    prefetch(pop[16], i)
    prefetch(pop[17], i)
    prefetch(pop[18], i)
    prefetch(pop[19], i)
    prefetch(pop[20], i)
    prefetch(pop[21], i)
    prefetch(pop[22], i)


@njit(cache=True, _nrt=False)
def advance_batch(ev_ids, ev_t, ctx, sched, trail, counts, do_trail, price, util, cons):
    """Advance each event in order by one stage (see the module docstring).

    Compiled without numba's reference counting (``_nrt=False``): the kernel allocates nothing
    (``price``, ``util``, ``cons`` are scratch arrays of one entry per channel), and counting
    references of the ~90 state arrays at every call cost more than the work itself."""
    stage = ctx[0][5]
    heap_ids, heap_t = sched[0], sched[1]
    n = len(ev_ids)
    e = 0
    while True:
        # Next event in time order: the sorted batch merged with the in-bucket heap.
        if e < n and (counts[2] == 0 or ev_t[e] <= heap_t[0]):
            i = ev_ids[e]
            t = ev_t[e]
            if e + PREFETCH_AHEAD < n:
                _prefetch_consumer(ctx[0], ev_ids[e + PREFETCH_AHEAD])
                lcm.prefetch_consumer(ctx[15], ev_ids[e + PREFETCH_AHEAD])
            e += 1
        elif counts[2] > 0:
            i, t = _heap_pop(heap_ids, heap_t, counts)
        else:
            break
        if md.skip_stale(i, t, sched[3], ctx[12]):
            continue
        counts[3] += 1
        s = stage[i]
        if s == WAIT_NEED:
            _need(i, t, ctx, sched, trail, counts, do_trail)
        elif s == SEARCHING:
            _decide(i, t, ctx, sched, trail, counts, do_trail, price, util, cons)
        elif s == TRAVELLING:
            _arrive(i, t, ctx, sched, trail, counts, do_trail)
        elif s == FULFILMENT:
            _review(i, t, ctx, sched, trail, counts, do_trail)
        elif s == CHURNED:  # scheduled only with lifecycle.winback_days
            _win_back(i, t, ctx, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def _need(i, t, ctx, sched, trail, counts, do_trail):
    pop, seg, keys, led = ctx[0], ctx[1], ctx[9], ctx[10]
    segment, awareness, stage, journey, tau_next = pop[0], pop[2], pop[5], pop[6], pop[7]
    acc, series, lwin = led[0], led[3], led[5]
    if _in(lwin, t):
        acc[lg.NEEDS] += 1.0
        series[_period(lwin, series.shape[0], t), lg.TS_NEEDS] += 1.0
    journey[i] += 1
    j = journey[i]
    s = segment[i]
    x = draw_interval(s, seg[6], seg[7], seg[8], seg[9], seg[10], keys[rs.NEED], i, j, False)
    tau_next[i] = to_op(ctx[6][0], t) + x
    _row(trail, counts, do_trail, tr.NEED, t, i, -1, -1, 0, np.nan)
    u_aware, u_search = rs.uniform2(keys[rs.SEARCH], i, j, 0)
    # Media only lift awareness (a_eff >= a_i): the media terms are needed only above a_i. A
    # consumer who just clicked an ad is aware.
    if (
        u_aware >= awareness[i]
        and u_aware >= _awareness(i, t, ctx)
        and not md.referred(i, t, ctx[12])
    ):
        if _in(lwin, t):
            acc[lg.UNAWARE] += 1.0
        _row(trail, counts, do_trail, tr.UNAWARE, t, i, -1, -1, 0, np.nan)
        _end_journey(i, t, ctx, sched, counts)
        return
    u_basket = rs.uniform(keys[rs.SEARCH], i, j, 1)
    cdf = seg[5][s]
    k = 0
    while u_basket > cdf[k]:
        k += 1
    pop[14][i] = 1 + k  # units
    pop[10][i] = 0  # failed channels
    pop[11][i] = 0  # switches
    pop[12][i] = 0  # stock-outs met
    pop[16][i] = 0.0  # queue days
    pop[17][i] = 0.0  # late days
    stage[i] = SEARCHING
    _schedule(sched, counts, i, t - seg[0][s] * np.log(u_search))


@njit(cache=True, inline="always", _nrt=False)
def _decide(i, t, ctx, sched, trail, counts, do_trail, price, util, cons):
    pop, seg, chp, w, keys, led = ctx[0], ctx[1], ctx[2], ctx[8], ctx[9], ctx[10]
    segment, region, habit = pop[0], pop[1], pop[4]
    journey, failed, switches, min_price = pop[6], pop[10], pop[11], pop[13]
    acc, ch_acc, lwin = led[0], led[1], led[5]
    rating_sum, rating_n = ctx[7]
    c_n = price.shape[0]
    j = journey[i]
    s = segment[i]
    r = region[i]
    sw = switches[i]
    soc = ctx[13]  # word of mouth: purchase intent in every channel's utility
    social = so.enabled(soc)
    intent = so.intent_utility(i, t, soc) if social else 0.0
    first = sw == 0
    inw = _in(lwin, t)
    # Media: search ads at the first decision, and channels a click puts into consideration.
    forced = md.at_decision(i, t, j, s, first, inw, ctx[12])
    aware = _awareness(i, t, ctx)
    # Omnichannel: buy online, pick up in store, for consumers with a pick-up store.
    om = ctx[17]
    pc = int(om[fl.F_PARAMS][fl.P_PICKUP_CHANNEL])
    can_pick = om[fl.F_PARAMS][fl.P_BOPIS] > 0.0 and chp[13][pc, r] > 0
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
        p, promo, live = _price(i, c, t, ctx)
        price[c] = p
        reach = chp[11][c, r]
        ok = False
        if live and reach > 0.0 and not (int(failed[i]) >> c) & 1:
            x = chp[2][c] + w[W_CONSIDER_HABIT] * habit[i, c] + shk.log_traffic(c, t, ctx[16])
            q = reach / (1.0 + np.exp(-x))
            ok = u < q or (forced >> c) & 1 == 1
        cons[c] = ok
        if ok:
            n_cons += 1
            # Membership and delivery fee (docs/model.md, "Members"): the price per unit paid
            # includes the fee; the price weighed is also net of the points' value.
            _, bonus, cut, fee = _member_benefit(i, c, ctx)
            paid = p + fee / pop[14][i] if fee > 0.0 else p
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
            wait = chp[8][c] if chp[10][c] else om[fl.F_LEAD][c, r] + chp[19][c]
            rating = (w[PRIOR_WEIGHT] * w[PRIOR_RATING] + rating_sum[c]) / (
                w[PRIOR_WEIGHT] + rating_n[c]
            )
            v = _utility(i, c, s, weighed, wait, rating, aware, promo, bonus, intent, social, ctx)
            if can_pick:
                # BOPIS nest (docs/model.md, "Omnichannel fulfilment"): the pick-up branch pays
                # no delivery fee and waits for the goods to be ready plus the trip.
                q_pick = 0.0
                if om[fl.F_BOPIS][c]:
                    weighed_p = p - p * cut if cut > 0.0 else p
                    wait_p = om[fl.F_PARAMS][fl.P_READY_DAYS] + chp[8][pc]
                    v_p = _utility(
                        i, c, s, weighed_p, wait_p, rating, aware, promo, bonus, intent, social, ctx
                    )
                    v, q_pick = fl.nest(v, v_p - om[fl.F_PARAMS][fl.P_PICKUP_EFFORT])
                om[fl.F_PICKUP_P][c] = q_pick
            util[c] = v
    if first:
        min_price[i] = seen
        pop[21][i] = home
        pop[22][i] = np.log(hi / lo) if n_cons > 1 else 0.0
        if inw:
            if n_cons > 0:
                acc[lg.SEARCHES] += 1.0
            else:
                acc[lg.NO_CONSIDERATION] += 1.0
            if n_cons > 1:  # channel conflict: the price spread the search met
                acc[lg.PRICE_SPREAD_SUM] += hi / lo - 1.0
                acc[lg.PRICE_SPREAD_N] += 1.0
        if n_cons > 0:
            _row(trail, counts, do_trail, tr.SEARCH, t, i, home, -1, 0, float(n_cons))
        else:
            _row(trail, counts, do_trail, tr.NO_CONSIDERATION, t, i, -1, -1, 0, np.nan)
    elif seen < min_price[i]:
        min_price[i] = seen
    if n_cons == 0:
        _end_journey(i, t, ctx, sched, counts)
        return
    # Multinomial logit with the outside option.
    v0 = seg[4][s]
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
    target = rs.uniform(keys[rs.CHOICE], i, j, sw) * total - e0
    if target <= 0.0:
        if inw:
            acc[lg.OUTSIDE_CHOICES] += 1.0
        _row(trail, counts, do_trail, tr.OUTSIDE_CHOICE, t, i, -1, -1, 0, np.nan)
        _end_journey(i, t, ctx, sched, counts)
        return
    pick = -1
    for c in range(c_n):
        if cons[c]:
            pick = c
            target -= util[c]
            if target <= 0.0:
                break
    pop[8][i] = pick
    if chp[10][pick]:  # offline: travel to the consumer's store of the channel
        store = store_for(pick, r, i, chp[12], chp[13], chp[14])
        pop[9][i] = store
        u_travel, u_open = rs.uniform2(keys[rs.TRAVEL], i, j, sw)
        qp = ctx[4]
        arrive = arrival_time(store, t - chp[8][pick] * np.log(u_travel), u_open, qp[5], qp[6])
        pop[5][i] = TRAVELLING
        _schedule(sched, counts, i, arrive)
    else:
        # BOPIS: the pick-up branch of the chosen channel's nest.
        pickup = can_pick and (
            rs.uniform(keys[rs.OMNICHANNEL], i, j, fl.SLOT_PICKUP + sw) < om[fl.F_PICKUP_P][pick]
        )
        _order_online(i, t, pick, price[pick], pickup, ctx, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def _order_online(i, t, c, p, pickup, ctx, sched, trail, counts, do_trail):
    pop, chp, geo, stock, keys, led = ctx[0], ctx[2], ctx[3], ctx[5], ctx[9], ctx[10]
    om = ctx[17]
    r = pop[1][i]
    want = pop[14][i]
    # Fulfilment routing (docs/model.md, "Omnichannel fulfilment"): a pick-up takes the
    # consumer's pick-up store's stock if it holds the whole basket, else the order is delivered;
    # a delivery goes to the first candidate node with the stock (without omnichannel routing
    # the candidates are the channel's nearest node alone).
    mode = fl.MODE_OWN
    handling = 0.0
    node = -1
    k = k_first = 0
    if om[fl.F_PARAMS][fl.P_ON] == 0.0:  # no routing: the channel's nearest node
        node = chp[15][c, r]
        handling = chp[18][c]
    elif pickup:
        pc = int(om[fl.F_PARAMS][fl.P_PICKUP_CHANNEL])
        node = store_for(pc, r, i, chp[12], chp[13], chp[14])
        if stock[node] >= want:
            mode = fl.MODE_OWN if om[fl.F_OWN][c, node] else fl.MODE_PICKUP
        else:
            pickup = False
            node = -1
    if node < 0:
        k, k_first = fl.route(i, c, r, want, stock, om, chp[12], chp[13], chp[14])
        node, handling, mode = fl.candidate(i, c, r, k, om, chp[12], chp[13], chp[14])
    ctx[11][node] += want  # units asked at the node (sold + lost): the node's demand
    have = stock[node]
    got = want if want < have else have
    if got <= 0:
        _stockout(i, t, c, node, want, ctx, sched, trail, counts, do_trail)
        return
    stock[node] -= got
    if got < want:
        _lost(i, t, c, node, want - got, ctx, trail, counts, do_trail)
    pop[9][i] = node
    j, sw = pop[6][i], pop[11][i]
    u_delay, u_use = rs.uniform2(keys[rs.DELIVERY], i, j, sw)
    # A pick-up: ready, then the trip to the store; a delivery: handling at the node, transport
    # and the channel's random delay, longer for orders placed in a shock.
    lead = (
        om[fl.F_PARAMS][fl.P_READY_DAYS] + chp[8][int(om[fl.F_PARAMS][fl.P_PICKUP_CHANNEL])]
        if pickup
        else (handling + geo[0][geo[1][node], r] - chp[19][c] * np.log(u_delay))
        * shk.lead_factor(t, ctx[16])
    )
    late = 0.0 if pickup else lead - om[fl.F_PROMISE][c, r]
    pop[17][i] = late if late > 0.0 else 0.0
    pop[16][i] = 0.0
    acc, lwin = led[0], led[5]
    if _in(lwin, t):
        acc[lg.ONLINE_ORDERS] += 1.0
        if pickup:
            acc[lg.PICKUPS] += 1.0
        elif k != k_first:
            acc[lg.REROUTED_ORDERS] += 1.0
        acc[lg.DELIVERY_DAYS_SUM] += lead
        if late > 0.0:
            acc[lg.LATE_ORDERS] += 1.0
        _promotion_spend(c, t, got, p, ctx)
    _in_transit(t, lead, got, acc, lwin)
    _purchase(i, t, c, node, got, p, t + lead, u_use, ctx, sched, trail, counts, do_trail, mode, -1)


@njit(cache=True, inline="always", _nrt=False)
def _in_transit(t, lead, units, acc, lwin):
    """Units in transit from ``t`` for ``lead`` days, integrated over the window (Little's
    law: L = lambda W)."""
    a = t if t > lwin[0] else lwin[0]
    b = t + lead if t + lead < lwin[1] else lwin[1]
    if b > a:
        acc[lg.TRANSIT_UNIT_DAYS] += (b - a) * units


@njit(cache=True, inline="always", _nrt=False)
def _arrive(i, t, ctx, sched, trail, counts, do_trail):
    pop, qp, stock, keys, led = ctx[0], ctx[4], ctx[5], ctx[9], ctx[10]
    j, sw = pop[6][i], pop[11][i]
    store = pop[9][i]
    c = pop[8][i]
    want = pop[14][i]
    u_s, u_p = rs.uniform2(keys[rs.SERVICE], i, j, sw)
    z = rs.normal(keys[rs.SERVICE], i, j, 16 + sw)
    service = _service_time(store, u_s, z, qp[2], qp[1], qp[3], qp[4])
    patience = -np.log(u_p) * qp[8][store]
    reason, got, start, end = _visit(
        store, t, want, stock, service, patience, qp[0], qp[7], qp[9], qp[10], qp[11], qp[12]
    )
    # A balking visitor asks for nothing. (Two comparisons: kept simple for numba.)
    if reason == STOCKOUT or reason == ADMITTED:  # noqa: SIM109
        ctx[11][store] += want
    acc, lwin = led[0], led[5]
    inw = _in(lwin, t)
    if inw:
        acc[lg.STORE_ARRIVALS] += 1.0
    _row(trail, counts, do_trail, tr.STORE_ARRIVAL, t, i, c, store, want, np.nan)
    if reason == STOCKOUT:
        # Omnichannel: the endless aisle may deliver the basket from another node.
        if ctx[17][fl.F_PARAMS][fl.P_SHARED] > 0.0 and _endless_aisle(
            i, t, c, store, want, ctx, sched, trail, counts, do_trail
        ):
            return
        _stockout(i, t, c, store, want, ctx, sched, trail, counts, do_trail)
        return
    if reason != ADMITTED:
        if inw:
            acc[lg.BALKS] += 1.0
            if reason == FULL:
                acc[lg.BLOCKED] += 1.0
        _row(trail, counts, do_trail, tr.BALK, t, i, c, store, 0, np.nan)
        _switch_or_leave(i, t, ctx, sched, trail, counts, do_trail)
        return
    if inw:
        acc[lg.STORE_ADMITTED] += 1.0
        if start > t:
            acc[lg.STORE_WAITED] += 1.0
        acc[lg.STORE_WAIT_DAYS_SUM] += start - t
    if got < want:
        _lost(i, t, c, store, want - got, ctx, trail, counts, do_trail)
    pop[16][i] = start - t
    pop[17][i] = 0.0
    p, _, _ = _price(i, c, t, ctx)
    if _in(lwin, end):
        _promotion_spend(c, t, got, p, ctx)  # priced at arrival, bought at the end of service
    _, u_use = rs.uniform2(keys[rs.DELIVERY], i, j, sw)
    _purchase(i, end, c, store, got, p, end, u_use, ctx, sched, trail, counts, do_trail, 0, -1)


@njit(cache=True, _nrt=False)
def _endless_aisle(i, t, c, store, want, ctx, sched, trail, counts, do_trail) -> bool:
    """Omnichannel, shared inventory: a visitor who met a stock-out at ``store`` accepts home
    delivery from the nearest stocked node of the pool with probability
    ``endless_aisle_acceptance`` (docs/model.md, "Omnichannel fulfilment"). Returns whether
    they bought so; else nothing has changed."""
    pop, chp, geo, stock, keys, led = ctx[0], ctx[2], ctx[3], ctx[5], ctx[9], ctx[10]
    om = ctx[17]
    j, sw = pop[6][i], pop[11][i]
    r = pop[1][i]
    u_accept, u_delay = rs.uniform2(keys[rs.OMNICHANNEL], i, j, fl.SLOT_AISLE + sw)
    if u_accept >= om[fl.F_PARAMS][fl.P_AISLE_ACCEPT]:
        return False
    node = fl.pool_pick(r, store, want, stock, om)
    if node < 0:
        return False
    # The basket is asked at (sold or lost at) the fulfilling node, not at the store.
    ctx[11][store] -= want
    ctx[11][node] += want
    have = stock[node]
    got = want if want < have else have
    stock[node] -= got
    if got < want:
        _lost(i, t, c, node, want - got, ctx, trail, counts, do_trail)
    met = pop[12]
    if met[i] < 255:
        met[i] += 1  # the empty shelf was met all the same
    handling = om[fl.F_PARAMS][fl.P_STORE_HANDLING] if om[fl.F_IS_STORE][node] else chp[18][c]
    lead = handling + geo[0][geo[1][node], r] - chp[19][c] * np.log(u_delay)
    lead *= shk.lead_factor(t, ctx[16])  # shocks: longer leads of shipments started in a shock
    pop[9][i] = node
    pop[16][i] = 0.0
    pop[17][i] = 0.0
    p, _, _ = _price(i, c, t, ctx)
    acc, lwin = led[0], led[5]
    if _in(lwin, t):
        acc[lg.ENDLESS_AISLE_ORDERS] += 1.0
        _promotion_spend(c, t, got, p, ctx)
    _in_transit(t, lead, got, acc, lwin)
    u_use = rs.uniform(keys[rs.OMNICHANNEL], i, j, fl.SLOT_AISLE_USE + sw)
    t_got, mode = t + lead, fl.MODE_AISLE
    _purchase(i, t, c, node, got, p, t_got, u_use, ctx, sched, trail, counts, do_trail, mode, store)
    return True


# Inlined: with the customer-lifecycle hook, LLVM no longer inlines a call of it, and passing
# `ctx` to the call costs more than the purchase itself (150,000 consumers of
# benchmarks/million.yaml: 1.43 s -> 1.67 s a run, 1.54 s inlined).
@njit(cache=True, inline="always", _nrt=False)
def _purchase(
    i, t, c, nd, q, p, t_receive, u_use, ctx, sched, trail, counts, do_trail, mode, taker
):
    """Goods change hands at ``t``; the consumer has them at ``t_receive``. ``mode``: how the
    order was fulfilled (`omnisim.channels.fulfilment`, MODE_*; 0 at the channel's own node),
    ``taker``: the store that took an endless-aisle order (else -1)."""
    pop, chp, w, led = ctx[0], ctx[2], ctx[8], ctx[10]
    acc, ch_acc, nd_acc, series, ts_ch, lwin = led
    value = p * q
    platform = value * chp[3][c]
    dealer = value * chp[4][c]
    brand = value - platform - dealer
    if ctx[17][fl.F_PARAMS][fl.P_ON] > 0.0:  # omnichannel profit allocation
        split = (platform, dealer, brand)
        split = fl.settle(i, pop[1][i], c, nd, taker, mode, value, split, ctx[17], chp, led, t)
        platform, dealer, brand = split
    if _in(lwin, t):
        acc[lg.PURCHASES] += 1.0
        acc[lg.UNITS] += q
        acc[lg.REVENUE] += value
        acc[lg.BRAND_TAKE] += brand
        acc[lg.DEALER_TAKE] += dealer
        acc[lg.PLATFORM_TAKE] += platform
        acc[lg.COGS] += q * w[UNIT_COST]
        acc[lg.ORDER_COSTS] += chp[5][c]
        ch_acc[c, lg.CH_ORDERS] += 1.0
        ch_acc[c, lg.CH_UNITS] += q
        ch_acc[c, lg.CH_REVENUE] += value
        ch_acc[c, lg.CH_BRAND] += brand
        nd_acc[nd, lg.ND_UNITS] += q
        if mode == fl.MODE_OWN:  # a cross-fulfilled order's money is in the node credits
            nd_acc[nd, lg.ND_REVENUE] += value
            nd_acc[nd, lg.ND_PLATFORM] += platform
            nd_acc[nd, lg.ND_BRAND] += brand
        per = _period(lwin, series.shape[0], t)
        series[per, lg.TS_PURCHASES] += 1.0
        series[per, lg.TS_REVENUE] += value
        ts_ch[per, c] += value
        pop[18][i] += 1
        _conflict(pop[21][i], c, value, chp[10], acc)
    elif t < lwin[0]:
        pop[20][i] = True  # bought during the warm-up (lifecycle KPIs)
    # Membership: points, tier, joining at checkout; the delivery fee paid (docs/model.md,
    # "Members").
    fee = ms.purchase(
        i, t, c, value, pop[3], chp[9], pop[6][i], ctx[9][rs.MEMBERSHIP], ctx[14], acc, lwin
    )
    if mode == fl.MODE_PICKUP and fee > 0.0:  # omnichannel: a pick-up pays no delivery fee
        if _in(lwin, t):
            acc[lg.DELIVERY_FEES] -= fee
        fee = 0.0
    margin = lcm.brand_margin(nd, q, brand, mode != fl.MODE_OWN, w[UNIT_COST], chp[5][c], ctx[15])
    lcm.on_purchase(i, t, c, margin, _in(lwin, t), ctx[15], acc, ch_acc)
    pop[19][i] = True
    pop[15][i] = p if fee == 0.0 else p + fee / q
    if w[AWARE_AFTER] > 0.0:
        pop[2][i] = 1.0
    so.on_purchase(i, t, pop[2][i], ctx[13])  # word of mouth: a new adopter starts talking
    _row(trail, counts, do_trail, tr.PURCHASE, t, i, c, nd, q, p)
    if mode != fl.MODE_OWN:
        _row(trail, counts, do_trail, tr.CROSS_FULFILMENT, t, i, c, nd, q, float(mode))
    _row(trail, counts, do_trail, tr.RECEIVE, t_receive, i, c, nd, q, np.nan)
    pop[5][i] = FULFILMENT
    t_review = t_receive - w[USE_DAYS] * np.log(u_use)
    if t_review < lwin[1]:
        _schedule(sched, counts, i, t_review)


@njit(cache=True, inline="always", _nrt=False)
def _conflict(home, c, value, offline, acc):
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
def _lost(i, t, c, nd, units, ctx, trail, counts, do_trail):
    led = ctx[10]
    acc, ch_acc, nd_acc, lwin = led[0], led[1], led[2], led[5]
    if _in(lwin, t):
        acc[lg.STOCKOUTS] += 1.0
        acc[lg.LOST_UNITS] += units
        ch_acc[c, lg.CH_LOST] += units
        nd_acc[nd, lg.ND_LOST] += units
    _row(trail, counts, do_trail, tr.STOCKOUT, t, i, c, nd, units, np.nan)


@njit(cache=True, _nrt=False)
def _stockout(i, t, c, nd, units, ctx, sched, trail, counts, do_trail):
    _lost(i, t, c, nd, units, ctx, trail, counts, do_trail)
    met = ctx[0][12]
    if met[i] < 255:
        met[i] += 1
    _switch_or_leave(i, t, ctx, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def _switch_or_leave(i, t, ctx, sched, trail, counts, do_trail):
    """After a stock-out or a balk: re-decide without that channel, or give up."""
    pop, w, keys, led = ctx[0], ctx[8], ctx[9], ctx[10]
    j, sw, c = pop[6][i], pop[11][i], pop[8][i]
    u = rs.uniform(keys[rs.SWITCH], i, j, sw)
    if u < w[SWITCH_P] and sw < w[MAX_SWITCHES]:
        pop[10][i] = int(pop[10][i]) | (1 << int(c))
        pop[11][i] = sw + 1
        pop[5][i] = SEARCHING
        if _in(led[5], t):
            led[0][lg.SWITCHES] += 1.0
        _row(trail, counts, do_trail, tr.SWITCH, t, i, c, -1, 0, np.nan)
        _schedule(sched, counts, i, t)
    else:
        _row(trail, counts, do_trail, tr.LOST_SALE, t, i, c, -1, 0, np.nan)
        _end_journey(i, t, ctx, sched, counts)


@njit(cache=True, _nrt=False)
def _review(i, t, ctx, sched, trail, counts, do_trail):
    pop, chp, w, keys, led = ctx[0], ctx[2], ctx[8], ctx[9], ctx[10]
    rating_sum, rating_n = ctx[7]
    habit = pop[4]
    j = pop[6][i]
    c = pop[8][i]
    gap = np.log(max(pop[15][i], 1e-9) / max(pop[13][i], 1e-9))
    spread = pop[22][i]  # channel conflict: log(highest / lowest price the search met)
    sat = (
        w[SAT_BASE]
        + chp[6][c]
        - w[SAT_PRICE] * max(gap, 0.0)
        - w[SAT_INCONSISTENCY] * spread
        - w[SAT_LATE] * pop[17][i]
        - w[SAT_STOCKOUT] * pop[12][i]
        - w[SAT_QUEUE] * pop[16][i] * 24.0
        + w[SAT_NOISE] * rs.normal(keys[rs.REVIEW], i, j, 0)
    )
    u_post, u_churn = rs.uniform2(keys[rs.REVIEW], i, j, 1)
    so.on_use(i, sat, ctx[13])  # word of mouth: the valence of this consumer's talks
    acc, lwin = led[0], led[5]
    inw = _in(lwin, t)
    if inw:
        acc[lg.SATISFACTION_SUM] += sat
        acc[lg.SATISFACTION_N] += 1.0
    _row(trail, counts, do_trail, tr.USE, t, i, c, -1, 0, sat)
    if u_post < w[POST_P]:
        stars = min(max(np.rint(3.0 + w[STARS_PER_UNIT] * sat), 1.0), 5.0)
        rating_sum[c] += stars
        rating_n[c] += 1.0
        if inw:
            acc[lg.REVIEWS] += 1.0
            acc[lg.STARS_SUM] += stars
        _row(trail, counts, do_trail, tr.REVIEW, t, i, c, -1, 0, stars)
    # Habits: trust lost to inconsistent prices first, then the used channel is pulled
    # toward 1 and the others decay.
    if w[HABIT_INCONSISTENCY] > 0.0 and spread > 0.0:
        keep = np.exp(-w[HABIT_INCONSISTENCY] * spread)
        for k in range(habit.shape[1]):
            habit[i, k] *= keep
    for k in range(habit.shape[1]):
        if k == c:
            habit[i, k] += w[HABIT_LR] * (1.0 - habit[i, k])
        else:
            habit[i, k] *= 1.0 - w[HABIT_DECAY]
    if sat < w[CHURN_THRESHOLD] and u_churn < w[CHURN_P]:
        if inw:
            acc[lg.CHURNED] += 1.0
        pop[5][i] = CHURNED
        _row(trail, counts, do_trail, tr.CHURN, t, i, -1, -1, 0, np.nan)
        t_back = lcm.on_churn(i, j, t, inw, ctx[15], keys[rs.WINBACK])
        if t_back < lwin[1]:
            _schedule(sched, counts, i, t_back)
        return
    _end_journey(i, t, ctx, sched, counts)


@njit(cache=True, _nrt=False)
def _promotion_spend(c, t_price, q, p, ctx):
    """Customer lifecycle: the price cut promotions gave on an in-window purchase."""
    chp = ctx[2]
    cut = lcm.promotion_cut(c, t_price, q, p, chp[24], chp[25], chp[26], chp[27])
    ctx[10][1][c, lg.CH_PROMOTION_SPEND] += cut


@njit(cache=True, _nrt=False)
def _win_back(i, t, ctx, sched, trail, counts, do_trail):
    """Customer lifecycle: a churned consumer comes back to the brand; their next need is drawn
    afresh from the forward-recurrence law (as at the start of the run) from now on."""
    pop, seg, keys, led = ctx[0], ctx[1], ctx[9], ctx[10]
    if _in(led[5], t):
        led[0][lg.WON_BACK] += 1.0
    _row(trail, counts, do_trail, tr.WIN_BACK, t, i, -1, -1, 0, np.nan)
    s, j = pop[0][i], pop[6][i]
    x = draw_interval(s, seg[6], seg[7], seg[8], seg[9], seg[10], keys[rs.WINBACK], i, j, True)
    pop[7][i] = to_op(ctx[6][0], t) + x
    _end_journey(i, t, ctx, sched, counts)
