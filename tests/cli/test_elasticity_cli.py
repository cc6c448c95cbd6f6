"""`omnisim elasticity` as a user types it."""

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


def test_elasticity_of_one_channel_prints_and_writes(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "el"
    r = invoke(
        "elasticity", quick, "--channel", "platform", "--replications", "2", "--step", "0.1",
        "--out", out, "--executor", "serial",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())  # table titles wrap at the table's width
    assert "elasticity of units bought in each channel (rows)" in text
    assert "elasticity of purchases bought in each channel (rows)" in text
    assert "│ platform" in r.output
    assert f"results in {out}/" in r.output
    rows = list(csv.DictReader((out / "elasticity.csv").open()))
    assert set(rows[0]) == {
        "price_of", "quantity_of", "measure", "kind", "elasticity", "ci_low", "ci_high",
        "replications", "q_low", "q_high", "step",
    }  # fmt: skip
    channels = ["flagship", "dealer", "mini_mall", "platform", "livestream", "phone_dm"]
    assert {row["price_of"] for row in rows} == {"platform"}
    assert sorted((row["quantity_of"], row["measure"]) for row in rows) == sorted(
        (of, m) for of in ["total", *channels] for m in ("units", "purchases")
    )
    kinds = {row["quantity_of"]: row["kind"] for row in rows}
    assert kinds["platform"] == "own" and kinds["total"] == "brand" and kinds["dealer"] == "cross"
    own = next(r for r in rows if r["quantity_of"] == "platform" and r["measure"] == "units")
    assert float(own["ci_low"]) <= float(own["elasticity"]) <= float(own["ci_high"])
    assert own["replications"] == "2" and float(own["step"]) == 0.1
    per_rep = list(csv.DictReader((out / "elasticity_replications.csv").open()))
    assert len(per_rep) == 2 * len(rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["channel"] == "platform" and manifest["common_random_numbers"] is True
    assert any("channels.platform.price_index" in f for f in manifest["moves"]["platform"])
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["elasticities"]) == len(rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--channel", "nope"],
            "--channel: unknown channel 'nope' (the scenario has: flagship, dealer, mini_mall, "
            "platform, livestream, phone_dm)",
        ),
        (["--step", "1.5"], "--step: 1.5: the relative price move must be in (0, 1)"),
        (
            ["--strategy", "unified_price", "--channel", "dealer"],
            "--channel dealer: not measurable: omnichannel.unified_price sets one price_index "
            "for every channel, so no channel's price moves alone (the brand's price, all "
            "channels, does)",
        ),
    ],
)
def test_elasticity_bad_input(quick: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "el"
    r = invoke("elasticity", quick, "-r", "2", "--out", out, *args)
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [message]
    assert not out.exists()
