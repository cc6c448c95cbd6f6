"""The journey kernel's state: one `Kernel` named tuple with a field per mechanism, each field
declared in the module that owns the mechanism (`omnisim.engine.state`; the table is in
docs/architecture.md, "Kernel state"), and the journey's own parts declared here: behavioural
weights, segments, geography, ratings, and the `Schedule` the kernel puts next events into.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from omnisim.channels.catalog import ChannelState
from omnisim.channels.fulfilment import FulfilmentState
from omnisim.channels.service import QueueState
from omnisim.consumers.heterogeneity import TasteState
from omnisim.consumers.lifecycle import LifecycleState
from omnisim.consumers.needs import ClockTable, NeedClock, NeedLaw
from omnisim.consumers.population import PopulationState
from omnisim.engine.buckets import Wheel
from omnisim.engine.ledger import LedgerState
from omnisim.engine.memory import MemoryState
from omnisim.engine.state import F64, I64, U64, Flag, Float, build
from omnisim.market import competition as cm
from omnisim.market.shocks import ShockState
from omnisim.marketing.media import MediaState
from omnisim.marketing.membership import ProgrammeState
from omnisim.marketing.social import SocialState
from omnisim.scenario.schema import Scenario

# The kernel's counters (`advance_batch`'s ``counts``).
N_TRAIL_ROWS, N_HEAP, N_EVENTS = 0, 1, 2


def new_counters() -> np.ndarray:
    """The kernel's counters N_*, all zero."""
    return np.zeros(3, dtype=np.int64)


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
    aware_after: Flag  # a purchase raises the consumer's awareness
    aware_lift: Float  # share of the gap to 1 a purchase closes
    unit_cost: Float  # cost of goods (currency / unit)
    list_price: Float  # list price (currency / unit)
    reference_price: Float  # the price of zero price disutility (currency / unit)
    sat_inconsistency: Float  # satisfaction: points per unit of log price spread met
    habit_inconsistency: Float  # habits: trust lost per unit of log price spread met
    nest_online: Float  # nested logit: dissimilarity of the online nest (0, 1]
    nest_offline: Float  # nested logit: dissimilarity of the offline nest (0, 1]
    nest_fulfil: Float  # nested logit: dissimilarity of the delivery/pick-up nest (0, 1]
    competitor_share: Float  # share of the outside option that is buying from competitors


class SegmentState(NamedTuple):
    """Per-segment behaviour (index = segment number)."""

    search_days: F64[1]  # mean search time (days)
    price_sensitivity: F64[1]  # utils per unit of log(price / reference)
    time_sensitivity: F64[1]  # utils per day of wait
    rating_sensitivity: F64[1]  # utils per star above 3
    outside_utility: F64[1]  # utility of the outside option at competitors' index 1 (utils)
    outside: F64[2]  # region x segment: the outside option's utility at static prices (utils)
    log_price_index: F64[2]  # region x segment: ln of competitors' price index
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
    media: MediaState
    social: SocialState
    members: ProgrammeState
    lifecycle: LifecycleState
    shocks: ShockState
    fulfil: FulfilmentState
    memory: MemoryState
    taste: TasteState


class Schedule(NamedTuple):
    """Where the kernel puts each consumer's next event: its own heap for the current bucket,
    else the calendar; ``due`` holds each consumer's live calendar time when media clicks can
    leave stale entries (else empty)."""

    heap_ids: I64[1]
    heap_t: F64[1]
    wheel: Wheel
    due: F64[1]


def behaviour_weights(sc: Scenario) -> Weights:
    """The journey's behavioural parameters of scenario ``sc``."""
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
        aware_lift=j.purchase_awareness_lift,
        unit_cost=sc.product.unit_cost,
        list_price=sc.product.list_price,
        reference_price=sc.product.reference,
        sat_inconsistency=j.satisfaction.inconsistency_weight,
        habit_inconsistency=j.habits.inconsistency_loss,
        nest_online=j.nests.online,
        nest_offline=j.nests.offline,
        nest_fulfil=j.nests.fulfilment,
        competitor_share=sc.competition.share,
    )


def segments(sc: Scenario, clock: NeedClock) -> SegmentState:
    """Each segment's behaviour and need law (index = segment number)."""
    segs = sc.segments
    return build(
        SegmentState,
        search_days=np.array([s.search_hours / 24.0 for s in segs]),
        price_sensitivity=np.array([s.price_sensitivity for s in segs]),
        time_sensitivity=np.array([s.time_sensitivity for s in segs]),
        rating_sensitivity=np.array([s.rating_sensitivity for s in segs]),
        outside_utility=np.array([s.outside_utility for s in segs]),
        outside=cm.outside_table(sc),
        log_price_index=cm.log_price_index(sc),
        basket_cdf=poisson_cdf_table(np.array([s.need.basket_mean_units - 1.0 for s in segs])),
        need=clock.law(),
    )


def poisson_cdf_table(means: np.ndarray) -> np.ndarray:
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
