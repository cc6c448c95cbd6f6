"""The KPI units and good directions the charts, reports and console print are those
docs/outputs.md states."""

from __future__ import annotations

import re

import pytest
from builders import ROOT

from omnisim.metrics.units import good_direction, kind_of, unit_label, unit_of

ARROWS = {"↑": 1, "↓": -1, "–": 0}


def documented(column: str) -> dict[str, str]:
    """KPI name (with its <placeholder>) -> the cell of ``column``, from every KPI table of
    docs/outputs.md that has that column."""
    out: dict[str, str] = {}
    header: list[str] | None = None
    for line in (ROOT / "docs" / "outputs.md").read_text().splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "KPI":
            header = cells
        elif header and column in header and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                out[name] = cells[header.index(column)]
    return out


def concrete(name: str) -> str:
    return re.sub(r"<[^>]+>", "x", name)  # dealer_profit.<level> -> dealer_profit.x


def test_every_documented_kpi_has_its_documented_unit():
    units = documented("unit")
    assert len(units) > 80  # the tables were found
    for name, unit in units.items():
        assert unit_of(concrete(name)) == unit, name


def test_every_documented_kpi_has_its_documented_good_direction():
    units, goods = documented("unit"), documented("good")
    assert set(goods) == set(units)  # no KPI table lacks the column
    for name, arrow in goods.items():
        assert arrow in ARROWS, (name, arrow)
        assert good_direction(concrete(name)) == ARROWS[arrow], name


@pytest.mark.parametrize(
    ("kpi", "direction"),
    [
        ("revenue", 1),
        ("lost_sales", -1),
        ("cac", -1),
        ("cac.platform", -1),
        ("price_dispersion", -1),
        ("cost.holding", -1),
        ("revenue_split.brand", 1),  # an exact name before its family (revenue_split: 0)
        ("revenue_split.platform", 0),
        ("dealer_profit.city_dealer", 0),
        ("new_customers", 1),
        ("new_customers.platform", 0),  # a channel's part of the mix
        ("needs", 0),
        ("online_share.during.lockdown", 0),
        ("no_such_kpi", 0),
        ("revenue.extra", 0),  # not a family: unknown
    ],
)
def test_good_directions(kpi: str, direction: int):
    assert good_direction(kpi) == direction


@pytest.mark.parametrize(
    ("kpi", "kind", "label"),
    [
        ("revenue", "money", "CNY"),
        ("cac.platform", "money", "CNY / customer"),
        ("fill_rate", "fraction", "%"),
        ("purchases", "count", "orders"),
        ("lost_sales", "count", "units"),
        ("avg_rating", "level", "stars"),
        ("bullwhip.terminal", "level", "ratio"),
        ("items_per_order", "level", "units / order"),
        ("no_such_kpi", "level", ""),
    ],
)
def test_kinds_and_labels(kpi, kind, label):
    assert kind_of(kpi) == kind and unit_label(kpi, "CNY") == label
