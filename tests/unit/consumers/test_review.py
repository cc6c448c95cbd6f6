"""Use and review (omnisim/consumers/stages/review.py; docs/model.md, sections 15-16, "Use and
review"): satisfaction from the journey's record, stars into the public rating, habit learning
and churn. The noise weight is 0 throughout, so satisfaction is exact arithmetic."""

from __future__ import annotations

import math

import pytest
from stage_kit import HORIZON, LIVE, PLATFORM, STORE, WARMUP, Bench, with_weights

from omnisim.consumers.kernel import Kernel
from omnisim.consumers.population import CHURNED, FULFILMENT, WAIT_NEED
from omnisim.consumers.stages.review import review
from omnisim.engine import ledger as lg

CID = 2
T = 40.0  # in the window
# Weights and the journey's record, each term different and exact in binary (paid, spread,
# late and queue times are float32 in the kernel):
BASE, QUALITY = 0.5, 0.25  # the store's service quality (the market's)
W_INC, SPREAD = 0.75, 0.25  # -> 0.1875
W_LATE, LATE = 0.5, 2.5  # -> 1.25
W_SO, STOCKOUTS = 0.7, 2  # -> 1.4
W_QUEUE, QUEUED = 0.25, 0.125  # 0.125 days = 3 hours -> 0.75
SAT = BASE + QUALITY - W_INC * SPREAD - W_LATE * LATE - W_SO * STOCKOUTS - W_QUEUE * 3.0
NEUTRAL = {  # every satisfaction term off but the constant, no noise
    "sat_price": 0.0,
    "sat_inconsistency": 0.0,
    "sat_late": 0.0,
    "sat_stockout": 0.0,
    "sat_queue": 0.0,
    "sat_noise": 0.0,
    "post_p": 0.0,
    "churn_p": 0.0,
    "habit_inconsistency": 0.0,
}


def neutral(k: Kernel, **values: float) -> Kernel:
    """``k`` with `NEUTRAL` weights but ``values``."""
    return with_weights(k, **{**NEUTRAL, **values})


def used(k: Kernel, c: int = STORE, paid: float = 150.0, min_price: float = 150.0) -> None:
    """Consumer CID bought in channel ``c`` at ``paid`` having seen ``min_price`` at least,
    with a smooth journey (no lateness, queue, stock-out or price spread)."""
    pop = k.pop
    pop.stage[CID] = FULFILMENT
    pop.channel[CID] = c
    pop.paid[CID] = paid
    pop.min_price[CID] = min_price
    pop.price_spread[CID] = 0.0
    pop.late_days[CID] = 0.0
    pop.queue_days[CID] = 0.0
    pop.stockouts_met[CID] = 0


def rough(k: Kernel) -> None:
    """The journey's record of every satisfaction term."""
    pop = k.pop
    pop.price_spread[CID] = SPREAD
    pop.late_days[CID] = LATE
    pop.stockouts_met[CID] = STOCKOUTS
    pop.queue_days[CID] = QUEUED


def sat(k: Kernel) -> float:
    """Satisfaction as the ledger summed it (one review in the window)."""
    assert k.ledger.acc[lg.SATISFACTION_N] == 1.0
    return float(k.ledger.acc[lg.SATISFACTION_SUM])


def run(k: Kernel, b: Bench, t: float = T) -> None:
    review(CID, t, k, *b, True)


def test_satisfaction_is_the_sum_of_its_terms(k: Kernel, b: Bench) -> None:
    k = neutral(
        k,
        sat_base=BASE,
        sat_inconsistency=W_INC,
        sat_late=W_LATE,
        sat_stockout=W_SO,
        sat_queue=W_QUEUE,
    )
    used(k)
    rough(k)
    run(k, b)
    assert math.isclose(SAT, -2.8375)  # the hand sum, written out
    assert sat(k) == pytest.approx(SAT, rel=1e-12, abs=0.0)
    # The trail's use row carries the same satisfaction.
    (use,) = [r for r in b.rows() if r[0] == "use"]
    assert use[2] == STORE and use[4] == pytest.approx(SAT, rel=1e-12, abs=0.0)


