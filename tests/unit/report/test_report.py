"""report.html: self-contained, complete, escaped, reproducible; bad folders refused."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from builders import HOSTILE, HOSTILE_DESCRIPTION, HOSTILE_STRATEGY, HOSTILE_VALUE

import omnisim
from omnisim.metrics.units import unit_of
from omnisim.report.build import build_report
from omnisim.report.results import ReportError
from omnisim.report.summary import overlay_lines, strategy_changes


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text outside tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_the_report_holds_every_chart_inline(built: Path):
    html = (built / "report.html").read_text()
    page = _parse(html)
    figures = [a["id"] for t, a in page.tags if t == "figure"]
    files = sorted(p.stem for p in (built / "charts").glob("*.svg"))
    assert sorted(f.removeprefix("chart-") for f in figures) == files
    assert set(files) == {
        "kpi_comparison",
        "difference_forest",
        "journey_funnel",
        "channel_share_over_time",
        "profit_split",
        "bullwhip_by_level",
        "active_customers_over_time",
    }
    assert sum(1 for t, _ in page.tags if t == "svg") == len(files)
    assert all((built / "charts" / f"{f}.png").stat().st_size > 10_000 for f in files)
    assert html.count("<figcaption>") == len(files)


def test_the_report_fetches_nothing(built: Path):
    html = (built / "report.html").read_text()
    page = _parse(html)
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "img", "iframe", "object", "embed"), tag
        for name in ("src", "href", "xlink:href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, name, value)
    assert not re.search(r"url\((?!#)", html), "a CSS url() that is not a fragment"
    # Namespace names (xmlns="http://www.w3.org/2000/svg") are names, not addresses.
    assert "@import" not in html
    assert not re.search(r"https?://", re.sub(r'xmlns(:\w+)?="[^"]*"', "", html))


def test_element_ids_are_unique_across_the_charts(built: Path):
    ids = [a["id"] for _, a in _parse((built / "report.html").read_text()).tags if "id" in a]
    assert len(ids) == len(set(ids))
    refs = re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', (built / "report.html").read_text())
    assert {a or b for a, b in refs} <= set(ids)  # every reference finds its element


def test_the_report_has_the_findings_strategies_scenario_and_manifest(built: Path):
    html = (built / "report.html").read_text()
    text = " ".join(_parse(html).text)
    manifest = json.loads((built / "manifest.json").read_text())
    for value in (
        manifest["omnisim"],
        str(manifest["seed"]),
        *manifest["scenario_hashes"].values(),
    ):
        assert value in text
    table = pd.read_csv(built / "comparison.csv").set_index(["strategy", "kpi"])
    base_revenue = table.loc[("baseline", "revenue"), "mean"]
    assert f"{base_revenue:,.0f}" in text  # the headline table's baseline mean
    assert "omnichannel.online_order_offline_fulfilment = true" in text  # stage2's overlay
    assert "1,500" in text  # consumers, from the scenario with the run's overrides
    for section in ("findings", "strategies", "scenario", "charts", "manifest"):
        assert f'id="{section}"' in html


def test_rebuilding_gives_the_same_bytes(built: Path):
    first = {p.name: p.read_bytes() for p in [built / "report.html", *(built / "charts").iterdir()]}
    build_report(built)
    again = {p.name: p.read_bytes() for p in [built / "report.html", *(built / "charts").iterdir()]}
    assert again == first


def test_a_sweep_report_for_each_design(sweeps):
    for name, folder in sweeps.items():
        page = build_report(folder)
        html = page.read_text()
        assert "sensitivity" in html and "The swept parameters" in html, name
        assert "<figure" in html and "product.list_price" in html
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["scenario_hash"] in html


def test_names_and_text_from_the_scenario_are_escaped(hostile_dir: Path):
    html = (hostile_dir / "report.html").read_text()
    page = _parse(html)
    tags = {t for t, _ in page.tags}
    assert "script" not in tags and "img" not in tags
    assert "<b>bold</b>" not in html and "<script" not in html
    text = "".join(page.text)
    for markup in (HOSTILE, HOSTILE_STRATEGY, HOSTILE_VALUE, HOSTILE_DESCRIPTION):
        assert markup in text, markup
    assert html.count("</style>") == html.count("<style")  # no style element closed early


def test_overlays_read_as_dotted_lines_marked_new_or_kept():
    lines = overlay_lines(
        {"omnichannel": {"bopis": {"ready_hours": 2}}, "channels": [{"name": "mall", "asc": 1}]}
    )
    assert lines == [("omnichannel.bopis.ready_hours", "2"), ("channels[mall].asc", "1")]
    sc = {"strategies": {"a": {"x": 1}, "b": {"x": 1, "y": "on"}}}
    a, b = strategy_changes(["a", "b"], "a", sc)
    assert a.is_baseline and a.lines == [("x", "1", True)]
    assert b.lines == [("x", "1", False), ("y", "on", True)]


def test_bad_folders_are_refused_in_one_line(tmp_path: Path, roadmap_dir: Path, quick_file):
    with pytest.raises(ReportError, match="no such results folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(ReportError, match="not a results folder"):
        build_report(tmp_path)
    run = tmp_path / "run"
    omnisim.simulate(quick_file, replications=1, out=run)
    with pytest.raises(ReportError, match="not a results folder"):
        build_report(run)
    broken = tmp_path / "broken"
    shutil.copytree(roadmap_dir, broken)
    (broken / "manifest.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"manifest\.json: cannot read") as e:
        build_report(broken)
    assert "\n" not in str(e.value)
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "sweep.json").write_text("{}")
    with pytest.raises(ReportError, match="--resume"):
        build_report(unfinished)
    assert not (unfinished / "report.html").exists()


def test_every_kpi_a_comparison_reports_has_a_unit(roadmap_dir: Path, quick_dir: Path):
    """The charts label axes by unit (omnisim.metrics.units): no KPI may lack one."""
    for folder in (roadmap_dir, quick_dir):
        kpis = set(pd.read_csv(folder / "comparison.csv").kpi)
        assert [k for k in sorted(kpis) if unit_of(k) is None] == []


def test_a_folder_from_before_the_time_series_still_gets_a_report(roadmap_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(roadmap_dir, old)
    (old / "timeseries.csv").unlink()
    (old / "scenario.json").unlink()
    html = build_report(old).read_text()
    charts = {p.stem for p in (old / "charts").glob("*.svg")}
    assert "channel_share_over_time" not in charts and "active_customers_over_time" not in charts
    assert {"kpi_comparison", "difference_forest", "profit_split"} <= charts
    assert "The scenario was not saved with these results." in html


def test_sweep_findings_say_when_no_parameter_moves_a_kpi(sweeps):
    from omnisim.report.results import load_results
    from omnisim.report.summary import sweep_findings

    res = load_results(sweeps["sobol"])
    runs = pd.read_csv(sweeps["sobol"] / "runs.csv")
    constant = [k for k in runs.columns[3:] if runs[k].nunique(dropna=False) == 1]
    rows = {r["kpi"]: r["ranking"] for r in sweep_findings(res, [constant[0], "revenue"])}
    assert rows[constant[0]] == "the same in every run: no parameter moves it"
    assert rows["revenue"].startswith("product.list_price (ST ")
