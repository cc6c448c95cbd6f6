"""The findings of a comparison report: a difference is coloured by whether it is good for
the brand (`good_direction`), only where its interval excludes 0; with one replication there
is no interval, so nothing is coloured or listed as a finding, and the charts draw means
without error bars."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer

import omnisim
from omnisim.report import charts, sweep_charts
from omnisim.report.build import build_report
from omnisim.report.html import render_comparison
from omnisim.report.results import ComparisonResults, SweepResults, load_results
from omnisim.report.style import chart_style
from omnisim.report.summary import NO_INTERVAL, findings_table, strategy_findings

BOUNDS = ["ci_low", "ci_high", "diff_ci_low", "diff_ci_high"]
NO_REPS = "1 replication: no interval; run with --reps 2 or more"

# unified_price's difference to the baseline, set by hand: (diff, low, high) and the class
# its cell must get. Rises and falls, good and bad, a neutral KPI, and one inside its noise.
SET = {
    "revenue": ((1000.0, 500.0, 1500.0), "better"),  # up, up is good
    "lost_sales": ((15.0, 5.0, 25.0), "worse"),  # up, down is good
    "cac": ((8.0, 2.0, 14.0), "worse"),
    "price_dispersion": ((-0.05, -0.06, -0.04), "better"),  # down, down is good
    "purchases": ((-6.0, -9.0, -3.0), "worse"),  # down, up is good
    "dealer_profit": ((100.0, 50.0, 150.0), "clear"),  # the dealers' money: neutral
    "online_share": ((0.02, 0.01, 0.03), "clear"),  # the channel mix: neutral
    "brand_profit": ((300.0, -100.0, 700.0), ""),  # the interval includes 0
    "avg_rating": ((-0.2, -0.5, 0.1), ""),
}


class _Table(HTMLParser):
    """The findings table's body: per row, the first cell's text and each cell's class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._in, self._row, self._cell, self._text = False, None, None, ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("class") == "findings":
            self._in = True
        elif self._in and tag == "tr":
            self._row, self._text = [], ""
        elif self._in and tag == "td" and self._row is not None:
            self._cell = a.get("class") or ""
            self._row.append(self._cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag == "tr" and self._row:
            self.rows[self._text.split()[0]] = self._row[2:]  # KPI, baseline, then strategies
            self._row = None

    def handle_data(self, data):
        if self._row is not None and len(self._row) == 1:
            self._text += data


def cell_classes(html: str) -> dict[str, set[str]]:
    """KPI -> the classes of its difference cell (one other strategy)."""
    parser = _Table()
    parser.feed(html)
    return {k: set(v[0].split()) - {"num"} for k, v in parser.rows.items()}


@pytest.fixture
def set_by_hand(quick_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "by-hand"
    shutil.copytree(quick_dir, folder)
    t = pd.read_csv(folder / "comparison.csv", keep_default_na=False, na_values=[""])
    for kpi, ((d, lo, hi), _) in SET.items():
        at = (t.strategy == "unified_price") & (t.kpi == kpi)
        assert at.sum() == 1, kpi
        t.loc[at, ["diff", "diff_ci_low", "diff_ci_high"]] = [d, lo, hi]
    t.to_csv(folder / "comparison.csv", index=False)
    return folder


def test_cells_are_coloured_by_what_is_good_for_the_brand(set_by_hand: Path):
    res = load_results(set_by_hand)
    assert isinstance(res, ComparisonResults)
    classes = cell_classes(render_comparison(res, {}))
    for kpi, (_, want) in SET.items():
        assert classes[kpi] == ({want} if want else set()), kpi
    html = render_comparison(res, {})
    assert (
        "Green: better for the brand, red: worse, each only where the 95% interval of the "
        "difference excludes 0; uncoloured: a neutral KPI" in html
    )


def test_the_findings_sentence_sorts_changes_into_better_worse_and_neutral(set_by_hand: Path):
    res = load_results(set_by_hand)
    assert isinstance(res, ComparisonResults)
    ((name, text),) = strategy_findings(res)
    assert name == "unified_price"
    better, rest = text.split("; worse: ")
    worse, rest = rest.split("; neutral KPIs: ")
    neutral, still = rest.split(". Not distinguishable at 95%: ")
    assert better.startswith("better for the brand: revenue +1,000 (")  # lead KPIs first
    assert "price_dispersion -5.0 pp" in better
    # purchases is a lead KPI: it comes first among the worse.
    assert [p.split()[0] for p in worse.split(", ")] == ["purchases", "lost_sales", "cac"]
    assert [p.split()[0] for p in neutral.split(", ")] == ["dealer_profit", "online_share"]
    assert "brand_profit" in still and "avg_rating" in still
    # Every headline KPI of the table is named exactly once.
    named = [w.strip(".,:;") for w in text.split()]
    for row in findings_table(res):
        assert named.count(row.kpi) == 1, row.kpi


@pytest.fixture(scope="module")
def single_dir(tmp_path_factory: pytest.TempPathFactory, quick_file: Path) -> Path:
    """A comparison of one replication whose interval bounds are NaN (empty cells), written
    by hand so the test does not depend on how compare writes them."""
    out = tmp_path_factory.mktemp("single") / "cmp"
    omnisim.compare(quick_file, reps=1, executor="serial", out=out, report=False)
    t = pd.read_csv(out / "comparison.csv", keep_default_na=False, na_values=[""])
    t[BOUNDS] = np.nan
    t.to_csv(out / "comparison.csv", index=False)
    return out


@pytest.fixture
def zero_width(single_dir: Path, tmp_path: Path) -> Path:
    """The same with the zero-width "intervals" older versions wrote for one replication."""
    folder = tmp_path / "zero-width"
    shutil.copytree(single_dir, folder)
    t = pd.read_csv(folder / "comparison.csv", keep_default_na=False, na_values=[""])
    t["ci_low"] = t["ci_high"] = t["mean"]
    t["diff_ci_low"] = t["diff_ci_high"] = t["diff"]
    t.to_csv(folder / "comparison.csv", index=False)
    return folder


def test_one_replication_gives_no_interval_and_no_finding(single_dir: Path, zero_width: Path):
    for folder in (single_dir, zero_width):
        res = load_results(folder)
        assert isinstance(res, ComparisonResults) and not res.has_intervals
        assert strategy_findings(res) == [("unified_price", f"no finding ({NO_REPS}).")]
        rows = findings_table(res)
        moved = [r for r in rows if r.cells[0].text not in ("0", "0.0 pp", "–")]
        assert moved, "the means differ somewhere: their difference is still shown"
        for row in rows:
            cell = row.cells[0]
            assert not cell.clear and cell.verdict == 0 and cell.interval in (NO_INTERVAL, "")
        html = render_comparison(res, {})
        assert f"{NO_REPS}." in html
        classes = cell_classes(html)
        assert len(classes) == len(rows)
        assert all(not c for c in classes.values())  # nothing coloured or bold
        assert "Each strategy ran 1 replication with common random numbers" in html


def _error_bars(ax) -> list:
    return [c.errorbar for c in ax.containers if isinstance(c, BarContainer) and c.errorbar]


def test_charts_of_one_replication_draw_means_without_error_bars(single_dir: Path):
    res = load_results(single_dir)
    assert isinstance(res, ComparisonResults)
    t = pd.read_csv(single_dir / "comparison.csv").set_index(["strategy", "kpi"])
    with chart_style():
        fig = charts.kpi_comparison(res)
        for ax in fig.axes:
            if ax.get_visible() and ax.get_title():
                (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
                heights = [p.get_height() for p in bars.patches]
                want = [t.loc[(s, ax.get_title()), "mean"] for s in res.strategies]
                assert heights == pytest.approx(want)
                assert not _error_bars(ax)
        assert "no interval" in fig.get_suptitle()

        fig = charts.difference_forest(res)
        assert "1 replication: no interval" in fig.get_suptitle()
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            lines = [ln for ln in ax.get_lines() if ln.get_transform() is ax.transData]
            assert all(len(ln.get_xdata()) == 1 for ln in lines)  # dots, no interval lines
            assert all(ln.get_markerfacecolor() == "white" for ln in lines)  # none "clear"

        assert not _error_bars(charts.journey_funnel(res).axes[0])
        ax = charts.profit_split(res).axes[0]
        (total,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert not total.has_yerr and "no interval" in total.get_label()
        ax = charts.active_customers_over_time(res).axes[0]
        assert not ax.collections  # no band
    html = build_report(single_dir).read_text()  # and the whole report builds
    assert html.count("<figure") >= 5


def test_forest_panels_say_which_way_is_better(roadmap):
    with chart_style():
        fig = charts.difference_forest(roadmap)
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in fig.axes if ax.get_title()}
    assert titles["revenue"].endswith("(↑ better)")
    assert titles["lost_sales"].endswith("(↓ better)")
    assert "better" not in titles["dealer_profit"] and "better" not in titles["needs"]


def test_a_response_curve_of_one_replication_has_no_error_bars(quick_file, tmp_path):
    out = tmp_path / "curve1"
    omnisim.sweep(
        quick_file,
        ["product.list_price=149:249"],
        "lhs",
        n=3,
        reps=1,
        executor="serial",
        out=out,
        report=False,
    )
    res = load_results(out)
    assert isinstance(res, SweepResults)
    with chart_style():
        fig = sweep_charts.response_surface(res, "revenue")
    ax = fig.axes[0]
    (container,) = ax.containers
    assert not container.has_yerr
    assert "1 replication: no interval" in ax.get_title()
