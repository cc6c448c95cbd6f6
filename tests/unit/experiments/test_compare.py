"""Strategy comparison: common random numbers, paired differences, executors agree."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from builders import small_market

from omnisim.experiments.compare import compare, comparison_table, resolve_strategies
from omnisim.scenario.loading import ScenarioError


def write_scenario(tmp_path: Path, consumers: int = 1500, days: float = 30.0) -> Path:
    data = small_market(horizon_days=days, warmup_days=5.0)
    data["market"]["consumers"] = consumers
    data["strategies"] = {
        "baseline": {},
        "cheap_platform": {"channels": [{"name": "platform", "price_index": 0.8}]},
    }
    path = tmp_path / "market.json"
    path.write_text(json.dumps(data))
    return path


def half(table, strategy: str, kpi: str) -> float:
    row = table[(table.strategy == strategy) & (table.kpi == kpi)].iloc[0]
    return (row.diff_ci_high - row.diff_ci_low) / 2


@pytest.mark.slow
def test_crn_narrows_the_difference_interval(tmp_path: Path) -> None:
    """The same two strategies, 12 replications, with common random numbers and with
    independent streams. Under CRN the difference's standard error shrinks by sqrt(1 - rho),
    rho the correlation of a replication's revenue under the two strategies (measured: 0.92 on
    this market, so an expected ratio of the half-widths of about 3.5). The log of a ratio of
    two sample standard deviations with 11 degrees of freedom has a standard deviation of about
    sqrt(2 / 22) = 0.30, so a ratio above 2 (1.9 of those below the expectation) is what CRN
    must deliver; the fixed seed makes the test deterministic."""
    path = write_scenario(tmp_path)
    crn = compare(path, reps=12, executor="serial")
    ind = compare(path, reps=12, executor="serial", independent=True)
    ratio = half(ind.table, "cheap_platform", "revenue") / half(
        crn.table, "cheap_platform", "revenue"
    )
    assert ratio > 2.0
    # The baseline against itself: zero under CRN.
    base = crn.table[(crn.table.strategy == "baseline") & (crn.table.kpi == "revenue")].iloc[0]
    assert base["diff"] == base.diff_ci_low == base.diff_ci_high == 0.0


def test_strategy_runs_use_their_replication_streams(tmp_path: Path) -> None:
    """Replication r of a strategy in a comparison is the same run as `omnisim run` makes."""
    from omnisim.api import simulate

    path = write_scenario(tmp_path)
    c = compare(path, ["cheap_platform"], reps=2, executor="serial")
    alone = simulate(path, "cheap_platform", replications=2)
    assert c.rows["cheap_platform"] == alone.rows


@pytest.mark.slow
def test_executors_give_identical_results(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, consumers=800, days=20.0)
    serial = compare(path, reps=3, executor="serial")
    pool = compare(path, reps=3, executor="process", workers=2)
    dask = compare(path, reps=3, executor="dask", workers=2)
    assert serial.table.equals(pool.table)
    assert serial.table.equals(dask.table)


@pytest.mark.slow
def test_target_ci_adds_replications_until_met(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, consumers=800, days=20.0)
    c = compare(path, reps=2, executor="serial", target_ci={"revenue": 0.02}, max_reps=12)
    t = c.table[c.table.kpi == "revenue"]
    n = len(c.rows["baseline"])
    assert 2 < n <= 12
    rel = ((t.ci_high - t.ci_low) / 2 / t["mean"].abs()).max()
    assert rel <= 0.02 or n == 12


def test_outputs_written(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, consumers=500, days=15.0)
    out = tmp_path / "out"
    c = compare(path, reps=2, executor="serial", out=out)
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.csv",
        "manifest.json",
        "replications.csv",
        "scenario.json",
        "summary.json",
        "timeseries.csv",
    ]
    # Every strategy's and replication's periods, as `run` writes them for one strategy.
    series = pd.read_csv(out / "timeseries.csv")
    assert list(series.columns[:3]) == ["strategy", "replication", "period"]
    periods = series.groupby(["strategy", "replication"]).size()
    assert set(periods.index) == {(s, r) for s in ("baseline", "cheap_platform") for r in (0, 1)}
    assert periods.nunique() == 1
    revenue = series.groupby(["strategy", "replication"])["revenue"].sum()
    assert revenue["baseline"].to_list() == pytest.approx(
        [row["revenue"] for row in c.rows["baseline"]]
    )
    described = json.loads((out / "scenario.json").read_text())
    assert set(described["strategies"]) == {"baseline", "cheap_platform"}
    head = (out / "comparison.csv").read_text().splitlines()[0]
    assert head == "strategy,kpi,mean,ci_low,ci_high,diff,diff_ci_low,diff_ci_high,unit"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["strategies"]) == {"baseline", "cheap_platform"}
    assert summary["common_random_numbers"] is True
    assert len(c.table) == 2 * len(c.rows["baseline"][0])


def test_strategy_names_are_checked(tmp_path: Path) -> None:
    path = write_scenario(tmp_path)
    assert resolve_strategies(path, None, None) == (["baseline", "cheap_platform"], "baseline")
    assert resolve_strategies(path, ["cheap_platform"], "base") == (
        ["base", "cheap_platform"],
        "base",
    )
    with pytest.raises(ScenarioError) as e:
        resolve_strategies(path, ["nope", "baseline", "baseline"], "zzz")
    assert len(e.value.problems) == 3


def test_strategies_with_different_kpis_compare_on_the_union() -> None:
    """A strategy that adds a feature (a media plan) has KPIs the baseline lacks, and the other
    way round: every KPI appears, NaN where a strategy does not produce it."""
    base = [{"revenue": 10.0, "dealers": 3.0}, {"revenue": 12.0, "dealers": 3.0}]
    media = [{"revenue": 13.0, "media_spend": 5.0}, {"revenue": 15.0, "media_spend": 7.0}]
    table = comparison_table({"baseline": base, "media": media}, "baseline", independent=False)
    assert list(dict.fromkeys(table["kpi"])) == ["revenue", "dealers", "media_spend"]
    got = table.set_index(["strategy", "kpi"])
    assert got.loc[("media", "revenue"), "diff"] == pytest.approx(3.0)
    assert got.loc[("media", "media_spend"), "mean"] == pytest.approx(6.0)
    assert math.isnan(got.loc[("media", "media_spend"), "diff"])
    assert math.isnan(got.loc[("media", "dealers"), "mean"])
