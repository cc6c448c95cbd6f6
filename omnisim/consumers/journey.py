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

from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.channels import fulfilment as fl
from omnisim.channels.catalog import (
    ChannelState,
    ChannelTable,
    Geography,
    is_open,
    price_cut,
    store_for,
)
from omnisim.channels.service import (
    ADMITTED,
    FULL,
    STOCKOUT,
    QueueState,
    StoreQueues,
    arrival_time,
)
from omnisim.channels.service import service_time as _service_time
from omnisim.channels.service import visit as _visit
from omnisim.consumers import lifecycle as lcm
from omnisim.consumers.needs import ClockTable, NeedClock, NeedLaw, draw_interval, to_op, to_real
from omnisim.consumers.population import (
    CHURNED,
    FULFILMENT,
    SEARCHING,
    TRAVELLING,
    WAIT_NEED,
    Population,
    PopulationState,
)
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr
from omnisim.engine.buckets import P_BUCKET_END, Wheel, insert
from omnisim.engine.ledger import Ledger, LedgerState
from omnisim.engine.prefetch import prefetch
from omnisim.engine.state import F64, I64, U64, Flag, Float, build
from omnisim.market import shocks as shk
from omnisim.marketing import media as md
from omnisim.marketing import membership as ms
from omnisim.marketing import social as so
from omnisim.scenario.schema import Scenario
from omnisim.supply.inventory import Inventory

TRAIL_ROWS_PER_EVENT = 8
PREFETCH_AHEAD = 8  # events of the batch whose consumer state is requested ahead of use
HEAP_PER_EVENT = 4  # room for same-bucket follow-up events per event in a batch
# The kernel's counters (`advance_batch`'s ``counts``).
N_TRAIL_ROWS, N_HEAP, N_EVENTS = 0, 1, 2


class Weights(NamedTuple):
    """The journey's behavioural parameters (scenario ``journey:`` and ``product:``)."""

    habit: Float  # choice: utility per unit of habit (utils)
    awareness: Float  # choice: utility per unit of awareness (utils)
    promotion: Float  # choice: utility of a running promotion (utils)
    member: Float  # choice: utility of member benefits in a recognising channel (utils)
    consider_habit: Float  # consideration: log-odds per unit of habit
    switch_p: Float  # after a stock-out or balk: probability of trying another channel
    max_switches: Float  # re-decisions allowed per journey
    sat_base: Float  # satisfaction: constant (scale points)
    sat_price: Float  # satisfaction: points per unit of log(price paid / lowest seen)
    sat_late: Float  # satisfaction: points per day late
    sat_stockout: Float  # satisfaction: points per stock-out met
    sat_queue: Float  # satisfaction: points per hour queued
    sat_noise: Float  # satisfaction: standard deviation of the noise (points)
    post_p: Float  # probability of posting a review
    prior_rating: Float  # prior of the Bayesian-average rating (stars)
    prior_weight: Float  # its weight (reviews)
    stars_per_unit: Float  # stars per point of satisfaction
    use_days: Float  # mean use time before the review (days)
    habit_lr: Float  # habit learning rate toward the used channel
    habit_decay: Float  # habit decay of the other channels, per journey
    churn_threshold: Float  # satisfaction below which a consumer may churn (points)
    churn_p: Float  # churn probability below the threshold
    aware_after: Flag  # a purchase makes the consumer aware for good
    unit_cost: Float  # cost of goods (currency / unit)
    list_price: Float  # list price (currency / unit)
    reference_price: Float  # the price of zero price disutility (currency / unit)
    sat_inconsistency: Float  # satisfaction: points per unit of log price spread met
    habit_inconsistency: Float  # habits: trust lost per unit of log price spread met


class SegmentState(NamedTuple):
    """Per-segment behaviour (index = segment number)."""

    search_days: F64[1]  # mean search time (days)
    price_sensitivity: F64[1]  # utils per unit of log(price / reference)
    time_sensitivity: F64[1]  # utils per day of wait
    rating_sensitivity: F64[1]  # utils per star above 3
    outside_utility: F64[1]  # utility of the outside option (utils)
    basket_cdf: F64[2]  # segment x k: CDF of the extra units of a basket (Poisson)
    need: NeedLaw


class GeoState(NamedTuple):
    """Transport times between regions (days) and each node's region."""

    days: F64[2]
    node_region: I64[1]


class RatingState(NamedTuple):
    """The public rating's running sums per channel (stars, reviews)."""

    sum: F64[1]
    n: F64[1]


