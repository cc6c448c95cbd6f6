"""What a report says in words and tables: the scenario, what each strategy changes, and the
headline findings.

Everything here is plain data (strings, numbers, booleans) for the HTML template; nothing is
escaped here, the template escapes it all. Findings are read off the comparison with one rule:
a difference counts as a finding only where its paired 95% interval excludes 0 (so there is
none with fewer than 2 replications); it is better or worse for the brand by the KPI's good
direction (`omnisim.metrics.units.good_direction`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from omnisim.metrics.units import good_direction, kind_of, unit_label
from omnisim.report.results import HEADLINE, ComparisonResults, SweepResults
from omnisim.report.style import format_value

LEAD = ("revenue", "brand_profit", "dealer_profit", "purchases", "repeat_purchase_rate")
"""KPIs a strategy's one-line finding names first (where they moved)."""


# --------------------------------------------------------------------------------------------
# The scenario


def scenario_facts(sc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines describing the market and the brand's system of a scenario dump
    (``Scenario.model_dump(mode="json")``); empty for an unknown scenario."""
    if not sc:
        return []
    cur = sc.get("currency", "")
    market = sc.get("market", {})
    regions = [r["name"] for r in market.get("regions", [])]
    product = sc.get("product", {})
    facts = [
        ("consumers", f"{market.get('consumers', 0):,}"),
        ("regions", f"{len(regions)}: {', '.join(regions)}" if regions else "one market"),
        (
            "time",
            f"{sc.get('horizon_days', 0):g} days simulated, the first "
            f"{sc.get('warmup_days', 0):g} a warm-up left out of every KPI",
        ),
        (
            "product",
            f"{product.get('name', '')} at {product.get('list_price', 0):g} {cur} "
            f"(unit cost {product.get('unit_cost', 0):g} {cur})",
        ),
        ("segments", "; ".join(_segment(s) for s in sc.get("segments", []))),
        ("stock nodes", _nodes(sc.get("nodes", []))),
        ("dealer network", _network(sc.get("network"))),
        ("media plan", _media(sc.get("media"), cur)),
        ("word of mouth", _social(sc.get("social"))),
        ("membership", _membership(sc.get("membership"))),
        ("omnichannel switches", _switches(sc.get("omnichannel") or {})),
        ("shocks", _shocks(sc.get("shocks") or [])),
        ("promotions", _promotions(sc.get("promotions") or [])),
        ("time step", f"stage events batched in {sc.get('engine', {}).get('bucket_hours', 1):g} h"),
    ]
    return [(k, v) for k, v in facts if v]


def _segment(s: Mapping[str, Any]) -> str:
    need = s.get("need", {})
    return (
        f"{s['name']} ({100 * s.get('share', 0):.0f}%, a need every "
        f"{need.get('mean_interval_days', 0):g} days, price sensitivity "
        f"{s.get('price_sensitivity', 0):g})"
    )


def _nodes(nodes: Sequence[Mapping[str, Any]]) -> str:
    kinds: dict[str, int] = {}
    for n in nodes:
        kinds[n.get("kind", "node")] = kinds.get(n.get("kind", "node"), 0) + 1
    return ", ".join(f"{v} {k}{'s' if v > 1 else ''}" for k, v in kinds.items())


def _network(net: Mapping[str, Any] | None) -> str:
    if not net:
        return "none: the brand replenishes every stock node"
    levels = [lv["name"] for lv in net.get("levels", [])]
    dealers = len(net.get("dealers", []))
    return (
        f"{' → '.join(['brand', *levels, 'stores'])}; {dealers} dealers; "
        f"pricing {net.get('pricing', '')}"
    )


def _media(media: Mapping[str, Any] | None, cur: str) -> str:
    if not media:
        return "none"
    return ", ".join(
        f"{v['name']} ({v.get('kind', '')}"
        + (f", {v['daily_budget']:,.0f} {cur}/day)" if v.get("daily_budget") else ")")
        for v in media.get("vehicles", [])
    )


def _social(social: Mapping[str, Any] | None) -> str:
    if not social:
        return "none"
    return f"over a {social.get('graph', {}).get('generator', '')} graph"


def _membership(m: Mapping[str, Any] | None) -> str:
    if not m:
        return "no programme"
    tiers = [t["name"] for t in m.get("tiers", [])]
    return f"tiers {', '.join(tiers) or 'one'}; recognised {m.get('recognition', '')}"


def _switches(om: Mapping[str, Any]) -> str:
    on = [k for k, v in om.items() if isinstance(v, bool) and v]
    on += [k for k in ("unified_price", "bopis") if om.get(k)]
    return ", ".join(sorted(on)) or "none (separate channels)"


def _shocks(shocks: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{s['name']} (day {s.get('start_day', 0):g} to {s.get('end_day', 0):g})" for s in shocks
    )


def _promotions(promos: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{p['name']} ({100 * p.get('discount', 0):.0f}% off, day {p.get('start_day', 0):g} "
        f"to {p.get('end_day', 0):g})"
        for p in promos
    )


def channel_rows(sc: Mapping[str, Any]) -> list[dict[str, str]]:
    """A row per channel: name, type, price (x list price), commission, fixed cost a day."""
    cur = sc.get("currency", "")
    return [
        {
            "name": c["name"],
            "type": str(c.get("type", "")),
            "price": f"{c.get('price_index', 1):g} × list",
            "commission": f"{100 * (c.get('commission') or 0):g}%",
            "fixed": f"{c.get('fixed_cost_per_day', 0):,.0f} {cur}/day",
        }
        for c in sc.get("channels", [])
    ]


def overlay_lines(overlay: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A strategy's overlay as ``(dotted.path, value)`` lines; list items that carry a
    ``name`` are written ``channels[platform].commission``."""
    out: list[tuple[str, str]] = []
    for key, value in overlay.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out += overlay_lines(value, path)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, Mapping) and "name" in v for v in value)
        ):
            for item in value:
                rest = {k: v for k, v in item.items() if k != "name"}
                out += overlay_lines(rest, f"{path}[{item['name']}]") or [
                    (f"{path}[{item['name']}]", "{}")
                ]
        else:
            out.append((path, value if isinstance(value, str) else json.dumps(value)))
    return out


