"""Common random numbers on the example scenarios where they used to fail (docs/experiments.md,
"Common random numbers, measured"): media and word of mouth (`media_membership`, moving the TV
budget to KOLs) and the dealer network (`fmcg_flattening`, a shorter chain). With 10
replications per side, the paired interval of the revenue difference must be at least twice as
narrow as with independent streams.

The ratio of two interval widths is a ratio of two sample standard deviations with 9 degrees
of freedom each: its log has a standard deviation of about sqrt(2 / 18) = 0.33. Measured on
these scenarios at their full size the ratios are 3.3 (media) and 2.9 (network), so 2 lies
1.5 and 1.1 of those below the measurements: what CRN must deliver, not a tuned bound. The
seeds are the files' own, so the test is deterministic. Before the draws were keyed per adopter
and per supply node, the ratios were 2.3 and 1.8 (0.67 and 0.88 in the issue that asked for
this, before the media and forgetting changes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnisim.experiments.compare import compare

ROOT = Path(__file__).resolve().parents[2]


def half_width(table, strategy: str, kpi: str) -> float:
    row = table[(table.strategy == strategy) & (table.kpi == kpi)].iloc[0]
    return (row.diff_ci_high - row.diff_ci_low) / 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scenario", "strategy"),
    [("media_membership", "kol_shift"), ("fmcg_flattening", "flatten_keep_price")],
)
def test_crn_narrows_the_revenue_difference_at_least_twice(scenario: str, strategy: str) -> None:
    path = ROOT / "scenarios" / f"{scenario}.yaml"
    crn = compare(path, ["baseline", strategy], reps=10, executor="serial")
    ind = compare(path, ["baseline", strategy], reps=10, executor="serial", independent=True)
    ratio = half_width(ind.table, strategy, "revenue") / half_width(crn.table, strategy, "revenue")
    print(f"{scenario} {strategy}: independent / CRN half-width = {ratio:.2f}")
    assert ratio >= 2.0
