"""Unified price and unified membership (omnisim/channels/policies.py), and the channel-conflict
measures they act on (docs/model.md, "Channel conflict")."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from omnisim.channels.policies import apply_policies
from omnisim.scenario.loading import load_scenario
from omnisim.scenario.schema import Recognition, Scenario
from omnisim.simulation import Simulation
from tests.builders import ROOT, merge, small_market

FMCG = ROOT / "scenarios" / "fmcg_flattening.yaml"


def _small(**changes) -> Scenario:
    return Scenario.model_validate(merge(small_market(), changes))


def test_no_policy_leaves_the_scenario_as_it_is():
    sc = _small()
    assert apply_policies(sc) is sc


def test_unified_membership_recognises_members_everywhere_with_one_discount():
    sc = _small(
        omnichannel={"unified_membership": True},
        membership={"tiers": [{"name": "basic"}], "recognition": "where_joined"},
    )
    out = apply_policies(sc)
    assert all(c.recognises_membership for c in out.channels)
    # One benefit: the largest member discount any channel gave (the store's 5%).
    assert {c.member_discount for c in out.channels} == {0.05}
    assert out.membership is not None and out.membership.recognition == Recognition.everywhere


def _run(sc: Scenario, path=None):
    return Simulation(sc, 0, trail_path=path).run()


def test_one_price_and_one_membership_leave_no_price_spread():
    """With one price, promotions everywhere, no session discounts and one member benefit,
    every channel a consumer considers shows the same goods price: the spread is exactly 0,
    while the separate channels of the same market show one."""
    promo = [{"name": "sale", "start_day": 10, "end_day": 20, "channels": ["platform"]}]
    apart = _run(_small(promotions=promo))
    one = _run(
        _small(
            promotions=promo,
            omnichannel={"unified_price": {"price_index": 1.0}, "unified_membership": True},
        )
    )
    assert apart.kpis["price_dispersion"] > 0.02
    assert one.kpis["price_dispersion"] == 0.0
    assert one.ledger["price_spread_n"] > 1000  # many searches considered two channels or more


def test_unified_price_replaces_the_dealer_chains_shelf_price():
    """Under cost_plus the chain sets the stores' shelf price (10.81 in the FMCG scenario);
    with a unified price every unit in the stores sells at the list price x the index."""
    data = load_scenario(FMCG).model_dump(mode="json")
    data = merge(data, {"horizon_days": 60.0, "warmup_days": 10.0, "market": {"consumers": 3000}})
    base = Scenario.model_validate(data)
    unified = Scenario.model_validate(
        merge(data, {"omnichannel": {"unified_price": {"price_index": 1.1}}})
    )
    stores = 0  # channel index of the dealer stores
    chain = _run(base).ledger
    one = _run(unified).ledger
    shelf = {
        r["consumer_price"] for r in chain["network"]["nodes"].values() if r["kind"] == "terminal"
    }
    assert len(shelf) == 1 and shelf.pop() == pytest.approx(10.81, abs=0.005)
    assert chain["ch_revenue"][stores] / chain["ch_units"][stores] == pytest.approx(
        6.25 * 1.08 * 1.10 * 1.12 * 1.30
    )
    assert one["ch_revenue"][stores] / one["ch_units"][stores] == pytest.approx(11.0 * 1.1)


def test_showrooming_and_webrooming_follow_the_trail(tmp_path):
    """A purchase is showrooming when the search started in an offline channel (the
    considered channel with the highest habit, on the trail's search row) and the purchase is
    online, webrooming the reverse; the ledger's counts equal the trail's."""
    sc = _small()
    path = tmp_path / "t.parquet"
    r = _run(sc, path)
    trail = pq.read_table(path).to_pandas()
    trail = trail[trail.event.isin(["search", "purchase"])].sort_values(
        ["consumer", "time"], kind="stable"
    )
    offline = {c.name: c.type in ("own_store", "dealer_store") for c in sc.channels}
    home: dict[int, str] = {}
    show = web = 0
    show_rev = 0.0
    lo, hi = sc.warmup_days, sc.horizon_days
    for row in trail.itertuples():
        if row.event == "search":
            home[row.consumer] = row.channel
        elif lo <= row.time < hi:
            start = home[row.consumer]
            if offline[start] and not offline[row.channel]:
                show += 1
                show_rev += row.units * row.value
            elif not offline[start] and offline[row.channel]:
                web += 1
    k = r.kpis
    assert show > 0 and web > 0
    assert k["showrooming_rate"] == show / k["purchases"]
    assert k["webrooming_rate"] == web / k["purchases"]
    assert k["cannibalisation.offline_to_online"] == pytest.approx(show_rev)


def test_inconsistency_lowers_satisfaction_by_the_spread_seen(tmp_path):
    """Without feedback from satisfaction (no reviews, no churn), runs with and without the
    inconsistency weight w follow the same paths, and each use's satisfaction differs by
    exactly -w x log(highest / lowest price the search considered)."""
    quiet = {
        "journey": {
            "reviews": {"post_probability": 0.0},
            "churn": {"probability": 0.0},
            "habits": {"learning_rate": 0.0, "decay": 0.0},
        }
    }
    w = 1.5
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    _run(_small(**quiet), paths[0])
    louder = merge(quiet, {"journey": {"satisfaction": {"inconsistency_weight": w}}})
    _run(_small(**louder), paths[1])
    a, b = (pq.read_table(p).to_pandas() for p in paths)
    assert len(a) == len(b)
    ua, ub = a[a.event == "use"], b[b.event == "use"]
    diff = (ub.value.to_numpy() - ua.value.to_numpy()) / -w
    # The spreads possible: log ratios of the goods prices a consumer can see (list 100;
    # members 5% off in the store; platform 92; livestream sessions 15% off; the sale 20% off
    # on the platform and the livestream).
    assert diff.min() >= -1e-9
    assert (diff > 1e-6).mean() > 0.2
    prices = np.array([100.0, 95.0, 92.0, 92.0 * 0.8, 85.0, 80.0, 68.0])
    ratios = {round(float(np.log(x / y)), 5) for x in prices for y in prices if x >= y}
    assert {round(float(d), 5) for d in diff} <= ratios


def test_inconsistency_loss_erodes_habits_only_where_prices_differ():
    """Trust lost to inconsistent prices multiplies every habit by exp(-k sigma) after each
    purchase: with separate prices the consumers end with weaker habits; with one price and
    one membership (sigma = 0) the loss changes nothing at all."""
    quiet = {"journey": {"habits": {"learning_rate": 0.0, "decay": 0.0}}}
    lossy = merge(quiet, {"journey": {"habits": {"inconsistency_loss": 3.0}}})
    one = {"omnichannel": {"unified_price": {"price_index": 1.0}, "unified_membership": True}}
    habits = {}
    for name, data in {
        "apart": quiet,
        "apart_lossy": lossy,
        "one": merge(quiet, one),
        "one_lossy": merge(lossy, one),
    }.items():
        sim = Simulation(_small(**data), 0)
        sim.run()
        habits[name] = sim.population.habit.copy()
    assert habits["apart_lossy"].mean() < 0.9 * habits["apart"].mean()
    np.testing.assert_array_equal(habits["one_lossy"], habits["one"])