class Kernel(NamedTuple):
    """Everything the journey kernel reads or updates, by mechanism."""

    pop: PopulationState
    seg: SegmentState
    chan: ChannelState
    geo: GeoState
    queues: QueueState
    stock: I64[1]  # units on hand per node
    asked: I64[1]  # units consumers asked for per node (sold + lost): the node's demand
    clock: ClockTable
    rating: RatingState
    weights: Weights
    keys: U64[1]  # the random streams' keys (`omnisim.engine.streams`)
    ledger: LedgerState
    media: md.MediaState
    social: so.SocialState
    members: ms.ProgrammeState
    lifecycle: lcm.LifecycleState
    shocks: shk.ShockState
    fulfil: fl.FulfilmentState


class Schedule(NamedTuple):
    """Where the kernel puts each consumer's next event: its own heap for the current bucket,
    else the calendar; ``due`` holds each consumer's live calendar time when media clicks can
    leave stale entries (else empty)."""

    heap_ids: I64[1]
    heap_t: F64[1]
    wheel: Wheel
    due: F64[1]


def _weights(sc: Scenario) -> Weights:
    j = sc.journey
    return build(
        Weights,
        habit=j.choice.habit,
        awareness=j.choice.awareness,
        promotion=j.choice.promotion,
        member=j.choice.member,
        consider_habit=j.consideration.habit,
        switch_p=j.stockout.switch_probability,
        max_switches=j.stockout.max_switches,
        sat_base=j.satisfaction.base,
        sat_price=j.satisfaction.price_gap_weight,
        sat_late=j.satisfaction.lateness_weight,
        sat_stockout=j.satisfaction.stockout_weight,
        sat_queue=j.satisfaction.queue_weight,
        sat_noise=j.satisfaction.noise_sd,
        post_p=j.reviews.post_probability,
        prior_rating=j.reviews.prior_rating,
        prior_weight=j.reviews.prior_weight,
        stars_per_unit=j.reviews.stars_per_unit,
        use_days=j.reviews.use_days,
        habit_lr=j.habits.learning_rate,
        habit_decay=j.habits.decay,
        churn_threshold=j.churn.threshold,
        churn_p=j.churn.probability,
        aware_after=j.aware_after_purchase,
        unit_cost=sc.product.unit_cost,
        list_price=sc.product.list_price,
        reference_price=sc.product.reference,
        sat_inconsistency=j.satisfaction.inconsistency_weight,
        habit_inconsistency=j.habits.inconsistency_loss,
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
        social: so.SocialState | None = None,
        shocks: shk.Shocks | None = None,
    ) -> None:
        self.sc, self.pop, self.keys, self.clock = sc, pop, keys, clock
        self.chan, self.inventory, self.ledger = chan, inventory, ledger
        self.horizon = sc.horizon_days
        segs = sc.segments
        self.seg = build(
            SegmentState,
            search_days=np.array([s.search_hours / 24.0 for s in segs]),
            price_sensitivity=np.array([s.price_sensitivity for s in segs]),
            time_sensitivity=np.array([s.time_sensitivity for s in segs]),
            rating_sensitivity=np.array([s.rating_sensitivity for s in segs]),
            outside_utility=np.array([s.outside_utility for s in segs]),
            basket_cdf=_poisson_cdf_table(np.array([s.need.basket_mean_units - 1.0 for s in segs])),
            need=clock.law(),
        )
        self.ratings = build(RatingState, sum=np.zeros(chan.n), n=np.zeros(chan.n))
        node_region = np.array([geo.names.index(n.region) for n in sc.nodes], dtype=np.int64)
        self.geo = build(GeoState, days=geo.days, node_region=node_region)
        self.weights = _weights(sc)
        self.trail_on = trail
        self.events = 0
        # The membership programme (docs/model.md, "Members").
        self.membership = ms.MembershipState(sc, pop.member, pop.segment, keys[rs.MEMBERSHIP])
        self._scratch = (np.empty(chan.n), np.empty(chan.n), np.empty(chan.n, dtype=np.bool_))
        self.lifecycle = lcm.CustomerLifecycle(sc, pop.n, ledger)
        self.fulfilment = fl.Fulfilment(sc, geo, chan)
        self.kernel = build(
            Kernel,
            pop=pop.state(),
            seg=self.seg,
            chan=chan.state(),
            geo=self.geo,
            queues=queues.state(),
            stock=inventory.stock,
            asked=inventory.asked,
            clock=clock.table(),
            rating=self.ratings,
            weights=self.weights,
            keys=keys,
            ledger=ledger.state(),
            media=media.state() if media is not None else md.off(),
            social=so.off() if social is None else social,
            members=self.membership.state(),
            lifecycle=self.lifecycle.state(),
            shocks=shk.off() if shocks is None else shocks.state(),
            fulfil=self.fulfilment.state(),
        )
        # Each consumer's live calendar time when clicks can make entries stale (else empty).
        self._due = md.due_times(self.kernel.media)

    def rating(self) -> np.ndarray:
        """Public rating per channel: Bayesian average (m * prior + sum) / (m + n) (stars)."""
        w = self.weights
        m = w.prior_weight
        return (m * w.prior_rating + self.ratings.sum) / np.maximum(m + self.ratings.n, 1e-12)

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """Every consumer's first need (stationary start): (ids, times) before the horizon."""
        pop = self.pop
        t = first_needs(pop.segment, pop.tau_next, self.seg.need, self.clock.table(), self.keys)
        ids = np.flatnonzero(t < self.horizon)
        return ids, t[ids]

    def advance(self, ids: np.ndarray, t: np.ndarray, t_end: float, wheel: Wheel) -> tr.Rows | None:
        """Advance a time-sorted batch of consumers, due before ``t_end``, through every stage
        that falls before ``t_end``, in exact time order; later events go into ``wheel`` (the
        calendar's arrays). Returns the trail rows with the trail on, else None."""
        n = len(ids)
        room = HEAP_PER_EVENT * n + 64
        wheel.params[P_BUCKET_END] = t_end
        sched = Schedule(np.empty(room, dtype=np.int64), np.empty(room), wheel, self._due)
        cap = TRAIL_ROWS_PER_EVENT * (n + room) if self.trail_on else 0
        trail = tr.Rows(
            np.empty(cap, dtype=np.int8),
            np.empty(cap),
            np.empty(cap, dtype=np.int64),
            np.empty(cap, dtype=np.int64),
            np.empty(cap, dtype=np.int64),
            np.empty(cap, dtype=np.int64),
            np.empty(cap),
        )
        counts = np.zeros(3, dtype=np.int64)
        advance_batch(ids, t, self.kernel, sched, trail, counts, self.trail_on, *self._scratch)
        self.events += int(counts[N_EVENTS])
        m = int(counts[N_TRAIL_ROWS])
        return tr.Rows(*(a[:m] for a in trail)) if self.trail_on else None


