"""Small real results for the chart and report tests: one comparison of the roadmap scenario
with its dealer network, one of the quick-start market without one, and sweeps of each design.
Built once per test session, without their reports (the tests build those)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from builders import HOSTILE_DESCRIPTION, ROOT, hostile_copy, quickstart_copy

import omnisim
from omnisim.report.build import build_report
from omnisim.report.results import ComparisonResults, SweepResults, load_results

ROADMAP = ROOT / "scenarios" / "omnichannel_roadmap.yaml"
SMALL_ROADMAP = [
    "market.consumers=1500",
    "horizon_days=150",
    "warmup_days=40",
    "lifecycle.clv_days=60",
    "engine.timeseries_days=14",
]
PRICE = "product.list_price=149:249"
SENSITIVITY = "segments.young_online.price_sensitivity=1:4"


@pytest.fixture(scope="session")
def roadmap_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """baseline, stage2_o2o and stage3_flatten (levels removed) with 3 replications."""
    out = tmp_path_factory.mktemp("roadmap")
    omnisim.compare(
        ROADMAP,
        ["baseline", "stage2_o2o", "stage3_flatten"],
        reps=3,
        overrides=SMALL_ROADMAP,
        executor="serial",
        out=out,
        report=False,
    )
    return out


@pytest.fixture
def built(roadmap_dir: Path, tmp_path: Path) -> Path:
    """A copy of the roadmap comparison with its charts and report built."""
    folder = tmp_path / "built"
    shutil.copytree(roadmap_dir, folder)
    build_report(folder)
    return folder


@pytest.fixture
def roadmap(roadmap_dir: Path) -> ComparisonResults:
    res = load_results(roadmap_dir)
    assert isinstance(res, ComparisonResults)
    return res


@pytest.fixture(scope="session")
def quick_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quickstart_copy(tmp_path_factory.mktemp("quick"), consumers=1000, days=60)


@pytest.fixture(scope="session")
def quick_dir(quick_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quick-start market (no dealer network), baseline and unified_price, 2 reps."""
    out = tmp_path_factory.mktemp("quick-compare")
    omnisim.compare(quick_file, reps=2, executor="serial", out=out, report=False)
    return out


@pytest.fixture
def quick(quick_dir: Path) -> ComparisonResults:
    res = load_results(quick_dir)
    assert isinstance(res, ComparisonResults)
    return res


def _sweep(folder: Path, scenario: Path, params: list[str], design: str, n: int, reps: int):
    omnisim.sweep(
        scenario, params, design, n=n, reps=reps, executor="serial", out=folder, report=False
    )
    res = load_results(folder)
    assert isinstance(res, SweepResults)
    return res


@pytest.fixture(scope="session")
def sweeps(quick_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sweep folder per design: grid (3 x 3 levels), sobol (N = 8), morris (4
    trajectories), and a one-parameter LHS with 2 replications per row."""
    designs = {
        "grid": ([PRICE, SENSITIVITY], 3, 1),
        "sobol": ([PRICE, SENSITIVITY], 8, 1),
        "morris": ([PRICE, SENSITIVITY, "product.unit_cost=30:60"], 4, 1),
        "curve": ([PRICE], 6, 2),
    }
    out = {}
    for name, (params, n, reps) in designs.items():
        folder = tmp_path_factory.mktemp(f"sweep-{name}")
        design = "lhs" if name == "curve" else name
        _sweep(folder, quick_file, params, design, n, reps)
        out[name] = folder
    return out


@pytest.fixture
def hostile_dir(quick_file: Path, tmp_path: Path) -> Path:
    """A comparison (with its report) of a scenario whose name, description, a strategy's
    name and an overlay value are markup (`builders.hostile_copy`)."""
    out = tmp_path / "hostile"
    omnisim.compare(
        hostile_copy(quick_file, tmp_path),
        reps=2,
        executor="serial",
        out=out,
        overrides=[f'description="{HOSTILE_DESCRIPTION}"'],
    )
    return out
