"""Invariants that must hold for any valid scenario (hypothesis explores the space)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from builders import small_market
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnisim.consumers.population import CHURNED
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation


@st.composite
def markets(draw) -> Scenario:
    data = small_market(
        horizon_days=draw(st.floats(8.0, 25.0)),
        warmup_days=draw(st.floats(0.0, 5.0)),
        seed=draw(st.integers(0, 2**31)),
        engine={"bucket_hours": draw(st.sampled_from([0.1, 0.5, 1.0, 3.0, 12.0, 24.0]))},
    )
    data["market"]["consumers"] = draw(st.integers(50, 800))
    data["journey"] = {
        "stockout": {
            "switch_probability": draw(st.floats(0.0, 1.0)),
            "max_switches": draw(st.integers(0, 4)),
        },
        "churn": {"threshold": draw(st.floats(-2.0, 1.0)), "probability": draw(st.floats(0, 1))},
    }
    for node in data["nodes"]:
        rep = node["replenishment"]
        rep["order_up_to"] = draw(st.integers(0, 60))
        rep["reorder_point"] = None
        rep["lead_time_days"] = draw(st.floats(0.0, 6.0))
        if node["kind"] == "store":
            svc = node.setdefault("service", {})
            svc["servers"] = draw(st.integers(1, 3))
            svc["waiting_room"] = draw(st.one_of(st.none(), st.integers(0, 3)))
            svc["patience_minutes"] = draw(st.one_of(st.none(), st.floats(1.0, 60.0)))
    for seg in data["segments"]:
        seg["need"]["mean_interval_days"] = draw(st.floats(0.5, 20.0))
        seg["need"]["cv"] = draw(st.floats(0.2, 2.0))
        seg["search_hours"] = draw(st.floats(0.0, 30.0))
    return Scenario.model_validate(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=markets())
def test_invariants(sc: Scenario) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.parquet"
        sim = Simulation(sc, 0, trail_path=path)
        r = sim.run()
        trail = pq.read_table(path).to_pandas()
    k, L = r.kpis, r.ledger
    # The funnel narrows.
    assert k["purchases"] <= k["searches"] <= k["needs"]
    # Money: revenue is exactly split between brand, dealers and platforms.
    assert L["brand_take"] + L["dealer_take"] + L["platform_take"] == pytest.approx(
        L["revenue"], rel=1e-9, abs=1e-6
    )
    # Stock: never negative; what left the shelves is what was bought.
    inv = sim.inventory
    assert (inv.stock >= 0).all()
    bought = int(trail.loc[trail.event == "purchase", "units"].sum())
    assert int(inv.initial.sum() + inv.delivered.sum() - inv.stock.sum()) == bought
    # Every consumer is in exactly one stage, with at most one pending event.
    assert sum(L["stage_counts"]) == sc.market.consumers
    ids, _ = sim.calendar.pending()
    assert len(np.unique(ids)) == len(ids)
    assert (sim.population.stage[ids] != CHURNED).all()
    # Events are dated inside the run, and every purchase is received.
    purchases = trail[trail.event == "purchase"]
    assert (trail.time >= 0).all()
    assert len(purchases) == int((trail.event == "receive").sum())
    assert 0.0 <= k["fill_rate"] <= 1.0