@pytest.mark.parametrize(
    ("weights", "record", "term"),
    [
        ({"sat_inconsistency": W_INC}, {"price_spread": SPREAD}, -W_INC * SPREAD),
        ({"sat_late": W_LATE}, {"late_days": LATE}, -W_LATE * LATE),
        ({"sat_stockout": W_SO}, {"stockouts_met": STOCKOUTS}, -W_SO * STOCKOUTS),
        # Queue time is in days and its weight per hour.
        ({"sat_queue": W_QUEUE}, {"queue_days": QUEUED}, -W_QUEUE * QUEUED * 24.0),
    ],
    ids=["spread", "late", "stockouts", "queue"],
)
def test_each_satisfaction_term_alone(
    k: Kernel, b: Bench, weights: dict, record: dict, term: float
) -> None:
    k = neutral(k, sat_base=BASE, **weights)
    used(k)
    for name, value in record.items():
        getattr(k.pop, name)[CID] = value
    run(k, b)
    assert sat(k) == pytest.approx(BASE + QUALITY + term, rel=1e-12, abs=0.0)


@pytest.mark.parametrize(("c", "quality"), [(STORE, 0.25), (PLATFORM, 0.0), (LIVE, -0.5)])
def test_the_used_channel_gives_its_service_quality(
    k: Kernel, b: Bench, c: int, quality: float
) -> None:
    k = neutral(k, sat_base=BASE)
    used(k, c)
    run(k, b)
    assert sat(k) == BASE + quality


def test_paying_more_than_the_lowest_price_seen_costs_satisfaction(k: Kernel, b: Bench) -> None:
    k = neutral(k, sat_base=BASE, sat_price=2.0)
    used(k, paid=150.0, min_price=120.0)
    run(k, b)
    # Paid and the lowest price are float32 in the kernel, and interpreted (NUMBA_DISABLE_JIT)
    # their log is taken in float32: hence 1e-6, still far below the term (0.446).
    assert sat(k) == pytest.approx(BASE + QUALITY - 2.0 * math.log(1.25), rel=1e-6)


def test_paying_less_than_the_lowest_price_seen_gains_nothing(k: Kernel, b: Bench) -> None:
    # max(0, ln(paid / lowest)): a price below the lowest seen (a later decision's) is no bonus.
    k = neutral(k, sat_base=BASE, sat_price=2.0)
    used(k, paid=100.0, min_price=120.0)
    run(k, b)
    assert sat(k) == BASE + QUALITY


@pytest.mark.parametrize(
    ("base", "per_unit", "stars"),
    [
        (0.0, 1.0, 3.0),  # a neutral use: 3 stars
        (1.2, 1.0, 4.0),  # 4.2 rounds down
        (1.6, 1.0, 5.0),  # 4.6 rounds up (not truncated)
        (0.5, 3.0, 4.0),  # 4.5: half to even
        (-0.5, 3.0, 2.0),  # 1.5: half to even
        (5.0, 1.0, 5.0),  # 8 clipped to 5
        (-4.0, 1.0, 1.0),  # -1 clipped to 1
        (1.6, 0.5, 4.0),  # 3.8: the slope counts
    ],
)
def test_stars_are_rounded_and_clipped_into_the_rating(
    k: Kernel, b: Bench, base: float, per_unit: float, stars: float
) -> None:
    # The platform has no service quality: satisfaction = base.
    k = neutral(k, post_p=1.0, sat_base=base, stars_per_unit=per_unit)
    used(k, PLATFORM)
    k.rating.sum[PLATFORM] = 40.0  # ten earlier reviews of 4 stars
    k.rating.n[PLATFORM] = 10.0
    run(k, b)
    assert k.rating.sum[PLATFORM] == 40.0 + stars
    assert k.rating.n[PLATFORM] == 11.0
    assert k.rating.sum[STORE] == k.rating.n[STORE] == 0.0  # only the used channel's
    assert k.ledger.acc[lg.REVIEWS] == 1.0 and k.ledger.acc[lg.STARS_SUM] == stars
    (row,) = [r for r in b.rows() if r[0] == "review"]
    assert row[2] == PLATFORM and row[4] == stars


def test_no_review_with_post_probability_zero(k: Kernel, b: Bench) -> None:
    k = neutral(k, sat_base=1.0)
    used(k, PLATFORM)
    run(k, b)
    assert not k.rating.sum.any() and not k.rating.n.any()
    assert k.ledger.acc[lg.REVIEWS] == 0.0 and k.ledger.acc[lg.STARS_SUM] == 0.0
    assert "review" not in b.events()
    assert k.ledger.acc[lg.SATISFACTION_N] == 1.0  # the use is counted all the same