@njit(cache=True)
def first_needs(segment, tau_next, law, table, keys) -> np.ndarray:
    """Draw each consumer's first need from the equilibrium law; returns real times."""
    key = keys[rs.NEED]
    out = np.empty(len(segment))
    for i in range(len(segment)):
        tau = draw_interval(segment[i], law, key, i, 0, True)
        tau_next[i] = tau
        out[i] = to_real(table, tau)
    return out


# ------------------------------------------------------------------------------------------
# The kernel. ``k`` is the `Kernel` (every state it reads or updates, by mechanism); ``sched``
# the `Schedule`; ``trail`` the trail's row buffers (`omnisim.engine.trail.Rows`); ``counts``
# the counters N_*.


@njit(cache=True, inline="always", _nrt=False)
def _in(lwin, t):
    return lwin.warmup <= t < lwin.horizon


@njit(cache=True, inline="always", _nrt=False)
def _awareness(i, t, k):
    """Consumer i's effective awareness at t: the stored awareness lifted by media adstock
    (docs/model.md, "Media"); exactly the stored awareness without media."""
    return md.effective_awareness(i, t, k.pop.awareness[i], k.media)


@njit(cache=True, inline="always", _nrt=False)
def _period(lwin, n_periods, t):
    p = int((t - lwin.warmup) / lwin.period)
    return p if p < n_periods else n_periods - 1


@njit(cache=True, inline="always", _nrt=False)
def _row(trail, counts, do_trail, ev, t, cid, ch, nd, units, value):
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
def _schedule(sched, counts, cid, t):
    """Queue consumer ``cid``'s next event at ``t``: inside the current bucket it joins the
    kernel's own heap (so it runs in exact time order among the bucket's events), otherwise
    it goes into the calendar's wheel."""
    heap_ids, heap_t, wheel, due = sched.heap_ids, sched.heap_t, sched.wheel, sched.due
    if due.shape[0] > 0:
        due[cid] = t
    n = counts[N_HEAP]
    if t < wheel.params[P_BUCKET_END] and n < heap_t.shape[0]:
        h = n
        while h > 0:
            parent = (h - 1) >> 1
            if heap_t[parent] <= t:
                break
            heap_t[h] = heap_t[parent]
            heap_ids[h] = heap_ids[parent]
            h = parent
        heap_t[h] = t
        heap_ids[h] = cid
        counts[N_HEAP] = n + 1
        return
    insert(wheel, cid, t)


@njit(cache=True, _nrt=False)
def _heap_pop(heap_ids, heap_t, counts):
    n = counts[N_HEAP] - 1
    top_id, top_t = heap_ids[0], heap_t[0]
    last_id, last_t = heap_ids[n], heap_t[n]
    counts[N_HEAP] = n
    h = 0
    while True:
        c = 2 * h + 1
        if c >= n:
            break
        if c + 1 < n and heap_t[c + 1] < heap_t[c]:
            c += 1
        if heap_t[c] >= last_t:
            break
        heap_t[h] = heap_t[c]
        heap_ids[h] = heap_ids[c]
        h = c
    if n > 0:
        heap_t[h] = last_t
        heap_ids[h] = last_id
    return top_id, top_t


