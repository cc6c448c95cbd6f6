"""scenarios/omnichannel_roadmap.yaml: the stages are cumulative, and a comparison reports the
KPI set a strategist reads (issue 6)."""

from __future__ import annotations

import pytest

import omnisim
from omnisim.scenario.loading import load_scenario
from tests.builders import ROOT

ROADMAP = ROOT / "scenarios" / "omnichannel_roadmap.yaml"
STAGES = ["baseline", "stage1_integrate", "stage2_o2o", "stage3_flatten", "stage4_members"]


def _switches(strategy: str) -> dict:
    sc = load_scenario(ROADMAP, strategy)
    om = sc.omnichannel.model_dump()
    on = {k: v for k, v in om.items() if v not in (None, False) and k != "allocation"}
    on["allocation"] = om["allocation"]
    on["network.exit"] = sc.network.exit
    on["network.flatten"] = sc.network.flatten
    on["membership.recognition"] = sc.membership.recognition
    on["lifecycle.winback_days"] = sc.lifecycle.winback_days
    return on


def test_each_stage_keeps_everything_the_stages_before_it_did():
    base = load_scenario(ROADMAP)
    settings = [_switches(s) for s in STAGES]
    for k in range(1, len(STAGES)):
        before, after = settings[k - 1], settings[k]
        assert after != before, f"{STAGES[k]} changes nothing"
        if k > 1:  # a stage keeps every switch of the stages before it, as it was
            kept = {
                key: v
                for key, v in before.items()
                if v not in (None, False) and v != settings[0].get(key)
            }
            assert {key: after[key] for key in kept} == kept, STAGES[k]
    # Stage by stage, the switches the issue names.
    assert settings[1]["unified_price"] is not None and settings[1]["network.exit"] is not None
    assert settings[1]["allocation"]["territory_share"] > 0
    assert settings[2]["online_order_offline_fulfilment"] and settings[2]["shared_inventory"]
    assert settings[3]["network.flatten"] is not None and settings[3]["nearest_dispatch"]
    assert settings[4]["unified_membership"]
    assert settings[4]["lifecycle.winback_days"] < settings[0]["lifecycle.winback_days"]
    assert base.network is not None and len(base.network.levels) == 3  # + terminals: 4 levels


@pytest.mark.slow  # ten runs: quick compiled, minutes in the interpreted coverage pass
def test_comparing_the_stages_gives_the_strategists_kpis():
    table = omnisim.compare(
        ROADMAP,
        strategies=STAGES,
        reps=2,
        overrides=[
            "market.consumers=1500",
            "horizon_days=150",
            "warmup_days=60",
            "lifecycle.clv_days=60",
        ],
        workers=1,
    )
    kpis = set(table.kpi)
    for name in (
        "needs",
        "searches",
        "purchases",
        "revenue",
        "brand_profit",
        "lost_sales",
        "fill_rate",
        "avg_rating",
        "repeat_purchase_rate",
        "clv",
        "price_dispersion",
        "showrooming_rate",
        "webrooming_rate",
        "cannibalisation.offline_to_online",
        "cannibalisation.online_to_offline",
        "dealer_profit",
        "cross_fulfilled_share",
    ):
        assert name in kpis, name
    for prefix in ("channel_share.", "dealer_profit.", "cac.", "bullwhip."):
        assert any(k.startswith(prefix) for k in kpis), prefix
    assert set(table.strategy) == set(STAGES)
    # Every KPI is defined for every stage (no NaN from a KPI only some strategies report),
    # apart from those undefined for lack of events at this small size.
    pivot = table.pivot(index="kpi", columns="strategy", values="mean")
    assert (
        not pivot.loc[["price_dispersion", "dealer_profit", "cross_fulfilled_share"]]
        .isna()
        .any()
        .any()
    )
