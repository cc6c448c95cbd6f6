"""The supply network: building it, conservation of units, shortage rules, bad input, and an
end-to-end run in which dealers supply a market's stores."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from builders import small_market

from omnisim.scenario.loading import ScenarioError, scenario_from_dict
from omnisim.simulation import Simulation
from omnisim.supply.network import BRAND, SupplyNetwork


def two_level(shortage: str = "backlog", city_shortage: str = "lost", **changes) -> dict:
    """`small_market` with provincial -> city dealers supplying its stores (not the warehouse)."""
    data = small_market(**changes)
    data["network"] = {
        "levels": [
            {
                "name": "provincial",
                "markup": 0.1,
                "review_days": 7,
                "shortage": shortage,
                "lead_time": {"mean_days": 3, "cv": 0.4, "distribution": "gamma"},
                "policy": {"forecast_periods": 3, "safety_units": 40, "initial_forecast": 250},
            },
            {
                "name": "city",
                "markup": 0.15,
                "review_days": 5,
                "shortage": city_shortage,
                "ordering_cost": 15,
                "lead_time": {"mean_days": 2, "cv": 0.3, "distribution": "lognormal"},
                "policy": {"forecast_periods": 2, "safety_units": 10, "initial_forecast": 120},
            },
        ],
        "dealers": [
            {"name": "prov_n", "level": "provincial", "region": "north"},
            {"name": "city_n", "level": "city", "region": "north"},
            {"name": "city_s", "level": "city", "region": "south"},
        ],
    }
    for node in data["nodes"]:
        if node["name"] in ("s_north", "d_north"):
            node["supplier"] = "city_n"
        elif node["name"] == "s_south":
            node["supplier"] = "city_s"
            # A forecast-based level for one store: it forecasts from what consumers ask.
            node["replenishment"]["policy"] = {
                "forecast_periods": 2,
                "safety_units": 10,
                "initial_forecast": 60,
            }
            node["replenishment"].pop("reorder_point")
    return data


def drive(data: dict, days: float, seed: int = 5, allow_negative: bool = False):
    """Run the network alone, feeding random consumer demand to every terminal each hour;
    checks at every step that no on-hand stock is negative."""
    sc = scenario_from_dict(data)
    net = SupplyNetwork(sc, allow_negative_orders=allow_negative)
    env = simpy.Environment()
    net.start(env)
    rng = np.random.default_rng(seed)
    terminals = [s.name for s in net.nodes if s.kind == "terminal"]
    lowest = [0]

    def consumers():
        while True:
            yield env.timeout(1 / 24)
            for name in terminals:
                net.demand(name, int(rng.poisson(1.2)))
            lowest[0] = min(lowest[0], min(net.stock_of(k) for k in range(len(net.nodes))))

    env.process(consumers())
    env.run(until=days)
    return net, lowest[0]


@pytest.mark.parametrize("shortage", ["backlog", "lost"])
def test_units_are_conserved_and_stock_never_negative(shortage: str) -> None:
    net, lowest = drive(two_level(shortage=shortage, city_shortage=shortage), days=200)
    rec = net.records()
    nodes = rec["nodes"]
    assert_stock_flows(nodes)
    assert lowest >= 0
    # Demand went through: terminals asked, dealers shipped, the brand was ordered from.
    assert nodes[BRAND]["shipped"] > 0
    assert all(nodes[t]["asked"] > 0 for t in ("s_north", "s_south", "d_north"))
    if shortage == "lost":
        assert nodes["prov_n"]["backlog_end"] == 0
        assert sum(r["lost_units"] for r in nodes.values()) > 0  # the test exercised the rule
    else:
        assert nodes["prov_n"]["lost_units"] == 0


def test_backlog_is_served_first_come_first_served() -> None:
    data = small_market()
    data["network"] = {
        "levels": [
            {
                "name": "agent",
                "review_days": 100,
                "lead_time": {"mean_days": 1},
                "policy": {"order_up_to": 10},
                "shortage": "backlog",
            }
        ],
        "dealers": [{"name": "a", "level": "agent", "region": "north"}],
    }
    net = SupplyNetwork(scenario_from_dict(data))
    env = simpy.Environment()
    net.start(env)
    env.run(until=0.5)  # the day-0 review finds 10 on hand: no order
    assert net.demand("a", 7) == 7
    assert net.demand("a", 6) == 3  # 3 shipped, 3 owed
    assert net.demand("a", 2) == 0
    assert net.net_stock("a") == -5
    rec = net.records()["nodes"]["a"]
    assert (rec["short_orders"], rec["short_units"], rec["backlog_end"]) == (2, 5, 5)


def test_parent_defaults_to_the_nearest_dealer_of_the_level_above() -> None:
    data = small_market()
    data["market"]["regions"].append({"name": "east", "population_share": 0.2})
    data["market"]["distance_days"] = {
        "north": {"south": 2.0, "east": 5.0},
        "south": {"east": 1.0},
    }
    data["network"] = {
        "levels": [{"name": "national"}, {"name": "provincial"}, {"name": "city"}],
        "dealers": [
            {"name": "nat", "level": "national", "region": "north"},
            {"name": "p_north", "level": "provincial", "region": "north"},
            {"name": "p_south", "level": "provincial", "region": "south"},
            {"name": "c_east", "level": "city", "region": "east"},  # south is 1 day away
            {"name": "c_north", "level": "city", "region": "north"},
            {"name": "c_pinned", "level": "city", "region": "east", "parent": "p_north"},
        ],
    }
    data["nodes"][0]["supplier"] = "c_east"
    net = SupplyNetwork(scenario_from_dict(data))
    parent = {n: next(iter(net.graph.predecessors(n))) for n in net.graph if n != BRAND}
    assert parent == {
        "nat": BRAND,
        "p_north": "nat",
        "p_south": "nat",
        "c_east": "p_south",
        "c_north": "p_north",
        "c_pinned": "p_north",
        "s_north": "c_east",
    }
    # A tree rooted at the brand; the stock nodes the brand supplies are not in it.
    assert net.graph.in_degree(BRAND) == 0
    assert all(net.graph.in_degree(n) == 1 for n in net.graph if n != BRAND)
    assert "dc" not in net.graph
    # Purchase prices follow the markup chain (none here).
    assert net.nodes[net.index["c_east"]].purchase_price == data["product"]["unit_cost"]


def three_levels(dealers: list[dict]) -> dict:
    data = small_market()
    data["network"] = {
        "levels": [{"name": "nat"}, {"name": "prov"}, {"name": "city"}],
        "dealers": dealers,
    }
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="s")
    return info.value.problems


NAT = {"name": "a", "level": "nat", "region": "north"}


@pytest.mark.parametrize(
    ("dealers", "expected"),
    [
        (
            [{"name": "a", "level": "zz", "region": "north"}],
            "s: network.dealers.a.level: unknown level 'zz'",
        ),
        (
            [{"name": "a", "level": "nat", "region": "west"}],
            "s: network.dealers.a.region: unknown region 'west'",
        ),
        (
            [NAT, {"name": "b", "level": "prov", "region": "north", "parent": "nobody"}],
            "s: network.dealers.b.parent: unknown dealer 'nobody'",
        ),
        (
            [
                NAT,
                {"name": "b", "level": "prov", "region": "north"},
                {"name": "c", "level": "city", "region": "north", "parent": "a"},
            ],
            "s: network.dealers.c.parent: 'a' is a 'nat' dealer, not one of the level above "
            "('prov')",
        ),
        (
            [
                NAT,
                {"name": "b", "level": "prov", "region": "north", "parent": "c"},
                {"name": "c", "level": "city", "region": "north", "parent": "b"},
            ],
            "s: network.dealers.b.parent: parents form a cycle: b -> c -> b",
        ),
        (
            [NAT, {"name": "b", "level": "nat", "region": "north", "parent": "a"}],
            "s: network.dealers.b.parent: a dealer of the top level 'nat' is supplied by the "
            "brand: no parent",
        ),
        (
            [{"name": "b", "level": "prov", "region": "north"}],
            "s: network.dealers.b.level: no dealer of level 'nat', the level above, to supply it",
        ),
        (
            [NAT, {"name": "a", "level": "nat", "region": "south"}],
            "s: network.dealers.a.name: duplicate name 'a'",
        ),
        (
            [{"name": "dc", "level": "nat", "region": "north"}],
            "s: network.dealers.dc.name: 'dc' is already a stock node's name",
        ),
        (
            [NAT | {"policy": {"kind": "s_S"}}],
            "s: network.dealers.a.policy: an `s_S` policy needs `reorder_point`",
        ),
    ],
)
def test_bad_network_input_gives_one_line_errors(dealers: list[dict], expected: str) -> None:
    assert problems(three_levels(dealers)) == [expected]


def test_bad_supplier_links_give_one_line_errors() -> None:
    data = small_market()
    data["nodes"][0]["supplier"] = "a"
    assert problems(data) == [
        "s: nodes.s_north.supplier: no `network` section defines dealers to supply it"
    ]
    data = three_levels([NAT])
    data["nodes"][0]["supplier"] = "zz"
    data["nodes"][1]["replenishment"]["lead_time"] = {"mean_days": 2}
    assert problems(data) == [
        "s: nodes.s_north.supplier: unknown dealer 'zz'",
        "s: nodes.s_south.replenishment.lead_time: applies only to a node supplied by a dealer "
        "(`supplier`)",
    ]


# --------------------------------------------------------------------------------------------
# End to end: the consumer kernel takes stock the dealers supply


def test_small_market_supplied_by_a_two_level_network() -> None:
    sc = scenario_from_dict(two_level(horizon_days=60.0))
    sim = Simulation(sc)
    result = sim.run()
    net = result.ledger["network"]
    nodes = net["nodes"]
    assert set(nodes) == {BRAND, "prov_n", "city_n", "city_s", "s_north", "s_south", "d_north"}
    assert_stock_flows(nodes)
    assert all(v >= 0 for v in result.final["stock"].values())
    assert all(r["end_stock"] >= 0 for r in nodes.values())
    # Consumers bought at the supplied stores, which received goods from their dealers.
    units = dict(zip(result.ledger["meta"]["nodes"], result.ledger["node_units"], strict=True))
    assert units["s_north"] > 0 and units["s_south"] > 0
    assert nodes["s_north"]["received"] > 0 and nodes["city_n"]["orders_placed"] > 0
    # Terminals' orders are counted as replenishment orders in the ledger as before.
    assert result.ledger["replenishment_orders"] > 0
    # Purchase prices follow the markup chain.
    assert nodes["city_n"]["purchase_price"] == pytest.approx(40.0 * 1.1)
    assert nodes["s_north"]["purchase_price"] == pytest.approx(40.0 * 1.1 * 1.15)
    assert nodes["city_n"]["ordering_cost"] > 0 and nodes["prov_n"]["holding_cost"] > 0


def assert_stock_flows(nodes: dict) -> None:
    """Units shipped by each node = units received by its children + units in transit to them;
    each dealer's stock balances: initial + received - shipped - served = end stock."""
    for name, r in nodes.items():
        kids = [k for k in nodes.values() if k["parent"] == name]
        assert r["shipped"] == sum(k["received"] + k["in_transit"] for k in kids), name
        if r["kind"] == "dealer":
            balance = r["initial_stock"] + r["received"] - r["shipped"] - r["served"]
            assert balance == r["end_stock"], name


