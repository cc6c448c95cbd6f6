"""The decision's nested logit (docs/model.md, "Decision: nests"; Train 2009, ch. 4): choice
shares against the closed form, and the property the nests exist for: an alternative that is a
near-duplicate of another, in a nest whose dissimilarity tends to 0, takes share from its twin
instead of adding purchases (no IIA artefact), while in a plain logit it adds demand.

The market is built so that every utility is known: no price, time, rating, habit or awareness
terms, every channel always considered, stock and service ample; so V_c = asc_c and V_0 is the
outside utility, and every need is one first decision."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation

V0 = 0.5
ASC = {"shop": 0.0, "mall": -0.3, "platform": 0.2}


def plain_market(
    nests: dict | None = None,
    twin: bool = False,
    bopis: dict | None = None,
    segment: dict | None = None,
    **extra,
) -> Scenario:
    """One region, one segment, a store channel and two online channels (``twin``: a third
    online channel identical to `platform`); ``segment`` overrides fields of the segment,
    ``extra`` adds top-level sections."""
    online = [("mall", "own_online"), ("platform", "platform")]
    if twin:
        online.append(("platform_2", "platform"))
    channels = [
        {"name": "shop", "type": "own_store", "nodes": ["s"], "asc": ASC["shop"]},
        *(
            {"name": n, "type": t, "nodes": ["dc"], "asc": ASC[n.removesuffix("_2")]}
            for n, t in online
        ),
    ]
    for c in channels:
        c["visibility"] = 40.0  # considered with probability 1 - e^-40
    data = {
        "name": "nests",
        "horizon_days": 130.0,
        "warmup_days": 10.0,
        "seed": 11,
        "market": {"consumers": 4000},
        "product": {"list_price": 100.0, "unit_cost": 40.0},
        "segments": [
            {
                "name": "a",
                "share": 1.0,
                "need": {"mean_interval_days": 10.0, "cv": 1.0},
                "awareness": 1.0,
                "price_sensitivity": 0.0,
                "time_sensitivity": 0.0,
                "rating_sensitivity": 0.0,
                "outside_utility": V0,
            }
            | (segment or {})
        ],
        "journey": {
            "choice": {"habit": 0.0, "awareness": 0.0},
            "consideration": {"habit": 0.0},
            "churn": {"probability": 0.0},
            "nests": nests or {},
        },
        "channels": channels,
        "nodes": [
            {
                "name": "s",
                "kind": "store",
                "region": "city",
                "replenishment": {"review_days": 1, "lead_time_days": 0, "order_up_to": 10**6},
                "service": {"servers": 200},
            },
            {
                "name": "dc",
                "kind": "warehouse",
                "region": "city",
                "replenishment": {"review_days": 1, "lead_time_days": 0, "order_up_to": 10**6},
            },
        ],
    }
    if bopis is not None:
        data["omnichannel"] = {"bopis": bopis}
    return Scenario.model_validate(data | extra)


def nested_shares(
    lam_on: float, lam_off: float, asc: dict[str, float], v0: float = V0
) -> dict[str, float]:
    """Closed-form nested-logit probabilities of the outside option (utility ``v0``) and each
    channel."""
    offline = {c: v for c, v in asc.items() if c == "shop"}
    online = {c: v for c, v in asc.items() if c != "shop"}

    def iv(group: dict[str, float], lam: float) -> float:
        return lam * math.log(sum(math.exp(v / lam) for v in group.values()))

    ivs = {"on": iv(online, lam_on), "off": iv(offline, lam_off)}
    denom = math.exp(v0) + math.exp(ivs["on"]) + math.exp(ivs["off"])
    out = {"outside": math.exp(v0) / denom}
    for group, key, lam in ((online, "on", lam_on), (offline, "off", lam_off)):
        for c, v in group.items():
            out[c] = math.exp(ivs[key]) / denom * math.exp((v - ivs[key]) / lam)
    return out


def decisions(sc: Scenario) -> tuple[dict[str, float], float]:
    """Purchases per channel and outside choices in the window, and their total."""
    L = Simulation(sc).run().ledger
    counts = dict(zip(L["meta"]["channels"], L["ch_orders"], strict=True))
    counts["outside"] = L["outside_choices"]
    assert L["stockouts"] == 0 and L["balks"] == 0, "the market must never switch channels"
    return counts, sum(counts.values())


@pytest.mark.slow
@pytest.mark.parametrize(("lam_on", "lam_off"), [(1.0, 1.0), (0.5, 1.0), (0.3, 0.6)])
def test_choice_shares_are_the_nested_logit_probabilities(lam_on: float, lam_off: float) -> None:
    sc = plain_market({"online": lam_on, "offline": lam_off, "fulfilment": 0.2})
    check_shares(sc, nested_shares(lam_on, lam_off, ASC))


def check_shares(sc: Scenario, expected: dict[str, float]) -> None:
    """The share of each option among the decisions of ``sc`` is its probability in
    ``expected`` within 4 binomial standard errors."""
    counts, n = decisions(sc)
    assert n > 30_000
    for option, p in expected.items():
        share = counts[option] / n
        se = math.sqrt(p * (1.0 - p) / n)  # multinomial: each share is binomial
        print(f"{option}: {share:.4f} vs {p:.4f} (se {se:.4f})")
        assert abs(share - p) < 4.0 * se


def purchase_rate(sc: Scenario) -> tuple[float, float]:
    """Share of decisions that end in a purchase, and the number of decisions."""
    counts, n = decisions(sc)
    return 1.0 - counts["outside"] / n, n


def check_addition(base: Scenario, added: Scenario, adds: bool) -> None:
    """The purchase probability per decision with ``added``'s extra alternative: unchanged
    within 4 standard errors of a difference of two binomial proportions, or (``adds``) above
    it by more. (Decisions, not needs, are the trials: a consumer in use when a need falls
    decides when the use ends, so the decisions in the window move a little with purchases.)"""
    p0, n0 = purchase_rate(base)
    p1, n1 = purchase_rate(added)
    se = math.sqrt(p0 * (1.0 - p0) * (1.0 / n0 + 1.0 / n1))
    print(f"purchase rate {p0:.4f} ({n0:.0f}) -> {p1:.4f} ({n1:.0f}), se of difference {se:.4f}")
    if adds:
        assert p1 - p0 > 4.0 * se
    else:
        assert abs(p1 - p0) < 4.0 * se


@pytest.mark.slow
@pytest.mark.parametrize(("lam", "adds"), [(0.001, False), (1.0, True)])
def test_a_near_duplicate_channel_adds_no_purchases_in_a_tight_nest(lam: float, adds: bool):
    """Under lam_on -> 0 the twin of `platform` adds lam ln 2 (0.0007 utils at 0.001) to the
    online nest: the purchase probability is unchanged within sampling error. In a plain logit
    the same twin adds its whole logit weight (IIA) and purchases rise far beyond it."""
    nests = {"online": lam, "fulfilment": lam}
    check_addition(plain_market(nests), plain_market(nests, twin=True), adds)


@pytest.mark.slow
@pytest.mark.parametrize(("lam", "adds"), [(0.001, False), (1.0, True)])
def test_a_pickup_as_good_as_delivery_adds_no_purchases_in_a_tight_nest(lam: float, adds: bool):
    """Pick-up with no effort, no wait penalty and no fee is a duplicate of delivery: under
    lam_f -> 0 it adds nothing, with lam_f = 1 it adds ln 2 utils to every online channel."""
    bopis = {"pickup_effort": 0.0, "ready_hours": 0.0}
    nests = {"fulfilment": lam}
    check_addition(plain_market(nests), plain_market(nests, bopis=bopis), adds)


def test_the_fulfilment_nest_may_not_be_looser_than_the_online_nest() -> None:
    with pytest.raises(ValidationError, match="must not exceed online"):
        plain_market({"online": 0.4, "fulfilment": 0.6})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        plain_market({"offline": 1.5})
    with pytest.raises(ValidationError, match="greater than 0"):
        plain_market({"online": 0.0, "fulfilment": 0.0})