@dataclass
class StrategyChanges:
    """What one strategy changes: its overlay lines, each marked new or kept from the
    strategy listed before it (cumulative stages then read as what each stage adds)."""

    name: str
    is_baseline: bool
    lines: list[tuple[str, str, bool]]  # (path, value, new)


def strategy_changes(
    strategies: Sequence[str], baseline: str, scenario: Mapping[str, Any]
) -> list[StrategyChanges]:
    overlays = scenario.get("strategies", {}) if scenario else {}
    out = []
    before: set[tuple[str, str]] = set()
    for name in strategies:
        lines = overlay_lines(overlays.get(name, {}))
        out.append(
            StrategyChanges(
                name, name == baseline, [(p, v, (p, v) not in before) for p, v in lines]
            )
        )
        before = set(lines)
    return out


# --------------------------------------------------------------------------------------------
# Findings of a comparison


@dataclass
class Cell:
    """A difference to the baseline as the findings table shows it."""

    text: str
    relative: str  # in per cent of the baseline mean; empty for shares
    interval: str  # "[low, high]", or why there is none
    clear: bool  # the 95% interval excludes 0
    sign: int  # of a clear difference: +1, -1, or 0 (no clear difference)
    verdict: int  # +1 better for the brand, -1 worse, 0 neither (neutral KPI, or not clear)


@dataclass
class FindingRow:
    kpi: str
    unit: str
    good: str  # the arrow of the direction good for the brand, empty for a neutral KPI
    baseline: str
    cells: list[Cell]


NO_INTERVAL = "no interval"
"""A cell's interval text when there is none (fewer than 2 replications)."""


def too_few_reps(reps: int) -> str:
    """Why there is no interval and no finding, in the words of the report."""
    return f"{reps} replication{'' if reps == 1 else 's'}: no interval; run with --reps 2 or more"


def findings_table(res: ComparisonResults, kpis: Sequence[str] = HEADLINE) -> list[FindingRow]:
    """The headline table: per KPI the baseline's mean, and each other strategy's difference
    (relative where the KPI is not a share) with its paired 95% interval."""
    out = []
    for kpi in kpis:
        if not res.has(kpi):
            continue
        base = res.mean(res.baseline, kpi)
        cells = [_cell(res.row(n, kpi), base, kpi, res.has_intervals) for n in res.others]
        good = {1: "↑", -1: "↓"}.get(good_direction(kpi), "")
        unit = unit_label(kpi, res.currency)
        out.append(FindingRow(kpi, unit, good, format_value(base, kpi), cells))
    return out


