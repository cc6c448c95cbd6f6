"""Economics of the dealer network: prices along the chain, money conservation, the brand's
accounting with a network, per-level KPIs, and flattening."""

from __future__ import annotations

import copy
import math

import pytest
from test_network import assert_stock_flows, drive, problems, two_level

from omnisim.metrics.kpis import network_kpis
from omnisim.scenario.loading import scenario_from_dict
from omnisim.simulation import Simulation
from omnisim.supply.network import BRAND, SupplyNetwork


def priced(horizon_days: float = 40.0, **network) -> dict:
    """`two_level` with a brand markup and a terminal markup, plus ``network`` changes."""
    data = two_level(horizon_days=horizon_days)
    data["network"]["brand_markup"] = 0.25
    data["network"]["terminal_markup"] = 0.2
    data["network"].update(network)
    return data


def settings(data: dict) -> dict:
    net = SupplyNetwork(scenario_from_dict(data))
    return {s.name: s for s in net.nodes}


def assert_money_flows(nodes: dict) -> None:
    """Money each node paid its parent = the parent's revenue from it: a parent's revenue is
    what its children paid (dealers fed demand directly in these tests are fed none)."""
    for name, r in nodes.items():
        if r["kind"] == "terminal":
            continue
        kids = [k for k in nodes.values() if k["parent"] == name]
        assert r["revenue"] == pytest.approx(sum(k["paid"] for k in kids), rel=1e-12), name
        assert r["revenue"] > 0, name


def test_cost_plus_prices_follow_the_chain() -> None:
    s = settings(priced())
    brand = 40.0 * 1.25
    assert s[BRAND].selling_price == pytest.approx(brand)
    assert s["prov_n"].purchase_price == pytest.approx(brand)
    assert s["city_n"].purchase_price == pytest.approx(brand * 1.1)
    assert s["s_north"].purchase_price == pytest.approx(brand * 1.1 * 1.15)
    assert s["s_north"].consumer_price == pytest.approx(brand * 1.1 * 1.15 * 1.2)
    # A store's own markup overrides the network's.
    data = priced()
    data["nodes"][0]["markup"] = 0.5
    assert settings(data)["s_north"].consumer_price == pytest.approx(brand * 1.1 * 1.15 * 1.5)


def test_fixed_retail_splits_the_list_price() -> None:
    data = priced(pricing="fixed_retail", brand_share=0.5)
    data["network"]["levels"][0]["retail_share"] = 0.6
    data["network"]["levels"][1]["retail_share"] = 0.75
    s = settings(data)
    assert s["prov_n"].purchase_price == pytest.approx(50.0)
    assert s["city_n"].purchase_price == pytest.approx(60.0)
    assert s["s_north"].purchase_price == pytest.approx(75.0)
    assert s["s_north"].consumer_price == 0.0  # consumers pay the channel's price


def test_fixed_retail_needs_its_shares() -> None:
    data = priced(pricing="fixed_retail")
    data["network"]["flatten"] = {"remove_levels": ["nope"]}
    data["nodes"][3]["markup"] = 0.1  # dc has no supplier
    assert problems(data) == [
        "s: nodes.dc.markup: applies only to a node supplied by a dealer",
        "s: network.brand_share: `pricing: fixed_retail` needs brand_share",
        "s: network.levels.provincial.retail_share: `pricing: fixed_retail` needs every "
        "level's retail_share",
        "s: network.levels.city.retail_share: `pricing: fixed_retail` needs every level's "
        "retail_share",
        "s: network.flatten.remove_levels.0: unknown level 'nope'",
    ]


@pytest.mark.parametrize("shortage", ["backlog", "lost"])
def test_money_is_conserved_in_a_driven_network(shortage: str) -> None:
    data = priced()
    data["network"]["levels"][0]["shortage"] = shortage
    data["warmup_days"] = 20.0
    data["horizon_days"] = 150.0
    net, _ = drive(data, days=150)
    nodes = net.records()["nodes"]
    assert_money_flows(nodes)
    # Paid is what was shipped to the node in the window at its purchase price.
    for r in nodes.values():
        assert r["profit"] == pytest.approx(
            r["gross_margin"] - r["holding_cost"] - r["ordering_cost"]
        )
        assert 0.0 <= r["fill_rate"] <= 1.0
    # Dealers' margins are their markups when their stock ends where it started.
    k = network_kpis(net.records())
    assert set(k) >= {f"{m}.{lv}" for m in ("dealer_profit", "dealer_margin", "bullwhip",
                                             "inventory_days", "fill_rate")
                      for lv in ("provincial", "city", "terminal")}  # fmt: skip
    assert k["bullwhip.provincial"] > 1.0  # forecast-based levels amplify demand swings
    assert k["dealer_margin.provincial"] == pytest.approx(0.1 / 1.1, rel=0.2)


