"""What common random numbers buy on each example scenario, and the most any pairing could buy:
the table of docs/experiments.md, "Common random numbers, measured".

    python docs/tools/crn_table.py                 # every example, 10 replications a side
    python docs/tools/crn_table.py --only fmcg_flattening --reps 10

For each strategy, against the baseline: the revenue difference (CRN); the ratio of the 95 %
interval widths of the revenue difference and of the purchases difference with independent
streams and with CRN; and the ceiling of the purchases ratio for a strategy that moves the
purchase probability of a need from p0 to p1 (purchases / needs of each side): the comonotone
pairing of the two outcomes of one need
leaves the variance delta (1 - delta), delta = |p1 - p0|, against p0 q0 + p1 q1 for
independent draws (docs/model.md, section 18), so

    ceiling = sqrt((p0 q0 + p1 q1) / (delta (1 - delta))).

The ceiling holds for needs that are alike (with p varying across consumers it is
approximate) and for the purchase count only: CRN also removes what the sides share (need
times, the population), and a revenue difference carried by a price change on the purchases
both sides make pairs almost perfectly, so the revenue ratio can pass it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from omnisim.experiments.compare import compare
from omnisim.scenario.loading import strategy_names

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = (
    "quickstart",
    "media_membership",
    "omnichannel_roadmap",
    "fmcg_flattening",
    "pandemic_shift",
)


def _row(table, strategy: str, kpi: str):
    return table[(table.strategy == strategy) & (table.kpi == kpi)].iloc[0]


def _ratio(crn, ind, strategy: str, kpi: str) -> float:
    c, i = _row(crn, strategy, kpi), _row(ind, strategy, kpi)
    return float((i.diff_ci_high - i.diff_ci_low) / (c.diff_ci_high - c.diff_ci_low))


def ceiling(p0: float, p1: float) -> float:
    """Most that pairing the outcomes of one need can narrow the difference (a ratio of
    standard deviations); inf when the strategy leaves the purchase probability alone."""
    delta = abs(p1 - p0)
    if delta == 0.0:
        return math.inf
    return math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / (delta * (1 - delta)))


def measure(scenario: str, reps: int) -> list[dict[str, object]]:
    path = ROOT / "scenarios" / f"{scenario}.yaml"
    names = strategy_names(path)
    crn = compare(path, names, reps=reps, executor="serial").table
    ind = compare(path, names, reps=reps, executor="serial", independent=True).table
    base = names[0]
    p0 = _row(crn, base, "purchases")["mean"] / _row(crn, base, "needs")["mean"]
    rows = []
    for s in names[1:]:
        c = _row(crn, s, "revenue")
        p1 = _row(crn, s, "purchases")["mean"] / _row(crn, s, "needs")["mean"]
        rows.append(
            {
                "scenario": scenario,
                "strategy": s,
                "diff": float(c["diff"]),
                "ratio": _ratio(crn, ind, s, "revenue"),
                "ratio_purchases": _ratio(crn, ind, s, "purchases"),
                "p0": float(p0),
                "p1": float(p1),
                "ceiling": ceiling(p0, p1),
            }
        )
    return rows


def _money(x: float) -> str:
    sign = "−" if x < 0 else "+"
    x = abs(x)
    return f"{sign}{x / 1e6:.2f} M" if x >= 1e6 else f"{sign}{x / 1e3:.0f} k"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--only", nargs="*", default=list(EXAMPLES), choices=EXAMPLES)
    args = ap.parse_args()
    print(
        "| scenario | strategy | revenue difference | ratio, revenue | p0 → p1 "
        "| ratio, purchases | ceiling |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for scenario in args.only:
        for k, r in enumerate(measure(scenario, args.reps)):
            name = scenario if k == 0 else ""
            cap = "∞" if math.isinf(r["ceiling"]) else f"{r['ceiling']:.1f}"
            print(
                f"| {name} | `{r['strategy']}` | {_money(r['diff'])} | {r['ratio']:.1f} | "
                f"{r['p0']:.3f} → {r['p1']:.3f} | {r['ratio_purchases']:.1f} | {cap} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
