"""Model checks of omnichannel fulfilment (docs/model.md, "Omnichannel fulfilment and profit
allocation"): paired confidence intervals over replications under common random numbers
(replication r of both arms uses the same streams; `omnisim.experiments.stats.paired_interval`).

* Risk pooling: the same total stock split over several nodes loses fewer sales when every
  node's stock serves every order (shared inventory) than when each channel keeps its own.
* Nearest dispatch: with the pool and ship-from-store in both arms, serving from the nearest
  stocked node shortens deliveries.
"""

from __future__ import annotations

from builders import merge

from omnisim.experiments.stats import paired_interval
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation

REPS = 8


def online_market(**changes) -> dict:
    """Two regions 3 days apart, three online channels each shipping from its own warehouse in
    the north, and one store per region; demand of each channel fluctuates on its own."""
    warehouse = {"review_days": 7, "lead_time_days": 1, "order_up_to": 420}
    data = {
        "name": "pool",
        "horizon_days": 70.0,
        "warmup_days": 10.0,
        "seed": 11,
        "engine": {"bucket_hours": 2.0},
        "market": {
            "consumers": 2000,
            "regions": [
                {"name": "north", "population_share": 0.5},
                {"name": "south", "population_share": 0.5},
            ],
            "distance_days": {"north": {"south": 3.0}},
        },
        "product": {"list_price": 100.0, "unit_cost": 40.0},
        "journey": {"stockout": {"switch_probability": 0.2}},
        "segments": [
            {
                "name": "all",
                "share": 1.0,
                "need": {"mean_interval_days": 12, "cv": 0.8, "basket_mean_units": 1.5},
                "awareness": 0.8,
                "habits": {"a": 0.3, "b": 0.3, "c": 0.3},
            }
        ],
        "channels": [
            {"name": n, "type": "own_online", "nodes": [f"dc_{n}"], "visibility": 1.0}
            for n in ("a", "b", "c")
        ]
        + [{"name": "shop", "type": "own_store", "nodes": ["st_n", "st_s"], "visibility": -3.0}],
        "nodes": [
            {"name": f"dc_{n}", "kind": "warehouse", "region": "north", "replenishment": warehouse}
            for n in ("a", "b", "c")
        ]
        + [
            {
                "name": "st_n",
                "kind": "store",
                "region": "north",
                "replenishment": {"review_days": 7, "lead_time_days": 2, "order_up_to": 400},
            },
            {
                "name": "st_s",
                "kind": "store",
                "region": "south",
                "replenishment": {"review_days": 7, "lead_time_days": 2, "order_up_to": 400},
            },
        ],
    }
    return merge(data, changes)


def paired(kpi: str, base: dict, alt: dict) -> tuple[float, float, float]:
    """Paired 95% interval of alt - base over REPS replications under common random numbers."""
    x, b = [], []
    for r in range(REPS):
        b.append(Simulation(Scenario.model_validate(base), replication=r).run().kpis[kpi])
        x.append(Simulation(Scenario.model_validate(alt), replication=r).run().kpis[kpi])
    return paired_interval(x, b)


def test_risk_pooling_shared_inventory_loses_fewer_sales() -> None:
    siloed = online_market()
    shared = online_market(omnichannel={"shared_inventory": True})
    diff, lo, hi = paired("lost_sales", siloed, shared)
    print(f"lost units, shared - siloed: {diff:.1f} [{lo:.1f}, {hi:.1f}]")
    assert hi < 0.0


def test_nearest_dispatch_shortens_deliveries() -> None:
    both = {"shared_inventory": True, "ship_from_store": True}
    base = online_market(omnichannel=both)
    near = online_market(omnichannel=both | {"nearest_dispatch": True})
    diff, lo, hi = paired("avg_delivery_days", base, near)
    print(f"delivery days, nearest - home first: {diff:.3f} [{lo:.3f}, {hi:.3f}]")
    assert hi < 0.0
