"""The self-contained HTML report: one file, its charts inline as SVG, nothing fetched.

The templates (``templates/*.html.j2``) are rendered by Jinja2 with autoescaping on: every
piece of text from a scenario or a result file (scenario, strategy and channel names, the
description, overlay values) is escaped; only the charts' SVG, which matplotlib wrote and
escaped itself, is inserted as markup. The output depends only on the results folder, so
building it twice gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from omnisim.report.results import ComparisonResults, SweepResults
from omnisim.report.summary import (
    channel_rows,
    findings_table,
    parameter_rows,
    scenario_facts,
    strategy_changes,
    strategy_findings,
    sweep_findings,
    too_few_reps,
)

_ENV = Environment(
    loader=PackageLoader("omnisim.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

CAPTIONS: dict[str, tuple[str, str]] = {
    "kpi_comparison": (
        "KPIs by strategy",
        "Each bar is a strategy's mean over its replications, the whisker its 95% interval; "
        "the baseline is grey. Bars start at zero, so small differences are easier to read "
        "in the next chart.",
    ),
    "difference_forest": (
        "Difference to the baseline",
        "Each strategy's difference to the baseline, in the KPI's unit (shares in percentage "
        "points), with its 95% interval (paired replication by replication under common "
        "random numbers; Welch's with independent streams). A filled dot: the interval "
        "excludes 0, the difference is more than sampling noise. Each panel's title gives "
        "the baseline's mean and which way is better for the brand (none for a neutral "
        "KPI).",
    ),
    "journey_funnel": (
        "The journey funnel",
        "Needs, searches, purchases and posted reviews in the measurement window, per "
        "strategy (mean, 95% interval); each stage is labelled with its count in per cent of "
        "needs.",
    ),
    "channel_share_over_time": (
        "Channel shares over time",
        "Each channel's share of revenue per period (the mean revenue of the replications), "
        "stacked to 100%, one panel per strategy.",
    ),
    "profit_split": (
        "Profit along the chain",
        "Who earns what: the brand's profit, each dealer level's profit (the stores' own "
        "level is 'terminal') and the platforms' commissions, stacked per strategy; a loss "
        "stacks below zero. The diamond is the total with the 95% interval of the "
        "replications' totals. Platforms' figure is their commission revenue: their costs "
        "are not modelled.",
    ),
    "bullwhip_by_level": (
        "Order variance and inventory per level",
        "Left: the bullwhip ratio of each level of the dealer network, the variance of the "
        "orders it places over the variance of the demand it meets (above the dashed line at "
        "1, the level amplifies demand swings upstream). Right: its stock in days of demand. "
        "Mean and 95% interval per strategy; a level a strategy removes has no bar.",
    ),
    "active_customers_over_time": (
        "Active customers over time",
        "Customers whose last purchase lies within the activity window, at the end of each "
        "period: the mean of the replications, with the 95% band across them.",
    ),
    "sensitivity_indices": (
        "Sensitivity indices",
        "How much each swept parameter moves each KPI, with 95% intervals, the most "
        "influential on top.",
    ),
}
_RESPONSE = (
    "Response of {kpi}",
    "{kpi} over the two parameters it is most sensitive to: on a grid, each cell is the mean "
    "of its design rows (over the other parameters); on a sampled design, contours "
    "interpolated between the design points, which are shown as dots. With one parameter, "
    "the response curve with each row's 95% interval over its replications.",
)
_MEASURES = {
    "ST": (
        "Sobol' total-order index ST",
        "Sobol' indices (Saltelli sampling, SALib): ST is the share of a KPI's variance a "
        "parameter causes alone and with others, S1 the share it causes alone; intervals by "
        "bootstrap.",
    ),
    "mu_star": (
        "Morris mu*",
        "Morris elementary effects (SALib): mu* is the mean absolute change of a KPI per "
        "step of a parameter across its range, in the KPI's unit; sigma, its spread, is "
        "large where the parameter interacts or acts non-linearly.",
    ),
    "spearman": (
        "|Spearman's rho|",
        "Spearman's rank correlation between a parameter and a KPI across the design rows, "
        "with a Fisher-z 95% interval: a monotone effect, not a variance share.",
    ),
}

_XML_PROLOGUE = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_IDS = re.compile(r'(\bid="|url\(#|href="#)')


def inline_svg(svg: bytes, prefix: str) -> Markup:
    """An SVG file made fit to sit inside HTML: no XML prologue, doctype or RDF metadata, and
    every id prefixed, so that several charts in one page never share an id (matplotlib
    numbers its elements from 1 in every file)."""
    text = _XML_PROLOGUE.sub("", svg.decode("utf-8"), count=1)
    text = _METADATA.sub("", text, count=1)
    text = _IDS.sub(lambda m: f"{m.group(1)}{prefix}-", text)
    return Markup(text)  # matplotlib's own output: its text is escaped already


def _charts(svgs: Mapping[str, bytes]) -> list[dict[str, Any]]:
    out = []
    for name, svg in svgs.items():
        if name.startswith("response_"):
            kpi = name.removeprefix("response_")
            title, caption = (t.format(kpi=kpi) for t in _RESPONSE)
        else:
            title, caption = CAPTIONS[name]
        out.append({"name": name, "title": title, "caption": caption, "svg": inline_svg(svg, name)})
    return out


def _footer(manifest: Mapping[str, Any], hashes: Mapping[str, str]) -> list[tuple[str, str]]:
    rows = [
        ("omnisim", str(manifest.get("omnisim", ""))),
        ("seed", str(manifest.get("seed", ""))),
        ("replications", str(manifest.get("replications", manifest.get("reps", "")))),
    ]
    rows += [(f"scenario hash ({k})" if k else "scenario hash", v) for k, v in hashes.items()]
    rows += [
        (key, str(manifest[key]))
        for key in ("executor", "wall_seconds", "events_processed", "python", "numpy", "command")
        if key in manifest
    ]
    return rows


def render_comparison(res: ComparisonResults, svgs: Mapping[str, bytes]) -> str:
    """The report of a comparison folder, its charts given as SVG bytes by name."""
    m = res.manifest
    crn = bool(m.get("common_random_numbers", True))
    kind = "common random numbers" if crn else "independent random streams"
    interval_note = (
        "Differences use the paired t interval: replication r of every strategy drew the "
        "same random numbers, so each difference is estimated replication by replication."
        if crn
        else "Differences use Welch's interval: each strategy drew its own random numbers."
    )
    sc = res.scenario
    assumptions = [
        f"Every KPI counts the measurement window only: days {sc.get('warmup_days', 0):g} to "
        f"{sc.get('horizon_days', 0):g}; the warm-up before it is left out."
        if sc
        else "Every KPI counts the measurement window only (the warm-up is left out).",
        f"Each strategy ran {res.reps} replications with {kind}; an interval is a 95% "
        "Student-t interval over them."
        if res.has_intervals
        else f"Each strategy ran {res.reps} replication with {kind}: one run has no spread to "
        "measure, so there is no interval and no difference can be told from noise; run "
        "with --reps 2 or more.",
        "The numbers are consequences of this scenario's assumptions (its parameters "
        "above and in the scenario file), not general truths: sweep the uncertain ones "
        "(omnisim sweep) before advising on them.",
        "The mechanisms and their equations are documented in docs/model.md of omnisim.",
    ]
    context = {
        "title": f"{res.name}: strategy comparison",
        "name": res.name,
        "subtitle": f"Strategy comparison: {len(res.strategies)} strategies, {res.reps} "
        f"replication{'s' if res.reps != 1 else ''} each, {kind}, differences to "
        f"{res.baseline}",
        "description": sc.get("description", ""),
        "sections": [
            ("findings", "Headline findings"),
            ("strategies", "Strategies and what each changes"),
            ("scenario", "Scenario and assumptions"),
            ("charts", "Charts"),
            ("manifest", "Manifest"),
        ],
        "manifest": m,
        "baseline": res.baseline,
        "others": res.others,
        "reps": res.reps,
        "has_intervals": res.has_intervals,
        "too_few_reps": too_few_reps(res.reps),
        "findings": findings_table(res),
        "strategy_findings": strategy_findings(res),
        "interval_note": interval_note,
        "changes": strategy_changes(res.strategies, res.baseline, sc),
        "overrides": list(m.get("overrides", [])),
        "facts": scenario_facts(sc),
        "channels": channel_rows(sc) if sc else [],
        "assumptions": assumptions,
        "charts": _charts(svgs),
        "footer": _footer(m, dict(m.get("scenario_hashes", {}))),
    }
    return _ENV.get_template("comparison.html.j2").render(context)


def render_sweep(res: SweepResults, svgs: Mapping[str, bytes], kpis: list[str]) -> str:
    """The report of a sweep folder, its charts given as SVG bytes by name."""
    m = res.manifest
    name, note = _MEASURES[res.measure()]
    context = {
        "title": f"{res.name}: parameter sweep",
        "name": res.name,
        "subtitle": f"Parameter sweep: {res.design} design, {m.get('rows')} rows × "
        f"{m.get('reps')} replication{'s' if m.get('reps') != 1 else ''}, "
        f"{len(res.parameters)} parameter{'s' if len(res.parameters) != 1 else ''}",
        "description": res.scenario.get("description", ""),
        "sections": [
            ("findings", "Headline findings"),
            ("parameters", "The swept parameters"),
            ("scenario", "Scenario and assumptions"),
            ("charts", "Charts"),
            ("manifest", "Manifest"),
        ],
        "manifest": m,
        "measure_name": name,
        "measure_note": note,
        "findings": sweep_findings(res, kpis),
        "parameters": parameter_rows(res),
        "design": res.design,
        "rows": m.get("rows"),
        "reps": m.get("reps"),
        "strategy": res.identity.get("strategy"),
        "overrides": list(res.identity.get("overrides", [])),
        "facts": scenario_facts(res.scenario),
        "charts": _charts(svgs),
        "footer": _footer(m, {"": str(m.get("scenario_hash", ""))}),
    }
    return _ENV.get_template("sweep.html.j2").render(context)
