"""`omnisim compare` and `omnisim sweep` write charts and report.html; `omnisim report`
rebuilds them from saved results; bad folders stop with one line and exit status 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from builders import quickstart_copy
from typer.testing import CliRunner

from omnisim.cli import app

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cmp")
    quick = quickstart_copy(folder, consumers=800, days=40)
    out = folder / "out"
    r = invoke("compare", quick, "--reps", "2", "--out", out, "--executor", "serial")
    assert r.exit_code == 0, r.output
    assert f"report in {out / 'report.html'}" in r.output
    return out


def test_compare_writes_the_charts_and_the_report(compared: Path):
    charts = sorted(p.name for p in (compared / "charts").iterdir())
    assert "kpi_comparison.svg" in charts and "kpi_comparison.png" in charts
    assert "bullwhip_by_level.svg" not in charts  # the quick-start market has no dealer network
    html = (compared / "report.html").read_text()
    assert html.count("<figure") == len(charts) // 2
    assert "unified_price" in html


def test_report_rebuilds_the_same_report_without_simulating(compared: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(compared, copy)
    shutil.rmtree(copy / "charts")
    (copy / "report.html").unlink()
    r = invoke("report", copy)
    assert r.exit_code == 0, r.output
    assert f"report in {copy / 'report.html'}" in r.output
    assert (copy / "report.html").read_bytes() == (compared / "report.html").read_bytes()
    for svg in (compared / "charts").glob("*.svg"):
        assert (copy / "charts" / svg.name).read_bytes() == svg.read_bytes()


def test_no_report_leaves_them_out(tmp_path: Path):
    quick = quickstart_copy(tmp_path, consumers=500, days=40)
    out = tmp_path / "out"
    r = invoke("compare", quick, "--reps", "2", "--out", out, "--executor", "serial",
               "--no-report", "--quiet")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert not (out / "report.html").exists() and not (out / "charts").exists()
    assert (out / "comparison.csv").exists() and (out / "timeseries.csv").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such results folder"),
        (lambda p: p, "not a results folder of `omnisim compare` or `omnisim sweep`"),
    ],
)
def test_report_of_a_bad_folder_fails_in_one_line(tmp_path: Path, make, message: str):
    r = invoke("report", make(tmp_path))
    assert r.exit_code == 2
    assert message in r.output and len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output
    assert not (tmp_path / "report.html").exists()


def test_report_of_a_damaged_comparison_names_the_file(compared: Path, tmp_path: Path):
    copy = tmp_path / "copy"
    shutil.copytree(compared, copy)
    before = (copy / "report.html").read_bytes()
    (copy / "comparison.csv").write_text("")
    r = invoke("report", copy)
    assert r.exit_code == 2
    assert f"{copy / 'comparison.csv'}: cannot read" in r.output
    assert (copy / "report.html").read_bytes() == before  # the old report is left as it was
