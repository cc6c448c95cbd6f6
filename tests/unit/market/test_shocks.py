"""Shocks (omnisim/market/shocks.py; docs/model.md, "Shocks"): need-rate, traffic-odds and
lead-time multipliers while a shock lasts, habit persistence when it ends, the online-share KPIs,
the scenario checks, and results unchanged without shocks."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import simpy
from builders import ROOT, compiled_only, scenario, small_market

from omnisim.consumers.needs import NeedClock
from omnisim.market import shocks as shk
from omnisim.metrics.kpis import compute_kpis, online_share_kpis
from omnisim.scenario.loading import ScenarioError, load_scenario
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation
from omnisim.supply.inventory import Inventory
from omnisim.supply.network import SupplyNetwork

DATA = Path(__file__).parent / "data"


def with_shocks(data: dict, *shocks: dict) -> Scenario:
    data = copy.deepcopy(data)
    data["shocks"] = list(shocks)
    return Scenario.model_validate(data)


def never_forgetting(data: dict) -> dict:
    """``data`` with forgetting off (habits change only by learning and the shocks)."""
    for seg in data["segments"]:
        seg["awareness_half_life_days"] = None
        seg["habit_half_life_days"] = None
    return data


def online_market(consumers: int, **changes) -> dict:
    """One region, two always-open online channels from one well-stocked warehouse, no habits
    (they stay 0: no learning), full awareness: consideration is reach * logistic(visibility)."""
    data = small_market(**changes)
    data["market"] = {"consumers": consumers, "regions": [{"name": "north", "population_share": 1}]}
    for s in data["segments"]:
        s["habits"] = {}
        s["awareness"] = 1.0
        s["region_mix"] = {}
    data["channels"] = [
        {"name": "mall", "type": "own_online", "nodes": ["dc"], "handling_days": 0.5},
        {"name": "platform", "type": "platform", "nodes": ["dc"], "handling_days": 0.5},
    ]
    data["nodes"] = [
        {
            "name": "dc",
            "kind": "warehouse",
            "region": "north",
            "replenishment": {"review_days": 1, "lead_time_days": 1, "order_up_to": 10**7},
        }
    ]
    data["promotions"] = []
    data["journey"] = {"habits": {"learning_rate": 0.0, "decay": 0.0}}
    return data


# --------------------------------------------------------------------------------------------
# Resolution and the compiled helpers


def test_traffic_keys_resolve_name_before_type_and_default_to_1(small) -> None:
    sc = with_shocks(
        small.model_dump(mode="json"),
        {
            "name": "s",
            "start_day": 10,
            "end_day": 20,
            "traffic": {"own_store": 0.2, "store": 0.5, "platform": 3.0},
        },
    )
    m = shk.traffic_multipliers(sc)
    names = [c.name for c in sc.channels]
    assert m.shape == (1, len(names))
    # "store" (a name) wins over own_store (its type); dealer (dealer_store) is not named.
    expected = {"store": 0.5, "dealer": 1.0, "mall": 1.0, "platform": 3.0, "live": 1.0}
    expected["phone"] = 1.0
    assert dict(zip(names, m[0].tolist(), strict=True)) == expected


def test_compiled_helpers_follow_the_active_shock(small) -> None:
    sc = with_shocks(
        small.model_dump(mode="json"),
        {"name": "late", "start_day": 30, "end_day": 35, "lead_time_multiplier": 3.0},
        {"name": "early", "start_day": 10, "end_day": 20, "traffic": {"platform": 4.0}},
    )
    sh = shk.Shocks(sc)
    ctx = sh.state()
    platform = [c.name for c in sc.channels].index("platform")
    assert [s["name"] for s in sh.spans()] == ["early", "late"]  # time order
    assert shk.log_traffic(platform, 9.999, ctx) == 0.0
    assert shk.log_traffic(platform, 10.0, ctx) == pytest.approx(math.log(4.0), abs=1e-15)
    assert shk.log_traffic(0, 15.0, ctx) == 0.0
    assert shk.log_traffic(platform, 20.0, ctx) == 0.0  # end exclusive
    assert [shk.lead_factor(t, ctx) for t in (15.0, 29.99, 30.0, 34.99, 35.0)] == [
        1.0,
        1.0,
        3.0,
        3.0,
        1.0,
    ]
    assert [sh.lead_multiplier(t) for t in (15.0, 30.0, 35.0)] == [1.0, 3.0, 1.0]
    off = shk.off()
    assert shk.log_traffic(0, 15.0, off) == 0.0 and shk.lead_factor(15.0, off) == 1.0


# --------------------------------------------------------------------------------------------
# Need rate


def test_need_clock_multiplies_the_rate_inside_the_shock(small) -> None:
    sc = with_shocks(
        small.model_dump(mode="json") | {"promotions": [], "seasonality": {"amplitude": 0}},
        {"name": "s", "start_day": 10, "end_day": 12.5, "need_multiplier": 0.4},
    )
    clock = NeedClock(sc)
    mid = clock.grid[:-1] + 0.5 / 24
    inside = (mid >= 10) & (mid < 12.5)
    assert np.all(clock.rate[inside] == 0.4) and np.all(clock.rate[~inside] == 1.0)
    assert clock.to_op(np.array([20.0]))[0] == pytest.approx(20.0 - 0.6 * 2.5)


def test_needs_in_the_shock_scale_by_the_multiplier() -> None:
    """Unaware consumers end each journey at the need, so with exponential intervals each has
    a Poisson need process of rate m(t) / mu from day 0 (stationary start), and the needs of a
    period are Poisson with mean n * (days * m) / mu. Expected: 4000 * 10 / 10 = 4000 in
    [10, 20) and [30, 40), 2.5 times that in [20, 30); 4 standard deviations sqrt(mean)."""
    data = small_market()
    data["market"]["consumers"] = 4000
    data["seasonality"] = {"amplitude": 0}
    data["promotions"] = []
    data["warmup_days"] = 10.0
    data["engine"]["timeseries_days"] = 10.0
    for s in data["segments"]:
        s["need"] = {"mean_interval_days": 10, "distribution": "exponential"}
        s["awareness"] = 0.0
    sc = with_shocks(data, {"name": "s", "start_day": 20, "end_day": 30, "need_multiplier": 2.5})
    needs = Simulation(sc, replication=0).run().ledger["ts_needs"]
    for got, mean in zip(needs, (4000.0, 10000.0, 4000.0), strict=True):
        assert abs(got - mean) < 4.0 * math.sqrt(mean), (needs, mean)


# --------------------------------------------------------------------------------------------
# Traffic


def test_traffic_multiplies_the_odds_of_consideration() -> None:
    """With habit 0, reach 1 and visibility 0, a first decision in the shock considers each
    channel independently with probability M / (1 + M). Given the D first decisions of the
    window (searches + decisions with nothing considered), each channel's count is binomial;
    tolerance 4 standard deviations sqrt(D q (1 - q))."""
    data = online_market(4000)
    sc = with_shocks(
        data,
        {
            "name": "s",
            "start_day": 0,
            "end_day": data["horizon_days"],
            "traffic": {"own_online": 0.25, "platform": 4.0},
        },
    )
    led = Simulation(sc, replication=0).run().ledger
    decisions = led["searches"] + led["no_consideration"]
    assert decisions > 5000
    for c, m in enumerate((0.25, 4.0)):
        q = m / (1.0 + m)
        expected = decisions * q
        assert abs(led["ch_considered"][c] - expected) < 4 * math.sqrt(decisions * q * (1 - q))


def test_traffic_moves_revenue_towards_the_boosted_channel_and_back_after() -> None:
    data = online_market(3000)
    base = Simulation(Scenario.model_validate(data), replication=0).run()
    shocked = with_shocks(
        data, {"name": "s", "start_day": 15, "end_day": 25, "traffic": {"platform": 9.0}}
    )
    res = Simulation(shocked, replication=0).run()
    platform = 1
    share = [[row[platform] / sum(row) for row in r.ledger["ts_ch_revenue"]] for r in (base, res)]
    periods = len(share[0])
    lo, width = res.ledger["warmup"], res.ledger["period"]
    for p in range(periods):
        mid = lo + (p + 0.5) * width
        if 16 <= mid < 24:  # well inside the shock
            assert share[1][p] > share[0][p] + 0.1
    k = res.kpis
    assert k["online_share"] == 1.0
    assert k["online_share.during.s"] == 1.0


# --------------------------------------------------------------------------------------------
# Lead times


def test_online_delivery_days_scale_by_the_lead_multiplier() -> None:
    """Every order of the window is placed in the shock: lead = 2 (0.5 handling + 1 transport
    + Exp(1.5)). The mean over N orders has standard deviation 2 * 1.5 / sqrt(N) (the
    exponential's); tolerance 4 of them."""
    data = online_market(3000)
    data["channels"] = [{**c, "delivery_delay_days": 1.5} for c in data["channels"]]
    sc_off = Scenario.model_validate(data)
    sc = with_shocks(
        data, {"name": "s", "start_day": 0, "end_day": 40, "lead_time_multiplier": 2.0}
    )
    for scen, factor in ((sc_off, 1.0), (sc, 2.0)):
        led = Simulation(scen, replication=0).run().ledger
        n = led["online_orders"]
        assert n > 2000
        mean = led["delivery_days_sum"] / n
        expected = factor * (0.5 + 1.0 + 1.5)
        assert abs(mean - expected) < 4 * factor * 1.5 / math.sqrt(n), (factor, mean)


def test_replenishment_ordered_in_a_shock_takes_longer(small) -> None:
    data = small.model_dump(mode="json")
    data["nodes"] = [
        {
            "name": n["name"],
            "kind": n["kind"],
            "region": n["region"],
            "initial_stock": 0,
            "replenishment": {"review_days": 5, "lead_time_days": 2, "order_up_to": 100},
        }
        for n in data["nodes"]
    ]
    sc = with_shocks(data, {"name": "s", "start_day": 4, "end_day": 6, "lead_time_multiplier": 3})
    inv = Inventory(sc, shk.Shocks(sc))
    env = simpy.Environment()
    inv.start(env)

    def sell(env):
        yield env.timeout(3.0)
        inv.stock[0] -= 10

    env.process(sell(env))
    env.run(until=10.99)  # the review at day 5 (in the shock) ordered 10: lead 2 x 3 = 6 days
    assert inv.delivered[0] == 100 and inv.stock[0] == 90
    env.run(until=11.01)
    assert inv.delivered[0] == 110 and inv.stock[0] == 100


def test_network_shipments_in_a_shock_take_longer_with_the_same_draws() -> None:
    """A dealer's shipment sent in the shock: the same gamma draw (same generator state, one
    draw each), times the multiplier."""
    data = small_market()
    data["network"] = {
        "levels": [
            {
                "name": "city",
                "review_days": 5,
                "lead_time": {"mean_days": 2, "cv": 0.3, "distribution": "gamma"},
            }
        ],
        "dealers": [{"name": "city_n", "level": "city", "region": "north"}],
    }
    data["nodes"][0]["supplier"] = "city_n"
    sc = Scenario.model_validate(data)
    sc_s = with_shocks(
        data, {"name": "s", "start_day": 10, "end_day": 20, "lead_time_multiplier": 1.7}
    )
    plain = SupplyNetwork(sc, key=np.uint64(3))
    shocked = SupplyNetwork(sc_s, key=np.uint64(3), shocks=shk.Shocks(sc_s))
    k = plain.index["city_n"]  # shipped to by the brand, the level's gamma lead time
    for now in (5.0, 10.0, 19.9, 20.0):
        plain.env = shocked.env = SimpleNamespace(now=now)
        a, b = plain.lead_draw(k), shocked.lead_draw(k)
        assert a != 2.0  # a random draw
        assert b == pytest.approx(a * (1.7 if 10 <= now < 20 else 1.0), rel=1e-15)


# --------------------------------------------------------------------------------------------
# Habit persistence


def drive_persistence(p: float, channels: int = 4, seed: int = 1):
    """Run one shock's process on random habits: [2, 5); habits change at day 3. Returns
    (habits before, habits changed during the shock, habits after the end)."""
    rng = np.random.default_rng(seed)
    habit = rng.random((1000, channels), dtype=np.float32)
    data = small_market()
    data["channels"] = [
        {"name": f"c{k}", "type": "own_online", "nodes": ["dc"]} for k in range(channels)
    ]
    data["segments"] = [{"name": "a", "share": 1}]
    sc = with_shocks(data, {"name": "s", "start_day": 2, "end_day": 5, "habit_persistence": p})
    before = habit.copy()
    during = rng.random(habit.shape, dtype=np.float32)
    env = simpy.Environment()
    shk.Shocks(sc).start(env, habit)

    def change(env):
        yield env.timeout(3.0)
        habit[:] = during

    env.process(change(env))
    env.run(until=6.0)
    return before, during, habit


def test_persistence_0_restores_the_snapshot_exactly() -> None:
    before, during, after = drive_persistence(0.0)
    assert not np.array_equal(before, during)
    assert np.array_equal(after, before)


def test_persistence_1_keeps_the_habits_as_they_are() -> None:
    _, during, after = drive_persistence(1.0)
    assert np.array_equal(after, during)


def test_persistence_half_is_the_midpoint() -> None:
    before, during, after = drive_persistence(0.5)
    # float32 arithmetic: a few units in the last place of numbers <= 1.
    np.testing.assert_allclose(after, (before + during) / 2, rtol=0, atol=3e-7)


def test_many_channels_snapshot_is_rounded_to_1_over_65535() -> None:
    before, _, after = drive_persistence(0.0, channels=shk.EXACT_SNAPSHOT_CHANNELS + 2)
    np.testing.assert_allclose(after, before, rtol=0, atol=0.5 / 65535 + 1e-7)
    assert shk.snapshot_bytes_per_consumer(
        with_shocks(
            small_market(),
            {"name": "s", "start_day": 1, "end_day": 2, "habit_persistence": 0.5},
        )
    ) == 4 * len(small_market()["channels"])


def test_run_with_persistence_0_puts_habits_back_at_the_shock_end(monkeypatch) -> None:
    """In a full run: habits just before the shock (on a bucket boundary, so nothing moves
    between then and the snapshot) equal those right after the restore, though purchases
    changed them in between."""
    seen: dict[str, np.ndarray] = {}
    real = shk.restore

    def spy(habit, snap, p):
        seen["end"] = habit.copy()
        real(habit, snap, p)
        seen["after"] = habit.copy()

    monkeypatch.setattr(shk, "restore", spy)
    sc = with_shocks(
        never_forgetting(small_market()),
        {
            "name": "s",
            "start_day": 12,
            "end_day": 22,
            "traffic": {"own_store": 0.1, "dealer_store": 0.1, "platform": 5},
            "habit_persistence": 0.0,
        },
    )
    sim = Simulation(sc, replication=0)

    def probe(env):
        yield env.timeout(11.999)  # after the bucket [11.92, 12), before the snapshot at 12
        seen["before"] = sim.population.habit.copy()

    sim.env.process(probe(sim.env))
    sim.run()
    assert not np.array_equal(seen["before"], seen["end"])
    assert np.array_equal(seen["after"], seen["before"])


# --------------------------------------------------------------------------------------------
# KPIs


def test_online_share_spans_use_period_midpoints() -> None:
    # Periods [0, 10), [10, 20), [20, 30), [30, 35): midpoints 5, 15, 25, 32.5.
    L = {
        "warmup": 0.0,
        "horizon": 35.0,
        "period": 10.0,
        "revenue": 100.0,
        "ch_revenue": [60.0, 40.0],
        "ts_ch_revenue": [[30, 10], [5, 15], [20, 5], [5, 10]],
    }
    meta = {
        "channel_types": ["own_store", "platform"],
        "shocks": [{"name": "s", "start_day": 12, "end_day": 31}],
    }
    k = online_share_kpis(L, meta)
    assert k["online_share"] == 0.4
    assert k["online_share.before.s"] == 10 / 40  # only [0, 10): midpoint 15 >= 12
    assert k["online_share.during.s"] == (15 + 5) / 45
    assert k["online_share.after.s"] == 10 / 15
    meta["shocks"][0]["end_day"] = 40.0  # nothing after: NaN
    assert math.isnan(online_share_kpis(L, meta)["online_share.after.s"])
    assert online_share_kpis(L, {"channel_types": ["own_store", "platform"]}) == {
        "online_share": 0.4
    }


# --------------------------------------------------------------------------------------------
# Scenario checks


def test_overlap_and_unknown_traffic_key_are_one_line_problems(tmp_path) -> None:
    text = (ROOT / "tests" / "unit" / "scenario" / "data" / "tiny.yaml").read_text()
    text = text.split("strategies:")[0] + (
        "shocks:\n"
        "  - {name: first, start_day: 10, end_day: 30}\n"
        "  - name: second\n"
        "    start_day: 20\n"
        "    end_day: 40\n"
        "    traffic: {bazaar: 2, shop: 0.5}\n"
    )
    path = tmp_path / "shocks.yaml"
    path.write_text(text)
    lines = text.splitlines()
    start = 1 + next(i for i, x in enumerate(lines) if x.strip() == "start_day: 20")
    shop = 1 + next(i for i, x in enumerate(lines) if "shop: 0.5" in x)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    types = "dealer_store, livestream, own_online, own_store, phone_dm, platform"
    assert info.value.problems == [  # in line order
        f"{path}:{start}: shocks.second.start_day: overlaps shock 'first': shocks may not overlap",
        f"{path}:{shop}: shocks.second.traffic.shop: 'shop' is neither a channel type "
        f"({types}) nor a channel name",
    ]


# --------------------------------------------------------------------------------------------
# Results unchanged


@compiled_only
def test_small_market_kpis_unchanged_without_shocks() -> None:
    """KPIs of the small market without shocks, as recorded (tests/regression/small_goldens.py),
    bit for bit."""
    golden = json.loads((DATA / "small_without_shocks.json").read_text())
    kpis = Simulation(scenario(), replication=0).run().kpis
    assert set(golden) <= set(kpis) and "online_share" in kpis
    differ = [
        k for k, v in golden.items() if kpis[k] != v and not (math.isnan(v) and math.isnan(kpis[k]))
    ]
    assert differ == []


def test_neutral_shock_changes_nothing(small) -> None:
    """All multipliers 1 and all habit change kept: the same results, bit for bit, plus the
    span KPIs (the pandemic scenario's baseline relies on it)."""
    plain = Simulation(small, replication=0).run()
    neutral = with_shocks(
        small.model_dump(mode="json"),
        {"name": "s", "start_day": 12, "end_day": 25, "traffic": {"own_store": 1.0}},
    )
    res = Simulation(neutral, replication=0).run()
    extra = {f"online_share.{s}.s" for s in ("before", "during", "after")}
    assert set(res.kpis) == set(plain.kpis) | extra
    assert {k: res.kpis[k] for k in plain.kpis} == plain.kpis
    assert compute_kpis(res.ledger, res.ledger["meta"]) == res.kpis


def test_a_norm_shift_moves_the_segment_habit_levels_by_the_mean_change() -> None:
    # Two segments' consumers with known habit changes: the levels move by q times each
    # segment's mean change and stay within [0, 1].
    level = np.array([[0.2, 0.5], [0.9, 0.0]])
    segment = np.array([0, 0, 1, 1, 1], dtype=np.int16)
    snap = np.array([[0.1, 0.5], [0.3, 0.5], [0.5, 0.0], [0.5, 0.0], [0.5, 0.0]], np.float32)
    habit = snap + np.array([[0.2, -0.2], [0.4, 0.0], [0.9, 0.3], [0.9, 0.0], [0.9, 0.0]])
    habit = habit.astype(np.float32)
    shk.shift_levels(level, habit, snap, segment, 0.5)
    assert level == pytest.approx(np.array([[0.2 + 0.5 * 0.3, 0.5 - 0.5 * 0.1], [1.0, 0.05]]))


@pytest.mark.slow
def test_a_norm_shift_keeps_the_online_share_up_after_the_shock() -> None:
    """With forgetting, habits learned in a shock fade back to the segments' levels; a norm
    shift moves those levels, so the online share after the shock stays higher (the "habits
    that stay" of spring 2020). Paired runs (common random numbers) of three replications: the
    mean paired difference must exceed 3 of its standard errors."""
    shock = {
        "name": "s",
        "start_day": 10,
        "end_day": 40,
        "traffic": {"own_store": 0.05, "dealer_store": 0.05},
        "habit_persistence": 1.0,
    }
    data = small_market(horizon_days=160.0)
    for seg in data["segments"]:
        seg["habit_half_life_days"] = 20.0
    key = "online_share.after.s"
    diff = []
    for r in range(3):
        plain = Simulation(with_shocks(data, shock), r).run().kpis[key]
        shifted = Simulation(with_shocks(data, shock | {"habit_norm_shift": 1.0}), r).run()
        diff.append(shifted.kpis[key] - plain)
    d = np.array(diff)
    assert d.mean() > 3 * d.std(ddof=1) / np.sqrt(len(d))