def test_terminal_counts_what_consumers_ask() -> None:
    """Asked = sold + lost at every node: the kernel's counter, checked against the stock
    balance (sold) and the ledger's lost units (no warm-up, so the window is the whole run)."""
    sc = scenario_from_dict(two_level(horizon_days=40.0, warmup_days=0.0))
    sim = Simulation(sc)
    result = sim.run()
    inv = sim.inventory
    sold = inv.initial + inv.delivered - inv.stock
    lost = np.asarray(result.ledger["node_lost_units"])
    assert np.array_equal(inv.asked, sold + lost.astype(np.int64))
    assert inv.asked.sum() > 0


def test_a_scenario_without_network_has_no_network_records(small) -> None:
    result = Simulation(small).run()
    assert "network" not in result.ledger


def test_a_dealer_counts_the_orders_placed_at_its_own_review_time() -> None:
    """Stores and their dealer review weekly at the same instants. The stores' orders of that
    instant reach the dealer before its own review (children review first), so its order-up-to
    level F (L / R + 1) + safety covers the week: on constant demand the dealer never runs
    short. Were the dealer to review first, the week's orders would meet S - D on hand and it
    would run short by D (1 - L / R) - safety = 0.61 D every week."""
    data = small_market(horizon_days=200.0)
    week = 7 * 24  # units a week at each terminal: one an hour
    data["network"] = {
        "levels": [
            {
                "name": "city",
                "review_days": 7,
                "shortage": "lost",
                "lead_time": {"mean_days": 2, "distribution": "fixed"},
                "policy": {
                    "forecast_periods": 4,
                    "safety_units": 3 * week // 10,
                    "initial_forecast": 3 * week,
                },
            }
        ],
        "dealers": [{"name": "city_n", "level": "city", "region": "north"}],
    }
    for node in data["nodes"]:
        if node["kind"] == "store":
            node["supplier"] = "city_n"
            node["replenishment"] = {
                "review_days": 7,
                "lead_time_days": 1,
                "policy": {"forecast_periods": 4, "safety_units": 60, "initial_forecast": week},
            }
    sc = scenario_from_dict(data)
    net = SupplyNetwork(sc)
    env = simpy.Environment()
    net.start(env)
    terminals = [s.name for s in net.nodes if s.kind == "terminal"]
    assert len(terminals) == 3

    def consumers():
        while True:
            yield env.timeout(1 / 24)
            for name in terminals:
                net.demand(name, 1)

    env.process(consumers())
    env.run(until=200)
    city = net.records()["nodes"]["city_n"]
    assert city["units_asked"] > 20 * 3 * week
    assert city["short_orders"] == 0 and city["lost_units"] == 0