@njit(cache=True, _nrt=False)
def _end_journey(i, t, k, sched, counts):
    """Back to waiting: the next need at the renewal epoch, or now if it has passed."""
    pop = k.pop
    pop.stage[i] = WAIT_NEED
    t_next = to_real(k.clock, pop.tau_next[i])
    if t_next < t:
        t_next = t
    if t_next < k.ledger.window.horizon:
        _schedule(sched, counts, i, t_next)


@njit(cache=True, inline="always", _nrt=False)
def _member_benefit(i, c, k):
    """(price factor, utility bonus, points value as a fraction of the price, delivery fee) of
    consumer i in channel c (docs/model.md, "Members")."""
    ch = k.chan
    return ms.benefit(
        i, c, k.pop.member, ch.member_discount, ch.recognises, k.weights.member, k.members
    )


@njit(cache=True, _nrt=False)
def _price(i, c, t, k) -> tuple[float, bool, bool]:
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
    member_factor, _, _, _ = _member_benefit(i, c, k)
    if member_factor != 1.0:
        price *= member_factor
    return price, promo, live


@njit(cache=True, inline="always", _nrt=False)
def _utility(i, c, s, weighed, wait, rating, aware, promo, bonus, intent, social, k):
    """Consumer i's utility of channel c at the price weighed (per unit) and the expected wait
    (days) (docs/model.md, "Decision")."""
    seg, w = k.seg, k.weights
    v = (
        k.chan.asc[c]
        + w.habit * k.pop.habit[i, c]
        - seg.price_sensitivity[s] * np.log(weighed / w.reference_price)
        - seg.time_sensitivity[s] * wait
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


@njit(cache=True, inline="always", _nrt=False)
def _prefetch_consumer(pop, i):
    """Start loading consumer ``i``'s state, every array of `PopulationState` (a hint;
    changes no result)."""
    prefetch(pop.segment, i)
    prefetch(pop.region, i)
    prefetch(pop.awareness, i)
    prefetch(pop.member, i)
    prefetch(pop.habit, i)
    prefetch(pop.stage, i)
    prefetch(pop.journey, i)
    prefetch(pop.tau_next, i)
    prefetch(pop.channel, i)
    prefetch(pop.node, i)
    prefetch(pop.failed, i)
    prefetch(pop.switches, i)
    prefetch(pop.stockouts_met, i)
    prefetch(pop.min_price, i)
    prefetch(pop.units, i)
    prefetch(pop.paid, i)
    prefetch(pop.queue_days, i)
    prefetch(pop.late_days, i)
    prefetch(pop.purchases_in_window, i)
    prefetch(pop.ever_bought, i)
    prefetch(pop.bought_before_window, i)
    prefetch(pop.search_channel, i)
    prefetch(pop.price_spread, i)


@njit(cache=True, _nrt=False)
def advance_batch(ev_ids, ev_t, k, sched, trail, counts, do_trail, price, util, cons):
    """Advance each event in order by one stage (see the module docstring).

    Compiled without numba's reference counting (``_nrt=False``): the kernel allocates nothing
    (``price``, ``util``, ``cons`` are scratch arrays of one entry per channel), and counting
    references of the ~90 state arrays at every call cost more than the work itself."""
    stage = k.pop.stage
    heap_ids, heap_t = sched.heap_ids, sched.heap_t
    n = len(ev_ids)
    e = 0
    while True:
        # Next event in time order: the sorted batch merged with the in-bucket heap.
        if e < n and (counts[N_HEAP] == 0 or ev_t[e] <= heap_t[0]):
            i = ev_ids[e]
            t = ev_t[e]
            if e + PREFETCH_AHEAD < n:
                _prefetch_consumer(k.pop, ev_ids[e + PREFETCH_AHEAD])
                lcm.prefetch_consumer(k.lifecycle, ev_ids[e + PREFETCH_AHEAD])
            e += 1
        elif counts[N_HEAP] > 0:
            i, t = _heap_pop(heap_ids, heap_t, counts)
        else:
            break
        if md.skip_stale(i, t, sched.due, k.media):
            continue
        counts[N_EVENTS] += 1
        s = stage[i]
        if s == WAIT_NEED:
            _need(i, t, k, sched, trail, counts, do_trail)
        elif s == SEARCHING:
            _decide(i, t, k, sched, trail, counts, do_trail, price, util, cons)
        elif s == TRAVELLING:
            _arrive(i, t, k, sched, trail, counts, do_trail)
        elif s == FULFILMENT:
            _review(i, t, k, sched, trail, counts, do_trail)
        elif s == CHURNED:  # scheduled only with lifecycle.winback_days
            _win_back(i, t, k, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def _need(i, t, k, sched, trail, counts, do_trail):
    pop, seg, keys, led = k.pop, k.seg, k.keys, k.ledger
    acc, series, lwin = led.acc, led.series, led.window
    if _in(lwin, t):
        acc[lg.NEEDS] += 1.0
        series[_period(lwin, series.shape[0], t), lg.TS_NEEDS] += 1.0
    pop.journey[i] += 1
    j = pop.journey[i]
    s = pop.segment[i]
    x = draw_interval(s, seg.need, keys[rs.NEED], i, j, False)
    pop.tau_next[i] = to_op(k.clock.cum, t) + x
    _row(trail, counts, do_trail, tr.NEED, t, i, -1, -1, 0, np.nan)
    u_aware, u_search = rs.uniform2(keys[rs.SEARCH], i, j, 0)
    # Media only lift awareness (a_eff >= a_i): the media terms are needed only above a_i. A
    # consumer who just clicked an ad is aware.
    if (
        u_aware >= pop.awareness[i]
        and u_aware >= _awareness(i, t, k)
        and not md.referred(i, t, k.media)
    ):
        if _in(lwin, t):
            acc[lg.UNAWARE] += 1.0
        _row(trail, counts, do_trail, tr.UNAWARE, t, i, -1, -1, 0, np.nan)
        _end_journey(i, t, k, sched, counts)
        return
    u_basket = rs.uniform(keys[rs.SEARCH], i, j, 1)
    cdf = seg.basket_cdf[s]
    extra = 0
    while u_basket > cdf[extra]:
        extra += 1
    pop.units[i] = 1 + extra
    pop.failed[i] = 0
    pop.switches[i] = 0
    pop.stockouts_met[i] = 0
    pop.queue_days[i] = 0.0
    pop.late_days[i] = 0.0
    pop.stage[i] = SEARCHING
    _schedule(sched, counts, i, t - seg.search_days[s] * np.log(u_search))


@njit(cache=True, inline="always", _nrt=False)
def _decide(i, t, k, sched, trail, counts, do_trail, price, util, cons):
    pop, seg, ch, w, keys, led = k.pop, k.seg, k.chan, k.weights, k.keys, k.ledger
    habit = pop.habit
    acc, ch_acc, lwin = led.acc, led.channel, led.window
    rating_sum, rating_n = k.rating.sum, k.rating.n
    c_n = price.shape[0]
    j = pop.journey[i]
    s = pop.segment[i]
    r = pop.region[i]
    sw = pop.switches[i]
    soc = k.social  # word of mouth: purchase intent in every channel's utility
    social = so.enabled(soc)
    intent = so.intent_utility(i, t, soc) if social else 0.0
    first = sw == 0
    inw = _in(lwin, t)
    # Media: search ads at the first decision, and channels a click puts into consideration.
    forced = md.at_decision(i, t, j, s, first, inw, k.media)
    aware = _awareness(i, t, k)
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
        p, promo, live = _price(i, c, t, k)
        price[c] = p
        reach = ch.reach[c, r]
        ok = False
        if live and reach > 0.0 and not (int(pop.failed[i]) >> c) & 1:
            x = ch.visibility[c] + w.consider_habit * habit[i, c] + shk.log_traffic(c, t, k.shocks)
            q = reach / (1.0 + np.exp(-x))
            ok = u < q or (forced >> c) & 1 == 1
        cons[c] = ok
        if ok:
            n_cons += 1
            # Membership and delivery fee (docs/model.md, "Members"): the price per unit paid
            # includes the fee; the price weighed is also net of the points' value.
            _, bonus, cut, fee = _member_benefit(i, c, k)
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
            v = _utility(i, c, s, weighed, wait, rating, aware, promo, bonus, intent, social, k)
            if can_pick:
                # BOPIS nest (docs/model.md, "Omnichannel fulfilment"): the pick-up branch pays
                # no delivery fee and waits for the goods to be ready plus the trip.
                q_pick = 0.0
                if om.offers_pickup[c]:
                    weighed_p = p - p * cut if cut > 0.0 else p
                    wait_p = om.ready_days + ch.travel_days[pc]
                    v_p = _utility(
                        i, c, s, weighed_p, wait_p, rating, aware, promo, bonus, intent, social, k
                    )
                    v, q_pick = fl.nest(v, v_p - om.pickup_effort)
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
            _row(trail, counts, do_trail, tr.SEARCH, t, i, home, -1, 0, float(n_cons))
        else:
            _row(trail, counts, do_trail, tr.NO_CONSIDERATION, t, i, -1, -1, 0, np.nan)
    elif seen < pop.min_price[i]:
        pop.min_price[i] = seen
    if n_cons == 0:
        _end_journey(i, t, k, sched, counts)
        return
    # Multinomial logit with the outside option.
    v0 = seg.outside_utility[s]
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
        _end_journey(i, t, k, sched, counts)
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
        _schedule(sched, counts, i, arrive)
    else:
        # BOPIS: the pick-up branch of the chosen channel's nest.
        pickup = can_pick and (
            rs.uniform(keys[rs.OMNICHANNEL], i, j, fl.SLOT_PICKUP + sw) < om.pickup_p[pick]
        )
        _order_online(i, t, pick, price[pick], pickup, k, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def _order_online(i, t, c, p, pickup, k, sched, trail, counts, do_trail):
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
        _stockout(i, t, c, node, want, k, sched, trail, counts, do_trail)
        return
    stock[node] -= got
    if got < want:
        _lost(i, t, c, node, want - got, k, trail, counts, do_trail)
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
        * shk.lead_factor(t, k.shocks)
    )
    late = 0.0 if pickup else lead - om.promise[c, r]
    pop.late_days[i] = late if late > 0.0 else 0.0
    pop.queue_days[i] = 0.0
    acc, lwin = led.acc, led.window
    if _in(lwin, t):
        acc[lg.ONLINE_ORDERS] += 1.0
        if pickup:
            acc[lg.PICKUPS] += 1.0
        elif slot != slot_first:
            acc[lg.REROUTED_ORDERS] += 1.0
        acc[lg.DELIVERY_DAYS_SUM] += lead
        if late > 0.0:
            acc[lg.LATE_ORDERS] += 1.0
        _promotion_spend(c, t, got, p, k)
    _in_transit(t, lead, got, acc, lwin)
    _purchase(i, t, c, node, got, p, t + lead, u_use, k, sched, trail, counts, do_trail, mode, -1)


@njit(cache=True, inline="always", _nrt=False)
def _in_transit(t, lead, units, acc, lwin):
    """Units in transit from ``t`` for ``lead`` days, integrated over the window (Little's
    law: L = lambda W)."""
    a = t if t > lwin.warmup else lwin.warmup
    b = t + lead if t + lead < lwin.horizon else lwin.horizon
    if b > a:
        acc[lg.TRANSIT_UNIT_DAYS] += (b - a) * units


@njit(cache=True, inline="always", _nrt=False)
def _arrive(i, t, k, sched, trail, counts, do_trail):
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
    inw = _in(lwin, t)
    if inw:
        acc[lg.STORE_ARRIVALS] += 1.0
    _row(trail, counts, do_trail, tr.STORE_ARRIVAL, t, i, c, store, want, np.nan)
    if reason == STOCKOUT:
        # Omnichannel: the endless aisle may deliver the basket from another node.
        if k.fulfil.shared and _endless_aisle(
            i, t, c, store, want, k, sched, trail, counts, do_trail
        ):
            return
        _stockout(i, t, c, store, want, k, sched, trail, counts, do_trail)
        return
    if reason != ADMITTED:
        if inw:
            acc[lg.BALKS] += 1.0
            if reason == FULL:
                acc[lg.BLOCKED] += 1.0
        _row(trail, counts, do_trail, tr.BALK, t, i, c, store, 0, np.nan)
        _switch_or_leave(i, t, k, sched, trail, counts, do_trail)
        return
    if inw:
        acc[lg.STORE_ADMITTED] += 1.0
        if start > t:
            acc[lg.STORE_WAITED] += 1.0
        acc[lg.STORE_WAIT_DAYS_SUM] += start - t
    if got < want:
        _lost(i, t, c, store, want - got, k, trail, counts, do_trail)
    pop.queue_days[i] = start - t
    pop.late_days[i] = 0.0
    p, _, _ = _price(i, c, t, k)
    if _in(lwin, end):
        _promotion_spend(c, t, got, p, k)  # priced at arrival, bought at the end of service
    _, u_use = rs.uniform2(keys[rs.DELIVERY], i, j, sw)
    _purchase(i, end, c, store, got, p, end, u_use, k, sched, trail, counts, do_trail, 0, -1)


@njit(cache=True, _nrt=False)
def _endless_aisle(i, t, c, store, want, k, sched, trail, counts, do_trail) -> bool:
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
        _lost(i, t, c, node, want - got, k, trail, counts, do_trail)
    met = pop.stockouts_met
    if met[i] < 255:
        met[i] += 1  # the empty shelf was met all the same
    handling = om.store_handling if om.is_store[node] else ch.handling_days[c]
    lead = handling + geo.days[geo.node_region[node], r] - ch.delivery_delay[c] * np.log(u_delay)
    lead *= shk.lead_factor(t, k.shocks)  # shocks: longer leads of shipments started in a shock
    pop.node[i] = node
    pop.queue_days[i] = 0.0
    pop.late_days[i] = 0.0
    p, _, _ = _price(i, c, t, k)
    acc, lwin = led.acc, led.window
    if _in(lwin, t):
        acc[lg.ENDLESS_AISLE_ORDERS] += 1.0
        _promotion_spend(c, t, got, p, k)
    _in_transit(t, lead, got, acc, lwin)
    u_use = rs.uniform(keys[rs.OMNICHANNEL], i, j, fl.SLOT_AISLE_USE + sw)
    t_got, mode = t + lead, fl.MODE_AISLE
    _purchase(i, t, c, node, got, p, t_got, u_use, k, sched, trail, counts, do_trail, mode, store)
    return True


# Inlined: with the customer-lifecycle hook, LLVM no longer inlines a call of it, and passing
# the kernel state to the call costs more than the purchase itself (150,000 consumers of
# benchmarks/million.yaml: 1.43 s -> 1.67 s a run, 1.54 s inlined).
@njit(cache=True, inline="always", _nrt=False)
def _purchase(i, t, c, nd, q, p, t_receive, u_use, k, sched, trail, counts, do_trail, mode, taker):
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
    if _in(lwin, t):
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
        per = _period(lwin, series.shape[0], t)
        series[per, lg.TS_PURCHASES] += 1.0
        series[per, lg.TS_REVENUE] += value
        ts_ch[per, c] += value
        pop.purchases_in_window[i] += 1
        _conflict(pop.search_channel[i], c, value, ch.offline, acc)
    elif t < lwin.warmup:
        pop.bought_before_window[i] = True  # bought during the warm-up (lifecycle KPIs)
    # Membership: points, tier, joining at checkout; the delivery fee paid (docs/model.md,
    # "Members").
    fee = ms.purchase(
        i,
        t,
        c,
        value,
        pop.member,
        ch.recognises,
        pop.journey[i],
        k.keys[rs.MEMBERSHIP],
        k.members,
        acc,
        lwin,
    )
    if mode == fl.MODE_PICKUP and fee > 0.0:  # omnichannel: a pick-up pays no delivery fee
        if _in(lwin, t):
            acc[lg.DELIVERY_FEES] -= fee
        fee = 0.0
    margin = lcm.brand_margin(
        nd, q, brand, mode != fl.MODE_OWN, w.unit_cost, ch.order_cost[c], k.lifecycle
    )
    lcm.on_purchase(i, t, c, margin, _in(lwin, t), k.lifecycle, acc, ch_acc)
    pop.ever_bought[i] = True
    pop.paid[i] = p if fee == 0.0 else p + fee / q
    if w.aware_after:
        pop.awareness[i] = 1.0
    so.on_purchase(i, t, pop.awareness[i], k.social)  # word of mouth: a new adopter talks
    _row(trail, counts, do_trail, tr.PURCHASE, t, i, c, nd, q, p)
    if mode != fl.MODE_OWN:
        _row(trail, counts, do_trail, tr.CROSS_FULFILMENT, t, i, c, nd, q, float(mode))
    _row(trail, counts, do_trail, tr.RECEIVE, t_receive, i, c, nd, q, np.nan)
    pop.stage[i] = FULFILMENT
    t_review = t_receive - w.use_days * np.log(u_use)
    if t_review < lwin.horizon:
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
def _lost(i, t, c, nd, units, k, trail, counts, do_trail):
    led = k.ledger
    if _in(led.window, t):
        led.acc[lg.STOCKOUTS] += 1.0
        led.acc[lg.LOST_UNITS] += units
        led.channel[c, lg.CH_LOST] += units
        led.node[nd, lg.ND_LOST] += units
    _row(trail, counts, do_trail, tr.STOCKOUT, t, i, c, nd, units, np.nan)


@njit(cache=True, _nrt=False)
def _stockout(i, t, c, nd, units, k, sched, trail, counts, do_trail):
    _lost(i, t, c, nd, units, k, trail, counts, do_trail)
    met = k.pop.stockouts_met
    if met[i] < 255:
        met[i] += 1
    _switch_or_leave(i, t, k, sched, trail, counts, do_trail)


@njit(cache=True, _nrt=False)
def _switch_or_leave(i, t, k, sched, trail, counts, do_trail):
    """After a stock-out or a balk: re-decide without that channel, or give up."""
    pop, w, led = k.pop, k.weights, k.ledger
    j, sw, c = pop.journey[i], pop.switches[i], pop.channel[i]
    u = rs.uniform(k.keys[rs.SWITCH], i, j, sw)
    if u < w.switch_p and sw < w.max_switches:
        pop.failed[i] = int(pop.failed[i]) | (1 << int(c))
        pop.switches[i] = sw + 1
        pop.stage[i] = SEARCHING
        if _in(led.window, t):
            led.acc[lg.SWITCHES] += 1.0
        _row(trail, counts, do_trail, tr.SWITCH, t, i, c, -1, 0, np.nan)
        _schedule(sched, counts, i, t)
    else:
        _row(trail, counts, do_trail, tr.LOST_SALE, t, i, c, -1, 0, np.nan)
        _end_journey(i, t, k, sched, counts)


@njit(cache=True, _nrt=False)
def _review(i, t, k, sched, trail, counts, do_trail):
    pop, w, keys, led = k.pop, k.weights, k.keys, k.ledger
    habit = pop.habit
    j = pop.journey[i]
    c = pop.channel[i]
    gap = np.log(max(pop.paid[i], 1e-9) / max(pop.min_price[i], 1e-9))
    spread = pop.price_spread[i]  # channel conflict: log(highest / lowest price the search met)
    sat = (
        w.sat_base
        + k.chan.service_quality[c]
        - w.sat_price * max(gap, 0.0)
        - w.sat_inconsistency * spread
        - w.sat_late * pop.late_days[i]
        - w.sat_stockout * pop.stockouts_met[i]
        - w.sat_queue * pop.queue_days[i] * 24.0
        + w.sat_noise * rs.normal(keys[rs.REVIEW], i, j, 0)
    )
    u_post, u_churn = rs.uniform2(keys[rs.REVIEW], i, j, 1)
    so.on_use(i, sat, k.social)  # word of mouth: the valence of this consumer's talks
    acc, lwin = led.acc, led.window
    inw = _in(lwin, t)
    if inw:
        acc[lg.SATISFACTION_SUM] += sat
        acc[lg.SATISFACTION_N] += 1.0
    _row(trail, counts, do_trail, tr.USE, t, i, c, -1, 0, sat)
    if u_post < w.post_p:
        stars = min(max(np.rint(3.0 + w.stars_per_unit * sat), 1.0), 5.0)
        k.rating.sum[c] += stars
        k.rating.n[c] += 1.0
        if inw:
            acc[lg.REVIEWS] += 1.0
            acc[lg.STARS_SUM] += stars
        _row(trail, counts, do_trail, tr.REVIEW, t, i, c, -1, 0, stars)
    # Habits: trust lost to inconsistent prices first, then the used channel is pulled
    # toward 1 and the others decay.
    if w.habit_inconsistency > 0.0 and spread > 0.0:
        keep = np.exp(-w.habit_inconsistency * spread)
        for b in range(habit.shape[1]):
            habit[i, b] *= keep
    for b in range(habit.shape[1]):
        if b == c:
            habit[i, b] += w.habit_lr * (1.0 - habit[i, b])
        else:
            habit[i, b] *= 1.0 - w.habit_decay
    if sat < w.churn_threshold and u_churn < w.churn_p:
        if inw:
            acc[lg.CHURNED] += 1.0
        pop.stage[i] = CHURNED
        _row(trail, counts, do_trail, tr.CHURN, t, i, -1, -1, 0, np.nan)
        t_back = lcm.on_churn(i, j, t, inw, k.lifecycle, keys[rs.WINBACK])
        if t_back < lwin.horizon:
            _schedule(sched, counts, i, t_back)
        return
    _end_journey(i, t, k, sched, counts)


@njit(cache=True, _nrt=False)
def _promotion_spend(c, t_price, q, p, k):
    """Customer lifecycle: the price cut promotions gave on an in-window purchase."""
    pr = k.chan.promos
    cut = lcm.promotion_cut(c, t_price, q, p, pr.start, pr.end, pr.discount, pr.mask)
    k.ledger.channel[c, lg.CH_PROMOTION_SPEND] += cut


@njit(cache=True, _nrt=False)
def _win_back(i, t, k, sched, trail, counts, do_trail):
    """Customer lifecycle: a churned consumer comes back to the brand; their next need is drawn
    afresh from the forward-recurrence law (as at the start of the run) from now on."""
    pop, led = k.pop, k.ledger
    if _in(led.window, t):
        led.acc[lg.WON_BACK] += 1.0
    _row(trail, counts, do_trail, tr.WIN_BACK, t, i, -1, -1, 0, np.nan)
    s, j = pop.segment[i], pop.journey[i]
    x = draw_interval(s, k.seg.need, k.keys[rs.WINBACK], i, j, True)
    pop.tau_next[i] = to_op(k.clock.cum, t) + x
    _end_journey(i, t, k, sched, counts)
