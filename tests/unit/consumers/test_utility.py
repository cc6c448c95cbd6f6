"""The choice utility (omnisim/consumers/stages/common.py, `utility`; docs/model.md, section 9,
"Decision"): V = asc + w_h h - beta_p ln(p / p_ref) - beta_t wait + beta_r (R - 3) + w_a a
(+ w_p while a promotion runs, + the member bonus, + the word-of-mouth intent with `social`)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from stage_kit import LIVE, PLATFORM, STORE, segment, with_weights

from omnisim.consumers.kernel import Kernel
from omnisim.consumers.stages.common import utility

CID, S = 2, 0  # the consumer and its segment (the market has one)
REF = 200.0  # the reference price (the list price by default)

# Every term's inputs, chosen so that no two terms are equal and every product is exact in
# binary (habits are float32 in the kernel; 0.5 and 1.5 keep w_h h exact in either precision).
ON: dict[str, Any] = {
    "asc": 0.25,
    "w_habit": 1.5,
    "habit": 0.5,
    "beta_price": 2.0,
    "weighed": 250.0,
    "beta_time": 0.4,
    "wait": 2.5,
    "beta_rating": 0.6,
    "rating": 4.5,
    "w_aware": 0.5,
    "aware": 0.75,
    "w_promo": 0.35,
    "promo": True,
    "bonus": 0.3,
    "intent": 0.2,
    "social": True,
}
# The same inputs switched off: every term is 0 (a price at the reference, a rating of 3).
OFF: dict[str, Any] = {
    "asc": 0.0,
    "w_habit": 0.0,
    "habit": 0.0,
    "beta_price": 0.0,
    "weighed": REF,
    "beta_time": 0.0,
    "wait": 0.0,
    "beta_rating": 0.0,
    "rating": 3.0,
    "w_aware": 0.0,
    "aware": 0.0,
    "w_promo": 0.0,
    "promo": False,
    "bonus": 0.0,
    "intent": 0.0,
    "social": False,
}
# Each term by hand, from the ON inputs.
TERMS: dict[str, tuple[tuple[str, ...], float]] = {
    "asc": (("asc",), 0.25),
    "habit": (("w_habit", "habit"), 1.5 * 0.5),
    "price": (("beta_price", "weighed"), -2.0 * math.log(250.0 / 200.0)),
    "wait": (("beta_time", "wait"), -0.4 * 2.5),
    "rating": (("beta_rating", "rating"), 0.6 * (4.5 - 3.0)),
    "awareness": (("w_aware", "aware"), 0.5 * 0.75),
    "promotion": (("w_promo", "promo"), 0.35),
    "member bonus": (("bonus",), 0.3),
    "intent": (("intent", "social"), 0.2),
}


def v(k: Kernel, c: int, x: dict[str, Any]) -> float:
    """The utility of channel ``c`` to consumer CID with the inputs ``x`` set into ``k``."""
    k.chan.asc[c] = x["asc"]
    k.pop.habit[CID, c] = x["habit"]
    segment(
        k,
        S,
        price_sensitivity=x["beta_price"],
        time_sensitivity=x["beta_time"],
        rating_sensitivity=x["beta_rating"],
    )
    k = with_weights(
        k,
        habit=x["w_habit"],
        awareness=x["w_aware"],
        promotion=x["w_promo"],
        reference_price=REF,
    )
    return utility(
        CID,
        c,
        S,
        x["weighed"],
        x["wait"],
        x["rating"],
        x["aware"],
        x["promo"],
        x["bonus"],
        x["intent"],
        x["social"],
        k,
    )


def test_every_term_off_is_zero(k: Kernel) -> None:
    assert v(k, PLATFORM, OFF) == 0.0


def test_the_utility_is_the_sum_of_its_terms(k: Kernel) -> None:
    expected = 0.25 + 0.75 - 2.0 * math.log(1.25) - 1.0 + 0.9 + 0.375 + 0.35 + 0.3 + 0.2
    assert v(k, PLATFORM, ON) == pytest.approx(expected, rel=1e-12, abs=0.0)


@pytest.mark.parametrize("term", list(TERMS))
def test_each_term_alone_moves_the_utility_by_exactly_that_term(k: Kernel, term: str) -> None:
    names, value = TERMS[term]
    x = {**OFF, **{n: ON[n] for n in names}}
    assert value != 0.0
    assert v(k, PLATFORM, x) == pytest.approx(value, rel=1e-12, abs=0.0)


@pytest.mark.parametrize("term", list(TERMS))
def test_each_term_taken_out_of_the_whole_leaves_the_rest(k: Kernel, term: str) -> None:
    names, value = TERMS[term]
    whole = sum(t for _, t in TERMS.values())
    x = {**ON, **{n: OFF[n] for n in names}}
    assert v(k, PLATFORM, x) == pytest.approx(whole - value, rel=1e-12, abs=0.0)


def test_the_intent_counts_only_with_word_of_mouth(k: Kernel) -> None:
    # Without a `social` section the kernel passes social False: a stale intent is ignored.
    assert v(k, PLATFORM, {**OFF, "intent": 0.2, "social": False}) == 0.0


def test_the_channel_and_consumer_terms_are_read_at_their_own_index(k: Kernel) -> None:
    # Other channels' constants and habits, and another consumer's habit, must not leak in.
    k.chan.asc[STORE] = 5.0
    k.chan.asc[LIVE] = -5.0
    k.pop.habit[CID, STORE] = 1.0
    k.pop.habit[CID + 1, PLATFORM] = 1.0
    x = {**OFF, "asc": 0.25, "w_habit": 1.5, "habit": 0.5}
    assert v(k, PLATFORM, x) == pytest.approx(0.25 + 0.75, rel=1e-12, abs=0.0)


def test_the_price_term_is_against_the_reference_price(k: Kernel) -> None:
    # A price at the reference costs nothing, a dearer one costs beta_p ln(p / p_ref) (10 %
    # dearer: 2 ln 1.1), a cheaper one gains as much as the ratio's log.
    x = {**OFF, "beta_price": 2.0}
    assert v(k, PLATFORM, {**x, "weighed": REF}) == 0.0
    dear = v(k, PLATFORM, {**x, "weighed": 220.0})
    assert dear == pytest.approx(-2.0 * math.log(1.1), rel=1e-12, abs=0.0)
    cheap = v(k, PLATFORM, {**x, "weighed": 100.0})
    assert cheap == pytest.approx(2.0 * math.log(2.0), rel=1e-12, abs=0.0)
