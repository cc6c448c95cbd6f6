"""Charts of a strategy comparison, each a function of saved results returning a figure.

Every function takes a `ComparisonResults` and returns a matplotlib `Figure`, or None when the
results hold nothing to draw (no dealer network, a single strategy, no time series). Values
and intervals are the ones in the result files: means over replications and 95% intervals,
paired under common random numbers for differences (`omnisim.experiments.stats`). Draw them
inside `chart_style()` (as `omnisim.report.build` does) for the report's look.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from omnisim.experiments.stats import t_interval
from omnisim.metrics.registry import headline
from omnisim.metrics.units import good_direction, kind_of, unit_label
from omnisim.report.results import HEADLINE as HEADLINE_KPIS
from omnisim.report.results import TERMINAL, ComparisonResults
from omnisim.report.style import (
    compact,
    format_value,
    series_colours,
    strategy_colours,
    value_axis,
)

HEADLINE = headline("report_panels")
"""The KPIs of the comparison panels (those the results have), from the KPI registry."""
FUNNEL = ("needs", "searches", "purchases", "reviews")


def _figure(**kwargs) -> Figure:
    return Figure(layout="constrained", **kwargs)


def _err(row) -> tuple[float, float]:
    """Lower and upper error-bar lengths of a comparison row (0 where the CI is unknown)."""
    lo, hi, m = row["ci_low"], row["ci_high"], row["mean"]
    if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi, m)):
        return 0.0, 0.0
    return max(m - lo, 0.0), max(hi - m, 0.0)


def _errors(res: ComparisonResults, rows: Sequence) -> np.ndarray | None:
    """Error-bar lengths (2 x n) of comparison rows, or None (no bars at all) without
    intervals: one replication's zero-width "interval" would look like a certain value."""
    if not res.has_intervals:
        return None
    return np.array([_err(r) for r in rows]).reshape(-1, 2).T


def _ci_note(res: ComparisonResults, what: str = "95% CI") -> str:
    """How a chart's title names its intervals: ``what``, or why there are none."""
    if res.has_intervals:
        return what
    return f"{res.reps} replication{'s' if res.reps != 1 else ''}: no interval"


def _strategy_axis(ax, names: Sequence[str]) -> None:
    ax.set_xticks(range(len(names)))
    long = max(len(n) for n in names) * len(names) > 40
    ax.set_xticklabels(names, rotation=30 if long else 0, ha="right" if long else "center")
    ax.grid(axis="x", visible=False)


