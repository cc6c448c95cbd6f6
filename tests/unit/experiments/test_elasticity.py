"""Price elasticities (omnisim/experiments/elasticity.py) against the logit's own equations.

The markets here are built so that the choice probability is known exactly: every need is an
aware consumer who considers every channel (reach 1, visibility so high that
σ(visibility) = 1 in float64), whose utility has no habit, rating, promotion, member or
word-of-mouth term, who waits no time (no handling, transport or delay) and never churns, at
nodes that never run out. Then (docs/model.md, section 9)

    P(c) = exp(V_c) / (exp(V_0) + Σ_k exp(V_k)),   V_c = asc_c + w_a · a − β · ln(p_c / p_ref),

and the arc elasticity of purchases with respect to a price moved to (1 ± step) is a function
of these probabilities alone: the number of needs does not depend on the price, and cancels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from builders import ROOT

from omnisim.experiments import elasticity as el
from omnisim.experiments.stats import t_interval
from omnisim.scenario.loading import ScenarioDraft, ScenarioError, load_scenario

STEP = 0.05


def logit_market(channels: dict[str, float], path: Path) -> Path:
    """A one-region market with online channels {name: asc} as described in the module
    docstring, written to ``path`` (JSON)."""
    data = {
        "name": "logit",
        "horizon_days": 30.0,
        "warmup_days": 2.0,
        "seed": 31,
        "replications": 1,
        "engine": {"bucket_hours": 6.0},
        "market": {
            "consumers": 3000,
            "regions": [{"name": "r", "population_share": 1.0}],
            "same_region_days": 0.0,
        },
        "product": {"list_price": 120.0, "unit_cost": 40.0, "reference_price": 100.0},
        "segments": [
            {
                "name": "s",
                "share": 1.0,
                # Basket sizes vary, so units and purchases are two different counts.
                "need": {
                    "mean_interval_days": 3.0,
                    "distribution": "exponential",
                    "basket_mean_units": 1.6,
                },
                "awareness": 1.0,
                "price_sensitivity": 2.5,
                "rating_sensitivity": 0.0,
                "outside_utility": 0.2,
                "search_hours": 0.0,
            }
        ],
        "channels": [
            {
                "name": name,
                "type": "own_online",
                "nodes": ["dc"],
                "asc": asc,
                "visibility": 60.0,
                "handling_days": 0.0,
                "delivery_delay_days": 0.0,
            }
            for name, asc in channels.items()
        ],
        "nodes": [
            {
                "name": "dc",
                "kind": "warehouse",
                "region": "r",
                "replenishment": {"review_days": 1, "lead_time_days": 0, "order_up_to": 10**8},
            }
        ],
        "journey": {
            "choice": {"habit": 0.0},
            "reviews": {"use_days": 0.0},
            "churn": {"probability": 0.0},
        },
    }
    path.write_text(json.dumps(data))
    return path


def choice_probabilities(path: Path, price_of: str, factor: float) -> dict[str, float]:
    """P(channel) of the logit, from the scenario's parameters, with ``price_of``'s price
    (or every price: ``all``) at ``factor`` times its own."""
    sc = load_scenario(path)
    seg, w = sc.segments[0], sc.journey.choice
    assert sc.market.consumers and seg.awareness == 1.0 and w.habit == 0.0
    v = {}
    for c in sc.channels:
        f = factor if price_of in ("all", c.name) else 1.0
        price = sc.product.list_price * c.price_index * f
        wait = c.handling_days + sc.market.same_region_days + c.delivery_delay_days
        v[c.name] = (
            c.asc
            + w.awareness * seg.awareness
            - seg.price_sensitivity * math.log(price / sc.product.reference)
            - seg.time_sensitivity * wait
        )
    denom = math.exp(seg.outside_utility) + sum(math.exp(x) for x in v.values())
    return {c: math.exp(x) / denom for c, x in v.items()}


def exact_arc(path: Path, price_of: str, of: str) -> float:
    """The arc elasticity of ``of``'s purchases (a channel, or ``total``) to ``price_of``."""

    def q(f: float) -> float:
        p = choice_probabilities(path, price_of, f)
        return sum(p.values()) if of == "total" else p[of]

    lo, hi = q(1 - STEP), q(1 + STEP)
    return ((hi - lo) / (hi + lo)) / STEP


