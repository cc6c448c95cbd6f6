"""Results a user can trust: nothing written outside its folder, nothing overwritten or stale,
every failure one clear line (issue 13). The CLI as a user (or a hostile scenario file) would
drive it, in a subprocess where a real kill matters."""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from builders import quickstart_copy, small_market
from typer.testing import CliRunner

from omnisim import __version__
from omnisim.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by relative path, with its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def one_line_failure(r, *expect: str) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    for text in expect:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """The quick-start market shrunk to run in a fraction of a second."""
    return quickstart_copy(tmp_path, consumers=1000, days=40)


@pytest.fixture
def work(tmp_path: Path, monkeypatch) -> Path:
    """An empty current folder, so that default result folders land in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


# ---------------------------------------------------------------------------------------
# 1. Names from a scenario file never choose where files land


@pytest.mark.parametrize("kind", ["absolute", "relative"])
def test_a_scenario_name_cannot_escape_results(quick, work, tmp_path, kind):
    victim = tmp_path / f"EVIL-{uuid.uuid4().hex[:8]}"
    name = str(victim) if kind == "absolute" else "../" * 12 + str(victim).lstrip("/")
    text = quick.read_text().replace("name: quickstart", f"name: {json.dumps(name)}")
    assert text != quick.read_text()
    quick.write_text(text)
    r = invoke("run", quick, "--reps", "1", "--quiet")
    assert r.exit_code == 0, r.output
    assert not victim.exists()
    (folder,) = (work / "results").iterdir()
    assert (folder / "summary.json").exists()
    assert [p for p in work.iterdir()] == [work / "results"]


def test_a_strategy_name_cannot_escape_results(quick, work, tmp_path):
    victim = f"STRAT-{uuid.uuid4().hex[:8]}"
    evil = f"/../../{tmp_path.relative_to('/')}/{victim}"
    text = quick.read_text().replace("  unified_price:\n", f"  {json.dumps(evil)}:\n", 1)
    assert text != quick.read_text()
    quick.write_text(text)
    for cmd in (
        ["run", quick, "--strategy", evil],
        ["compare", quick, "--executor", "serial", "--no-report"],
    ):
        r = invoke(*cmd, "--reps", "2", "--quiet")
        assert r.exit_code == 0, r.output
    assert not (tmp_path / victim).exists()
    assert {p.parent for p in (work / "results").iterdir()} == {work / "results"}
    assert len(list((work / "results").iterdir())) == 2


# ---------------------------------------------------------------------------------------
# 2. Nothing overwritten, nothing stale, nothing mixed


def test_a_named_folder_with_results_is_refused_unless_force(quick, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", quick, "--reps", "2", "--out", out, "--quiet").exit_code == 0
    (out / "notes.txt").write_text("a stray file from an earlier run")
    before = tree(out)
    r = invoke("run", quick, "--reps", "3", "--out", out, "--quiet")
    one_line_failure(r, str(out), "already holds results", "--force")
    assert tree(out) == before
    r = invoke("run", quick, "--reps", "3", "--out", out, "--quiet", "--force")
    assert r.exit_code == 0, r.output
    assert sorted(tree(out)) == ["manifest.json", "replications.csv", "summary.json",
                                 "timeseries.csv"]  # fmt: skip
    assert json.loads((out / "summary.json").read_text())["replications"] == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_default_folders_differ_by_inputs_and_a_rerun_replaces_whole(quick, work):
    def folder_of(*args: str) -> Path:
        r = invoke("run", quick, "--reps", "2", *args)
        assert r.exit_code == 0, r.output
        line = next(x for x in r.output.splitlines() if x.startswith("results in "))
        return work / line.removeprefix("results in ").rstrip("/")

    plain = folder_of()
    assert folder_of("--set", "channels.platform.commission=0.05") != plain
    assert folder_of("--reps", "3") != plain
    assert folder_of("--seed", "5") != plain
    assert folder_of("--strategy", "unified_price") != plain
    assert len(list((work / "results").iterdir())) == 5
    (plain / "stale.txt").write_text("left by someone")
    assert folder_of() == plain  # the same inputs: the same folder, replaced whole
    assert "stale.txt" not in tree(plain)


def test_compare_no_report_into_an_old_compare_leaves_no_stale_report(quick, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", quick, "--executor", "serial", "--out", out, "--quiet"]
    assert invoke(*args, "--reps", "3").exit_code == 0
    assert (out / "report.html").exists() and (out / "charts").is_dir()
    one_line_failure(invoke(*args, "--reps", "2", "--no-report"), "already holds results")
    r = invoke(*args, "--reps", "2", "--no-report", "--force")
    assert r.exit_code == 0, r.output
    assert not (out / "report.html").exists() and not (out / "charts").exists()
    assert json.loads((out / "manifest.json").read_text())["replications"] == 2


def test_run_into_a_compare_folder_replaces_it_whole(quick, tmp_path):
    out = tmp_path / "cmp"
    r = invoke("compare", quick, "--executor", "serial", "--out", out, "--quiet", "--reps", "2")
    assert r.exit_code == 0, r.output
    before = tree(out)
    one_line_failure(invoke("run", quick, "--out", out, "--quiet"), "already holds results")
    assert tree(out) == before
    assert invoke("run", quick, "--out", out, "--quiet", "--force", "--reps", "2").exit_code == 0
    assert sorted(tree(out)) == ["manifest.json", "replications.csv", "summary.json",
                                 "timeseries.csv"]  # fmt: skip


def test_a_failure_while_writing_leaves_the_old_results(quick, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert invoke("run", quick, "--reps", "2", "--out", out, "--quiet").exit_code == 0
    before = tree(out)
    import omnisim.api as api

    real = api.atomic_write_text

    def full_disk(path: Path, text: str) -> None:
        if path.name == "manifest.json":  # after replications.csv was written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)

    monkeypatch.setattr(api, "atomic_write_text", full_disk)
    r = invoke("run", quick, "--reps", "3", "--out", out, "--quiet", "--force")
    one_line_failure(r, "manifest.json", "no space left on the device")
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["out", quick.name])


def test_a_report_that_fails_to_draw_leaves_the_old_comparison(quick, tmp_path, monkeypatch):
    out = tmp_path / "cmp"
    args = ["compare", quick, "--executor", "serial", "--out", out, "--quiet"]
    assert invoke(*args, "--reps", "2").exit_code == 0
    before = tree(out)
    import omnisim.api as api

    def broken(folder: Path) -> Path:
        assert (folder / "comparison.csv").exists()  # the new data, in the staging folder
        raise MemoryError

    monkeypatch.setattr(api, "_draw_report", broken)
    one_line_failure(invoke(*args, "--reps", "3", "--force"), "out of memory")
    assert tree(out) == before
    r = invoke("report", out, "--quiet")
    assert r.exit_code == 2 and tree(out) == before


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(x) for x in text]
    return out


@pytest.mark.slow
def test_kill_while_the_charts_are_drawn_leaves_the_old_results(quick, tmp_path):
    out = tmp_path / "cmp"
    base = [sys.executable, "-m", "omnisim.cli", "compare", str(quick), "--executor", "serial",
            "--out", str(out), "--quiet"]  # fmt: skip
    subprocess.run([*base, "--reps", "2"], check=True, capture_output=True, timeout=300)
    before = tree(out)
    proc = subprocess.Popen([*base, "--reps", "3", "--force"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # The new data is complete in the staging folder once its summary.json is there:
        # from then on the command is drawing the charts.
        while not any(p.name.startswith(".cmp.partial-") and (p / "summary.json").exists()
                      for p in tmp_path.iterdir()):  # fmt: skip
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the comparison never finished its data"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert tree(out) == before  # old data with its own report, nothing new beside it
    # The killed command's staging folder is removed by the next command writing there.
    r = invoke("compare", quick, "--executor", "serial", "--out", out, "--quiet", "--reps", "2",
               "--force", "--no-report")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["cmp", quick.name])


@pytest.mark.slow
def test_a_second_sweep_into_the_same_folder_is_refused(tmp_path):
    data = small_market(
        horizon_days=30.0, warmup_days=2.0, engine={"bucket_hours": 4.0}, market={"consumers": 3000}
    )
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "sw"
    args = ["sweep", str(path), "-p", "market.consumers=2000:4000", "--n", "200",
            "--executor", "serial", "--quiet", "--out", str(out)]  # fmt: skip
    first = subprocess.Popen([sys.executable, "-m", "omnisim.cli", *args], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "runs").glob("*.json")):
            assert first.poll() is None, first.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        one_line_failure(invoke(*args, "--resume"), "another sweep is writing this folder")
        one_line_failure(invoke(*args, "--force"), "another sweep is writing this folder")
        one_line_failure(invoke(*args), "already holds results")
        assert first.poll() is None  # the first sweep goes on undisturbed
    finally:
        first.kill()
        first.wait()
        first.stderr.close()
    rows = sorted((out / "runs").glob("*.json"))
    assert rows and all(json.loads(p.read_text())["run"] == p.stem for p in rows)
    assert not (out / "runs.csv").exists()


# ---------------------------------------------------------------------------------------
# 3. The environment: one line, before anything is simulated


BAD_PLACES = {
    "proc": lambda tmp: Path("/proc") / f"omnisim-{uuid.uuid4().hex[:8]}" / "x",
    "under a file": lambda tmp: tmp / "a-file" / "x",
}


@pytest.mark.parametrize("place", list(BAD_PLACES))
@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_an_output_that_cannot_be_written_fails_before_simulating(
    quick, tmp_path, monkeypatch, place, command
):
    (tmp_path / "a-file").write_text("x")
    target = BAD_PLACES[place](tmp_path)
    import omnisim.api as api

    def never(*args, **kwargs):
        raise AssertionError("simulated before the output folder was checked")

    for fn in ("run_replications", "run_comparison", "run_sweep"):
        monkeypatch.setattr(api, fn, never)
    extra = {
        "run": [],
        "compare": ["--executor", "serial"],
        "sweep": [
            "-p",
            "product.unit_cost=10:60",
            "--n",
            "2",
            "--design",
            "grid",
            "--executor",
            "serial",
        ],
    }[command]
    r = invoke(command, quick, "--out", target, "--quiet", *extra)
    one_line_failure(r, str(target.parent))
    assert not target.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_in_one_line(quick, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        one_line_failure(invoke("run", quick, "--out", ro / "x", "--quiet"), "Permission denied")
    finally:
        ro.chmod(0o755)


def test_schema_and_export_outputs_fail_in_one_line(quick, tmp_path):
    one_line_failure(invoke("schema", "--out", tmp_path), str(tmp_path), "is a folder")
    one_line_failure(invoke("schema", "--out", tmp_path / "no" / "s.json"), "no such folder")
    proc = Path("/proc") / f"omnisim-{uuid.uuid4().hex[:8]}.json"
    one_line_failure(invoke("schema", "--out", proc))
    out = tmp_path / "tr"
    assert invoke("run", quick, "--reps", "1", "--trail", "--out", out, "--quiet").exit_code == 0
    one_line_failure(invoke("export", "transactions", out, "--out", tmp_path), "is a folder")
    one_line_failure(invoke("export", "transactions", out, "--out", proc))
    assert invoke("schema", "--out", tmp_path / "s.json").exit_code == 0
    assert json.loads((tmp_path / "s.json").read_text())["title"] == "Scenario"


def test_non_finite_values_are_refused_before_anything_is_written(quick, tmp_path):
    out = tmp_path / "never"
    for assignment in ("product.unit_cost=inf", "product.unit_cost=.nan",
                       "horizon_days=.inf", "market.consumers=true"):  # fmt: skip
        r = invoke("run", quick, "--set", assignment, "--out", out, "--quiet")
        assert r.exit_code == 2 and "Traceback" not in r.output, r.output
        assert assignment.partition("=")[0] in r.output
        assert not out.exists()


# ---------------------------------------------------------------------------------------
# 4. Statistics, units, version


def test_one_replication_gives_no_interval_and_no_finding(quick, tmp_path):
    out = tmp_path / "cmp"
    r = invoke("compare", quick, "--reps", "1", "--executor", "serial", "--out", out,
               "--no-report")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "no interval with 1 replication" in r.output
    assert "no difference is a finding" in r.output
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert rows and all(row[k] == "" for row in rows for k in ("ci_low", "diff_ci_low"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategies"]["baseline"]["revenue"]["ci95"] == [None, None]


def test_units_travel_with_every_kpi(quick, tmp_path):
    out = tmp_path / "cmp"
    r = invoke("compare", quick, "--reps", "2", "--executor", "serial", "--out", out,
               "--no-report")  # fmt: skip
    assert r.exit_code == 0, r.output
    units = {row["kpi"]: row["unit"] for row in csv.DictReader((out / "comparison.csv").open())}
    assert units["revenue"] == "currency" and units["channel_share.platform"] == "fraction"
    assert units["purchases"] == "count (orders)"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategies"]["baseline"]["avg_rating"]["unit"] == "stars"
    # Console: a unit column, and share differences in percentage points.
    line = next(x for x in r.output.splitlines() if "channel_share.platform" in x)
    assert "% / pp" in line and "pp]" not in line
    assert "differences in percentage points" in r.output
    table_line = next(x for x in r.output.splitlines() if "avg_price_paid" in x)
    assert "CNY / unit" in table_line


def test_kpi_names_are_not_cut_in_a_narrow_pipe(quick, tmp_path):
    r = invoke("run", quick, "--reps", "2", "--out", tmp_path / "o")
    names = [x.split("│")[1].strip() for x in r.output.splitlines() if x.startswith("│")]
    assert "channel_share.livestream" in names and "repeat_purchase_rate" in names
    assert all("…" not in n for n in names)


def test_version_and_a_negative_seed():
    r = invoke("--version")
    assert r.exit_code == 0 and r.output.strip() == f"omnisim {__version__}"
    r = runner.invoke(app, ["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--seed", "-5"])
    assert r.exit_code == 2 and "--seed" in r.output


def test_report_of_a_folder_that_is_no_results_copies_nothing(tmp_path):
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "big.bin").write_bytes(b"x" * 1000)
    one_line_failure(invoke("report", junk), str(junk), "not a results folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk"]  # no staging copy made
    assert tree(junk) == {"big.bin": b"x" * 1000}


def test_the_installed_version_is_the_package_version():
    from importlib.metadata import version

    assert version("omnisim") == __version__
