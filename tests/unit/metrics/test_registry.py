"""The KPI registry (omnisim/metrics/registry.py) and docs/outputs.md's KPI tables say the same,
row for row; every KPI a run emits is declared; the headline lists are the registry's."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from builders import ROOT

from omnisim.metrics import kpis as kpis_module
from omnisim.metrics.registry import HEADLINE_SETS, KPIS, Kpi, headline, lookup
from omnisim.metrics.units import unit_of
from omnisim.simulation import Simulation

ARROWS = {"↑": 1, "↓": -1, "–": 0}


@dataclass(frozen=True)
class Row:
    name: str
    formula: str | None  # the formula cell's leading `code` span, None if it starts in words
    unit: str
    good: str


def documented_rows() -> list[Row]:
    """Every KPI row of every docs/outputs.md table with a unit column, in document order (a
    KPI defined twice, as `churn_rate` is, gives two rows)."""
    rows: list[Row] = []
    header: list[str] | None = None
    for line in (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "KPI":
            header = cells
        elif header and "unit" in header and cells[0].startswith("`"):
            lead = re.match(r"`([^`]+)`", cells[header.index("formula")])
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows.append(
                    Row(
                        name,
                        lead.group(1) if lead else None,
                        cells[header.index("unit")],
                        cells[header.index("good")],
                    )
                )
    return rows


def test_docs_tables_and_registry_list_the_same_kpis_in_the_same_order():
    rows = documented_rows()
    assert len(rows) > 80  # the tables were found
    first = list(dict.fromkeys(r.name for r in rows))
    assert first == [k.name for k in KPIS]


@pytest.mark.parametrize("row", documented_rows(), ids=lambda r: r.name)
def test_every_docs_row_has_the_registry_unit_and_direction(row: Row):
    kpi = next(k for k in KPIS if k.name == row.name)
    assert (row.unit, ARROWS.get(row.good)) == (kpi.unit, kpi.good)


def test_every_kpi_has_the_formula_its_defining_docs_row_begins_with():
    defining: dict[str, Row] = {}
    for r in documented_rows():
        defining.setdefault(r.name, r)
    wrong = [(k.name, k.formula, defining[k.name].formula) for k in KPIS]
    assert [w for w in wrong if w[1] != w[2]] == []


def test_every_kpi_has_a_one_line_description():
    for k in KPIS:
        assert k.description and "\n" not in k.description and len(k.description) <= 90, k.name


def _emitted_in_golden_files() -> set[str]:
    """Every KPI name of the recorded example scenarios (network, media, word of mouth,
    membership and shocks included)."""
    names: set[str] = set()

    def walk(x: object) -> None:
        if isinstance(x, dict):
            names.update(x.get("kpis", {}))
            for v in x.values():
                walk(v)

    for path in sorted((ROOT / "tests" / "regression" / "golden").glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return names


def test_every_kpi_a_small_run_emits_is_declared(small):
    emitted = Simulation(small, 0).run().kpis
    assert len(emitted) > 50
    assert [k for k in emitted if unit_of(k) is None] == []


def test_every_kpi_of_the_example_scenarios_is_declared():
    names = _emitted_in_golden_files()
    assert len(names) > 150  # the files were found
    assert sorted(k for k in names if lookup(k) is None) == []
    # and every family is met there, so none is declared for nothing
    families = {k.name for k in KPIS if k.is_family}
    assert families <= {lookup(n).name for n in names}


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("revenue", "revenue"),
        ("dealer_profit", "dealer_profit"),  # the whole name before a family
        ("dealer_profit.city_dealer", "dealer_profit.<level>"),
        ("revenue_split.brand", "revenue_split.brand"),
        ("online_share", "online_share"),
        ("online_share.during.lockdown", "online_share.during.<s>"),
        ("online_share.during.a.b", "online_share.during.<s>"),  # dots in the part
        ("fill_rate.terminal", "fill_rate.<level>"),
        ("fill_rate.", None),  # an empty part
        ("revenue.extra", None),  # not a family
        ("cost.anything", None),  # only the five documented costs
        ("no_such_kpi", None),
    ],
)
def test_lookup(name: str, declared: str | None):
    kpi = lookup(name)
    assert (kpi.name if kpi else None) == declared


def test_headline_lists_are_the_registrys():
    from omnisim import cli
    from omnisim.report import charts, results, sweep_charts

    assert headline("console") == cli.HEADLINE
    assert headline("sweep_console") == cli.SWEEP_HEADLINE
    assert headline("report") == results.HEADLINE
    assert headline("sweep_report") == sweep_charts.HEADLINE
    assert tuple(charts.HEADLINE) == headline("report_panels")
    for which in HEADLINE_SETS:
        names = headline(which)
        assert names and all(n in {k.name for k in KPIS if not k.is_family} for n in names)
    assert headline("sweep_report") == ("revenue", "brand_profit", "purchases", "fill_rate")
    with pytest.raises(KeyError, match="no headline list"):
        headline("nope")  # type: ignore[arg-type]


def test_kpi_families_are_named_by_their_last_part():
    k = Kpi("bullwhip.<level>", "ratio", -1, "x")
    assert k.is_family and k.prefix == "bullwhip."
    assert not Kpi("revenue", "currency", 1, "x").is_family


def test_offline_channel_types_are_the_schemas():
    from omnisim.scenario.schema import OFFLINE_TYPES

    assert {t.value for t in OFFLINE_TYPES} == kpis_module.OFFLINE_TYPE_NAMES


def test_the_kpis_do_not_import_the_scenario_package():
    source = (ROOT / "omnisim" / "metrics" / "kpis.py").read_text(encoding="utf-8")
    assert "omnisim.scenario" not in re.sub(r'"""[\s\S]*?"""', "", source)
