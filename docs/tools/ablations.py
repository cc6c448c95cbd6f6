"""What carries each example strategy's result: its difference to the strategy it builds on,
as is and with each mechanism it relies on switched off, and the part of the difference that
mechanism carries, every figure with a paired 95 % interval over replications (common random
numbers). The tables of docs/strategies.md, "What carries each result", come from here:

    python docs/tools/ablations.py                    # every case, 5 replications
    python docs/tools/ablations.py --reps 10 --only quickstart --json out.json

An ablation is a list of ``--set`` overrides applied to both strategies of the pair (after
their overlays), so the mechanism is off on both sides; an override written
``strategy:path=value`` applies to the strategy's side alone (for a sub-option of a switch
the other side does not have: setting it there would switch it on). For replication r, with
S and B the strategy and what it is compared with, as is and ablated ('),

    difference_r = S_r - B_r,   ablated_r = S'_r - B'_r,   carried_r = difference_r - ablated_r

and each mean gets the t interval over the R replications (the same seeds on every side).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from scipy import stats

from omnisim.api import simulate
from omnisim.scenario.loading import load_scenario

ROOT = Path(__file__).resolve().parents[2]
KPIS = ("purchases", "revenue", "brand_profit", "dealer_profit")


def no_price_response(path: Path) -> list[str]:
    """Every segment's price sensitivity 0 (channels' prices and competitors' stop mattering)."""
    return [f"segments.{s.name}.price_sensitivity=0" for s in load_scenario(path).segments]


@dataclass
class Case:
    scenario: str
    strategy: str
    against: str
    ablations: dict[str, list[str]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return ROOT / "scenarios" / f"{self.scenario}.yaml"


def cases() -> list[Case]:
    q, m, r, f = (
        ROOT / "scenarios" / f"{n}.yaml"
        for n in ("quickstart", "media_membership", "omnichannel_roadmap", "fmcg_flattening")
    )
    clicks_off = [f"media.vehicles.{v}.click_through=0" for v in ("social", "kol", "search")]
    lift_off = [f"media.vehicles.{v}.max_lift=0" for v in ("tv", "social", "kol", "search")]
    member_off = ["journey.choice.member=0"]
    return [
        Case(
            "quickstart",
            "unified_price",
            "baseline",
            {
                "no price response": no_price_response(q),
                "promotions keep their channels": [
                    "strategy:omnichannel.unified_price.promotions_everywhere=false"
                ],
                "livestream keeps its discount": [
                    "strategy:omnichannel.unified_price.keep_session_discounts=true"
                ],
            },
        ),
        Case(
            "media_membership",
            "kol_shift",
            "baseline",
            {
                "no clicks": clicks_off,
                "no awareness lift (adstock)": lift_off,
                "no word of mouth": ["social=null"],
            },
        ),
        Case(
            "media_membership",
            "omni_membership",
            "baseline",
            {"no member utility": member_off, "no price response": no_price_response(m)},
        ),
        Case(
            "omnichannel_roadmap",
            "stage1_integrate",
            "baseline",
            {
                "no price response": no_price_response(r),
                "no one price": ["omnichannel.unified_price=null"],
                "no dealer exit": ["network.exit=null"],
            },
        ),
        Case(
            "omnichannel_roadmap",
            "stage2_o2o",
            "stage1_integrate",
            {
                "no pick-up": ["omnichannel.bopis=null"],
                "no dispatch to the outlet": ["omnichannel.online_order_offline_fulfilment=false"],
                "no shared inventory": ["omnichannel.shared_inventory=false"],
            },
        ),
        Case(
            "omnichannel_roadmap",
            "stage3_flatten",
            "stage2_o2o",
            {
                "no flattening": ["network.flatten=null"],
                "no ship from store": ["omnichannel.ship_from_store=false"],
                "no nearest dispatch": ["omnichannel.nearest_dispatch=false"],
            },
        ),
        Case("omnichannel_roadmap", "stage3_flatten_reprice", "stage3_flatten"),
        Case(
            "omnichannel_roadmap",
            "stage4_members",
            "stage3_flatten",
            {
                "no one membership": ["omnichannel.unified_membership=false"],
                "win-back as before (180 days)": ["lifecycle.winback_days=180"],
                "no member utility": member_off,
            },
        ),
        Case(
            "fmcg_flattening",
            "flatten",
            "baseline",
            {"no price response": no_price_response(f)},
        ),
        Case("fmcg_flattening", "flatten_keep_price", "baseline"),
    ]


def interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and the t interval's ends (95 %)."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return mean, math.nan, math.nan
    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, mean - half, mean + half


def differences(case: Case, overrides: list[str], reps: int) -> dict[str, list[float]]:
    """Per KPI, the per-replication differences strategy minus ``against`` (the same seed and
    replications on both sides: common random numbers)."""
    mine = [o.removeprefix("strategy:") for o in overrides]
    both = [o for o in overrides if not o.startswith("strategy:")]
    s = simulate(case.path, case.strategy, replications=reps, overrides=mine).rows
    b = simulate(case.path, case.against, replications=reps, overrides=both).rows
    return {
        k: [x[k] - y[k] for x, y in zip(s, b, strict=True)]
        for k in KPIS
        if k in s[0] and not math.isnan(s[0][k])
    }


def measure(case: Case, reps: int) -> dict[str, dict[str, list[float]]]:
    """{"as is" | ablation: {kpi: (mean, lo, hi)}}, with "carried by <ablation>" entries."""
    base = differences(case, [], reps)
    out: dict = {"as is": {k: interval(v) for k, v in base.items()}}
    for label, overrides in case.ablations.items():
        abl = differences(case, overrides, reps)
        out[label] = {k: interval(v) for k, v in abl.items()}
        out[f"carried by: {label}"] = {
            k: interval([a - b for a, b in zip(base[k], abl[k], strict=True)])
            for k in base
            if k in abl
        }
    return out


def fmt(x: tuple[float, float, float]) -> str:
    mean, lo, hi = x

    def short(v: float) -> str:
        if abs(v) >= 1e6:
            return f"{v / 1e6:+.2f} M"
        if abs(v) >= 1e4:
            return f"{v / 1e3:+.0f} k"
        return f"{v:+,.0f}"

    bold = "**" if not (lo <= 0.0 <= hi) else ""
    text = f"{bold}{short(mean)}{bold} [{short(lo)}, {short(hi)}]"
    return text.replace("-", "\N{MINUS SIGN}")


def table(case: Case, result: dict) -> str:
    kpis = [k for k in KPIS if k in result["as is"]]
    lines = [
        f"`{case.scenario}`: `{case.strategy}` − `{case.against}`",
        "",
        "| | " + " | ".join(f"`{k}`" for k in kpis) + " |",
        "| --- |" + " ---: |" * len(kpis),
    ]
    for label, row in result.items():
        cells = " | ".join(fmt(row[k]) if k in row else "" for k in kpis)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", help="scenario name (stem) to run alone")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    results = {}
    for case in cases():
        if args.only and case.scenario != args.only:
            continue
        result = measure(case, args.reps)
        results[f"{case.scenario}:{case.strategy}"] = result
        print(table(case, result), end="\n\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
