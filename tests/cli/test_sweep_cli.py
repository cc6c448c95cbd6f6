"""`omnisim sweep` as a user types it: outputs, a real kill and --resume, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from builders import small_market
from typer.testing import CliRunner

from omnisim.cli import app

runner = CliRunner()
PARAMS = ["-p", "market.consumers=300:600", "--param", "product.unit_cost=10:60"]


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A market that runs in about 5 ms."""
    data = small_market(
        horizon_days=20.0, warmup_days=2.0, engine={"bucket_hours": 4.0}, market={"consumers": 400}
    )
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(data))
    return path


def files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


def test_sweep_writes_every_file_and_a_table(tiny, tmp_path):
    out = tmp_path / "out"
    r = invoke("sweep", tiny, *PARAMS, "--design", "morris", "--n", "3", "--reps", "2",
               "--executor", "serial", "--out", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "small: morris sweep, 9 rows × 2 replications" in r.output
    assert "market.consumers" in r.output and f"results in {out}/" in r.output
    assert f"report in {out / 'report.html'}" in r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "charts",
        "design.csv",
        "manifest.json",
        "report.html",
        "runs",
        "runs.csv",
        "scenario.json",
        "sensitivity.csv",
        "sweep.json",
    ]
    assert sorted(p.name for p in (out / "runs").iterdir()) == [f"{i:04d}.json" for i in range(9)]
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns[:4]) == ["run", "market.consumers", "product.unit_cost", "needs"]
    assert len(runs) == 9
    sens = pd.read_csv(out / "sensitivity.csv")
    assert list(sens.columns) == ["kpi", "parameter", "mu_star", "mu_star_conf", "sigma", "mu"]
    ident = json.loads((out / "sweep.json").read_text())
    assert ident["design"] == "morris" and ident["n"] == 3 and ident["reps"] == 2
    assert ident["seed"] == 7 and ident["scenario"] == "small" and len(ident["scenario_hash"]) == 64
    assert ident["params"] == ["market.consumers=300:600", "product.unit_cost=10:60"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs"] == 18 and manifest["rows"] == 9 and manifest["events_processed"] > 0
    assert manifest["executor"] == "serial" and manifest["wall_seconds"] > 0


def test_default_folder_name(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("sweep", tiny, "-p", "product.unit_cost=10:60", "--design", "grid", "--n", "2",
               "--seed", "4", "--executor", "serial", "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    (folder,) = (tmp_path / "results").iterdir()
    assert folder.name.startswith("small-sweep-grid-4-")
    assert (folder / "runs.csv").exists()


@pytest.mark.slow
def test_resume_after_a_real_kill(tmp_path):
    """SIGKILL a serial sweep in a subprocess mid-way; the rows it finished stay as they were,
    and --resume completes the sweep to exactly the files of an uninterrupted one."""
    data = small_market(
        horizon_days=30.0, warmup_days=2.0, engine={"bucket_hours": 4.0}, market={"consumers": 3000}
    )
    path = tmp_path / "kill.json"
    path.write_text(json.dumps(data))
    args = ["sweep", str(path), "-p", "market.consumers=2000:4000", "-p",
            "product.unit_cost=10:60", "--n", "120", "--executor", "serial", "--quiet"]  # fmt: skip
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnisim.cli", *args, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "runs").glob("*.json"))) < 3:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the sweep wrote no rows"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
    assert not (out / "runs.csv").exists(), "the sweep ended before it was killed"
    kept = sorted((out / "runs").glob("*.json"))
    assert 3 <= len(kept) < 120
    stats = {}
    for p in kept:
        doc = json.loads(p.read_text())  # complete JSON, never half a file
        assert doc["run"] == p.stem and len(doc["replications"]) == 1
        stats[p.name] = (p.stat().st_ino, p.stat().st_mtime_ns)

    r = invoke(*args, "--out", out, "--resume")
    assert r.exit_code == 0, r.output
    for p in kept:
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == stats[p.name], f"{p.name} rewritten"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["runs_resumed"] == len(kept)

    whole = tmp_path / "whole"
    r = invoke(*args, "--out", whole)
    assert r.exit_code == 0, r.output
    for name in ("runs.csv", "design.csv", "sensitivity.csv", "sweep.json"):
        assert (out / name).read_text() == (whole / name).read_text(), name


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["-p", "market.consumerz=1:2"], "market.consumerz: Extra inputs are not permitted"),
        (["-p", "product.unit_cost=60:10"], "LO (60) must be below HI (10)"),
        (["-p", "product.unit_cost=ten:60"], "LO bound 'ten' is not a number"),
        (["-p", "product.unit_cost=10:60", "--design", "sobol", "--n", "12"], "power of two"),
        (["-p", "product.unit_cost=10:60", "--design", "morris", "--n", "1"], "trajectories"),
        (["-p", "product.unit_cost=10:60", "--design", "taguchi"], "unknown design 'taguchi'"),
        (["-p", "product.unit_cost=10:60", "--executor", "cluster"], "unknown executor"),
        ([], "--param: give at least one parameter"),
        (["-p", "product.unit_cost=10:60", "--set", "market.consumers=0"], "--set market."),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny, tmp_path, extra, expect):
    out = tmp_path / "never"
    n = [] if "--n" in extra else ["--n", "4"]
    r = invoke("sweep", tiny, *extra, *n, "--out", out, "--quiet")
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert expect in lines[0]
    assert "Traceback" not in r.output
    assert not out.exists()


def test_unreachable_scheduler(tiny, tmp_path):
    out = tmp_path / "never"
    r = invoke("sweep", tiny, *PARAMS, "--n", "4", "--executor", "tcp://127.0.0.1:9", "--out",
               out, "--quiet")  # fmt: skip
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0]
    assert not out.exists()


def test_missing_n(tiny, tmp_path):
    r = invoke("sweep", tiny, *PARAMS, "--out", tmp_path / "never", "--quiet")
    assert r.exit_code == 2
    assert r.output.strip().startswith("--n: required")


def test_folder_of_another_sweep_is_never_overwritten(tiny, tmp_path):
    out = tmp_path / "s"
    base = ["sweep", tiny, *PARAMS, "--design", "grid", "--executor", "serial", "--out", out]
    assert invoke(*base, "--n", "2", "--quiet").exit_code == 0
    before = files(out)
    cases = {
        ("--n", "3"): "already holds results; use --force",  # no --resume: refused outright
        ("--n", "2"): "already holds results; use --force",  # even the same sweep
        ("--n", "3", "--resume"): "holds a different sweep",
        ("--n", "2", "--resume", "--seed", "1"): "holds a different sweep",
    }
    for extra, expect in cases.items():
        r = invoke(*base, *extra, "--quiet")
        assert r.exit_code == 2, r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and expect in lines[0], r.output
        assert "Traceback" not in r.output
    assert files(out) == before
    # the same sweep again resumes with nothing left to run, and gives the same files
    r = invoke(*base, "--n", "2", "--resume", "--quiet")
    assert r.exit_code == 0, r.output
    after = files(out)
    for name in ("runs.csv", "design.csv", "sweep.json", "sensitivity.csv"):
        assert after[out / name] == before[out / name]
    assert all(after[p] == before[p] for p in before if p.parent.name == "runs")