def test_end_to_end_accounting_with_a_network() -> None:
    data = priced(horizon_days=60.0)
    result = Simulation(scenario_from_dict(data)).run()
    L, k = result.ledger, result.kpis
    nodes = L["network"]["nodes"]
    assert_money_flows(nodes)
    assert_stock_flows(nodes)
    # Consumers at the dealer-channel store pay the chain's price (no promotion or member
    # discount there).
    d = nodes["d_north"]
    assert d["consumer_revenue"] / d["units_out"] == pytest.approx(d["consumer_price"])
    # The brand's take: its sales to the top level plus its take at the stores it supplies.
    terminals = [r for r in nodes.values() if r["kind"] == "terminal"]
    own = L["brand_take"] - sum(r["consumer_brand_take"] for r in terminals)
    assert k["revenue_split.brand"] == pytest.approx(own + nodes[BRAND]["revenue"])
    # Consumer-facing revenue is unchanged: every consumer purchase.
    assert k["revenue"] == pytest.approx(L["revenue"])
    sold_at_network = sum(r["units_out"] for r in terminals)
    assert k["cost.goods"] == pytest.approx(
        L["cogs"] - 40.0 * sold_at_network + 40.0 * nodes[BRAND]["units_out"]
    )
    assert k["cost.holding"] < L["holding_cost"]
    assert "dealer_profit.city" in k and "bullwhip.terminal" in k


def test_no_network_no_network_kpis(small) -> None:
    k = Simulation(small).run().kpis
    assert not any(name.startswith(("dealer_profit.", "bullwhip")) for name in k)
    # Without a network the dealers' total is their take (their costs are not modelled).
    assert k["dealer_profit"] == k["revenue_split.dealer"] > 0


def flattened(reattach: str, price: str, horizon_days: float = 40.0, **network) -> dict:
    data = priced(horizon_days, **network)
    data["network"]["flatten"] = {
        "remove_levels": ["city"],
        "reattach": reattach,
        "price": price,
    }
    return data


@pytest.mark.parametrize("reattach", ["level_above", "nearest"])
def test_flattening_removes_the_level_and_reattaches_every_node(reattach: str) -> None:
    before = settings(priced())
    data = flattened(reattach, "pass_saving")
    net = SupplyNetwork(scenario_from_dict(data))
    assert {s.level for s in net.nodes} == {"brand", "provincial", "terminal"}
    g = net.graph
    assert "city_n" not in g and "city_s" not in g
    for t in ("s_north", "s_south", "d_north"):
        assert next(iter(g.predecessors(t))) == "prov_n"
    assert all(g.in_degree(n) == 1 for n in g if n != BRAND)
    after = {s.name: s for s in net.nodes}
    # The city markup is gone (cost_plus passes the saving on automatically).
    assert after["s_north"].purchase_price == pytest.approx(before["s_north"].purchase_price / 1.15)
    assert after["s_north"].consumer_price < before["s_north"].consumer_price
    # And the lead time: the stores keep theirs from the new parent, the city level's is gone.
    assert after["s_north"].lead_time == before["s_north"].lead_time


def test_flattening_keep_retail_keeps_the_consumer_price() -> None:
    before = settings(priced())
    after = settings(flattened("level_above", "keep_retail"))
    for t in ("s_north", "s_south", "d_north"):
        assert after[t].consumer_price == pytest.approx(before[t].consumer_price)
        assert after[t].purchase_price < before[t].purchase_price


def test_flattening_with_fixed_retail_passes_the_saving_in_currency() -> None:
    def fixed(data: dict) -> dict:
        data = copy.deepcopy(data)
        data["network"].update(pricing="fixed_retail", brand_share=0.5)
        data["network"]["levels"][0]["retail_share"] = 0.6
        data["network"]["levels"][1]["retail_share"] = 0.75
        return data

    keep = settings(fixed(flattened("level_above", "keep_retail")))
    cut = settings(fixed(flattened("level_above", "pass_saving")))
    assert keep["d_north"].consumer_price == 0.0  # the channel's price
    assert keep["d_north"].purchase_price == pytest.approx(60.0)
    # The store bought at 75 before; now at 60: consumers pay 100 - 15.
    assert cut["d_north"].consumer_price == pytest.approx(85.0)


def test_flattened_run_conserves_money_and_lowers_prices() -> None:
    base = Simulation(scenario_from_dict(priced(horizon_days=60.0))).run()
    flat = Simulation(
        scenario_from_dict(flattened("nearest", "pass_saving", horizon_days=60.0))
    ).run()
    nodes = flat.ledger["network"]["nodes"]
    assert_money_flows(nodes)
    assert_stock_flows(nodes)
    # The removed level still reports (the strategies of a scenario share their KPIs).
    assert flat.kpis["dealer_profit.city"] == 0.0
    assert math.isnan(flat.kpis["bullwhip.city"]) and math.isnan(flat.kpis["fill_rate.city"])
    assert set(flat.kpis) == set(base.kpis)
    store = lambda r: r.ledger["network"]["nodes"]["d_north"]  # noqa: E731
    assert store(flat)["consumer_price"] < store(base)["consumer_price"]
    assert flat.kpis["avg_price_paid"] < base.kpis["avg_price_paid"]
