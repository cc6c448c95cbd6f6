"""Every chart draws the numbers of the result files: each test reads the files itself (with
pandas, not through the report's loader) and checks the drawn bars, points, lines and cells
against them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import BarContainer

from omnisim.experiments.stats import t_interval
from omnisim.report import charts, sweep_charts
from omnisim.report.results import load_results
from omnisim.report.style import chart_style

TOL = 1e-9


def _table(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "comparison.csv").set_index(["strategy", "kpi"])


def _axes(fig) -> dict[str, object]:
    """Visible axes by title (the first line of it)."""
    return {ax.get_title().split("\n")[0]: ax for ax in fig.axes if ax.get_visible()}


def _bars(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def _error_segments(container: BarContainer) -> list[tuple[float, float]]:
    """(low, high) of each error bar of a vertical bar container."""
    lines = container.errorbar.lines[2][0]
    return [(seg[0][1], seg[1][1]) for seg in lines.get_segments()]


def test_kpi_comparison_bars_are_the_means_and_whiskers_the_intervals(roadmap, roadmap_dir):
    t = _table(roadmap_dir)
    with chart_style():
        fig = charts.kpi_comparison(roadmap)
    panels = _axes(fig)
    assert set(charts.HEADLINE) <= set(panels)
    for kpi in charts.HEADLINE:
        (bars,) = _bars(panels[kpi])
        heights = [p.get_height() for p in bars.patches]
        want = [t.loc[(s, kpi), "mean"] for s in roadmap.strategies]
        assert heights == pytest.approx(want, rel=TOL)
        for (lo, hi), s in zip(_error_segments(bars), roadmap.strategies, strict=True):
            assert lo == pytest.approx(t.loc[(s, kpi), "ci_low"], rel=TOL)
            assert hi == pytest.approx(t.loc[(s, kpi), "ci_high"], rel=TOL)


def test_kpi_comparison_leaves_out_kpis_the_results_lack(quick):
    with chart_style():
        fig = charts.kpi_comparison(quick, ["revenue", "no_such_kpi"])
        assert set(_axes(fig)) == {"revenue"}
        assert charts.kpi_comparison(quick, ["no_such_kpi"]) is None


def test_forest_points_are_the_paired_differences(roadmap, roadmap_dir):
    t = _table(roadmap_dir)
    with chart_style():
        fig = charts.difference_forest(roadmap)
    panels = _axes(fig)
    others = [s for s in roadmap.strategies if s != roadmap.baseline]
    for kpi in ("revenue", "brand_profit", "dealer_profit", "lost_sales"):
        ax = panels[kpi]
        # Per strategy, from the top: the interval as a line, then the difference as a dot
        # (the zero line is drawn in axes coordinates, not data coordinates).
        lines = [ln for ln in ax.get_lines() if ln.get_transform() is ax.transData]
        drawn = [ln for ln in lines if len(ln.get_xdata()) == 2]
        dots = [ln for ln in lines if len(ln.get_xdata()) == 1]
        assert len(drawn) == len(dots) == len(others)
        for s, seg, dot in zip(others, drawn, dots, strict=True):
            row = t.loc[(s, kpi)]
            assert list(seg.get_xdata()) == pytest.approx([row.diff_ci_low, row.diff_ci_high])
            assert dot.get_xdata()[0] == pytest.approx(row["diff"], rel=TOL)
            clear = row.diff_ci_low > 0 or row.diff_ci_high < 0
            assert (dot.get_markerfacecolor() != "white") == clear
        assert kpi in ax.get_title() and "baseline" in ax.get_title()


def test_forest_needs_a_strategy_to_compare(quick_file, tmp_path):
    import omnisim

    omnisim.compare(quick_file, ["baseline"], reps=2, executor="serial", out=tmp_path, report=False)
    with chart_style():
        assert charts.difference_forest(load_results(tmp_path)) is None


def test_funnel_stages_are_the_journey_counts(roadmap, roadmap_dir):
    t = _table(roadmap_dir)
    with chart_style():
        fig = charts.journey_funnel(roadmap)
    (ax,) = fig.axes
    containers = _bars(ax)
    assert [c.get_label() for c in containers] == roadmap.strategies
    for s, c in zip(roadmap.strategies, containers, strict=True):
        widths = [p.get_width() for p in c.patches]
        assert widths == pytest.approx([t.loc[(s, k), "mean"] for k in charts.FUNNEL], rel=TOL)
    # Each later stage is labelled with its share of needs.
    labels = {txt.get_text() for txt in ax.texts}
    s = roadmap.baseline
    share = t.loc[(s, "purchases"), "mean"] / t.loc[(s, "needs"), "mean"]
    assert f"{100 * share:.0f}%" in labels


def test_channel_shares_stack_to_one_and_follow_the_time_series(roadmap, roadmap_dir):
    series = pd.read_csv(roadmap_dir / "timeseries.csv")
    channels = [c.removeprefix("revenue.") for c in series.columns if c.startswith("revenue.")]
    with chart_style():
        fig = charts.channel_share_over_time(roadmap)
    panels = _axes(fig)
    for s in roadmap.strategies:
        mine = series[series.strategy == s].groupby("period").mean(numeric_only=True)
        revenue = mine[[f"revenue.{c}" for c in channels]].to_numpy()
        share = revenue / revenue.sum(axis=1, keepdims=True)
        polys = [c for c in panels[s].collections if isinstance(c, PolyCollection)]
        assert len(polys) == len(channels)
        # The top edge of the first layer is the first channel's share in each period.
        verts = polys[0].get_paths()[0].vertices
        x_mid = ((mine.start_day + mine.end_day) / 2).to_numpy()
        top = {round(x, 9): y for x, y in verts if y > 0}
        for x, want in zip(x_mid, share[:, 0], strict=True):
            assert top[round(x, 9)] == pytest.approx(want, rel=1e-9)
        # The last layer's top edge is 100% everywhere.
        last = polys[-1].get_paths()[0].vertices
        assert max(last[:, 1]) == pytest.approx(1.0)


def test_profit_split_stacks_each_party_and_totals_with_an_interval(roadmap, roadmap_dir):
    t = _table(roadmap_dir)
    reps = pd.read_csv(roadmap_dir / "replications.csv")
    with chart_style():
        fig = charts.profit_split(roadmap)
    ax = fig.axes[0]
    levels = ["national_agent", "provincial_agent", "city_dealer", "terminal"]
    parts = ["brand_profit", *(f"dealer_profit.{lv}" for lv in levels), "revenue_split.platform"]
    labels = ["brand", *levels[:3], "stores (terminal)", "platforms (commission)"]
    by_label = {c.get_label(): c for c in _bars(ax)}
    assert list(by_label) == labels
    for k, label in zip(parts, labels, strict=True):
        heights = [p.get_height() for p in by_label[label].patches]
        assert heights == pytest.approx([t.loc[(s, k), "mean"] for s in roadmap.strategies])
    # The diamonds: mean and t interval of the replications' totals.
    (total,) = [c for c in ax.containers if c.get_label() == "total, 95% CI"]
    ys = total.lines[0].get_ydata()
    segs = total.lines[2][0].get_segments()
    for s, y, seg in zip(roadmap.strategies, ys, segs, strict=True):
        m, lo, hi = t_interval(reps.loc[reps.strategy == s, parts].sum(axis=1).to_list())
        assert y == pytest.approx(m) and (seg[0][1], seg[1][1]) == pytest.approx((lo, hi))
    # A flattened level earns nothing: its segment has no height.
    flat = by_label["city_dealer"].patches[roadmap.strategies.index("stage3_flatten")]
    assert flat.get_height() == 0.0


def test_profit_split_without_a_network_has_the_dealers_as_one_party(quick):
    with chart_style():
        fig = charts.profit_split(quick)
    labels = [c.get_label() for c in _bars(fig.axes[0])]
    assert labels == ["brand", "dealers and hosts", "platforms (commission)"]


def test_bullwhip_bars_are_the_levels_ratios_and_removed_levels_have_none(roadmap, roadmap_dir):
    t = _table(roadmap_dir)
    with chart_style():
        fig = charts.bullwhip_by_level(roadmap)
    panels = _axes(fig)
    ax = panels["bullwhip"]
    levels = ["national_agent", "provincial_agent", "city_dealer", "terminal"]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == levels
    for s, c in zip(roadmap.strategies, _bars(ax), strict=True):
        want = [t.loc[(s, f"bullwhip.{lv}"), "mean"] for lv in levels]
        want = [w for w in want if not math.isnan(w)]
        assert [p.get_height() for p in c.patches] == pytest.approx(want, rel=TOL)
    flat = _bars(ax)[roadmap.strategies.index("stage3_flatten")]
    assert len(flat.patches) == 2  # national agent and the stores
    # The no-amplification line at 1.
    assert any(list(ln.get_ydata()) == [1.0, 1.0] for ln in ax.get_lines())
    assert "inventory days" in panels


def test_bullwhip_needs_a_dealer_network(quick):
    with chart_style():
        assert charts.bullwhip_by_level(quick) is None


def test_active_customers_line_is_the_mean_over_replications(roadmap, roadmap_dir):
    series = pd.read_csv(roadmap_dir / "timeseries.csv")
    with chart_style():
        fig = charts.active_customers_over_time(roadmap)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    for s in roadmap.strategies:
        mine = series[series.strategy == s]
        want = mine.groupby("period")["active_customers"].mean().to_numpy()
        assert lines[s].get_ydata() == pytest.approx(want)
        assert lines[s].get_xdata() == pytest.approx(
            mine.groupby("period")["end_day"].first().to_numpy()
        )
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 3  # bands


def test_every_chart_draws_and_saves_on_a_market_without_a_network(quick, tmp_path):
    from omnisim.report.style import save

    with chart_style():
        for name, draw in charts.CHARTS.items():
            fig = draw(quick)
            if name == "bullwhip_by_level":
                assert fig is None
                continue
            svg = save(fig, tmp_path, name)
            assert svg.startswith(b"<?xml") and (tmp_path / f"{name}.png").stat().st_size > 1000


# --------------------------------------------------------------------------------------------
# Sweeps


@pytest.mark.parametrize("design", ["sobol", "morris", "grid"])
def test_sensitivity_bars_are_the_indices(sweeps, design):
    folder = sweeps[design]
    sens = pd.read_csv(folder / "sensitivity.csv")
    res = load_results(folder)
    measure = {"sobol": "ST", "morris": "mu_star", "grid": "spearman"}[design]
    with chart_style():
        fig = sweep_charts.sensitivity_indices(res)
    panels = _axes(fig)
    assert panels, "no panel drawn"
    for kpi, ax in panels.items():
        rows = sens[sens.kpi == kpi].set_index("parameter")
        first = _bars(ax)[0]  # ST, mu* or rho
        names = [tick.get_text().replace("\n", "") for tick in ax.get_yticklabels()]
        widths = [p.get_width() for p in first.patches]
        assert widths == pytest.approx([rows.at[n, measure] for n in names], abs=1e-12)
        # The most influential parameter is on top (the last tick).
        assert abs(rows.at[names[-1], measure]) == pytest.approx(rows[measure].abs().max())


def test_grid_response_cells_are_the_mean_of_their_rows(sweeps):
    folder = sweeps["grid"]
    runs = pd.read_csv(folder / "runs.csv")
    res = load_results(folder)
    with chart_style():
        fig = sweep_charts.response_surface(
            res, "revenue", "product.list_price", "segments.young_online.price_sensitivity"
        )
    (mesh,) = [c for c in fig.axes[0].collections if isinstance(c, QuadMesh)]
    want = (
        runs.groupby(["segments.young_online.price_sensitivity", "product.list_price"])["revenue"]
        .mean()
        .unstack()
        .to_numpy()
    )
    assert np.asarray(mesh.get_array()).reshape(want.shape) == pytest.approx(want)
    assert "revenue" in fig.axes[1].get_ylabel()  # the colour bar names the KPI and unit


def test_sampled_design_response_shows_contours_through_the_design_points(sweeps):
    folder = sweeps["sobol"]
    runs = pd.read_csv(folder / "runs.csv")
    res = load_results(folder)
    with chart_style():
        fig = sweep_charts.response_surface(res, "revenue")
    ax = fig.axes[0]
    points = [c for c in ax.collections if c.get_offsets().shape[0] == len(runs)]
    (dots,) = points
    x, y = ax.get_xlabel(), ax.get_ylabel()
    assert {x, y} == {"product.list_price", "segments.young_online.price_sensitivity"}
    assert np.asarray(dots.get_offsets()) == pytest.approx(runs[[x, y]].to_numpy())
    # Drawn over the design's whole range.
    assert ax.get_xlim() == pytest.approx(
        (149.0, 249.0) if x == "product.list_price" else (1.0, 4.0)
    )


def test_one_parameter_gives_a_response_curve_with_replication_intervals(sweeps):
    import json

    folder = sweeps["curve"]
    res = load_results(folder)
    with chart_style():
        fig = sweep_charts.response_surface(res, "revenue")
    (container,) = fig.axes[0].containers
    xs, ys = container.lines[0].get_xdata(), container.lines[0].get_ydata()
    values = {}
    for path in sorted((folder / "runs").glob("*.json")):
        doc = json.loads(path.read_text())
        reps = [r["kpis"]["revenue"] for r in doc["replications"]]
        values[doc["params"]["product.list_price"]] = t_interval(reps)
    order = sorted(values)
    assert list(xs) == pytest.approx(order)
    assert list(ys) == pytest.approx([values[x][0] for x in order])
    segs = container.lines[2][0].get_segments()
    drawn = np.array([(s[0][1], s[1][1]) for s in segs])
    assert drawn == pytest.approx(np.array([values[x][1:] for x in order]))


def test_a_kpi_no_parameter_moves_gets_no_surface(sweeps):
    folder = sweeps["sobol"]
    runs = pd.read_csv(folder / "runs.csv")
    res = load_results(folder)
    kpis = [k for k in runs.columns[3:] if runs[k].notna().all()]
    constant = [k for k in kpis if runs[k].nunique() == 1]
    moving = [k for k in kpis if runs[k].nunique() > 1]
    assert constant and moving
    with chart_style():
        assert sweep_charts.response_surface(res, constant[0]) is None
        assert sweep_charts.response_surface(res, moving[0]) is not None
