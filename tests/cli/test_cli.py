"""The command line as a user types it: outputs, overrides, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from builders import quickstart_copy
from typer.testing import CliRunner

from omnisim.cli import app

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "unit" / "scenario" / "data"
runner = CliRunner()


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """The quick-start scenario shrunk to run in a second."""
    return quickstart_copy(tmp_path, consumers=2000, days=60)


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_run_writes_the_three_files(quick, tmp_path):
    out = tmp_path / "out"
    r = invoke("run", quick, "--reps", "2", "--out", out, "--quiet")
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "quickstart"
    assert summary["replications"] == 2
    rev = summary["kpis"]["revenue"]
    assert rev["ci95"][0] <= rev["mean"] <= rev["ci95"][1]
    for name in (
        "needs",
        "searches",
        "purchases",
        "units_sold",
        "brand_profit",
        "avg_price_paid",
        "conversion_rate",
        "lost_sales",
        "avg_rating",
        "repeat_purchase_rate",
        "channel_share.platform",
    ):
        assert name in summary["kpis"]
    rows = (out / "replications.csv").read_text().splitlines()
    assert rows[0].startswith("replication,needs,")
    assert len(rows) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 20261122
    assert manifest["events_processed"] > 0
    assert len(manifest["scenario_hash"]) == 64


def test_run_is_reproducible_and_seed_matters(quick, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    invoke("run", quick, "--reps", "1", "--out", a, "--quiet")
    invoke("run", quick, "--reps", "1", "--out", b, "--quiet")
    invoke("run", quick, "--reps", "1", "--out", c, "--quiet", "--seed", "5")
    assert (a / "replications.csv").read_text() == (b / "replications.csv").read_text()
    assert (a / "replications.csv").read_text() != (c / "replications.csv").read_text()


def test_strategy_and_set_change_the_run(quick, tmp_path):
    base, up, cheap = tmp_path / "base", tmp_path / "up", tmp_path / "cheap"
    invoke("run", quick, "--reps", "1", "--out", base, "--quiet")
    r = invoke("run", quick, "--strategy", "unified_price", "--reps", "1", "--out", up, "--quiet")
    assert r.exit_code == 0, r.output
    invoke(
        "run",
        quick,
        "--reps",
        "1",
        "--out",
        cheap,
        "--quiet",
        "--set",
        "channels.platform.price_index=0.5",
    )
    k = lambda d: json.loads((d / "summary.json").read_text())["kpis"]  # noqa: E731
    assert json.loads((up / "summary.json").read_text())["strategy"] == "unified_price"
    # One price everywhere (no platform discount) raises the average price paid.
    assert k(up)["avg_price_paid"]["mean"] > k(base)["avg_price_paid"]["mean"]
    assert k(cheap)["channel_share.platform"]["mean"] > k(base)["channel_share.platform"]["mean"]


def test_trail_is_written_as_parquet(quick, tmp_path):
    out = tmp_path / "t"
    r = invoke("run", quick, "--reps", "2", "--out", out, "--quiet", "--trail")
    assert r.exit_code == 0, r.output
    files = sorted((out / "trail").glob("*.parquet"))
    assert [f.name for f in files] == ["rep-000.parquet", "rep-001.parquet"]
    table = pq.read_table(files[1])
    assert set(table.column_names) >= {"time", "consumer", "event", "channel", "units"}
    assert set(table.column("replication").to_pylist()) == {1}
    assert not list(out.glob(".*partial*"))


def test_default_out_dir_under_results(quick, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("run", quick, "--reps", "1", "--quiet")
    assert r.exit_code == 0, r.output
    (folder,) = (tmp_path / "results").iterdir()
    assert folder.name.startswith("quickstart-base-20261122-")
    assert (folder / "summary.json").exists()


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (("consumers: 2000", "consumers: -5"), ":19: market.consumers: "),
        (("commission: 0.08", "comission: 0.08"), "channels.platform.comission"),
        (("replications: 5", "replications: five"), ":13: replications: "),
        (("horizon_days: 60", "horizon_days: [60"), "quick.yaml:"),
        (
            ("currency: CNY", "currency: !!python/object/apply:os.system [echo hi]"),
            ":9: currency: tag",
        ),
    ],
)
def test_bad_input_exit_2_one_line_no_files(quick, tmp_path, edit, expect):
    quick.write_text(quick.read_text().replace(*edit))
    out = tmp_path / "never"
    r = runner.invoke(app, ["run", str(quick), "--out", str(out), "--quiet"])
    assert r.exit_code == 2, r.output
    assert expect in r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_more_than_16_channels_refused_by_validate_and_run(tmp_path):
    path = DATA / "too_many_channels.yaml"
    expect = f"{path}:5: channels: at most 16 channels are supported, not 17"
    r = runner.invoke(app, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert r.output.strip() == expect
    out = tmp_path / "never"
    r = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert r.exit_code == 2, r.output
    assert r.output.strip() == expect
    assert "Traceback" not in r.output
    assert not out.exists()


def test_validate_applies_set_to_every_strategy(quick):
    # Strategy `free` sets an invalid price; applied after it, as in `run --strategy free
    # --set ...`, the override fixes it.
    path = DATA / "bad_strategy.yaml"
    r = runner.invoke(app, ["validate", str(path), "--set", "channels.web.price_index=0.5"])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        f"{path}:17: strategies.extra.channels.shop.type: Field required",
        f"{path}:8: nodes: List should have at least 1 item after validation, not 0 "
        "(with strategy 'no_dc')",
    ]
    # An override that breaks the base and every strategy alike is reported once.
    r = runner.invoke(app, ["validate", str(quick), "--set", "channels.platform.price_index=0"])
    assert r.exit_code == 2
    assert r.output.splitlines() == [
        "--set channels.platform.price_index=0: channels.platform.price_index: Input should be "
        "greater than 0"
    ]
    r = runner.invoke(app, ["validate", str(quick), "--set", "channels.platform.price_index=0.8"])
    assert r.exit_code == 0, r.output


def test_bad_set_path(quick, tmp_path):
    r = runner.invoke(
        app,
        [
            "run",
            str(quick),
            "--set",
            "channels.nosuch.asc=1",
            "--quiet",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert r.exit_code == 2
    assert "--set channels.nosuch.asc=1" in r.output
    assert not (tmp_path / "x").exists()


def test_too_large_for_memory_is_refused(quick, tmp_path):
    r = runner.invoke(
        app,
        [
            "run",
            str(quick),
            "--set",
            "market.consumers=100000000000",
            "--quiet",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert r.exit_code == 2
    assert "market.consumers" in r.output and "GiB" in r.output
    assert not (tmp_path / "x" / "summary.json").exists()


def test_validate_and_schema(quick, tmp_path):
    r = invoke("validate", quick)
    assert r.exit_code == 0 and "valid" in r.output
    bad = tmp_path / "bad.yaml"
    shutil.copy(quick, bad)
    bad.write_text(
        bad.read_text().replace(
            "nodes: [central_dc]\n    price_index: 0.93", "nodes: [nowhere]\n    price_index: 0.93"
        )
    )
    r = runner.invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2
    assert "unknown node 'nowhere'" in r.output
    r = invoke("schema")
    schema = json.loads(r.output)
    assert "market" in schema["properties"]
    assert "description" in schema["$defs"]["Channel"]["properties"]["commission"]
