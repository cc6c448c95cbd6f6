"""Competitors' price in the outside option (docs/model.md, "Decision: competition"): the
tabulated outside utilities against the formula, the names the section may use, choice shares
against the closed-form logit with competitors cheaper, and a price-war shock that acts only
while it lasts.

The simulated market is the nested-logit test's, in which every brand utility is a known
constant (`test_nested_logit.plain_market`): the brand prices at the reference, so a price
sensitivity moves only the outside option, through competitors' price."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_nested_logit import ASC, V0, check_shares, nested_shares, plain_market

from omnisim.market import competition as cm
from omnisim.market.shocks import Shocks
from omnisim.scenario.loading import ScenarioError, load_scenario
from omnisim.simulation import Simulation

BETA = 2.0


def two_regions(competition: dict, **extra):
    """The plain market with two regions and a second segment (beta 1), for the tables."""
    sc = plain_market(segment={"price_sensitivity": BETA}, competition=competition, **extra)
    data = sc.model_dump(mode="json", exclude={"strategies"})
    data["market"]["regions"] = [
        {"name": "city", "population_share": 1.0},
        {"name": "coast", "population_share": 1.0},
    ]
    data["segments"].append(data["segments"][0] | {"name": "b", "price_sensitivity": 1.0})
    return type(sc).model_validate(data)


def test_the_outside_table_is_the_two_alternative_formula() -> None:
    """V_0[r, s] = outside_s + ln(1 - σ + σ x_rs^-β_s), x_rs = index · m_r · m_s."""
    comp = {"price_index": 0.9, "regions": {"coast": 1.2}, "segments": {"b": 0.8}, "share": 0.6}
    sc = two_regions(comp)
    table = cm.outside_table(sc)
    for r, m_r in enumerate([1.0, 1.2]):
        for s, (m_s, beta) in enumerate([(1.0, BETA), (0.8, 1.0)]):
            x = 0.9 * m_r * m_s
            want = V0 + math.log(0.4 + 0.6 * x**-beta)
            assert table[r, s] == pytest.approx(want, rel=1e-12)


def test_competitors_at_the_reference_leave_the_outside_option_exactly() -> None:
    sc = two_regions({"regions": {"coast": 1.0}, "share": 0.37})
    assert np.array_equal(cm.outside_table(sc), np.full((2, 2), V0))
    sc = two_regions({"price_index": 0.5, "share": 0.0})
    assert np.array_equal(cm.outside_table(sc), np.full((2, 2), V0))


def test_a_shock_moves_competitors_price_only_while_it_lasts() -> None:
    """The compiled lookup: the tabulated value outside the shock; inside, the formula at
    x · M."""
    war = {"name": "war", "start_day": 40.0, "end_day": 80.0, "competitor_price_multiplier": 0.7}
    sc = two_regions({"price_index": 0.9, "share": 0.6}, shocks=[war])
    sim = Simulation(sc)
    seg, sh = sim.journey.seg, Shocks(sc).state()
    for t, x in ((39.9, 0.9), (40.0, 0.63), (79.9, 0.63), (80.0, 0.9)):
        for r in range(2):
            for s, beta in enumerate([BETA, 1.0]):
                got = cm.outside_utility(r, s, t, seg, sh, 0.6, 1.0)
                assert got == pytest.approx(V0 + math.log(0.4 + 0.6 * x**-beta), rel=1e-12)


def test_unknown_names_are_refused_with_their_line(tmp_path) -> None:
    text = "\n".join(
        [
            "name: c",
            "segments: [{name: a, share: 1}]",
            "channels: [{name: shop, type: own_store, nodes: [s]}]",
            "nodes: [{name: s, kind: store, region: city}]",
            "competition:",
            "  regions: {north: 0.9}",
            "  segments: {young: 1.1}",
        ]
    )
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    lines = err.value.problems
    assert any("c.yaml:6" in p and "unknown region 'north'" in p for p in lines), lines
    assert any("c.yaml:7" in p and "unknown segment 'young'" in p for p in lines), lines


def cheaper_competitors(share: float, **extra):
    return plain_market(
        segment={"price_sensitivity": BETA},
        competition={"price_index": 0.8, "share": share},
        **extra,
    )


@pytest.mark.slow
@pytest.mark.parametrize("share", [1.0, 0.5])
def test_choice_shares_follow_competitors_price(share: float) -> None:
    """Competitors 20% below the reference: the outside option's weight is e^V0 (1 - σ + σ
    0.8^-β); the shares are the logit's with that V_0 within sampling error."""
    v0 = V0 + math.log(1.0 - share + share * 0.8**-BETA)
    check_shares(cheaper_competitors(share), _logit(v0))


@pytest.mark.slow
def test_a_price_war_over_the_whole_window_is_a_lower_index() -> None:
    """A shock with multiplier 0.7 over the whole run gives the shares of index 0.8 · 0.7."""
    war = {"name": "war", "start_day": 0.0, "end_day": 200.0, "competitor_price_multiplier": 0.7}
    v0 = V0 + math.log(0.5 + 0.5 * (0.8 * 0.7) ** -BETA)
    check_shares(cheaper_competitors(0.5, shocks=[war]), _logit(v0))


def _logit(v0: float) -> dict[str, float]:
    return nested_shares(1.0, 1.0, ASC, v0=v0)
