"""`omnisim compare` and `omnisim run --target-ci` as a user types them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from builders import quickstart_copy
from typer.testing import CliRunner

from omnisim.cli import app

runner = CliRunner()


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """The quick-start scenario shrunk to run in a fraction of a second."""
    return quickstart_copy(tmp_path, consumers=1000, days=40)


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_compare_writes_its_files_and_prints_a_table(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    r = invoke("compare", quick, "--reps", "3", "--out", out, "--executor", "serial")
    assert r.exit_code == 0, r.output
    assert "unified_price vs baseline" in r.output
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert {row["strategy"] for row in rows} == {"baseline", "unified_price"}
    revenue = [row for row in rows if row["kpi"] == "revenue"]
    for row in revenue:
        assert float(row["ci_low"]) <= float(row["mean"]) <= float(row["ci_high"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["replications"] == 3 and manifest["common_random_numbers"] is True
    reps = list(csv.DictReader((out / "replications.csv").open()))
    assert len(reps) == 6


def test_compare_chosen_strategies_and_baseline(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    r = invoke(
        "compare", quick, "--strategies", "unified_price", "--baseline", "base",
        "--reps", "2", "--out", out, "--executor", "serial", "--quiet", "--independent",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["strategies"]) == ["base", "unified_price"]
    assert summary["common_random_numbers"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "nope"], "--strategies: unknown strategy 'nope'"),
        (["--baseline", "zzz"], "--baseline: unknown strategy 'zzz'"),
        (["--executor", "threads"], "--executor: unknown executor 'threads'"),
        (["--target-ci", "revenue=2"], "--target-ci"),
        (["--set", "market.consumers=-5"], "market.consumers"),
    ],
)
def test_compare_bad_input(quick: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "cmp"
    r = invoke("compare", quick, "--reps", "2", "--out", out, "--quiet", *args)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_run_target_ci_adds_replications(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = invoke(
        "run", quick, "--reps", "2", "--target-ci", "revenue=0.003", "--max-reps", "9",
        "--out", out, "--quiet",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    n = summary["replications"]
    rev = summary["kpis"]["revenue"]
    rel = (rev["ci95"][1] - rev["ci95"][0]) / 2 / rev["mean"]
    assert 2 < n <= 9
    assert rel <= 0.003 or n == 9
    assert json.loads((out / "manifest.json").read_text())["target_ci"] == {"revenue": 0.003}


def test_run_target_ci_unknown_kpi(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = invoke("run", quick, "--reps", "2", "--target-ci", "nope=0.1", "--out", out, "--quiet")
    assert r.exit_code == 2
    assert "unknown KPI 'nope'" in r.output
    assert not (out / "summary.json").exists()