def row(result: el.Elasticity, price_of: str, of: str, measure: str):
    t = result.table
    r = t[(t.price_of == price_of) & (t.quantity_of == of) & (t.measure == measure)]
    assert len(r) == 1
    return r.iloc[0]


@pytest.mark.slow
def test_own_price_elasticity_is_the_logits(tmp_path: Path) -> None:
    path = logit_market({"web": 0.4}, tmp_path / "one.json")
    plan = el.plan_elasticity(path, reps=5, step=STEP)
    result = el.run_elasticity(plan, executor="serial")
    want = exact_arc(path, "all", "total")
    # The point elasticity of a logit with log-price utility is -β (1 - P): the arc one is
    # close to it (a check of the formula above, not of the simulation).
    p = choice_probabilities(path, "all", 1.0)["web"]
    assert want == pytest.approx(-2.5 * (1 - p), rel=0.01)
    for measure in el.MEASURES:
        for price_of, of in (("all", "total"), ("all", "web"), ("web", "web"), ("web", "total")):
            r = row(result, price_of, of, measure)
            assert r.ci_low < want < r.ci_high, (price_of, of, measure, r.to_dict(), want)
            # Common random numbers make the difference precise. About 28,000 choices, of
            # which only those whose uniform falls between the two prices' P(buy) (about 6%)
            # differ: the binomial spread of that count gives a 95% interval about 0.06 wide
            # over 5 replications; independent runs (Poisson spread of each count) about 0.3.
            assert r.ci_high - r.ci_low < 0.1 * abs(want)
    # The two runs of a replication differ only in the price: the same needs arose.
    for r in range(plan.reps):
        low, high = result.runs[("all", "low", r)], result.runs[("all", "high", r)]
        assert low["needs"] == high["needs"]


def competitor_arc(path: Path, share: float, index: float) -> float:
    """The arc elasticity of the brand's total purchases to competitors' price index, from
    the logit with V_0 = outside + ln(1 - σ + σ x^-β) (docs/model.md, "Competition")."""
    seg = load_scenario(path).segments[0]
    p_brand = sum(choice_probabilities(path, "all", 1.0).values())  # at V_0 = outside
    e_out = math.exp(seg.outside_utility)
    brand = e_out * p_brand / (1.0 - p_brand)  # Σ_c exp(V_c): the brand's prices stay

    def total(f: float) -> float:
        x = index * f
        return brand / (brand + e_out * (1.0 - share + share * x**-seg.price_sensitivity))

    lo, hi = total(1 - STEP), total(1 + STEP)
    return ((hi - lo) / (hi + lo)) / STEP


@pytest.mark.slow
@pytest.mark.parametrize("share", [1.0, 0.4])
def test_competitors_price_elasticity_is_the_logits(tmp_path: Path, share: float) -> None:
    """Competitors 10% below the reference; the brand's total responds to their price as the
    logit with the two-part outside option says. With share 1 only the ratio of prices
    matters: the elasticity to competitors' price is the negative of the own-price one."""
    path = logit_market({"web": 0.4}, tmp_path / "one.json")
    data = json.loads(path.read_text())
    data["competition"] = {"price_index": 0.9, "share": share}
    path.write_text(json.dumps(data))
    plan = el.plan_elasticity(path, reps=5, step=STEP)
    assert [m.price_of for m in plan.moves] == ["all", "web", "competitors"]
    assert plan.moves[-1].fields[1] == "competition.price_index: 0.9 -> 0.855 / 0.945"
    result = el.run_elasticity(plan, executor="serial")
    want = competitor_arc(path, share, 0.9)
    for measure in el.MEASURES:
        r = row(result, "competitors", "total", measure)
        assert r.kind == "competitor"
        assert r.ci_low < want < r.ci_high, (measure, r.to_dict(), want)
    if share == 1.0:
        own = row(result, "all", "total", "purchases")
        comp = row(result, "competitors", "total", "purchases")
        # The same choices mirrored (a cheaper competitor is a dearer brand), up to the
        # arc's O(step^2) asymmetry: within the two intervals.
        assert abs(own.elasticity + comp.elasticity) < (own.ci_high - own.ci_low) + (
            comp.ci_high - comp.ci_low
        )


