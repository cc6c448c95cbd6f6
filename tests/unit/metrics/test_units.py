"""The KPI units the charts and reports print are those docs/outputs.md states."""

from __future__ import annotations

import re

import pytest
from builders import ROOT

from omnisim.metrics.units import kind_of, unit_label, unit_of


def documented_units() -> dict[str, str]:
    """KPI name (with its <placeholder>) -> unit, from every KPI table of docs/outputs.md."""
    out: dict[str, str] = {}
    header: list[str] | None = None
    for line in (ROOT / "docs" / "outputs.md").read_text().splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "KPI":
            header = cells
        elif header and "unit" in header and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                out[name] = cells[header.index("unit")]
    return out


def test_every_documented_kpi_has_its_documented_unit():
    documented = documented_units()
    assert len(documented) > 80  # the tables were found
    for name, unit in documented.items():
        concrete = re.sub(r"<[^>]+>", "x", name)  # dealer_profit.<level> -> dealer_profit.x
        assert unit_of(concrete) == unit, name


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
