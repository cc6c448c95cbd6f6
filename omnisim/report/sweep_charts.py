"""Charts of a parameter sweep: the sensitivity indices, and a KPI's response to parameters.

Each function takes a `SweepResults` and returns a matplotlib `Figure`, or None when there is
nothing to draw. The indices are those of `sensitivity.csv` (docs/sweeps.md): Sobol' S1 and
ST, Morris mu* and sigma, or Spearman's rho for grid and Latin-hypercube designs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.tri import Triangulation

from omnisim.experiments.stats import t_interval
from omnisim.metrics.registry import headline
from omnisim.metrics.units import unit_label
from omnisim.report.results import SweepResults, level_texts
from omnisim.report.style import PALETTE, compact, value_axis

HEADLINE = headline("sweep_report")
"""The KPIs of the sensitivity panels and response surfaces (those the results have); declared in
omnisim/metrics/registry.py."""

_MEASURES = {
    "ST": (("ST", "total (ST)"), ("S1", "first order (S1)")),
    "mu_star": (("mu_star", "mu*"),),
    "spearman": (("spearman", "Spearman rho"),),
}


def sensitivity_indices(res: SweepResults, kpis: Sequence[str] = HEADLINE) -> Figure | None:
    """A panel per KPI: each parameter's sensitivity with its 95% interval (Sobol' ST and S1,
    Morris mu* with sigma marked, or Spearman's rho), the most influential on top."""
    key = res.measure()
    kpis = [k for k in kpis if _moves(res, k, key)]
    if not kpis:
        return None
    cols = min(2, len(kpis))
    rows = math.ceil(len(kpis) / cols)
    params = res.param_paths
    fig = Figure(layout="constrained", figsize=(10.0, max(5.625, rows * (1.2 + 0.5 * len(params)))))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, kpi in zip(axes, kpis, strict=False):
        order = res.ranked(kpi)[::-1]  # barh draws bottom-up: most influential last = on top
        table = res.sensitivity[res.sensitivity.kpi == kpi].set_index("parameter")
        measures = _MEASURES[key]
        height = 0.8 / len(measures)
        for j, (col, label) in enumerate(measures):
            ys = np.arange(len(order)) + 0.4 - height * (j + 0.5)
            vals = np.array([table.at[p, col] if p in table.index else np.nan for p in order])
            err = _errors(table, order, col)
            ax.barh(ys, np.nan_to_num(vals), height * 0.9, xerr=err, color=PALETTE[j], label=label)
        if key == "mu_star" and "sigma" in table.columns:
            sig = [table.at[p, "sigma"] if p in table.index else np.nan for p in order]
            ax.scatter(sig, np.arange(len(order)), marker="|", s=200, c="#222222", label="sigma")
        if key == "spearman":
            ax.set_xlim(-1, 1)
            ax.axvline(0, color="#222222", linewidth=0.8)
        elif key == "ST":
            ax.set_xlim(0, max(1.0, ax.get_xlim()[1]))
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([_wrap(p) for p in order], fontsize=10)
        ax.grid(axis="y", visible=False)
        ax.set_title(kpi)
        if key == "mu_star":
            value_axis(ax.xaxis, kpi)
            ax.set_xlabel(f"mu* ({unit_label(kpi, res.currency)})")
        else:
            ax.set_xlabel("index (share of variance)" if key == "ST" else "rho")
    for ax in axes[len(kpis) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(f"{res.name}: sensitivity ({res.design}, {res.manifest.get('rows')} rows, 95% CI)")
    return fig


def _errors(table, order: Sequence[str], col: str) -> np.ndarray | None:
    if f"{col}_conf" in table.columns:  # SALib: half-width of the 95% interval
        e = [table.at[p, f"{col}_conf"] if p in table.index else 0.0 for p in order]
        return np.nan_to_num(np.array(e, dtype=float))
    lo_col, hi_col = f"{col}_ci_low", f"{col}_ci_high"
    if lo_col in table.columns:
        v = np.array([table.at[p, col] if p in table.index else np.nan for p in order])
        lo = np.array([table.at[p, lo_col] if p in table.index else np.nan for p in order])
        hi = np.array([table.at[p, hi_col] if p in table.index else np.nan for p in order])
        return np.nan_to_num(np.array([v - lo, hi - v]))
    return None


def _moves(res: SweepResults, kpi: str, key: str) -> bool:
    """Whether any parameter has a non-zero measure for the KPI (a panel of zeros is left
    out of the chart; the findings table still lists the KPI)."""
    values = res.sensitivity.loc[res.sensitivity.kpi == kpi, key].to_numpy(dtype=float)
    return bool(np.any(np.nan_to_num(values) != 0))


def _wrap(path: str, width: int = 26) -> str:
    """A dotted path broken at dots into lines of at most ``width`` characters (a longer
    part stays whole)."""
    lines: list[str] = []
    for part in path.split("."):
        if lines and len(lines[-1]) + 1 + len(part) <= width:
            lines[-1] += "." + part
        else:
            lines.append(part if not lines else "." + part)
    return "\n".join(lines)


def _short(path: str, width: int = 34) -> str:
    """A dotted path that fits beside a bar: its tail, with an ellipsis in front."""
    return path if len(path) <= width else "…" + path[-(width - 1) :]


def _axis_values(res: SweepResults, path: str) -> tuple[np.ndarray, list[str] | None]:
    """Numeric positions of a parameter's values and, for levels, their labels."""
    spec = next(p for p in res.parameters if p["path"] == path)
    column = res.runs[path]
    if spec["kind"] == "levels":
        labels = [str(v) for v in spec["levels"]]
        index = level_texts(spec)
        return np.array([index.get(str(v), np.nan) for v in column], dtype=float), labels
    return column.to_numpy(dtype=float), None


def response_surface(
    res: SweepResults, kpi: str, x: str | None = None, y: str | None = None
) -> Figure | None:
    """A KPI against the two most influential parameters (or ``x`` and ``y``): on a grid
    design, a heatmap of the mean over the other parameters in each cell; on a scattered
    design, contours interpolated between the design points (shown as dots). With one swept
    parameter, the response curve with each row's 95% interval over its replications."""
    if not res.has(kpi) or np.nanmin(res.runs[kpi]) == np.nanmax(res.runs[kpi]):
        return None  # a KPI no parameter moved has no surface to show
    ranked = res.ranked(kpi)
    x = x or ranked[0]
    if len(ranked) == 1:
        return _response_curve(res, kpi, x)
    y = y or next(p for p in ranked if p != x)
    xs, xlabels = _axis_values(res, x)
    ys, ylabels = _axis_values(res, y)
    z = res.runs[kpi].to_numpy(dtype=float)
    fig = Figure(layout="constrained")
    ax = fig.subplots()
    if res.design == "grid" or (xlabels and ylabels):
        image = _heatmap(ax, xs, ys, z)
    else:
        ok = ~(np.isnan(xs) | np.isnan(ys) | np.isnan(z))
        tri = Triangulation(xs[ok], ys[ok])
        image = ax.tricontourf(tri, z[ok], levels=12, cmap="viridis")
        ax.scatter(xs[ok], ys[ok], s=8, c="white", edgecolors="#222222", linewidths=0.4)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"{kpi} ({unit_label(kpi, res.currency)})")
    value_axis(bar.ax.yaxis, kpi)
    for axis, labels, path in ((ax.xaxis, xlabels, x), (ax.yaxis, ylabels, y)):
        if labels:
            axis.set_ticks(range(len(labels)), labels)
        axis.set_label_text(_short(path, 60))
    if res.design != "grid":  # the design's whole range, so that unsampled corners show
        ax.set_xlim(*_span(res, x, xs))
        ax.set_ylim(*_span(res, y, ys))
    ax.grid(False)
    others = len(res.param_paths) - 2
    rest = f"; mean over the other {others} parameters" if others > 0 else ""
    ax.set_title(f"{res.name}: {kpi} over the two most influential parameters{rest}")
    return fig


