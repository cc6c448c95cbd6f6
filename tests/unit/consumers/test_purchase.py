"""Purchase and fulfilment (omnisim/consumers/stages/purchase.py; docs/model.md, sections 12-14,
"Purchase"): the ledger's tallies and the split of the value, the consumer's state after a
purchase, the measurement window, an online order short of stock (lost units, a stock-out, a
switch or a lost sale) and the conservation of units."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stage_kit import DC, HORIZON, LIVE, NORTH, PLATFORM, STORE, WARMUP, Bench, with_weights

from omnisim.channels import fulfilment as fl
from omnisim.consumers.kernel import Kernel
from omnisim.consumers.population import FULFILMENT, SEARCHING, WAIT_NEED
from omnisim.consumers.stages.purchase import order_online, purchase
from omnisim.engine import ledger as lg

CID = 1
UNIT_COST = 70.0  # the market's
SPLIT = [
    # (channel, commission, intermediary margin, order cost) as the market sets them
    (PLATFORM, 0.08, 0.0, 12.0),
    (LIVE, 0.05, 0.1, 7.0),
]


def buy(k: Kernel, b: Bench, t: float, c: int, q: int, p: float, **kw: float) -> None:
    """Consumer CID buys ``q`` units at ``p`` in channel ``c`` at its node DC, has them a day
    later and, with ``u_use`` 1/2, reviews them ``use_days ln 2`` days after that."""
    t_receive = kw.get("t_receive", t + 1.0)
    u_use = kw.get("u_use", 0.5)
    purchase(CID, t, c, DC, q, p, t_receive, u_use, k, *b, True, fl.MODE_OWN, -1)


def acc(k: Kernel, name: str) -> float:
    return float(k.ledger.acc[lg.SCALARS.index(name)])


@pytest.mark.parametrize(("c", "commission", "margin", "order_cost"), SPLIT, ids=["plat", "live"])
def test_a_purchase_tallies_the_value_and_its_split(
    k: Kernel, b: Bench, c: int, commission: float, margin: float, order_cost: float
) -> None:
    p, q, t = 161.5, 3, 30.0
    buy(k, b, t, c, q, p)
    value = 161.5 * 3  # 484.5
    platform, dealer = value * commission, value * margin
    brand = value - platform - dealer
    assert acc(k, "purchases") == 1.0
    assert acc(k, "units") == 3.0
    assert acc(k, "revenue") == pytest.approx(484.5, rel=1e-12)
    assert acc(k, "platform_take") == pytest.approx(platform, rel=1e-12)
    assert acc(k, "dealer_take") == pytest.approx(dealer, rel=1e-12, abs=0.0)
    assert acc(k, "brand_take") == pytest.approx(brand, rel=1e-12)
    parts = acc(k, "brand_take") + acc(k, "dealer_take") + acc(k, "platform_take")
    assert parts == pytest.approx(acc(k, "revenue"), rel=1e-12)
    assert acc(k, "cogs") == pytest.approx(3 * UNIT_COST, rel=1e-12)
    assert acc(k, "order_costs") == order_cost
    # The channel's and the node's tables, and the time series' period (7 days from day 10:
    # day 30 is in period 2).
    ch, nd = k.ledger.channel, k.ledger.node
    assert ch[c, lg.CH_ORDERS] == 1.0 and ch[c, lg.CH_UNITS] == 3.0
    assert ch[c, lg.CH_REVENUE] == pytest.approx(value, rel=1e-12)
    assert ch[c, lg.CH_BRAND] == pytest.approx(brand, rel=1e-12)
    assert nd[DC, lg.ND_UNITS] == 3.0
    assert nd[DC, lg.ND_REVENUE] == pytest.approx(value, rel=1e-12)
    assert nd[DC, lg.ND_PLATFORM] == pytest.approx(platform, rel=1e-12, abs=0.0)
    assert nd[DC, lg.ND_BRAND] == pytest.approx(brand, rel=1e-12)
    series = k.ledger.series
    assert series[2, lg.TS_PURCHASES] == 1.0
    assert series[2, lg.TS_REVENUE] == pytest.approx(value, rel=1e-12)
    assert series[:, lg.TS_PURCHASES].sum() == 1.0
    assert k.ledger.series_channel[2, c] == pytest.approx(value, rel=1e-12)
    # Nothing else was touched: the other channels' rows are empty.
    others = [x for x in range(ch.shape[0]) if x != c]
    assert not ch[others].any()


def test_a_purchase_moves_the_consumer_to_fulfilment(k: Kernel, b: Bench) -> None:
    k = with_weights(k, use_days=4.0, aware_after=True)
    k.pop.awareness[CID] = 0.5
    buy(k, b, 30.0, PLATFORM, 2, 161.5, t_receive=32.0, u_use=0.5)
    pop = k.pop
    assert pop.stage[CID] == FULFILMENT
    assert pop.paid[CID] == 161.5  # per unit, no delivery fee (exact in float32)
    assert pop.ever_bought[CID] and pop.purchases_in_window[CID] == 1
    assert not pop.bought_before_window[CID]
    assert pop.awareness[CID] == 1.0  # the default lift 1 makes the buyer fully aware
    # The trail: the purchase (units, price) and the receipt; the review is scheduled after an
    # exponential use time from receipt: 32 - 4 ln(1/2).
    assert [(r[0], r[3]) for r in b.rows()] == [("purchase", 2), ("receive", 2)]
    assert b.rows()[0][4] == 161.5
    ((who, when),) = b.scheduled()
    assert who == CID and when == pytest.approx(32.0 + 4.0 * math.log(2.0), rel=1e-12)
    # The other consumers are untouched.
    others = np.arange(len(pop.stage)) != CID
    assert not pop.ever_bought[others].any() and (pop.stage[others] == WAIT_NEED).all()


def test_awareness_stays_without_aware_after_purchase(k: Kernel, b: Bench) -> None:
    k = with_weights(k, aware_after=False)
    k.pop.awareness[CID] = 0.5
    buy(k, b, 30.0, PLATFORM, 1, 100.0)
    assert k.pop.awareness[CID] == 0.5


@pytest.mark.parametrize("t", [WARMUP - 5.0, WARMUP - 1e-9])
def test_a_purchase_in_the_warm_up_tallies_nothing(k: Kernel, b: Bench, t: float) -> None:
    buy(k, b, t, LIVE, 2, 100.0)
    led = k.ledger
    assert not led.acc.any() and not led.channel.any() and not led.node.any()
    assert not led.series.any() and not led.series_channel.any()
    pop = k.pop
    assert pop.bought_before_window[CID] and pop.purchases_in_window[CID] == 0
    # The consumer's own state moves on all the same.
    assert pop.stage[CID] == FULFILMENT and pop.ever_bought[CID] and pop.paid[CID] == 100.0


def test_a_purchase_at_the_window_start_counts(k: Kernel, b: Bench) -> None:
    buy(k, b, WARMUP, LIVE, 2, 100.0)
    assert acc(k, "purchases") == 1.0 and not k.pop.bought_before_window[CID]
    assert k.ledger.series[0, lg.TS_PURCHASES] == 1.0


def test_a_purchase_at_the_horizon_tallies_nothing_and_schedules_no_review(
    k: Kernel, b: Bench
) -> None:
    buy(k, b, HORIZON, LIVE, 2, 100.0)
    assert not k.ledger.acc.any() and not k.ledger.channel.any()
    assert not k.pop.bought_before_window[CID]  # after the window, not in the warm-up
    assert b.scheduled() == []


def test_showrooming_is_an_online_purchase_after_an_offline_search(k: Kernel, b: Bench) -> None:
    # Channel conflict (docs/model.md, 16c): the search started in the store, bought online.
    k.pop.search_channel[CID] = STORE
    buy(k, b, 30.0, PLATFORM, 2, 150.0)
    assert acc(k, "showrooming_orders") == 1.0
    assert acc(k, "showrooming_revenue") == pytest.approx(300.0, rel=1e-12)
    assert acc(k, "webrooming_orders") == 0.0


# ------------------------------------------------------------------------------------------
# Online orders and stock


def order(k: Kernel, b: Bench, want: int, stock: int, t: float = 30.0, i: int = CID) -> None:
    """Consumer ``i`` (north) orders ``want`` units on the platform at 180, its node DC
    holding ``stock``. No random delivery delay: the lead is handling 0.5 + transport 1."""
    k.pop.region[i] = NORTH
    k.pop.channel[i] = PLATFORM
    k.pop.units[i] = want
    k.stock[DC] = stock
    k.chan.delivery_delay[PLATFORM] = 0.0
    order_online(i, t, PLATFORM, 180.0, False, k, *b, True)


def test_an_order_within_stock_is_delivered_after_the_lead(k: Kernel, b: Bench) -> None:
    k = with_weights(k, use_days=0.0)
    k.fulfil.promise[PLATFORM, NORTH] = 1.25  # promised in 1.25 days, delivered in 1.5
    order(k, b, want=3, stock=10)
    assert k.stock[DC] == 7 and k.asked[DC] == 3
    assert acc(k, "online_orders") == 1.0 and acc(k, "units") == 3.0
    assert acc(k, "delivery_days_sum") == 1.5
    assert acc(k, "late_orders") == 1.0 and k.pop.late_days[CID] == 0.25
    assert acc(k, "transit_unit_days") == 1.5 * 3  # Little's law: units x days in transit
    assert acc(k, "stockouts") == 0.0 and acc(k, "lost_units") == 0.0
    assert k.pop.node[CID] == DC and k.pop.stage[CID] == FULFILMENT
    # Received at 31.5, reviewed at once (use_days 0).
    assert b.scheduled() == [(CID, 31.5)]


def test_an_order_on_time_is_not_late(k: Kernel, b: Bench) -> None:
    k.fulfil.promise[PLATFORM, NORTH] = 2.0
    order(k, b, want=1, stock=10)
    assert acc(k, "late_orders") == 0.0 and k.pop.late_days[CID] == 0.0


def test_an_order_short_of_stock_takes_what_is_there(k: Kernel, b: Bench) -> None:
    order(k, b, want=5, stock=2)
    assert k.stock[DC] == 0
    assert k.asked[DC] == 5  # the node's demand: sold + lost
    assert acc(k, "units") == 2.0 and acc(k, "purchases") == 1.0
    assert acc(k, "revenue") == pytest.approx(2 * 180.0, rel=1e-12)
    assert acc(k, "lost_units") == 3.0 and acc(k, "stockouts") == 1.0
    assert k.ledger.channel[PLATFORM, lg.CH_LOST] == 3.0
    assert k.ledger.node[DC, lg.ND_LOST] == 3.0
    # A partial shortfall is not a stock-out met (docs/model.md, section 13).
    assert k.pop.stockouts_met[CID] == 0
    assert b.events() == ["stockout", "purchase", "receive"]
    assert b.rows()[0][3] == 3  # the stock-out row carries the units lost


@pytest.mark.parametrize("switches", [0, 1])
def test_an_order_at_an_empty_node_is_a_stock_out_and_a_switch(
    k: Kernel, b: Bench, switches: int
) -> None:
    k = with_weights(k, switch_p=1.0, max_switches=2.0)
    k.pop.switches[CID] = switches
    order(k, b, want=4, stock=0, t=30.0)
    assert k.stock[DC] == 0 and k.asked[DC] == 4
    assert acc(k, "purchases") == 0.0 and acc(k, "units") == 0.0
    assert acc(k, "lost_units") == 4.0 and acc(k, "stockouts") == 1.0
    assert k.pop.stockouts_met[CID] == 1
    # Switch: the platform is failed for this journey and the decision is made again now.
    assert acc(k, "switches") == 1.0
    assert k.pop.stage[CID] == SEARCHING
    assert k.pop.switches[CID] == switches + 1
    assert k.pop.failed[CID] == 1 << PLATFORM
    assert b.scheduled() == [(CID, 30.0)]
    assert b.events() == ["stockout", "switch"]


@pytest.mark.parametrize(
    ("switch_p", "switches"),
    [(0.0, 0), (1.0, 2)],  # no switching, or the journey's switches used up
    ids=["never switches", "max switches reached"],
)
def test_a_stock_out_without_a_switch_is_a_lost_sale(
    k: Kernel, b: Bench, switch_p: float, switches: int
) -> None:
    k = with_weights(k, switch_p=switch_p, max_switches=2.0)
    k.pop.switches[CID] = switches
    order(k, b, want=4, stock=0, t=30.0)
    assert acc(k, "lost_units") == 4.0 and acc(k, "switches") == 0.0
    assert k.pop.stage[CID] == WAIT_NEED and k.pop.failed[CID] == 0
    assert k.pop.switches[CID] == switches
    assert b.events() == ["stockout", "lost_sale"]
    # The next need's renewal epoch (operational time 0) has passed: it comes at once.
    assert b.scheduled() == [(CID, 30.0)]


def test_a_stock_out_in_the_warm_up_is_not_tallied(k: Kernel, b: Bench) -> None:
    k = with_weights(k, switch_p=0.0)
    order(k, b, want=4, stock=0, t=WARMUP - 1.0)
    assert acc(k, "lost_units") == 0.0 and acc(k, "stockouts") == 0.0
    assert k.pop.stockouts_met[CID] == 1  # the consumer met it all the same
    assert k.asked[DC] == 4


@pytest.mark.parametrize(("stock", "want"), [(10, 3), (3, 3), (2, 3), (2, 5), (1, 1), (0, 4)])
def test_units_are_conserved(k: Kernel, b: Bench, stock: int, want: int) -> None:
    k = with_weights(k, switch_p=0.0)
    order(k, b, want=want, stock=stock)
    sold = acc(k, "units")
    assert sold == min(stock, want)
    assert k.stock[DC] == stock - sold >= 0
    assert sold + acc(k, "lost_units") == want == k.asked[DC]


def test_a_run_of_orders_never_takes_stock_below_zero(k: Kernel, b: Bench) -> None:
    # Four consumers in turn at one node holding 7 units: 3, 3, 1 of 3 (2 lost), then nothing.
    k = with_weights(k, switch_p=0.0)
    k.stock[DC] = 7
    for i in range(4):
        k.pop.region[i] = NORTH
        k.pop.channel[i] = PLATFORM
        k.pop.units[i] = 3
        k.chan.delivery_delay[PLATFORM] = 0.0
        order_online(i, 30.0 + i, PLATFORM, 180.0, False, k, *b, True)
        assert k.stock[DC] >= 0
    assert k.stock[DC] == 0
    assert acc(k, "units") == 7.0 and acc(k, "purchases") == 3.0
    assert acc(k, "lost_units") == 5.0 and acc(k, "stockouts") == 2.0
    assert k.asked[DC] == 12
    assert list(k.pop.stockouts_met) == [0, 0, 0, 1]
    assert list(k.pop.stage) == [FULFILMENT, FULFILMENT, FULFILMENT, WAIT_NEED]