def kpi_comparison(res: ComparisonResults, kpis: Sequence[str] = HEADLINE) -> Figure | None:
    """Small multiples, one panel per KPI: each strategy's mean as a bar, its 95% interval as
    an error bar; the baseline in grey."""
    kpis = [k for k in kpis if res.has(k)]
    if not kpis:
        return None
    names = res.strategies
    colours = strategy_colours(names, res.baseline)
    cols = min(3, len(kpis))
    rows = math.ceil(len(kpis) / cols)
    fig = _figure(figsize=(10.0, 5.625 if rows <= 2 else 2.9 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, kpi in zip(axes, kpis, strict=False):
        rs = [res.row(n, kpi) for n in names]
        means = [r["mean"] for r in rs]
        ax.bar(
            range(len(names)),
            means,
            yerr=_errors(res, rs),
            color=[colours[n] for n in names],
            error_kw={"ecolor": "#222222", "elinewidth": 1.2},
        )
        ax.set_title(kpi)
        ax.set_ylabel(unit_label(kpi, res.currency))
        value_axis(ax.yaxis, kpi)
        ax.set_xticks([])
        ax.grid(axis="x", visible=False)
    for ax in axes[len(kpis) :]:
        ax.set_visible(False)
    _strategy_legend(fig, names, colours)
    over = f"95% CI over {res.reps} replications" if res.has_intervals else _ci_note(res)
    fig.suptitle(f"{res.name}: KPIs by strategy (mean, {over})")
    return fig


def _strategy_legend(fig: Figure, names: Sequence[str], colours: dict[str, str]) -> None:
    handles = [Patch(color=colours[n], label=n) for n in names]
    fig.legend(handles=handles, loc="outside lower center", ncols=_columns(len(names)))


def difference_forest(res: ComparisonResults, kpis: Sequence[str] = HEADLINE_KPIS) -> Figure | None:
    """Forest plots, a panel per KPI in its own unit: each strategy's difference to the
    baseline with its paired 95% interval; a filled dot where the interval excludes 0. The
    panel title says which way is better for the brand (`good_direction`)."""
    others = res.others
    kpis = [k for k in kpis if res.has(k) and _base_mean(res, k) is not None]
    if not others or not kpis:
        return None
    colours = strategy_colours(res.strategies, res.baseline)
    cols = min(3, len(kpis))
    rows = math.ceil(len(kpis) / cols)
    height = max(5.625, rows * (0.3 * len(others) + 1.2) + 0.8)
    fig = _figure(figsize=(10.0, height))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    ys = np.arange(len(others))[::-1]
    for i, (ax, kpi) in enumerate(zip(axes, kpis, strict=False)):
        rs = [res.row(n, kpi) for n in others]
        d = np.array([r["diff"] for r in rs], dtype=float)
        lo = np.array([r["diff_ci_low"] for r in rs], dtype=float)
        hi = np.array([r["diff_ci_high"] for r in rs], dtype=float)
        ok = ~np.isnan(d)
        clear = ((lo > 0) | (hi < 0)) & res.has_intervals
        for y, name, dv, lv, hv, c, good in zip(ys, others, d, lo, hi, clear, ok, strict=True):
            if not good:
                continue
            if res.has_intervals:
                ax.plot([lv, hv], [y, y], color=colours[name], lw=2.0, solid_capstyle="butt")
            face = colours[name] if c else "white"
            ax.plot([dv], [y], "o", ms=7, mfc=face, mec=colours[name], mew=1.6)
        ax.axvline(0.0, color="#222222", linewidth=1.0)
        ax.set_yticks(ys, others if i % cols == 0 else [])  # names on the left column only
        ax.set_ylim(-0.6, len(others) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(_difference_formatter(kpi))
        ax.tick_params(axis="x", labelsize=10)
        base = _base_mean(res, kpi)
        better = {1: " (↑ better)", -1: " (↓ better)"}.get(good_direction(kpi), "")
        ax.set_title(f"{kpi}\nbaseline {_short_value(base, kpi)}{better}", fontsize=11)
        ax.set_xlabel(f"Δ {unit_label(kpi, res.currency).replace('%', 'pp')}", fontsize=10)
    for ax in axes[len(kpis) :]:
        ax.set_visible(False)
    note = _ci_note(res, "paired 95% CI (filled: the CI excludes 0)")
    fig.suptitle(f"{res.name}: difference to {res.baseline}, {note}")
    return fig


def _short_value(v: float, kpi: str) -> str:
    return format_value(v, kpi) if kind_of(kpi) == "fraction" or abs(v) < 1e4 else compact(v)


def _difference_formatter(kpi: str) -> FuncFormatter:
    if kind_of(kpi) == "fraction":
        return FuncFormatter(lambda v, _: f"{100 * v:+.3g}" if v else "0")
    return FuncFormatter(lambda v, _: ("+" if v > 0 else "") + compact(v) if v else "0")


def _base_mean(res: ComparisonResults, kpi: str) -> float | None:
    m = res.mean(res.baseline, kpi)
    return None if math.isnan(m) else m


def journey_funnel(res: ComparisonResults) -> Figure | None:
    """The journey funnel: needs, searches, purchases and reviews of each strategy (95% CI),
    each stage labelled with its share of needs."""
    stages = [k for k in FUNNEL if res.has(k)]
    if len(stages) < 2:
        return None
    names = res.strategies
    colours = strategy_colours(names, res.baseline)
    fig = _figure()
    ax = fig.subplots()
    height = 0.8 / len(names)
    top = max(res.mean(n, stages[0]) for n in names)
    for j, name in enumerate(names):
        ys = [len(stages) - 1 - i + 0.4 - height * (j + 0.5) for i in range(len(stages))]
        rs = [res.row(name, k) for k in stages]
        means = [r["mean"] for r in rs]
        errs = _errors(res, rs)
        ax.barh(ys, means, height=height * 0.92, xerr=errs, color=colours[name], label=name)
        needs = means[0]
        for y, m in zip(ys[1:], means[1:], strict=True):
            if needs and len(names) <= 6:
                ax.text(m + 0.01 * top, y, f"{100 * m / needs:.0f}%", va="center", fontsize=9)
    ax.set_yticks(range(len(stages)))
    ax.set_yticklabels(list(reversed(stages)))
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    ax.set_xlabel("count in the measurement window (labels: % of needs)")
    fig.legend(loc="outside right upper")
    ax.set_title(f"{res.name}: journey funnel by strategy (mean, {_ci_note(res)})")
    return fig


def channel_share_over_time(res: ComparisonResults) -> Figure | None:
    """Revenue share of each channel per period (stacked to 100%), a panel per strategy;
    the share of the replications' mean revenue in each period."""
    channels = res.channels
    if res.series is None or not channels:
        return None
    names = res.strategies
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = _figure(figsize=(10.0, max(5.625, 2.8 * rows + 1.0)))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).ravel()
    colours = series_colours(channels)
    for ax, name in zip(axes, names, strict=False):
        m = res.series_means(name)
        x = ((m["start_day"] + m["end_day"]) / 2).to_numpy()
        revenue = np.array([m[f"revenue.{c}"].to_numpy() for c in channels])
        total = revenue.sum(axis=0)
        share = np.divide(revenue, total, out=np.zeros_like(revenue), where=total > 0)
        ax.stackplot(x, share, colors=[colours[c] for c in channels], linewidth=0)
        ax.set_title(name)
        ax.set_ylim(0, 1)
        if len(x) > 1:
            ax.set_xlim(x[0], x[-1])
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    for ax in axes[(rows - 1) * cols :]:
        ax.set_xlabel("day")
    for ax in axes[::cols]:
        ax.set_ylabel("revenue share (%)")
    handles = [Patch(color=colours[c], label=c) for c in channels]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(8, len(channels)))
    fig.suptitle(f"{res.name}: revenue share by channel over time")
    return fig


def _profit_parts(res: ComparisonResults) -> list[tuple[str, str]]:
    """(label, KPI) of each party's part of the chain's profit, the brand first."""
    parts = [("brand", "brand_profit")]
    levels = res.levels
    if levels:
        parts += [
            ("stores (terminal)" if lv == TERMINAL else lv, f"dealer_profit.{lv}") for lv in levels
        ]
    elif res.has("dealer_profit"):
        parts.append(("dealers and hosts", "dealer_profit"))
    if res.has("revenue_split.platform"):
        parts.append(("platforms (commission)", "revenue_split.platform"))
    return [(label, k) for label, k in parts if res.has(k)]


def profit_split(res: ComparisonResults) -> Figure | None:
    """Who earns what: per strategy a stacked bar of the brand's profit, each dealer level's
    profit and the platforms' commissions (losses stack below 0); a diamond marks the total
    with its 95% interval (computed on the replications' totals)."""
    parts = _profit_parts(res)
    if not res.has("brand_profit"):
        return None
    names = res.strategies
    colours = series_colours([label for label, _ in parts])
    fig = _figure()
    ax = fig.subplots()
    x = np.arange(len(names))
    up = np.zeros(len(names))
    down = np.zeros(len(names))
    for label, kpi in parts:
        v = np.array([res.mean(n, kpi) for n in names])
        v = np.nan_to_num(v)
        bottom = np.where(v >= 0, up, down)
        ax.bar(x, v, 0.6, bottom=bottom, color=colours[label], label=label)
        up += np.where(v >= 0, v, 0.0)
        down += np.where(v < 0, v, 0.0)
    kpis = [k for _, k in parts]
    totals = [res.total_interval(n, kpis) for n in names]
    m = np.array([t[0] for t in totals])
    err = np.array([[t[0] - t[1] for t in totals], [t[2] - t[0] for t in totals]])
    if res.has_intervals:
        ax.errorbar(x, m, yerr=np.nan_to_num(err), fmt="D", color="#222222", label="total, 95% CI")
    else:
        ax.errorbar(x, m, fmt="D", color="#222222", label="total (1 replication: no interval)")
    ax.axhline(0.0, color="#222222", linewidth=0.8)
    value_axis(ax.yaxis, "brand_profit")
    ax.set_ylabel(f"profit in the window ({res.currency})")
    _strategy_axis(ax, names)
    fig.legend(loc="outside lower center", ncols=4)
    ax.set_title(f"{res.name}: profit along the chain by strategy (means)")
    return fig


def bullwhip_by_level(res: ComparisonResults) -> Figure | None:
    """The bullwhip along the dealer network: per level, the variance of the orders it
    places over the variance of the demand it meets (1 = no amplification), and its
    inventory in days of demand; a bar per strategy, 95% intervals."""
    levels = [lv for lv in res.levels if res.has(f"bullwhip.{lv}")]
    if not levels:
        return None
    names = res.strategies
    colours = strategy_colours(names, res.baseline)
    fig = _figure()
    panels = [("bullwhip", "order variance / demand variance"), ("inventory_days", "days")]
    panels = [(p, u) for p, u in panels if any(res.has(f"{p}.{lv}") for lv in levels)]
    axes = fig.subplots(1, len(panels), squeeze=False).ravel()
    width = 0.8 / len(names)
    for ax, (family, unit) in zip(axes, panels, strict=True):
        for j, name in enumerate(names):
            xs = np.arange(len(levels)) - 0.4 + width * (j + 0.5)
            rs = [res.row(name, f"{family}.{lv}") for lv in levels]
            keep = [i for i, r in enumerate(rs) if not math.isnan(r["mean"])]  # level removed
            means = [rs[i]["mean"] for i in keep]
            errs = _errors(res, [rs[i] for i in keep])
            ax.bar(xs[keep], means, width * 0.92, yerr=errs, color=colours[name], label=name)
        if family == "bullwhip":
            ax.axhline(1.0, color="#222222", linewidth=1.0, linestyle="--")
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels(levels, rotation=20 if len(levels) > 3 else 0)
        ax.grid(axis="x", visible=False)
        ax.set_title(family.replace("_", " "))
        ax.set_ylabel(unit)
    axes[0].legend(loc="upper right")
    fig.suptitle(f"{res.name}: order variance and inventory per level (mean, {_ci_note(res)})")
    return fig


def active_customers_over_time(res: ComparisonResults) -> Figure | None:
    """Active customers at the end of each period (customers whose last purchase is at most
    `lifecycle.active_days` old), mean over replications with a 95% band."""
    if res.series is None or "active_customers" not in res.series.columns:
        return None
    names = res.strategies
    colours = strategy_colours(names, res.baseline)
    fig = _figure()
    ax = fig.subplots()
    for name in names:
        rows = res.series[res.series.strategy == name]
        ends = rows.groupby("period")["end_day"].first().to_numpy()
        by_period = [g["active_customers"].to_numpy() for _, g in rows.groupby("period")]
        stats = np.array([t_interval(v) for v in by_period])
        ax.plot(ends, stats[:, 0], color=colours[name], linewidth=2.0, label=name)
        if res.has_intervals:
            ax.fill_between(ends, stats[:, 1], stats[:, 2], color=colours[name], alpha=0.2)
    days = (res.scenario.get("lifecycle") or {}).get("active_days")
    window = f" (bought in the last {days:g} days)" if days else ""
    ax.set_xlabel("day")
    ax.set_ylabel("active customers (consumers)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    ax.legend(loc="best")
    band = "mean and 95% band" if res.has_intervals else f"mean; {_ci_note(res)}"
    ax.set_title(f"{res.name}: active customers{window}, {band}")
    return fig


CHARTS = {
    "kpi_comparison": kpi_comparison,
    "difference_forest": difference_forest,
    "journey_funnel": journey_funnel,
    "channel_share_over_time": channel_share_over_time,
    "profit_split": profit_split,
    "bullwhip_by_level": bullwhip_by_level,
    "active_customers_over_time": active_customers_over_time,
}
"""Every comparison chart by file name, in report order."""


def _columns(n: int, most: int = 4) -> int:
    """Legend columns: at most ``most``, rows filled evenly (6 entries: 3 + 3, not 4 + 2)."""
    return math.ceil(n / math.ceil(n / most)) if n else 1
