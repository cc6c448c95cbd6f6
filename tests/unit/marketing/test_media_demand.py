"""Media response without free consumption (docs/model.md, sections 5 and 6a): a click brings
a waiting consumer's next need forward, it does not add one, unless the vehicle's
`incrementality` says that some clicks make an extra occasion. Needs are renewal epochs, so
with incrementality 0 the count of needs is the same whatever the media plan (exactly, under
common random numbers: the epochs are drawn from each consumer's own counter)."""

from __future__ import annotations

import pytest

from omnisim.scenario.loading import scenario_from_dict
from omnisim.simulation import Simulation
from tests.builders import small_market


def run(budget: float, incrementality: float = 0.0, lift: float = 0.0) -> dict:
    d = small_market(horizon_days=150.0, warmup_days=30.0)
    d["market"]["consumers"] = 2000
    d["media"] = {
        "vehicles": [
            {
                "name": "feed",
                "kind": "social",
                "cpm": 10.0,
                "daily_budget": budget,
                "channel": "platform",
                "click_through": 0.2,
                "incrementality": incrementality,
                "max_lift": lift,
            }
        ]
    }
    out = Simulation(scenario_from_dict(d), 0).run()
    return out.kpis | {"clicks": sum(out.ledger["media"]["clicks"])}


@pytest.fixture(scope="module")
def none() -> dict:
    return run(0.0)


@pytest.mark.parametrize("lift", [0.0, 0.6])
def test_clicks_bring_needs_forward_but_add_none(none: dict, lift: float) -> None:
    heavy = run(5.0, lift=lift)
    assert heavy["clicks"] > 2000  # the plan reaches a large part of the market
    assert heavy["needs"] == none["needs"]
    # ...while media still act: the clicked channel is put into consideration and a clicked
    # consumer is aware, so more needs become searches.
    assert heavy["searches"] > none["searches"]


def test_incrementality_adds_at_most_one_occasion_per_click(none: dict) -> None:
    half, full = run(5.0, incrementality=0.5), run(5.0, incrementality=1.0)
    extra_half, extra_full = half["needs"] - none["needs"], full["needs"] - none["needs"]
    # Only clicks on consumers waiting for a need (not in a journey, not churned) make an
    # occasion, each exactly one: the extra needs are at most the clicks.
    assert 0 < extra_half < extra_full <= full["clicks"]