def _span(res: SweepResults, path: str, values: np.ndarray) -> tuple[float, float]:
    spec = next(p for p in res.parameters if p["path"] == path)
    if spec["kind"] == "levels" or spec.get("low") is None:
        return float(np.nanmin(values)) - 0.5, float(np.nanmax(values)) + 0.5
    return float(spec["low"]), float(spec["high"])


def _heatmap(ax, xs: np.ndarray, ys: np.ndarray, z: np.ndarray):
    """Cells at the distinct design values, each the mean KPI of its rows, annotated."""
    ux, uy = np.unique(xs[~np.isnan(xs)]), np.unique(ys[~np.isnan(ys)])
    grid = np.full((len(uy), len(ux)), np.nan)
    for i, yv in enumerate(uy):
        for j, xv in enumerate(ux):
            cell = z[(xs == xv) & (ys == yv)]
            cell = cell[~np.isnan(cell)]
            if len(cell):
                grid[i, j] = cell.mean()
    image = ax.pcolormesh(_edges(ux), _edges(uy), grid, cmap="viridis", shading="flat")
    if grid.size <= 100:
        mid = np.nanmean(grid)
        for i, yv in enumerate(uy):
            for j, xv in enumerate(ux):
                if not np.isnan(grid[i, j]):
                    colour = "white" if grid[i, j] < mid else "black"
                    ax.text(xv, yv, compact(grid[i, j]), ha="center", va="center", color=colour)
    ax.set_xticks(ux)
    ax.set_yticks(uy)
    return image


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges half-way between sorted centres (one unit wide for a single value)."""
    if len(values) == 1:
        return np.array([values[0] - 0.5, values[0] + 0.5])
    mid = (values[1:] + values[:-1]) / 2
    return np.concatenate([[2 * values[0] - mid[0]], mid, [2 * values[-1] - mid[-1]]])


def _response_curve(res: SweepResults, kpi: str, x: str) -> Figure:
    reps = res.replicate_rows()
    xs, labels = _axis_values(res, x)
    means, lo, hi = [], [], []
    for run in res.runs["run"]:
        # A run whose replications lack the KPI (a level that drops the media plan, say)
        # has NaN in runs.csv too: no point, rather than a KeyError.
        values = reps.loc[reps.run == run, kpi].to_list() if kpi in reps.columns else []
        m, a, b = t_interval(values)
        means.append(m)
        lo.append(a)
        hi.append(b)
    order = np.argsort(xs)
    xs, means_a = xs[order], np.array(means)[order]
    intervals = res.reps >= 2  # one replication per row has none
    err = np.nan_to_num(np.array([means_a - np.array(lo)[order], np.array(hi)[order] - means_a]))
    fig = Figure(layout="constrained")
    ax = fig.subplots()
    ax.errorbar(
        xs,
        means_a,
        yerr=err if intervals else None,
        fmt="o-",
        color=PALETTE[0],
        markersize=4,
        linewidth=1.5,
    )
    if labels:
        ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(_short(x, 60))
    ax.set_ylabel(f"{kpi} ({unit_label(kpi, res.currency)})")
    value_axis(ax.yaxis, kpi)
    what = f"mean of {res.reps}, 95% CI" if intervals else "1 replication: no interval"
    ax.set_title(f"{res.name}: {kpi} against {_short(x, 40)} ({what})")
    return fig


def sweep_charts(res: SweepResults, kpis: Sequence[str] = HEADLINE) -> dict[str, Figure]:
    """Every sweep chart by file name, in report order: the indices, then a response surface
    (or curve) per headline KPI."""
    out: dict[str, Figure] = {}
    fig = sensitivity_indices(res, kpis)
    if fig is not None:
        out["sensitivity_indices"] = fig
    for kpi in kpis:
        fig = response_surface(res, kpi)
        if fig is not None:
            out[f"response_{kpi}"] = fig
    return out
