"""The membership programme (docs/model.md, 16a "Members"): tiers, recognition, points, free
delivery, joining at checkout, programme costs, and today's behaviour without the section."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numba
import numpy as np
import pyarrow.parquet as pq
import pytest
from builders import compiled_only, merge, scenario, small_market

from omnisim.engine import state
from omnisim.marketing import membership as ms
from omnisim.scenario.loading import ScenarioError, load_scenario, scenario_from_dict
from omnisim.simulation import Simulation, simulate_replication

DATA = Path(__file__).parent / "data"
LIST = 100.0  # the small market's list price

# The small market without promotions, and with the livestream's session discount off, so that
# the only price cuts are the programme's: every price paid is known exactly.
PLAIN = {
    "promotions": [],
    "channels": [
        {"name": "store", "type": "own_store", "nodes": ["s_north", "s_south"],
         "member_discount": 0.05},
        {"name": "dealer", "type": "dealer_store", "nodes": ["d_north"],
         "intermediary_margin": 0.3, "recognises_membership": False},
        {"name": "mall", "type": "own_online", "nodes": ["dc"], "order_cost": 5},
        {"name": "platform", "type": "platform", "nodes": ["dc"], "commission": 0.1,
         "price_index": 0.92},
        {"name": "live", "type": "livestream", "nodes": ["dc"], "commission": 0.05,
         "sessions": {"every_days": 3, "start_hour": 19, "duration_hours": 4, "discount": 0.0}},
        {"name": "phone", "type": "phone_dm", "nodes": ["dc"], "reach": 0.5},
    ],
}  # fmt: skip
ONLINE = ("mall", "platform", "live", "phone")


def plain_market() -> dict:
    """The small market's data with PLAIN's changes (a fresh copy: `merge` shares the
    changes' values)."""
    return small_market(**copy.deepcopy(PLAIN))


def plain(membership: dict | None = None, share: float = 0.3, **changes):
    """The plain market, with ``share`` of each segment starting as members."""
    data = merge(plain_market(), changes)
    for s in data["segments"]:
        s["membership_share"] = share
    if membership is not None:
        data["membership"] = membership
    return scenario_from_dict(data)


def everyone_member(data_changes: dict | None = None, **membership) -> object:
    """The plain market where every consumer starts as a member and every channel recognises
    membership."""
    data = plain_market()
    for s in data["segments"]:
        s["membership_share"] = 1.0
    for c in data["channels"]:
        c["recognises_membership"] = True
    data.update(data_changes or {})
    data["membership"] = membership
    return scenario_from_dict(data)


# --------------------------------------------------------------------------------------------
# The kernel helpers


def test_tier_follows_the_thresholds():
    mins = np.array([0.0, 100.0, 500.0])
    amounts = [0.0, 99.99, 100.0, 100.01, 499.0, 500.0, 1e9]
    assert [ms.tier_for(a, mins) for a in amounts] == [0, 0, 1, 1, 1, 2, 2]
    assert ms.tier_for(1e9, np.array([0.0])) == 0


def _state(recognition: str, free: bool = False):
    sc = plain(
        {
            "tiers": [
                {"name": "basic", "discount": 0.02, "points_per_currency": 1},
                {"name": "gold", "min_spend": 300, "discount": 0.12, "free_delivery": free,
                 "points_per_currency": 3},
            ],
            "recognition": recognition,
            "point_value": 0.02,
            "redemption_rate": 0.5,
        },
        market={"consumers": 4},
    )  # fmt: skip
    member = np.array([True, True, False, True])
    st = ms.MembershipState(sc, member, np.zeros(4, np.int16), np.uint64(1))
    st.joined[:] = [0, 2, -1, 2]  # joined in store, mall, (not a member), mall
    st.tier[:] = [0, 1, 0, 0]
    st.fee[:] = [0.0, 0.0, 9.0, 4.0, 4.0, 4.0]
    disc = np.array([c.member_discount for c in sc.channels])
    recog = np.array([c.recognises_membership for c in sc.channels])
    return st, disc, recog


@pytest.mark.parametrize("recognition", ["everywhere", "where_joined"])
def test_benefit_by_recognition_tier_and_channel(recognition):
    st, disc, recog = _state(recognition, free=True)
    member = np.array([True, True, False, True])

    def b(i, c):
        return ms.benefit(i, c, member, disc, recog, 0.3, st.state())

    # Consumer 0 (basic, joined in store): in store the channel's 5 % beats the tier's 2 %.
    assert b(0, 0) == pytest.approx((0.95, 0.3, 1 * 0.02 * 0.5, 0.0))
    # Consumer 1 (gold, joined in mall): 12 % off, free delivery, 3 points per currency.
    assert b(1, 2) == pytest.approx((0.88, 0.3, 3 * 0.02 * 0.5, 0.0))
    # The dealer never recognises membership; a non-member gets nothing and pays the fee.
    assert b(1, 1) == (1.0, 0.0, 0.0, 0.0)
    assert b(2, 2) == (1.0, 0.0, 0.0, 9.0)
    # Outside the channel joined: everything with `everywhere`, nothing with `where_joined`.
    if recognition == "everywhere":
        assert b(1, 3) == pytest.approx((0.88, 0.3, 0.03, 0.0))
        assert b(3, 0) == pytest.approx((0.95, 0.3, 0.01, 0.0))
    else:
        assert b(1, 3) == (1.0, 0.0, 0.0, 4.0)
        assert b(3, 0) == (1.0, 0.0, 0.0, 0.0)
    # Without free delivery the gold member pays the fee where recognised too.
    st, disc, recog = _state(recognition, free=False)
    assert ms.benefit(1, 2, member, disc, recog, 0.3, st.state())[3] == 9.0


def test_without_a_programme_the_helper_is_todays_rule():
    sc = plain()
    st = ms.MembershipState(sc, np.array([True, False]), np.zeros(2, np.int16), np.uint64(1))
    disc = np.array([c.member_discount for c in sc.channels])
    recog = np.array([c.recognises_membership for c in sc.channels])
    member = np.array([True, False])
    assert ms.benefit(0, 0, member, disc, recog, 0.3, st.state()) == (0.95, 0.3, 0.0, 0.0)
    assert ms.benefit(0, 1, member, disc, recog, 0.3, st.state()) == (1.0, 0.0, 0.0, 0.0)
    assert ms.benefit(1, 0, member, disc, recog, 0.3, st.state()) == (1.0, 0.0, 0.0, 0.0)
    assert len(st.joined) == 0  # no per-consumer state without a programme


def test_off_state_has_the_live_numba_type():
    """With and without a programme the kernel sees one numba type (it compiles once); the
    off form carries only the delivery fees."""
    member = np.array([True, True, False, True])
    live = _state("everywhere", free=True)[0].state()
    sc = plain()
    off = ms.MembershipState(sc, member, np.zeros(4, np.int16), np.uint64(1)).state()
    assert isinstance(live, ms.ProgrammeState) and isinstance(off, ms.ProgrammeState)
    assert numba.typeof(live) == numba.typeof(off)
    assert numba.typeof(live) == numba.typeof(state.off(ms.ProgrammeState))
    assert live.on == 1.0 and off.on == 0.0
    assert off.fee.tolist() == [c.delivery_fee for c in sc.channels]
    assert len(off.tiers.min_spend) == len(off.join_p) == len(off.tier) == 0


def test_build_refuses_a_wrongly_typed_field():
    live = _state("everywhere", free=True)[0].state()
    fields = live._asdict()
    with pytest.raises(TypeError, match=r"ProgrammeState\.tier: int8\[1-d\] expected"):
        state.build(ms.ProgrammeState, **(fields | {"tier": np.zeros(4, dtype=np.int64)}))
    with pytest.raises(TypeError, match=r"Tiers\.free_delivery: bool\[1-d\] expected"):
        state.build(ms.Tiers, **(live.tiers._asdict() | {"free_delivery": np.zeros(2)}))
    with pytest.raises(TypeError, match=r"ProgrammeState\.on: a scalar expected"):
        state.build(ms.ProgrammeState, **(fields | {"on": np.ones(1)}))
    with pytest.raises(TypeError, match=r"ProgrammeState: missing fields \['fee'\]"):
        state.build(ms.ProgrammeState, **{k: v for k, v in fields.items() if k != "fee"})


# --------------------------------------------------------------------------------------------
# Runs


def _purchases(sc, tmp_path):
    """(simulation after its run, the run's result, the trail's purchase rows)."""
    path = tmp_path / "rep-000.parquet"
    sim = Simulation(sc, 0, trail_path=path)
    result = sim.run()
    trail = pq.read_table(path).to_pandas()
    return sim, result, trail[trail.event == "purchase"]


@pytest.mark.parametrize("recognition", ["everywhere", "where_joined"])
def test_prices_paid_follow_recognition(recognition, tmp_path):
    """Members recognised in a channel pay the larger of the tier's discount (10 %) and the
    channel's member_discount; nobody else gets a cut. No promotions and no session discount:
    every price in the trail is exact."""
    sc = plain({"tiers": [{"name": "all", "discount": 0.10}], "recognition": recognition})
    sim, _, buys = _purchases(sc, tmp_path)
    names = sim.channels.names
    joined = sim.journey.membership.joined
    member = sim.population.member
    index = {c.name: c.price_index for c in sc.channels}
    recog = {c.name: c.recognises_membership for c in sc.channels}
    disc = {c.name: max(c.member_discount, 0.10) for c in sc.channels}
    channel = buys.channel.astype(str).to_numpy()
    who = buys.consumer.to_numpy()
    recognised = np.array(
        [
            member[i] and recog[c] and (recognition == "everywhere" or names[joined[i]] == c)
            for i, c in zip(who, channel, strict=True)
        ]
    )
    expected = np.array(
        [LIST * index[c] * ((1 - disc[c]) if r else 1.0)
         for c, r in zip(channel, recognised, strict=True)]
    )  # fmt: skip
    assert np.allclose(buys.value.to_numpy(), expected, rtol=1e-12, atol=0)
    # Both kinds of purchase happen, and with where_joined members buy outside their channel
    # at full price.
    assert recognised.sum() > 50 and (~recognised).sum() > 50
    outside = member[who] & ~recognised & (channel != "dealer")
    if recognition == "where_joined":
        assert outside.sum() > 20
    else:
        assert outside.sum() == 0


def test_initial_members_join_where_their_habits_are():
    """Segment a's habits are store 0.5 and platform 0.4; segment b's are the dealer (which
    does not recognise membership) and live 0.3: b's members all joined in live."""
    sc = plain({}, market={"consumers": 20_000})
    sim = Simulation(sc, 0)
    st, pop = sim.journey.membership, sim.population
    names = np.array(sim.channels.names)
    a = pop.member & (pop.segment == 0)
    b = pop.member & (pop.segment == 1)
    assert set(names[st.joined[b]]) == {"live"}
    assert set(names[st.joined[a]]) == {"store", "platform"}
    # P(store | a) = 0.5 / 0.9; the sd of the share over n members is sqrt(p (1 - p) / n),
    # about 0.009 at n = 3000: 4 sd.
    share = np.mean(names[st.joined[a]] == "store")
    assert share == pytest.approx(5 / 9, abs=4 * math.sqrt(5 / 9 * 4 / 9 / a.sum()))
    assert (st.joined[~pop.member] == -1).all()
    # A fixed initial channel.
    sim = Simulation(plain({"initial_channel": "mall"}), 0)
    st, pop = sim.journey.membership, sim.population
    assert (st.joined[pop.member] == sim.channels.index("mall")).all()


def test_join_probability_is_recovered():
    """Nobody starts as a member; each purchase by a non-member (every channel recognises
    membership) joins with probability 0.3, one independent draw per purchase. The window's
    joins over its non-member purchases estimate it with sd sqrt(p (1 - p) / n): 4 sd."""
    p = 0.3
    data = plain_market()
    for s in data["segments"]:
        s["membership_share"] = 0.0
    for c in data["channels"]:
        c["recognises_membership"] = True
    data["market"]["consumers"] = 6000
    data["membership"] = {"join_probability": p}
    k = simulate_replication(scenario_from_dict(data)).kpis
    eligible = k["purchases"] - k["member_orders"]
    assert eligible > 2000
    assert k["members_joined"] / eligible == pytest.approx(
        p, abs=4 * math.sqrt(p * (1 - p) / eligible)
    )


def test_recruitment_by_channel_and_overrides():
    sc = plain(
        {
            "join_probability": 0.2,
            "join_probability_by_channel": {"platform": 0.0, "mall": 0.9},
            "fixed_cost_per_day": 10.0,
            "cost_per_member_per_year": 36.5,
        }
    )
    sim = Simulation(sc, 0)
    initial = int(sim.population.member.sum())
    r = sim.run()
    k, L = r.kpis, r.ledger
    by_channel = {c.name: k[f"members_joined.{c.name}"] for c in sc.channels}
    assert sum(by_channel.values()) == k["members_joined"] > 0
    # No joins where the override is 0 or where membership is not recognised.
    assert by_channel["platform"] == 0 and by_channel["dealer"] == 0
    assert by_channel["mall"] > 0 and by_channel["store"] > 0
    # Members at the horizon: the initial ones plus every join (the warm-up's too).
    members = int(sim.population.member.sum())
    assert L["membership"]["members"] == members >= initial + k["members_joined"]
    assert k["member_share"] == members / sc.market.consumers
    st = sim.journey.membership
    assert (st.joined[sim.population.member] >= 0).all()
    # Programme cost: fixed per day of the window, plus 36.5 / 365 a member-day, where an
    # initial member counts the whole window and a join the rest of it (member_days).
    days = sc.horizon_days - sc.warmup_days
    assert L["member_days"] > 0
    expected = 10.0 * days + 0.1 * (L["member_days"] + initial * days)
    assert k["membership_cost"] == pytest.approx(expected, rel=1e-12)
    assert k["tier_share.member"] == 1.0


def test_points_cost_is_earned_times_value_times_redemption():
    """Every consumer a member, every channel recognising, 2 points per currency: points earned
    are twice the goods revenue and their cost is earned x point_value x redemption_rate
    (summed purchase by purchase, so equal up to float rounding)."""
    sc = everyone_member(
        tiers=[{"name": "basic", "points_per_currency": 2.0}],
        point_value=0.05,
        redemption_rate=0.6,
    )
    r = simulate_replication(sc)
    k = r.kpis
    assert k["member_revenue_share"] == 1.0 and k["member_orders"] == k["purchases"]
    assert k["points_earned"] == pytest.approx(2.0 * k["revenue"], rel=1e-12)
    assert k["points_cost"] == pytest.approx(k["points_earned"] * 0.05 * 0.6, rel=1e-12)
    # The brand's profit pays for the points.
    base = simulate_replication(
        everyone_member(tiers=[{"name": "basic", "points_per_currency": 0.0}])
    ).kpis
    assert k["brand_profit"] < base["brand_profit"]


def test_tiers_rise_with_qualifying_spend_and_points(tmp_path):
    tiers = [
        {"name": "silver", "points_per_currency": 1.0},
        {"name": "gold", "min_spend": 150, "points_per_currency": 2.0},
        {"name": "black", "min_spend": 600, "points_per_currency": 3.0},
    ]
    for qualifying in ("spend", "points"):
        sim = Simulation(everyone_member(tiers=tiers, qualifying=qualifying), 0)
        k = sim.run().kpis
        st = sim.journey.membership
        assert all(st.tier == [ms.tier_for(q, st.tier_min) for q in st.qualifying])
        shares = [k[f"tier_share.{t['name']}"] for t in tiers]
        assert sum(shares) == pytest.approx(1.0)
        assert min(shares) > 0.0, (qualifying, shares)


def test_free_delivery_waives_the_fee():
    fees = {"channels": [dict(c, delivery_fee=7.0) if c["name"] in ONLINE else c
                         for c in PLAIN["channels"]]}  # fmt: skip
    paid = simulate_replication(everyone_member(fees, tiers=[{"name": "t"}])).ledger
    free = simulate_replication(
        everyone_member(fees, tiers=[{"name": "t", "free_delivery": True}])
    ).ledger
    assert paid["online_orders"] > 100 and free["online_orders"] > 100
    assert paid["delivery_fees"] == 7.0 * paid["online_orders"]
    assert free["delivery_fees"] == 0.0
    # Without the programme every online order pays the fee; the fee enters the price weighed,
    # so online orders fall against a market without fees (same random numbers).
    data = plain_market()
    data["channels"] = [dict(c, delivery_fee=40.0) if c["name"] in ONLINE else c
                        for c in PLAIN["channels"]]  # fmt: skip
    fee_run = simulate_replication(scenario_from_dict(data))
    no_fee = simulate_replication(plain())
    assert fee_run.ledger["delivery_fees"] == 40.0 * fee_run.ledger["online_orders"]
    assert fee_run.kpis["delivery_fees"] == fee_run.ledger["delivery_fees"]
    assert "delivery_fees" not in no_fee.kpis
    assert fee_run.ledger["online_orders"] < 0.9 * no_fee.ledger["online_orders"]


def test_brand_profit_collects_fees_and_pays_for_points_and_the_programme():
    data = plain_market()
    for c in data["channels"]:
        if c["name"] in ONLINE:
            c["delivery_fee"] = 5.0
    data["membership"] = {
        "tiers": [{"name": "t", "points_per_currency": 1.0}],
        "join_probability": 0.1,
        "fixed_cost_per_day": 20.0,
        "cost_per_member_per_year": 10.0,
    }
    k = simulate_replication(scenario_from_dict(data)).kpis
    assert min(k["delivery_fees"], k["points_cost"], k["membership_cost"]) > 0
    costs = ("goods", "orders", "channel_fixed", "holding", "replenishment")
    expected = (
        k["revenue_split.brand"]
        - sum(k[f"cost.{c}"] for c in costs)
        + k["delivery_fees"]
        - k["points_cost"]
        - k["membership_cost"]
    )
    assert k["brand_profit"] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------------------------
# Without the section: today's results, bit for bit


@compiled_only
def test_without_membership_results_are_unchanged():
    """KPIs of the small market without a programme, as recorded
    (tests/regression/small_goldens.py)."""
    golden = json.loads((DATA / "small_without_membership.json").read_text())
    # The customer-lifecycle work redefined two KPIs since (docs/outputs.md, "Customer
    # lifecycle"); every other KPI recorded then must be reproduced bit for bit.
    redefined = {"active_customers", "churn_rate"}
    kpis = simulate_replication(scenario()).kpis
    assert {k: kpis[k] for k in golden if k not in redefined} == {
        k: v for k, v in golden.items() if k not in redefined
    }


def test_a_neutral_programme_changes_no_existing_kpi():
    """One tier with no discount or points, nobody joining, no costs: the programme reduces to
    today's member discount and bonus."""
    off = simulate_replication(scenario()).kpis
    data = small_market()
    data["membership"] = {}
    on = simulate_replication(scenario_from_dict(data)).kpis
    assert {name: on[name] for name in off} == off
    assert on["members_joined"] == 0 and on["membership_cost"] == 0
    assert on["tier_share.member"] == 1.0


# --------------------------------------------------------------------------------------------
# Scenario problems name the field


def _problems(tmp_path, overrides: list[str]) -> list[str]:
    path = tmp_path / "small.yaml"
    path.write_text(json.dumps(small_market()) + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides=overrides)
    return info.value.problems


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("membership.redemption_rate=1.5",
         "membership.redemption_rate: Input should be less than or equal to 1"),
        ('membership={"tiers": [{"name": "a", "dicount": 0.1}]}',
         "membership.tiers.a.dicount: Extra inputs are not permitted"),
        ('membership={"tiers": [{"name": "a", "min_spend": 5}]}',
         "membership.tiers.a.min_spend: 5, but the first tier starts at 0 (every member has one)"),
        ('membership={"tiers": [{"name": "a"}, {"name": "b", "min_spend": 0}]}',
         "membership.tiers.b.min_spend: 0, but tiers are listed in increasing order of min_spend "
         "(the tier before starts at 0)"),
        ('membership={"join_probability_by_channel": {"shop": 0.2}}',
         "membership.join_probability_by_channel.shop: unknown channel 'shop'"),
        ('channels.dealer.recognises_membership=false\nmembership={"initial_channel": "dealer"}',
         "membership.initial_channel: channel 'dealer' does not recognise membership: nobody "
         "joins there"),
        ("channels.store.delivery_fee=5",
         "channels.store.delivery_fee: only online channels charge a delivery fee (this one is "
         "'own_store')"),
        ('membership.recognition="somewhere"',
         "membership.recognition: Input should be 'everywhere' or 'where_joined'"),
    ],
)  # fmt: skip
def test_problems_name_the_field(tmp_path, override, problem):
    overrides = override.split("\n")
    if override.startswith("membership."):
        overrides.insert(0, "membership={}")
    found = _problems(tmp_path, overrides)
    assert len(found) == 1 and found[0].endswith(f": {problem}"), found