def test_reference_price_is_held_fixed(tmp_path: Path) -> None:
    """Without fixing it, a reference price that follows list_price would cancel the move."""
    path = logit_market({"web": 0.4}, tmp_path / "one.json")
    data = json.loads(path.read_text())
    del data["product"]["reference_price"]  # the default: list_price
    path.write_text(json.dumps(data))
    plan = el.plan_elasticity(path, reps=1, step=STEP)
    move = plan.moves[0]
    assert move.low.product.reference == move.high.product.reference == 120.0
    assert move.low.product.list_price == pytest.approx(120.0 * (1 - STEP))
    assert move.high.product.list_price == pytest.approx(120.0 * (1 + STEP))


@pytest.mark.slow
def test_cross_elasticity_and_the_logit_sum_rule(tmp_path: Path) -> None:
    path = logit_market({"web": 0.6, "app": -0.2}, tmp_path / "two.json")
    plan = el.plan_elasticity(path, channel="web", reps=5, step=STEP)
    assert [m.price_of for m in plan.moves] == ["web"]
    result = el.run_elasticity(plan, executor="serial")
    own, cross = row(result, "web", "web", "purchases"), row(result, "web", "app", "purchases")
    assert own.ci_high < 0 < cross.ci_low
    assert own.kind == "own" and cross.kind == "cross"
    assert own.ci_low < exact_arc(path, "web", "web") < own.ci_high
    assert cross.ci_low < exact_arc(path, "web", "app") < cross.ci_high
    # The sum rule: the choice shares sum to 1 at every price, so Σ_j P̄_j E_j = 0 over the
    # alternatives j (outside option included), with P̄_j the midpoint shares; and the logit
    # gives every other alternative the same cross elasticity (independence of irrelevant
    # alternatives), so P̄_web · E_web + (1 − P̄_web) · E_app = 0, replication by replication.
    reps = result.replications
    residuals = []
    for r in range(plan.reps):
        low, high = result.runs[("web", "low", r)], result.runs[("web", "high", r)]
        share = np.mean([run["channel_orders.web"] / run["searches"] for run in (low, high)])
        e = {
            of: reps[
                (reps.quantity_of == of) & (reps.measure == "purchases") & (reps.replication == r)
            ].elasticity.item()
            for of in ("web", "app")
        }
        residuals.append(share * e["web"] + (1 - share) * e["app"])
    _, lo, hi = t_interval(residuals)
    assert lo < 0 < hi, residuals
    # ... and it is tight: the residual is small against the elasticities themselves.
    assert hi - lo < 0.1 * abs(own.elasticity)


def test_bad_channel_and_step_are_refused(tmp_path: Path) -> None:
    path = logit_market({"web": 0.4}, tmp_path / "one.json")
    with pytest.raises(ScenarioError) as e:
        el.plan_elasticity(path, channel="nope")
    assert e.value.problems == ["--channel: unknown channel 'nope' (the scenario has: web)"]
    for step in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="--step"):
            el.plan_elasticity(path, step=step)


def test_one_unified_price_moves_only_as_a_whole() -> None:
    quick = ROOT / "scenarios" / "quickstart.yaml"
    plan = el.plan_elasticity(quick, "unified_price", reps=1)
    assert [m.price_of for m in plan.moves] == ["all", "competitors"]
    names = [c.name for c in plan.base.channels]
    assert list(plan.not_measured) == names
    assert all("unified_price" in why for why in plan.not_measured.values())
    with pytest.raises(ScenarioError, match="--channel platform: not measurable"):
        el.plan_elasticity(quick, "unified_price", "platform")


