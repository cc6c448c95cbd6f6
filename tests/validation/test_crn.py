"""Common random numbers on the example scenarios where they used to fail (docs/experiments.md,
"Common random numbers, measured"): media and word of mouth (`media_membership`, moving the TV
budget to KOLs) and the dealer network (`fmcg_flattening`, a shorter chain at the old shelf
price). With 10 replications per side, the paired interval of the revenue difference must be
at least twice as narrow as with independent streams.

The ratio of two interval widths is a ratio of two sample standard deviations with 9 degrees
of freedom each: its log has a standard deviation of about sqrt(2 / 18) = 0.33. Measured on
these scenarios at their full size the ratio is 2.9 for the media case, so 2 lies 1.1 of those
below it: what CRN must deliver, not a tuned bound. In the network case the consumers meet the
same prices and, with the chain's stock ample, the same shelves, so under CRN every
replication's revenue is the same to the cent and the ratio is infinite; any draw the chain
left unpaired that reached a consumer would show. The seeds are the files' own, so the test is
deterministic. Before the draws were keyed per adopter, per supply node and per life (churn),
the ratios were 2.3 and 1.8 (0.67 and 0.88 in the issue that asked for this).

`flatten` itself (the saving passed on, a third more purchases) is not asserted at 2: pairing
the choices cannot do better than about 2.0 there (the last test below), and it measures 2.3
with 10 replications and 1.9 with 20."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from builders import merge

from omnisim.experiments.compare import compare
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]


def half_width(table, strategy: str, kpi: str) -> float:
    row = table[(table.strategy == strategy) & (table.kpi == kpi)].iloc[0]
    return (row.diff_ci_high - row.diff_ci_low) / 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scenario", "strategy"),
    [("media_membership", "kol_shift"), ("fmcg_flattening", "flatten_keep_price")],
)
def test_crn_narrows_the_revenue_difference_at_least_twice(scenario: str, strategy: str) -> None:
    path = ROOT / "scenarios" / f"{scenario}.yaml"
    crn = compare(path, ["baseline", strategy], reps=10, executor="serial")
    ind = compare(path, ["baseline", strategy], reps=10, executor="serial", independent=True)
    paired = half_width(crn.table, strategy, "revenue")
    ratio = half_width(ind.table, strategy, "revenue") / paired if paired > 0 else math.inf
    print(f"{scenario} {strategy}: independent / CRN half-width = {ratio:.2f}")
    assert ratio >= 2.0


# ------------------------------------------------------- how tight CRN can be


def _decisions(sc, tmp_path, name, salt=0):
    """(consumer, journey number) -> bought, for every need event of one replication's trail
    that comes early enough to end before the horizon."""
    path = tmp_path / f"{name}.parquet"
    Simulation(sc, 0, trail_path=path, salt=salt).run()
    trail = pq.read_table(path, columns=["time", "consumer", "event"]).to_pandas()
    trail["event"] = trail.event.astype(str)
    trail = trail[trail.event.isin(["need", "purchase"])].sort_values(
        ["consumer", "time"], kind="stable"
    )
    # A consumer has one journey at a time: a purchase belongs to the latest need before it.
    need = trail.event == "need"
    trail["journey"] = need.groupby(trail.consumer).cumsum()
    needs = trail[need & (trail.time < sc.horizon_days - 5.0)]
    needs = needs.set_index(["consumer", "journey"]).index
    bought = trail[~need].groupby(["consumer", "journey"]).size() > 0
    return bought.reindex(needs, fill_value=False)


def test_crn_couples_each_decision_as_tightly_as_any_pairing_can(tmp_path) -> None:
    """A price cut under CRN: every need that ends in a purchase at the higher price also ends
    in one at the lower price (the outside option is the first interval of the choice
    uniform, so a better offer only shrinks it). That is the comonotone (Frechet-Hoeffding)
    coupling, the pairing of two Bernoulli outcomes with the least variance of their
    difference, delta (1 - delta) for purchase probabilities p0, p1 and delta = p1 - p0. So,
    for the choices alone, independent / CRN interval widths cannot exceed about
    sqrt((p0 q0 + p1 q1) / (delta (1 - delta))), whatever the streams: 2.0 for
    fmcg_flattening's `flatten` (docs/experiments.md, "How far CRN can narrow").

    Feedback from one purchase to later decisions (habits, awareness lift, ratings, churn,
    stock) is off, so each need is the same decision in both arms; with independent streams
    the nesting fails for a large share of the needs, so the test has power."""
    base = {
        "name": "coupling",
        "horizon_days": 60.0,
        "warmup_days": 0.0,
        "seed": 11,
        "market": {"consumers": 2000, "regions": [{"name": "r", "population_share": 1.0}]},
        "product": {"list_price": 10.0, "unit_cost": 4.0},
        "segments": [
            {
                "name": "s",
                "share": 1.0,
                "need": {"mean_interval_days": 6, "cv": 0.5},
                "price_sensitivity": 5.0,
                "outside_utility": 1.0,
                "rating_sensitivity": 0.0,
                "awareness": 0.9,
                "habits": {"mall": 0.5},
            }
        ],
        "channels": [{"name": "mall", "type": "own_online", "nodes": ["dc"]}],
        "nodes": [
            {
                "name": "dc",
                "kind": "warehouse",
                "region": "r",
                "initial_stock": 10**9,
                "replenishment": {"review_days": 7, "lead_time_days": 1, "order_up_to": 10**9},
            }
        ],
        "journey": {
            "habits": {"learning_rate": 0.0, "decay": 0.0},
            "churn": {"probability": 0.0},
            "aware_after_purchase": False,
            "purchase_awareness_lift": 0.0,
        },
    }
    cut = merge(base, {"channels": [dict(base["channels"][0], price_index=0.85)]})
    b0 = _decisions(Scenario.model_validate(base), tmp_path, "list")
    b1 = _decisions(Scenario.model_validate(cut), tmp_path, "cut")
    # Needs are exogenous, but a need that falls during a journey comes when it ends, so the
    # arms' last needs come at different times (the earliest horizon is kept, see above).
    both = b0.index.intersection(b1.index)
    assert len(both) > 0.9 * max(len(b0), len(b1))
    b0, b1 = b0[both], b1[both]
    n, p0, p1 = len(b0), b0.mean(), b1.mean()
    assert n > 15_000 and 0.2 < p0 < p1 - 0.05  # a real effect on many decisions
    assert not (b0 & ~b1).any()  # nested: a purchase at the list price is one at the cut
    delta = (b1 & ~b0).mean()
    assert delta == pytest.approx(p1 - p0)
    # With independent streams a list-price purchase is not one at the cut price for about
    # p0 (1 - p1) of the needs (each consumer's draws are independent between the arms).
    b1_ind = _decisions(Scenario.model_validate(cut), tmp_path, "cut-ind", salt=1)
    both = b0.index.intersection(b1_ind.index)
    wrong = (b0[both] & ~b1_ind[both]).mean()
    assert wrong > 0.5 * p0 * (1 - p1)
