"""The engine end to end on a small market: reproducibility, invariants, conservation."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from omnisim.consumers.population import CHURNED
from omnisim.simulation import (
    MemoryRefused,
    Simulation,
    ensure_memory,
    planned_memory,
)


def run(sc, rep=0, **kw):
    sim = Simulation(sc, rep, **kw)
    return sim, sim.run()


def test_same_seed_same_numbers(small):
    _, a = run(small)
    _, b = run(small)
    assert a.kpis == b.kpis
    assert a.events == b.events


def test_other_seed_or_replication_other_numbers(small):
    _, a = run(small)
    _, b = run(small, seed=small.seed + 1)
    _, c = run(small, rep=1)
    assert a.kpis["revenue"] != b.kpis["revenue"]
    assert a.kpis["revenue"] != c.kpis["revenue"]


def test_funnel_and_money_invariants(small):
    _, r = run(small)
    k, L = r.kpis, r.ledger
    assert 0 < k["purchases"] <= k["searches"] <= k["needs"]
    assert k["units_sold"] >= k["purchases"]
    split = L["brand_take"] + L["dealer_take"] + L["platform_take"]
    assert split == pytest.approx(L["revenue"], rel=1e-12)
    assert sum(L["ch_revenue"]) == pytest.approx(L["revenue"], rel=1e-12)
    assert sum(k[f"channel_share.{c}"] for c in L["meta"]["channels"]) == pytest.approx(1.0)
    assert 0.0 <= k["fill_rate"] <= 1.0
    assert 1.0 <= k["avg_rating"] <= 5.0
    assert 0.0 <= k["repeat_purchase_rate"] <= 1.0


def test_every_channel_type_sells(small):
    _, r = run(small)
    for c in r.ledger["meta"]["channels"]:
        assert r.kpis[f"channel_orders.{c}"] > 0, c


def test_units_taken_from_stock_equal_units_bought(small, tmp_path):
    """Conservation: initial + delivered - final stock = units in purchase events (the trail
    holds every purchase, also those dated after the horizon or before the warm-up ends)."""
    sim, r = run(small, trail_path=tmp_path / "t.parquet")
    trail = pq.read_table(tmp_path / "t.parquet").to_pandas()
    bought = int(trail.loc[trail.event == "purchase", "units"].sum())
    inv = sim.inventory
    assert (inv.stock >= 0).all()
    assert int(inv.initial.sum() + inv.delivered.sum() - inv.stock.sum()) == bought
    # The ledger counts the purchases dated inside the window.
    w = trail[
        (trail.event == "purchase")
        & (trail.time >= small.warmup_days)
        & (trail.time < small.horizon_days)
    ]
    assert int(w.units.sum()) == r.kpis["units_sold"]
    assert len(w) == r.kpis["purchases"]
    assert (w.units * w.value).sum() == pytest.approx(r.kpis["revenue"], rel=1e-9)


def test_each_consumer_in_exactly_one_stage(small):
    sim, r = run(small)
    pop = sim.population
    assert sum(r.ledger["stage_counts"]) == pop.n
    ids, t = sim.calendar.pending()
    assert len(np.unique(ids)) == len(ids), "a consumer has two pending events"
    assert (pop.stage[ids] != CHURNED).all()
    assert (t >= small.horizon_days).all() or len(ids) == 0 or t.min() >= small.horizon_days - 1e-9


def test_trail_is_ordered_journeys(small, tmp_path):
    """Per consumer, every purchase follows a need, and reviews follow purchases."""
    run(small, trail_path=tmp_path / "t.parquet")
    df = pq.read_table(tmp_path / "t.parquet").to_pandas()
    assert not (tmp_path / "t.parquet.partial").exists()
    first = df.groupby("consumer").first()
    assert set(first.event.astype(str)) <= {"need"}
    counts = df.event.value_counts()
    assert counts["need"] >= counts["search"] >= counts["purchase"] >= counts["review"]
    assert counts["purchase"] == counts["receive"]


def test_churned_consumers_have_no_more_needs(small):
    sc = small.model_copy(deep=True)
    sc.journey.churn.threshold = 10.0  # everybody below: churn with probability 1
    sc.journey.churn.probability = 1.0
    sim, r = run(sc)
    assert r.kpis["churned"] > 0
    assert (sim.population.stage == CHURNED).sum() >= r.kpis["churned"]
    # nobody buys twice: after the first use they churn
    assert r.kpis["repeat_purchase_rate"] == 0.0


def test_memory_refused_up_front(small):
    big = small.model_copy(deep=True)
    big.market.consumers = 10**9
    with pytest.raises(MemoryRefused, match="consumers need about"):
        ensure_memory(big)
    assert planned_memory(big) > planned_memory(small)
    ensure_memory(small)


def test_no_purchases_before_warmup_are_counted(small):
    late = small.model_copy(deep=True)
    late.warmup_days = small.horizon_days - 1.0
    _, r = run(late)
    _, full = run(small)
    assert r.kpis["needs"] < full.kpis["needs"]
    assert not math.isnan(r.kpis["fill_rate"])


def test_list_price_moves_demand_only_against_a_fixed_reference():
    """Utility weighs log(price / reference price). By default the reference is the list
    price, so scaling the list price scales every price and the reference alike: the same
    consumers buy the same units (common random numbers), revenue scales exactly. Against a
    fixed market reference, a higher list price loses purchases."""
    from builders import scenario

    _, base = run(scenario())
    _, up = run(scenario(product={"list_price": 150.0}))
    _, fixed = run(scenario(product={"list_price": 150.0, "reference_price": 100.0}))
    assert up.kpis["purchases"] == base.kpis["purchases"]
    assert up.kpis["revenue"] == pytest.approx(1.5 * base.kpis["revenue"], rel=1e-9)
    assert fixed.kpis["purchases"] < base.kpis["purchases"]