@pytest.mark.parametrize("t", [WARMUP - 1.0, HORIZON])
def test_a_review_outside_the_window_moves_the_rating_not_the_tallies(
    k: Kernel, b: Bench, t: float
) -> None:
    # The public rating is the market's, warm-up included; the ledger counts the window only.
    k = neutral(k, post_p=1.0, sat_base=1.2, stars_per_unit=1.0)
    used(k, PLATFORM)
    run(k, b, t)
    assert k.rating.sum[PLATFORM] == 4.0 and k.rating.n[PLATFORM] == 1.0
    assert not k.ledger.acc.any()


def test_habits_move_toward_the_used_channel_and_decay_elsewhere(k: Kernel, b: Bench) -> None:
    k = neutral(k, habit_lr=0.25, habit_decay=0.125)
    used(k, STORE)
    k.pop.habit[CID] = [0.5, 0.75, 0.25]
    k.pop.habit[CID + 1] = [0.5, 0.5, 0.5]
    run(k, b)
    assert list(k.pop.habit[CID]) == [
        0.5 + 0.25 * (1.0 - 0.5),  # the store, used: 0.625
        0.75 * (1.0 - 0.125),  # 0.65625
        0.25 * (1.0 - 0.125),  # 0.21875
    ]
    assert list(k.pop.habit[CID + 1]) == [0.5, 0.5, 0.5]  # another consumer's are untouched


def test_inconsistent_prices_cost_every_habit_first(k: Kernel, b: Bench) -> None:
    # Trust: every habit x exp(-kappa spread), then the learning step (docs/model.md, 16).
    k = neutral(k, habit_lr=0.25, habit_decay=0.125, habit_inconsistency=0.5)
    used(k, STORE)
    k.pop.price_spread[CID] = 0.25
    k.pop.habit[CID] = [0.5, 0.75, 0.25]
    run(k, b)
    keep = math.exp(-0.5 * 0.25)
    expected = [
        0.5 * keep + 0.25 * (1.0 - 0.5 * keep),
        0.75 * keep * 0.875,
        0.25 * keep * 0.875,
    ]
    # Habits are float32: equal to float32 precision.
    assert list(k.pop.habit[CID]) == pytest.approx(expected, rel=1e-6)


def test_a_dissatisfied_consumer_churns(k: Kernel, b: Bench) -> None:
    # Satisfaction 0.75 below the threshold 1, churn probability 1.
    k = neutral(k, churn_p=1.0, sat_base=BASE, churn_threshold=1.0)
    used(k, STORE)
    run(k, b)
    assert k.pop.stage[CID] == CHURNED
    assert k.ledger.acc[lg.CHURNED] == 1.0
    assert b.events()[-1] == "churn"
    assert b.scheduled() == []  # without win-back, gone for good


@pytest.mark.parametrize(
    ("threshold", "churn_p"),
    [(1.0, 0.0), (0.75, 1.0), (0.5, 1.0)],
    ids=["probability 0", "at the threshold", "above the threshold"],
)
def test_no_churn_unless_below_the_threshold_and_drawn(
    k: Kernel, b: Bench, threshold: float, churn_p: float
) -> None:
    k = neutral(k, churn_p=churn_p, sat_base=BASE, churn_threshold=threshold)
    used(k, STORE)  # satisfaction 0.5 + 0.25 = 0.75
    run(k, b)
    assert k.pop.stage[CID] == WAIT_NEED
    assert k.ledger.acc[lg.CHURNED] == 0.0
    assert "churn" not in b.events()
    # The next need: its renewal epoch (operational time 0) has passed, so at once.
    assert b.scheduled() == [(CID, T)]


def test_a_churn_in_the_warm_up_is_not_tallied(k: Kernel, b: Bench) -> None:
    k = neutral(k, churn_p=1.0, sat_base=BASE, churn_threshold=1.0)
    used(k, STORE)
    run(k, b, WARMUP - 1.0)
    assert k.pop.stage[CID] == CHURNED and not k.ledger.acc.any()
