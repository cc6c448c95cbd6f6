"""`omnisim export transactions` as a user types it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from builders import quickstart_copy
from typer.testing import CliRunner

from omnisim.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Two replications of a shrunk quick-start scenario, with their trail."""
    tmp = tmp_path_factory.mktemp("export")
    quick = quickstart_copy(tmp, consumers=1000, days=60)
    out = tmp / "out"
    r = invoke("run", quick, "--reps", "2", "--out", out, "--quiet", "--trail")
    assert r.exit_code == 0, r.output
    return out


def test_export_defaults_to_parquet_in_the_results_folder(results):
    r = invoke("export", "transactions", results)
    assert r.exit_code == 0, r.output
    tx = pd.read_parquet(results / "transactions.parquet")
    assert list(tx.columns) == ["customer_id", "date", "monetary_value", "channel", "replication"]
    assert tx.date.min() >= pd.Timestamp("2026-01-01")
    assert f"{len(tx)} transactions" in r.output
    # The window's money per replication is the revenue KPI of that replication.
    lo = pd.Timestamp("2026-01-01") + pd.Timedelta(days=30)  # quickstart's warm-up
    hi = pd.Timestamp("2026-01-01") + pd.Timedelta(days=60)  # the shrunk horizon
    reps = pd.read_csv(results / "replications.csv")
    inw = tx[(tx.date >= lo) & (tx.date < hi)].groupby("replication").monetary_value.sum()
    assert inw.to_numpy() == pytest.approx(reps.sort_values("replication").revenue.to_numpy())


def test_export_one_file_to_csv_with_a_start_date(results, tmp_path):
    out = tmp_path / "tx.csv"
    trail = results / "trail" / "rep-001.parquet"
    r = invoke("export", "transactions", trail, "--out", out, "--start-date", "2024-02-29")
    assert r.exit_code == 0, r.output
    tx = pd.read_csv(out, parse_dates=["date"])
    assert list(tx.columns) == ["customer_id", "date", "monetary_value", "channel"]
    assert tx.date.min() >= pd.Timestamp("2024-02-29")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/missing"], "no such file or folder"),
        (["{tmp}"], "no event trail"),
        (["{results}", "--format", "xlsx"], "unknown format"),
        (["{results}", "--start-date", "tomorrow"], "not a date"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(results, tmp_path, args, message):
    before = sorted(results.rglob("*"))
    out = tmp_path / "tx.parquet"
    argv = [a.format(tmp=tmp_path, results=results) for a in args]
    r = invoke("export", "transactions", *argv, "--out", out)
    assert r.exit_code == 2
    assert message in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
    assert sorted(results.rglob("*")) == before
