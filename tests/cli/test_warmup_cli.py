"""The warm-up check of `omnisim run` and `omnisim compare` (omnisim/metrics/warmup.py): a
warning on standard error and a ``warmup_check`` object in summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnisim.cli import app

runner = CliRunner()

# One online channel with ample stock and short journeys, 40 weekly periods from day 0. The
# base is stationary from day 0 (docs/model.md, section 5: the need process starts at its
# stationary law, and nothing else changes: no awareness gained by a purchase, no habit
# learning or decay, no churn, the public rating without effect on choice). `learning` lets a
# purchase make the brand known (journey.aware_after_purchase) to consumers who start with
# awareness 0.3: purchases climb for weeks (about 460 to 1,500 a week, settled by week 10 to
# 20 in trial runs), a real transient left in a window with no warm-up.
SCENARIO = """\
name: warm
horizon_days: 280
warmup_days: 0
seed: 1
replications: 4
market:
  consumers: 2000
  regions: [{name: r, population_share: 1}]
product: {list_price: 100, unit_cost: 40}
segments:
  - name: a
    share: 1
    need: {mean_interval_days: 2, distribution: exponential}
    awareness: 0.6
    rating_sensitivity: 0
    outside_utility: -3
channels:
  - {name: web, type: own_online, nodes: [dc]}
nodes:
  - name: dc
    kind: warehouse
    region: r
    replenishment: {review_days: 7, lead_time_days: 1, order_up_to: 1000000}
journey:
  aware_after_purchase: false
  habits: {learning_rate: 0, decay: 0}
  churn: {probability: 0}
  reviews: {use_days: 0.5}
strategies:
  learning:
    segments: [{name: a, awareness: 0.3}]
    journey: {aware_after_purchase: true}
"""


@pytest.fixture
def warm(tmp_path: Path) -> Path:
    path = tmp_path / "warm.yaml"
    path.write_text(SCENARIO)
    return path


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def warnings(r) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("warning:")]


@pytest.mark.slow
def test_a_transient_is_warned_about_and_recorded(warm: Path, tmp_path: Path) -> None:
    """`compare` of the learning strategy (its window holds a transient): one warning, naming
    the file, the strategy and the field to change, and the check saved."""
    out = tmp_path / "cmp"
    r = invoke(
        "compare", warm, "--strategies", "learning", "--out", out,
        "--executor", "serial", "--no-report", "--quiet",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    checks = json.loads((out / "summary.json").read_text())["warmup_check"]
    assert list(checks) == ["learning"]
    learning = checks["learning"]
    assert learning["verdict"] == "too_short" and learning["series"] in ("purchases", "revenue")
    assert learning["by_series"]["purchases"]["transient"] is True
    assert learning["by_series"]["purchases"]["drift"] > 0.05  # purchases climb
    cut = learning["truncation_days"]
    assert 0 < cut <= 140 and cut % 35 == 0  # whole batches of 5 weeks, at most half of 40
    assert learning["suggested_warmup_days"] == cut  # the warm-up was 0
    [line] = warnings(r)
    assert line.startswith(f"warning: {warm}: strategy 'learning': the warm-up looks too short")
    assert f"try warmup_days: {cut:g}" in line and "MSER-5" in line


@pytest.mark.slow
def test_a_stationary_run_gives_no_warning(warm: Path, tmp_path: Path) -> None:
    """`run` of the base: no warning, and the check is in summary.json (the other keys as
    before)."""
    out = tmp_path / "run"
    r = invoke("run", warm, "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    assert warnings(r) == []
    summary = json.loads((out / "summary.json").read_text())
    check = summary["warmup_check"]
    assert check["verdict"] == "ok" and check["truncation_days"] == 0
    assert check["periods"] == 40 and check["replications"] == 4
    assert set(check["by_series"]) == {"purchases", "revenue", "needs"}
    assert list(summary)[:5] == ["scenario", "strategy", "seed", "replications", "kpis"]