def _cell(row, base: float, kpi: str, intervals: bool) -> Cell:
    d, lo, hi = row["diff"], row["diff_ci_low"], row["diff_ci_high"]
    if math.isnan(d):
        return Cell("–", "", "", False, 0, 0)
    relative = ""
    if kind_of(kpi) != "fraction" and base and not math.isnan(base):
        relative = f"{100 * d / abs(base):+.1f}%"
    text = format_value(d, kpi, signed=True, short=True)
    # One replication gives a zero-width "interval" (older files) or none (NaN bounds):
    # neither may make a difference look certain.
    if not intervals or math.isnan(lo) or math.isnan(hi):
        return Cell(text, relative, NO_INTERVAL, False, 0, 0)
    clear = lo > 0 or hi < 0
    interval = (
        f"[{format_value(lo, kpi, signed=True, short=True)}, "
        f"{format_value(hi, kpi, signed=True, short=True)}]"
    )
    sign = (1 if d > 0 else -1) if clear else 0
    return Cell(text, relative, interval, clear, sign, sign * good_direction(kpi))


def strategy_findings(res: ComparisonResults) -> list[tuple[str, str]]:
    """One sentence per strategy: the headline KPIs that moved beyond their interval, better
    for the brand, worse, or neutral (the lead KPIs first in each), then those that did not
    (each headline KPI the results have named once). Without intervals, why not."""
    rows = findings_table(res)
    if not res.has_intervals:
        return [(name, f"no finding ({too_few_reps(res.reps)}).") for name in res.others]
    order = sorted(rows, key=lambda r: LEAD.index(r.kpi) if r.kpi in LEAD else len(LEAD))
    out = []
    for j, name in enumerate(res.others):
        groups: dict[int, list[str]] = {1: [], -1: [], 0: []}
        for r in order:
            c = r.cells[j]
            if c.clear:
                groups[c.verdict].append(
                    f"{r.kpi} {c.text}" + (f" ({c.relative})" if c.relative else "")
                )
        parts = [
            f"{label}: {', '.join(groups[v])}"
            for v, label in ((1, "better for the brand"), (-1, "worse"), (0, "neutral KPIs"))
            if groups[v]
        ]
        text = "; ".join(parts) if parts else "no headline KPI differs clearly from the baseline"
        still = [r.kpi for r in rows if not r.cells[j].clear]
        if still and parts:
            text += f". Not distinguishable at 95%: {', '.join(still)}"
        out.append((name, text + "."))
    return out


# --------------------------------------------------------------------------------------------
# A sweep


def parameter_rows(res: SweepResults) -> list[dict[str, str]]:
    """A row per swept parameter: path, kind and range or levels."""
    rows = []
    for p in res.parameters:
        if p["kind"] == "levels":
            span = ", ".join(str(v) for v in p["levels"])
        else:
            span = f"{p['low']:g} to {p['high']:g}"
        rows.append({"path": p["path"], "kind": p["kind"], "range": span})
    return rows


def sweep_findings(res: SweepResults, kpis: Sequence[str]) -> list[dict[str, str]]:
    """Per KPI, the parameters from the most influential down, each with its measure."""
    key = res.measure()
    out = []
    for kpi in kpis:
        rows = res.sensitivity[res.sensitivity.kpi == kpi].set_index("parameter")
        if rows.empty:
            continue
        parts = []
        for p in res.ranked(kpi):
            if p not in rows.index or math.isnan(rows.at[p, key]):
                continue
            v = rows.at[p, key]
            text = compact_measure(key, v, kpi)
            parts.append(f"{p} ({text})")
        if not parts:
            same = kpi in res.runs.columns and res.runs[kpi].nunique(dropna=False) == 1
            parts = ["the same in every run: no parameter moves it" if same else "undefined"]
        out.append({"kpi": kpi, "ranking": "; ".join(parts)})
    return out


def compact_measure(key: str, v: float, kpi: str) -> str:
    if key == "ST":
        return f"ST {v:.2f}"
    if key == "mu_star":
        return f"mu* {format_value(v, kpi)}"
    return f"rho {v:+.2f}"