def test_dealer_priced_stores_move_through_their_markups() -> None:
    """Under cost_plus the network sets the dealer stores' shelf price: the move reaches it
    through the stores' markups, and the check of the built prices passes."""
    path = ROOT / "scenarios" / "fmcg_flattening.yaml"
    plan = el.plan_elasticity(path, reps=1)
    assert not plan.not_measured
    moved = {m.price_of: m for m in plan.moves}
    dealer = next(c for c in plan.base.channels if c.type.value == "dealer_store")
    fields = " ".join(moved[dealer.name].fields)
    assert all(f"nodes.{n}.markup" in fields for n in dealer.nodes)
    before, _ = el.shelf_prices(plan.base)
    after, _ = el.shelf_prices(moved[dealer.name].high)
    for (c, store), p in before.items():
        want = 1 + el.DEFAULT_STEP if c == dealer.name else 1.0
        assert after[(c, store)] / p == pytest.approx(want, rel=1e-12), (c, store)


def test_arc_elasticity() -> None:
    assert el.arc_elasticity(110.0, 90.0, 0.95, 1.05) == pytest.approx((-20 / 200) / 0.05)
    assert math.isnan(el.arc_elasticity(0.0, 0.0, 0.95, 1.05))


FMCG = ROOT / "scenarios" / "fmcg_flattening.yaml"


def test_a_store_markup_too_small_to_cut_is_not_measured() -> None:
    plan = el.plan_elasticity(FMCG, overrides=["network.terminal_markup=0.01"], reps=1)
    assert [m.price_of for m in plan.moves] == ["mall", "competitors"]
    for price_of in ("all", "stores"):
        assert "markup: 0.01 is too small" in plan.not_measured[price_of]


def test_a_store_two_channels_share_at_the_networks_price(tmp_path: Path) -> None:
    data = ScenarioDraft.from_file(FMCG).to_dict()
    data["channels"].append({"name": "outlets", "type": "own_store", "nodes": ["store_hz"]})
    path = tmp_path / "shared.json"
    path.write_text(json.dumps(data))
    plan = el.plan_elasticity(path, reps=1)
    assert [m.price_of for m in plan.moves] == ["all", "mall", "competitors"]
    assert "store store_hz is listed by stores and outlets" in plan.not_measured["stores"]
    assert "store store_hz is listed by outlets and stores" in plan.not_measured["outlets"]


def test_prices_the_fields_cannot_move_in_proportion_are_found_by_the_check() -> None:
    """Under fixed_retail, a flattening that passes its saving on sets the store's price to
    the channel's price less a saving in currency: moving price_index moves it, but not in
    proportion. No rule names this case; the check of the built prices finds it."""
    fixed = [
        "network.pricing=fixed_retail",
        "network.brand_share=0.5",
        "network.levels.national_agent.retail_share=0.55",
        "network.levels.provincial_agent.retail_share=0.6",
        "network.levels.city_dealer.retail_share=0.7",
    ]
    plan = el.plan_elasticity(FMCG, "flatten", overrides=fixed, reps=1)
    assert [m.price_of for m in plan.moves] == ["all", "mall", "competitors"]
    why = plan.not_measured["stores"]
    assert why.startswith("the scenario's fields do not move this price alone: stores at store_")
    # Without the flattening the stores sell at the channel's price, which moves in proportion.
    plan = el.plan_elasticity(FMCG, overrides=fixed, reps=1)
    assert not plan.not_measured


def test_a_moved_value_out_of_bounds_is_not_measured(tmp_path: Path) -> None:
    path = logit_market({"web": 0.4, "app": 0.0}, tmp_path / "two.json")
    plan = el.plan_elasticity(path, overrides=["channels.web.price_index=99"], reps=1)
    assert [m.price_of for m in plan.moves] == ["all", "app", "competitors"]
    assert plan.not_measured["web"] == (
        "price move (high): channels.web.price_index=103.95: channels.web.price_index: "
        "Input should be less than or equal to 100"
    )
