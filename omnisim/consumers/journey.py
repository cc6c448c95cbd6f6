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
from omnisim.channels.catalog import ChannelTable, Geography
from omnisim.channels.service import StoreQueues
from omnisim.consumers import heterogeneity as ht
from omnisim.consumers import hooks
from omnisim.consumers import lifecycle as lcm
from omnisim.consumers.kernel import (
    N_EVENTS,
    N_HEAP,
    N_TRAIL_ROWS,
    GeoState,
    Kernel,
    RatingState,
    Schedule,
    behaviour_weights,
    new_counters,
    segments,
)
from omnisim.consumers.needs import NeedClock, draw_interval, to_real
from omnisim.consumers.population import (
    CHURNED,
    FULFILMENT,
    SEARCHING,
    TRAVELLING,
    WAIT_NEED,
    Population,
)
from omnisim.consumers.stages.common import heap_pop
from omnisim.consumers.stages.decide import decide
from omnisim.consumers.stages.need import need, pending_needs, win_back
from omnisim.consumers.stages.purchase import arrive
from omnisim.consumers.stages.review import review
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr
from omnisim.engine.buckets import P_BUCKET_END, Wheel
from omnisim.engine.ledger import Ledger
from omnisim.engine.memory import MemoryState
from omnisim.engine.prefetch import prefetch
from omnisim.engine.state import build, off
from omnisim.market import shocks as shk
from omnisim.marketing import media as md
from omnisim.marketing import membership as ms
from omnisim.marketing import social as so
from omnisim.scenario.schema import Scenario
from omnisim.supply.inventory import Inventory

TRAIL_ROWS_PER_EVENT = 8
PREFETCH_AHEAD = 8  # events of the batch whose consumer state is requested ahead of use
HEAP_PER_EVENT = 4  # room for same-bucket follow-up events per event in a batch


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
        memory: MemoryState | None = None,
    ) -> None:
        self.sc, self.pop, self.keys, self.clock = sc, pop, keys, clock
        self.chan, self.inventory, self.ledger = chan, inventory, ledger
        self.horizon = sc.horizon_days
        self.seg = segments(sc, clock)
        self.ratings = build(RatingState, sum=np.zeros(chan.n), n=np.zeros(chan.n))
        node_region = np.array([geo.names.index(n.region) for n in sc.nodes], dtype=np.int64)
        self.geo = build(GeoState, days=geo.days, node_region=node_region)
        self.weights = behaviour_weights(sc)
        self.trail_on = trail
        self.events = 0
        # The membership programme (docs/model.md, "Members").
        self.membership = ms.MembershipState(sc, pop.member, pop.segment, keys[rs.MEMBERSHIP])
        self._scratch = (np.empty(chan.n), np.empty(chan.n), np.empty(chan.n, dtype=np.bool_))
        self.lifecycle = lcm.CustomerLifecycle(sc, pop.n, ledger)
        self.fulfilment = fl.Fulfilment(sc, geo, chan)
        if memory is None:
            memory = off(MemoryState)
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
            memory=memory,
            taste=ht.taste_state(sc, pop.segment, keys),
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
        k = self.kernel
        t = first_needs(
            pop.segment, pop.tau_next, self.seg.need, self.clock.table(), self.keys, k.taste
        )
        ids = np.flatnonzero(t < self.horizon)
        return ids, t[ids]

    def finish(self) -> None:
        """At the horizon: count the needs of the window no need event spent (consumers still
        in a journey), so that `needs` counts renewal epochs (docs/model.md, "Needs")."""
        pending_needs(self.kernel)

    def advance(self, ids: np.ndarray, t: np.ndarray, t_end: float, wheel: Wheel) -> tr.Rows | None:
        """Advance a time-sorted batch of consumers, due before ``t_end``, through every stage
        that falls before ``t_end``, in exact time order; later events go into ``wheel`` (the
        calendar's arrays). Returns the trail rows with the trail on, else None."""
        n = len(ids)
        room = HEAP_PER_EVENT * n + 64
        wheel.params[P_BUCKET_END] = t_end
        sched = Schedule(np.empty(room, dtype=np.int64), np.empty(room), wheel, self._due)
        cap = TRAIL_ROWS_PER_EVENT * (n + room) if self.trail_on else 0
        trail = tr.empty_rows(cap)
        counts = new_counters()
        advance_batch(ids, t, self.kernel, sched, trail, counts, self.trail_on, *self._scratch)
        self.events += int(counts[N_EVENTS])
        m = int(counts[N_TRAIL_ROWS])
        return tr.Rows(*(a[:m] for a in trail)) if self.trail_on else None


@njit(cache=True)
def first_needs(segment, tau_next, law, table, keys, taste) -> np.ndarray:
    """Draw each consumer's first need from the equilibrium law; returns real times."""
    key = keys[rs.NEED]
    out = np.empty(len(segment))
    for i in range(len(segment)):
        tau = draw_interval(segment[i], law, key, i, 0, True) * ht.need_scale(i, taste)
        tau_next[i] = tau
        out[i] = to_real(table, tau)
    return out


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
                hooks.prefetch(k, ev_ids[e + PREFETCH_AHEAD])
            e += 1
        elif counts[N_HEAP] > 0:
            i, t = heap_pop(heap_ids, heap_t, counts)
        else:
            break
        if hooks.stale(i, t, sched.due, k):
            continue
        counts[N_EVENTS] += 1
        s = stage[i]
        if s == WAIT_NEED:
            need(i, t, k, sched, trail, counts, do_trail)
        elif s == SEARCHING:
            decide(i, t, k, sched, trail, counts, do_trail, price, util, cons)
        elif s == TRAVELLING:
            arrive(i, t, k, sched, trail, counts, do_trail)
        elif s == FULFILMENT:
            review(i, t, k, sched, trail, counts, do_trail)
        elif s == CHURNED:  # scheduled only with lifecycle.winback_days
            win_back(i, t, k, sched, trail, counts, do_trail)
