"""The Python API: the same operations as the command line, returning Python objects."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from omnisim.experiments.compare import compare as _compare
from omnisim.experiments.outputs import (
    atomic_write_text,
    csv_text,
    environment_info,
    json_text,
    timeseries_rows,
)
from omnisim.experiments.replicate import DEFAULT_MAX_REPS, run_replications
from omnisim.experiments.stats import parse_targets
from omnisim.experiments.sweep import sweep as _sweep
from omnisim.scenario.loading import load_scenario, scenario_digest
from omnisim.scenario.schema import Scenario

__all__ = [
    "RunOutput",
    "build_report",
    "compare",
    "default_out_dir",
    "scenario_digest",
    "simulate",
    "sweep",
]


@dataclass
class RunOutput:
    """What `simulate` returns: the summary, one KPI row per replication, the manifest."""

    scenario: str
    strategy: str | None
    seed: int
    replications: int
    summary: dict
    rows: list[dict[str, float]]
    manifest: dict
    out_dir: Path | None

    def kpi(self, name: str) -> float | None:
        """Mean of a KPI across replications."""
        return self.summary[name]["mean"]


def default_out_dir(sc: Scenario, strategy: str | None, seed: int) -> Path:
    return Path("results") / f"{sc.name}-{strategy or 'base'}-{seed}"


def simulate(
    scenario: str | Path | Scenario,
    strategy: str | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    trail: bool = False,
    progress: Callable[[float], None] | None = None,
    target_ci: Mapping[str, float] | Sequence[str] | None = None,
    max_reps: int = DEFAULT_MAX_REPS,
) -> RunOutput:
    """Run a scenario (file or `Scenario`), optionally one of its strategies, and summarise.

    With ``out`` the result files are written there (see ``docs/outputs.md``); ``trail``
    also writes the event trail as Parquet, one file per replication. ``target_ci``
    ({KPI: relative half-width}, or ``["KPI=rel", ...]``) adds replications until each KPI's
    95% interval is that narrow relative to its mean, up to ``max_reps``.
    """
    if isinstance(scenario, Scenario):
        if strategy is not None or overrides:
            raise ValueError("strategy and overrides need a scenario file; got a Scenario")
        sc = scenario
    else:
        sc = load_scenario(scenario, strategy=strategy, overrides=overrides)
    seed = sc.seed if seed is None else int(seed)
    reps = sc.replications if replications is None else int(replications)
    targets = _targets(target_ci)
    out_dir = Path(out) if out is not None else None
    trail_tmp = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if trail:
            trail_tmp = out_dir / ".trail.partial"
            shutil.rmtree(trail_tmp, ignore_errors=True)
            trail_tmp.mkdir()
    elif trail:
        raise ValueError("trail=True needs an output folder (out=...)")
    start = time.perf_counter()
    try:
        result = run_replications(sc, reps, seed, trail_tmp, progress, targets, max_reps)
        reps = len(result.results)
    except BaseException:
        if trail_tmp is not None:
            shutil.rmtree(trail_tmp, ignore_errors=True)
        raise
    wall = time.perf_counter() - start
    summary = {
        "scenario": sc.name,
        "strategy": strategy,
        "seed": seed,
        "replications": reps,
        "kpis": result.summary,
    }
    manifest = environment_info() | {
        "scenario": sc.name,
        "strategy": strategy,
        "scenario_hash": scenario_digest(sc),
        "seed": seed,
        "replications": reps,
        "wall_seconds": round(wall, 3),
        "events_processed": result.events,
        "trail": bool(trail),
        "target_ci": targets,
    }
    if out_dir is not None:
        if trail_tmp is not None:
            final = out_dir / "trail"
            shutil.rmtree(final, ignore_errors=True)
            trail_tmp.rename(final)
        atomic_write_text(
            out_dir / "replications.csv", csv_text(result.rows, "replication", range(reps))
        )
        series = [row for r in result.results for row in timeseries_rows(r.ledger, r.replication)]
        atomic_write_text(out_dir / "timeseries.csv", _series_csv(series))
        atomic_write_text(out_dir / "manifest.json", json_text(manifest))
        atomic_write_text(out_dir / "summary.json", json_text(summary))
    return RunOutput(sc.name, strategy, seed, reps, result.summary, result.rows, manifest, out_dir)


def _series_csv(rows: list[dict]) -> str:
    """``timeseries.csv``: rows keyed by replication and period (the first two columns)."""
    rest = [{k: v for k, v in r.items() if k != "replication"} for r in rows]
    return csv_text(rest, "replication", [r["replication"] for r in rows])


def build_report(results: str | Path) -> Path:
    """Draw the charts and write ``report.html`` of a comparison or sweep folder (as
    ``omnisim report``); returns the report's path. Raises `omnisim.report.ReportError` for
    a folder that is not a finished comparison or sweep."""
    from omnisim.report.build import build_report as build  # matplotlib only when drawing

    return build(results)


def _targets(target_ci: Mapping[str, float] | Sequence[str] | None) -> dict[str, float]:
    if not target_ci:
        return {}
    if isinstance(target_ci, Mapping):
        return parse_targets([f"{k}={v}" for k, v in target_ci.items()])
    return parse_targets(list(target_ci))


def compare(
    scenario: str | Path,
    strategies: Sequence[str] | None = None,
    baseline: str | None = None,
    *,
    report: bool = True,
    **options,
) -> pd.DataFrame:
    """Compare strategies of a scenario file (as ``omnisim compare``); returns the tidy table
    ``strategy, kpi, mean, ci_low, ci_high, diff, diff_ci_low, diff_ci_high``.

    Options are those of `omnisim.experiments.compare.compare` (``reps``, ``seed``,
    ``overrides``, ``independent``, ``target_ci``, ``executor``, ``workers``, ``out``, ...).
    With ``out``, the charts and ``report.html`` are written there too unless ``report`` is
    False. ``table.attrs`` holds ``baseline``, ``replications`` (KPI rows per strategy),
    ``manifest`` and ``report`` (the report's path, or None)."""
    result = _compare(scenario, strategies, baseline, **options)
    page = build_report(result.out_dir) if report and result.out_dir is not None else None
    table = result.table
    table.attrs.update(
        baseline=result.baseline, replications=result.rows, manifest=result.manifest, report=page
    )
    return table


def sweep(
    scenario: str | Path | Mapping,
    params: Sequence[str],
    design: str = "lhs",
    *,
    report: bool = True,
    **options,
) -> pd.DataFrame:
    """Sweep parameters of a scenario (as ``omnisim sweep``; docs/sweeps.md): options are
    those of `omnisim.experiments.sweep.sweep` (``n``, ``reps``, ``seed``, ``strategy``,
    ``overrides``, ``executor``, ``workers``, ``out``, ``resume``, ...). Returns a row per
    design row; ``.attrs`` holds ``manifest``, ``sensitivity``, ``out`` and ``report`` (the
    path of the ``report.html`` written beside the results, or None with ``report=False``)."""
    frame = _sweep(scenario, params, design, **options)
    frame.attrs["report"] = build_report(frame.attrs["out"]) if report else None
    return frame
