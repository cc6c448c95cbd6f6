"""Omnichannel fulfilment (omnisim/channels/fulfilment.py): candidate lists, the endless-aisle
pool, the allocation of a cross-fulfilled order's value, the BOPIS nest, and their effect in
runs (pick-up shares against the binary logit, endless-aisle acceptance, money conservation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import small_market

from omnisim.channels import fulfilment as fl
from omnisim.channels.catalog import ChannelTable, Geography
from omnisim.engine import ledger as lg
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation
from omnisim.supply.network import BRAND

EVERYTHING = {
    "shared_inventory": True,
    "ship_from_store": True,
    "nearest_dispatch": True,
    "online_order_offline_fulfilment": True,
    "bopis": {"ready_hours": 2.0, "pickup_effort": 0.5},
    "allocation": {
        "order_taker_share": 0.2,
        "territory_channel": "dealer",
        "territory_share": 0.05,
    },
}


def market(omnichannel: dict | None = None, **changes) -> dict:
    """`small_market` with a second warehouse, `dc_s`, in the south (in no channel's nodes)."""
    data = small_market(**changes)
    data["nodes"].append(
        {
            "name": "dc_s",
            "kind": "warehouse",
            "region": "south",
            "replenishment": {"review_days": 7, "lead_time_days": 4, "order_up_to": 800},
        }
    )
    if omnichannel is not None:
        data["omnichannel"] = omnichannel
    return data


def tables(data: dict) -> tuple[fl.Fulfilment, ChannelTable]:
    sc = Scenario.model_validate(data)
    geo = Geography.from_scenario(sc)
    chan = ChannelTable(sc, geo, {n.name: k for k, n in enumerate(sc.nodes)})
    return fl.Fulfilment(sc, geo, chan), chan


# ------------------------------------------------------------------------------------------
# Candidate lists


def test_without_switches_the_list_is_the_home_node_and_the_lead_is_unchanged() -> None:
    f, chan = tables(market())
    assert not f.on and not f.state().on
    for region in ("north", "south"):
        assert f.candidates("mall", region) == ["dc"]
    assert np.array_equal(f.lead, chan.expected_lead)
    assert np.array_equal(f.promise, chan.promised)


def test_candidate_lists_follow_the_switches() -> None:
    # Distances: 1 day within a region (the default), 2 days north <-> south.
    f, _ = tables(market({"shared_inventory": True}))
    # Home first, then the pool (the channel's other nodes and every warehouse) by distance.
    assert f.candidates("mall", "south") == ["dc", "dc_s"]
    assert f.candidates("mall", "north") == ["dc", "dc_s"]
    f, _ = tables(market({"shared_inventory": True, "ship_from_store": True}))
    # Then every store, by distance from the consumer's region (ties in scenario order).
    assert f.candidates("mall", "south") == ["dc", "dc_s", "s_south", "s_north", "d_north"]
    f, _ = tables(
        market({"shared_inventory": True, "ship_from_store": True, "nearest_dispatch": True})
    )
    # The whole list by distance, stable: the home node first among the 2-day nodes.
    assert f.candidates("mall", "south") == ["dc_s", "s_south", "dc", "s_north", "d_north"]
    assert f.candidates("mall", "north") == ["dc", "s_north", "d_north", "dc_s", "s_south"]
    # Ship from store without the pool: home, then the stores.
    f, _ = tables(market({"ship_from_store": True}))
    assert f.candidates("platform", "north") == ["dc", "s_north", "d_north", "s_south"]


def test_o2o_puts_the_consumers_own_outlets_first() -> None:
    f, chan = tables(market({"online_order_offline_fulfilment": True}))
    # The consumer's store of each offline channel in their region (the dealer has none in the
    # south), then the home node.
    assert f.candidates("mall", "north", consumer=11) == ["s_north", "d_north", "dc"]
    assert f.candidates("mall", "south", consumer=11) == ["s_south", "dc"]
    # The expected lead and the promise are the local outlet's: store handling + same region.
    c = chan.index("mall")
    assert f.lead[c, 1] == pytest.approx(0.25 + 1.0)
    assert f.promise[c, 1] == pytest.approx(0.25 + 1.0 + 0.3)  # + the mean delay
    # With nearest dispatch the outlets (at the same-region distance) go after the nodes
    # strictly nearer than that, first among their equals: here the south warehouse is nearer
    # to northern consumers (1 day) than their own region (1.5 days).
    on = {"online_order_offline_fulfilment": True, "nearest_dispatch": True}
    data = market(on | {"shared_inventory": True})
    data["market"]["distance_days"] = {"north": {"south": 1.0, "north": 1.5}}
    f, _ = tables(data)
    assert f.candidates("mall", "north", consumer=11) == ["dc_s", "s_north", "d_north", "dc"]
    assert f.lead[c, 0] == pytest.approx(0.5 + 1.0)  # dc_s: the channel's handling + 1 day
    # In the south both warehouses are 1 day away: the home node first among equals.
    assert f.candidates("mall", "south", consumer=11) == ["s_south", "dc", "dc_s"]
    f, _ = tables(market(on))
    assert f.candidates("mall", "north", consumer=11) == ["s_north", "d_north", "dc"]


def test_the_endless_aisle_pool_is_warehouses_and_with_ship_from_store_stores() -> None:
    f, _ = tables(market({"shared_inventory": True}))
    assert f.pool_names("south") == ["dc_s", "dc"]
    assert f.pool_names("north") == ["dc", "dc_s"]
    f, _ = tables(market({"shared_inventory": True, "ship_from_store": True}))
    assert f.pool_names("south") == ["s_south", "dc_s", "s_north", "d_north", "dc"]


def test_owners_and_handling() -> None:
    f, _ = tables(market({"ship_from_store": True}))
    names = list(f.node_names)
    # The dealer channel has an intermediary margin: its store is the dealer's.
    assert [names[k] for k in np.flatnonzero(f.dealer)] == ["d_north"]
    # A store outside the channel's nodes hands over in store_handling_days; the channel's
    # own nodes take its handling_days.
    c = f.channel_names.index("mall")
    a = f.first[c, 0]
    got = dict(zip([names[k] for k in f.flat[a : a + f.count[c, 0]]], f.handling[a:], strict=False))
    assert got == {"dc": 0.5, "s_north": 0.25, "d_north": 0.25, "s_south": 0.25}


# ------------------------------------------------------------------------------------------
# Allocation


def settle(f, chan, consumer, region, channel, node, mode, value, taker=-1):
    """Run `fulfilment.settle` on one purchase at today's split; returns the split, the
    scalar tallies and the node credits."""
    c = chan.index(channel)
    k = f.node_names.index(node)
    taker = f.node_names.index(taker) if isinstance(taker, str) else taker
    platform = value * chan.commission[c]
    dealer = value * chan.intermediary_margin[c]
    ledger = lg.Ledger(chan.n, len(f.node_names), 0.0, 1.0, 1.0)
    acc, nd = ledger.acc, ledger.node
    split = (platform, dealer, value - platform - dealer)
    split = fl.settle(
        consumer,
        region,
        c,
        k,
        taker,
        mode,
        value,
        split,
        f.state(),
        chan.state(),
        ledger.state(),
        0.5,
    )
    assert sum(split) == pytest.approx(value, rel=1e-12)  # conservation
    credit = {f.node_names[j]: x for j, x in enumerate(nd[:, lg.ND_CREDIT]) if x}
    return split, acc, credit


def test_allocation_of_cross_fulfilled_orders() -> None:
    f, chan = tables(market({"ship_from_store": True, "allocation": {"order_taker_share": 0.1}}))
    # A platform order (commission 10%) shipped from the dealer's store: of R = 90 the platform
    # (the brand's channel) keeps 9, the store's dealer gets 81.
    (platform, dealer, brand), acc, credit = settle(f, chan, 0, 0, "platform", "d_north", 5, 100.0)
    assert (platform, dealer, brand) == pytest.approx((10.0, 81.0, 9.0))
    assert acc[lg.CROSS_FULFILLED] == 1 and acc[lg.FULFILMENT_TRANSFER] == pytest.approx(81.0)
    assert credit == pytest.approx({"d_north": 81.0})
    # A livestream order (5% commission, 10% host margin) at the brand's own store: the host's
    # margin is paid first; both parts of R = 85 are the brand's, the store is credited 76.5.
    (platform, dealer, brand), acc, credit = settle(f, chan, 0, 0, "live", "s_north", 5, 100.0)
    assert (platform, dealer, brand) == pytest.approx((5.0, 10.0, 85.0))
    assert credit == pytest.approx({"s_north": 76.5})
    # An endless-aisle sale taken at the dealer's store, delivered from the brand's warehouse:
    # the dealer keeps the taker's share of R = 100 (no commission), the brand the rest.
    (platform, dealer, brand), acc, credit = settle(
        f, chan, 0, 0, "dealer", "dc", fl.MODE_AISLE, 100.0, taker="d_north"
    )
    assert (platform, dealer, brand) == pytest.approx((0.0, 10.0, 90.0))
    assert credit == pytest.approx({"d_north": 10.0, "dc": 90.0})
    # At the taker's own node nothing changes.
    split, acc, credit = settle(f, chan, 0, 0, "dealer", "d_north", fl.MODE_OWN, 100.0)
    assert split == pytest.approx((0.0, 30.0, 70.0)) and not acc.any() and not credit


def test_territory_commission_goes_to_the_territory_stores_owner() -> None:
    alloc = {"order_taker_share": 0.1, "territory_channel": "dealer", "territory_share": 0.05}
    f, chan = tables(market({"allocation": alloc}))
    assert f.on
    # A north consumer's platform order: 5% of V - K = 90 from the brand to the dealer.
    (platform, dealer, brand), acc, credit = settle(f, chan, 0, 0, "platform", "dc", 0, 100.0)
    assert (platform, dealer, brand) == pytest.approx((10.0, 4.5, 85.5))
    assert acc[lg.TERRITORY_COMMISSION] == pytest.approx(4.5) and acc[lg.CROSS_FULFILLED] == 0
    assert credit == pytest.approx({"d_north": 4.5})
    # No dealer store in the south: nothing. Store purchases: nothing.
    split, acc, _ = settle(f, chan, 0, 1, "platform", "dc", 0, 100.0)
    assert split == pytest.approx((10.0, 0.0, 90.0)) and not acc.any()
    split, acc, _ = settle(f, chan, 0, 0, "store", "s_north", 0, 100.0)
    assert split == pytest.approx((0.0, 0.0, 100.0)) and not acc.any()
    # A brand-owned territory store is credited, but no money moves.
    alloc["territory_channel"] = "store"
    f, chan = tables(market({"allocation": alloc}))
    split, acc, credit = settle(f, chan, 0, 0, "platform", "dc", 0, 100.0)
    assert split == pytest.approx((10.0, 0.0, 90.0))
    assert credit == pytest.approx({"s_north": 4.5})


@pytest.mark.parametrize("lam", [1.0, 0.5, 0.05])
def test_nest_is_the_nested_logit_inclusive_value(lam: float) -> None:
    for vd, vp in [(0.3, -1.2), (5.0, 5.0), (-700.0, 2.0), (800.0, 1.0), (0.2, 0.25)]:
        iv, q = fl.nest(vd, vp, lam)
        # The textbook forms, in exact (arbitrary-precision-free but overflow-safe) terms.
        hi = max(vd, vp)
        expected_iv = hi + lam * math.log(math.exp((vd - hi) / lam) + math.exp((vp - hi) / lam))
        assert iv == pytest.approx(expected_iv)
        assert q == pytest.approx(1.0 / (1.0 + math.exp(min((vd - vp) / lam, 700.0))))
        # The inclusive value never falls below the better branch, and exceeds it by at most
        # lam ln 2 (two equal branches): a near-duplicate mode adds little under a small lam.
        assert hi <= iv <= hi + lam * math.log(2.0) + 1e-12


# ------------------------------------------------------------------------------------------
# In runs


def ample(data: dict, units: int = 100_000) -> dict:
    for n in data["nodes"]:
        n["replenishment"]["order_up_to"] = units
        n["replenishment"].pop("reorder_point", None)
        if n["kind"] == "store":
            n.setdefault("service", {})["servers"] = 50
            n["service"].pop("waiting_room", None)
            n["service"].pop("patience_minutes", None)
    return data


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_bopis_share_matches_the_binary_logit(lam: float) -> None:
    """Given the channel, pick-up is drawn with q = 1 / (1 + exp((Vd - Vp) / lam)) (lam: the
    fulfilment nest's dissimilarity); habits, price, rating and promotions are the same in both
    branches (no delivery fee), so Vd - Vp = -beta_t (wait_d - wait_p) + effort, with wait_d =
    handling + transport + mean delay and wait_p = ready + travel."""
    bopis = {"channels": ["mall"], "ready_hours": 3.0, "pickup_effort": 1.8}
    data = ample(market({"bopis": bopis}))
    data["segments"] = [data["segments"][0] | {"time_sensitivity": 1.5}]
    data["channels"][2]["nodes"] = ["dc", "dc_s"]  # both regions ship from their own region
    data["channels"][2]["asc"] = 1.5
    data["market"]["consumers"] = 5000
    data["horizon_days"] = 60.0
    data.setdefault("journey", {})["nests"] = {"fulfilment": lam}
    result = Simulation(Scenario.model_validate(data)).run()
    L = result.ledger
    wait_d = 0.5 + 1.0 + 0.3
    wait_p = 3.0 / 24 + 0.5 / 24
    q = 1.0 / (1.0 + math.exp((1.5 * (wait_p - wait_d) + 1.8) / lam))
    n = L["ch_orders"][2]
    # Pick-ups ~ Binomial(n, q) given the mall's orders: 4 standard errors (n ~ 3000).
    se = math.sqrt(q * (1 - q) / n)
    assert n > 1000
    print(f"pick-ups {L['pickups']:.0f} of {n:.0f}: {L['pickups'] / n:.4f} vs q = {q:.4f}")
    assert abs(L["pickups"] / n - q) < 4 * se
    assert result.kpis["pickup_share"] == pytest.approx(L["pickups"] / L["online_orders"])
    # Pick-ups are taken from the stores, so the mall's stock came from stores too.
    assert result.kpis["cross_fulfilled_share"] == pytest.approx(L["pickups"] / L["purchases"])


def test_endless_aisle_acceptance_rate() -> None:
    """Empty stores: every store visit meets a stock-out; the visitor accepts delivery from the
    (ample) warehouses with probability a, else the stock-out is tallied as today. Accepted /
    met ~ Binomial(met, a)."""
    data = ample(market({"shared_inventory": True, "endless_aisle_acceptance": 0.6}))
    for n in data["nodes"]:
        if n["kind"] == "store":
            n["replenishment"]["order_up_to"] = 0
    data["market"]["consumers"] = 4000
    result = Simulation(Scenario.model_validate(data)).run()
    L, k = result.ledger, result.kpis
    accepted = L["endless_aisle_orders"]
    met = accepted + L["stockouts"]  # only stores run out
    se = math.sqrt(0.6 * 0.4 / met)
    assert met > 1000
    print(f"accepted {accepted:.0f} of {met:.0f}: {accepted / met:.4f}")
    assert abs(accepted / met - 0.6) < 4 * se
    assert k["endless_aisle_orders"] == accepted
    # Delivered from the warehouses: the stores sold nothing, and each accepted order is a
    # cross-fulfilment.
    units = dict(zip(L["meta"]["nodes"], L["node_units"], strict=True))
    assert units["s_north"] == units["s_south"] == units["d_north"] == 0
    assert L["cross_fulfilled"] == accepted


def run_all_on(data: dict, tmp_path=None):
    sc = Scenario.model_validate(data)
    return Simulation(sc, trail_path=None if tmp_path is None else tmp_path / "t.parquet").run()


def test_money_is_conserved_with_every_switch_on(tmp_path) -> None:
    data = market(EVERYTHING)
    for n in data["nodes"]:  # some stock-outs, so that every path is taken
        n["replenishment"]["order_up_to"] //= 3
    result = run_all_on(data, tmp_path)
    L, k = result.ledger, result.kpis
    assert L["brand_take"] + L["dealer_take"] + L["platform_take"] == pytest.approx(
        L["revenue"], rel=1e-12
    )
    for name in ("cross_fulfilled", "pickups", "endless_aisle_orders", "territory_commission"):
        assert L[name] > 0, name
    assert k["cross_fulfilled_share"] == pytest.approx(L["cross_fulfilled"] / L["purchases"])
    assert k["fulfilment_transfer"] == pytest.approx(L["fulfilment_transfer"])
    # The credits are the fulfilment transfers, the endless-aisle takers' shares and the
    # territory commissions.
    assert sum(L["node_credit"]) > L["fulfilment_transfer"] + L["territory_commission"]
    # The trail: one cross_fulfilment row (value = the mode) right after each such purchase.
    import pyarrow.parquet as pq

    t = pq.read_table(tmp_path / "t.parquet").to_pandas()
    cross = t[t.event == "cross_fulfilment"]
    assert set(cross.value.astype(int)) <= {1, 2, 3, 4, 5} and len(cross) > 0
    assert set(cross.value.astype(int)) >= {2, 4}
    buys = t[t.event == "purchase"].set_index(["consumer", "time"])
    for row in cross.head(200).itertuples():
        b = buys.loc[(row.consumer, row.time)]
        b = b.iloc[-1] if b.ndim > 1 else b
        assert (b.node, b.channel, b.units) == (row.node, row.channel, row.units)


def test_stock_flows_and_asked_with_every_switch_on() -> None:
    """Units sold at each node (node_units, whole run: no warm-up) are the units that left
    its stock, and asked = sold + lost at every node, with orders moving between nodes."""
    data = market(EVERYTHING, warmup_days=0.0)
    for n in data["nodes"]:
        n["replenishment"]["order_up_to"] //= 3
    sim = Simulation(Scenario.model_validate(data))
    result = sim.run()
    inv = sim.inventory
    sold = inv.initial + inv.delivered - inv.stock
    assert np.array_equal(np.asarray(result.ledger["node_units"], dtype=np.int64), sold)
    lost = np.asarray(result.ledger["node_lost_units"], dtype=np.int64)
    assert np.array_equal(inv.asked, sold + lost)


def network(data: dict) -> dict:
    """One level of dealers supplying the stores (not the warehouses)."""
    data["network"] = {
        "terminal_markup": 0.2,
        "levels": [
            {
                "name": "city",
                "markup": 0.1,
                "review_days": 5,
                "policy": {"forecast_periods": 2, "safety_units": 30, "initial_forecast": 150},
            }
        ],
        "dealers": [
            {"name": "city_n", "level": "city", "region": "north"},
            {"name": "city_s", "level": "city", "region": "south"},
        ],
    }
    for n in data["nodes"]:
        if n["kind"] == "store":
            n["supplier"] = "city_n" if n["region"] == "north" else "city_s"
    return data


def test_money_is_conserved_with_a_dealer_network_and_counted_once() -> None:
    result = run_all_on(network(market(EVERYTHING)))
    L, k = result.ledger, result.kpis
    assert L["brand_take"] + L["dealer_take"] + L["platform_take"] == pytest.approx(
        L["revenue"], rel=1e-12
    )
    assert L["cross_fulfilled"] > 0 and L["territory_commission"] > 0
    nodes = L["network"]["nodes"]
    terminals = {name: r for name, r in nodes.items() if r["kind"] == "terminal"}
    credits = dict(zip(L["meta"]["nodes"], L["node_credit"], strict=True))
    assert sum(r["omnichannel_credit"] for r in terminals.values()) > 0
    for name, r in terminals.items():
        # A terminal's revenue: its own sales net of commission plus its credits.
        assert r["omnichannel_credit"] == credits[name]
        assert r["revenue"] == pytest.approx(
            r["consumer_revenue"] - r["platform_take"] + credits[name]
        )
    # The consumers' money is counted once: the brand's part (without what the dealers paid it
    # for goods), the dealers' (stores' own sales and credits) and the platforms'.
    consumer_side = k["revenue_split.brand"] - nodes[BRAND]["revenue"]
    assert consumer_side + k["revenue_split.dealer"] + k["revenue_split.platform"] == (
        pytest.approx(L["revenue"], rel=1e-12)
    )
    # The dealers' take: margins and credits booked in the kernel, plus the stores' own sales.
    own = sum(r["consumer_brand_take"] for r in terminals.values())
    assert k["revenue_split.dealer"] == pytest.approx(L["dealer_take"] + own)


def test_a_pickup_store_short_of_the_basket_sends_the_order_to_delivery() -> None:
    """Empty stores: consumers still choose pick-up (a strong pick-up branch), but every such
    order is delivered from the channel's warehouse instead."""
    data = ample(market({"bopis": {"channels": ["mall"], "pickup_effort": -3.0}}))
    for n in data["nodes"]:
        if n["kind"] == "store":
            n["replenishment"]["order_up_to"] = 0
    result = Simulation(Scenario.model_validate(data)).run()
    L = result.ledger
    assert L["ch_orders"][2] > 100 and L["pickups"] == 0 and L["cross_fulfilled"] == 0
    units = dict(zip(L["meta"]["nodes"], L["node_units"], strict=True))
    lost = dict(zip(L["meta"]["nodes"], L["node_lost_units"], strict=True))
    assert units["dc"] > 0 and lost["dc"] == 0
    assert result.kpis["pickup_share"] == 0.0


def test_a_pickup_pays_no_delivery_fee() -> None:
    data = ample(market({"bopis": {"channels": ["mall"]}}))
    data["channels"][2]["delivery_fee"] = 8.0
    L = Simulation(Scenario.model_validate(data)).run().ledger
    assert L["pickups"] > 0
    # The mall's deliveries pay the fee (no other channel charges one); its pick-ups do not.
    assert L["delivery_fees"] == pytest.approx(8.0 * (L["ch_orders"][2] - L["pickups"]))
