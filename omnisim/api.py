"""The Python API: the same operations as the command line, returning Python objects."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from omnisim.experiments.compare import (
    Comparison,
    ComparisonPlan,
    plan_comparison,
    run_comparison,
)
from omnisim.experiments.elasticity import (
    DEFAULT_STEP,
    Elasticity,
    ElasticityPlan,
    plan_elasticity,
    run_elasticity,
)
from omnisim.experiments.folders import (
    check_target,
    default_folder,
    exclusive,
    holds_results,
    rebuild,
    staged,
)
from omnisim.experiments.outputs import (
    atomic_write_text,
    csv_text,
    environment_info,
    json_text,
    shock_free_until,
    timeseries_rows,
    warmup_check,
)
from omnisim.experiments.replicate import DEFAULT_MAX_REPS, run_replications
from omnisim.experiments.stats import parse_targets
from omnisim.experiments.sweep import default_sweep_dir, plan_sweep, run_sweep
from omnisim.metrics.warmup import WarmupCheck
from omnisim.scenario.loading import load_scenario, scenario_digest
from omnisim.scenario.schema import Scenario
from omnisim.simulation import ensure_memory

__all__ = [
    "RunOutput",
    "build_report",
    "compare",
    "compare_results",
    "default_compare_dir",
    "default_elasticity_dir",
    "default_out_dir",
    "elasticity",
    "scenario_digest",
    "simulate",
    "sweep",
]


@dataclass
class RunOutput:
    """What `simulate` returns: the summary, one KPI row per replication, the manifest, and
    the warm-up check of the run's time series (`omnisim.metrics.warmup`)."""

    scenario: str
    strategy: str | None
    seed: int
    replications: int
    summary: dict
    rows: list[dict[str, float]]
    manifest: dict
    out_dir: Path | None
    warmup: WarmupCheck | None = None

    def kpi(self, name: str) -> float | None:
        """Mean of a KPI across replications."""
        return self.summary[name]["mean"]


def default_out_dir(
    sc: Scenario,
    strategy: str | None,
    seed: int,
    *,
    reps: int | None = None,
    overrides: Sequence[str] = (),
    **inputs: object,
) -> Path:
    """``results/<scenario>-<strategy>-<seed>-<hash>`` for `simulate`: names as slugs, the
    hash over the replications, the overrides and any other ``inputs`` that change results
    (`omnisim.experiments.folders.default_folder`)."""
    key = {"reps": reps, "overrides": list(overrides), **inputs}
    return default_folder(sc.name, strategy or "base", seed, key)


def simulate(
    scenario: str | Path | Scenario,
    strategy: str | None = None,
    *,
    seed: int | None = None,
    replications: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    force: bool = False,
    trail: bool = False,
    progress: Callable[[float], None] | None = None,
    target_ci: Mapping[str, float] | Sequence[str] | None = None,
    max_reps: int = DEFAULT_MAX_REPS,
) -> RunOutput:
    """Run a scenario (file or `Scenario`), optionally one of its strategies, and summarise.

    With ``out`` the result files are written there (see ``docs/outputs.md``), all at once
    when the run is complete: a folder that already holds results is refused
    (`omnisim.experiments.folders.FolderError`) unless ``force``, which replaces it whole.
    ``trail`` also writes the event trail as Parquet, one file per replication.
    ``target_ci`` ({KPI: relative half-width}, or ``["KPI=rel", ...]``) adds replications
    until each KPI's 95% interval is that narrow relative to its mean, up to ``max_reps``.
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
    if trail and out is None:
        raise ValueError("trail=True needs an output folder (out=...)")
    ensure_memory(sc)
    target = check_target(Path(out), force) if out is not None else None
    start = time.perf_counter()
    with staged(target) if target is not None else nullcontext(None) as work:
        trail_dir = None
        if work is not None and trail:
            trail_dir = work / "trail"
            trail_dir.mkdir()
        result = run_replications(sc, reps, seed, trail_dir, progress, targets, max_reps)
        reps = len(result.results)
        wall = time.perf_counter() - start
        series = [row for r in result.results for row in timeseries_rows(r.ledger, r.replication)]
        check = warmup_check(
            series,
            sc.warmup_days,
            sc.horizon_days,
            sc.engine.timeseries_days,
            shock_free_until(sc.shocks, sc.warmup_days, sc.horizon_days),
        )
        summary = {
            "scenario": sc.name,
            "strategy": strategy,
            "seed": seed,
            "replications": reps,
            "kpis": result.summary,
            "warmup_check": check.as_json(),
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
        if work is not None:
            rows = csv_text(result.rows, "replication", range(reps))
            atomic_write_text(work / "replications.csv", rows)
            atomic_write_text(work / "timeseries.csv", _series_csv(series))
            atomic_write_text(work / "manifest.json", json_text(manifest))
            atomic_write_text(work / "summary.json", json_text(summary))
    return RunOutput(
        sc.name, strategy, seed, reps, result.summary, result.rows, manifest, target, check
    )


def _series_csv(rows: list[dict]) -> str:
    """``timeseries.csv``: rows keyed by replication and period (the first two columns)."""
    rest = [{k: v for k, v in r.items() if k != "replication"} for r in rows]
    return csv_text(rest, "replication", [r["replication"] for r in rows])


def build_report(results: str | Path) -> Path:
    """Draw the charts and write ``report.html`` of a comparison or sweep folder (as
    ``omnisim report``); returns the report's path. The folder is rebuilt on a copy and
    replaced whole, so an interrupted build leaves it as it was; a command writing the same
    folder meanwhile is refused. Raises `omnisim.report.ReportError` for a folder that is not
    a finished comparison or sweep."""
    from omnisim.report import load_results

    folder = Path(results)
    load_results(folder)  # checked where it is, before anything is copied or written
    with exclusive(folder, "command"), rebuild(folder) as work:
        _draw_report(work)
    return folder / "report.html"


def _draw_report(folder: Path) -> Path:
    from omnisim.report.build import build_report as build  # matplotlib only when drawing

    return build(folder)


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
    ``strategy, kpi, mean, ci_low, ci_high, diff, diff_ci_low, diff_ci_high, unit``.

    Options are those of `compare_results`. ``table.attrs`` holds ``baseline``,
    ``replications`` (KPI rows per strategy), ``manifest`` and ``report`` (the report's
    path, or None)."""
    result = compare_results(scenario, strategies, baseline, report=report, **options)
    table = result.table
    table.attrs.update(
        baseline=result.baseline,
        replications=result.rows,
        manifest=result.manifest,
        report=result.out_dir / "report.html" if report and result.out_dir else None,
    )
    return table


def compare_results(
    scenario: str | Path,
    strategies: Sequence[str] | None = None,
    baseline: str | None = None,
    *,
    reps: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    default_out: bool = False,
    force: bool = False,
    report: bool = True,
    on_report: Callable[[], None] | None = None,
    **options,
) -> Comparison:
    """`compare`, returning the whole `omnisim.experiments.compare.Comparison`.

    Everything is checked before anything runs (`plan_comparison`). With ``out`` (or
    ``default_out``: `default_compare_dir`) the result files, the charts and
    ``report.html`` (unless ``report`` is False) are written into a staging folder that
    replaces ``out`` whole once all are complete; a folder that already holds results is
    refused unless ``force`` (a default folder, named by every input, is always replaced).
    ``on_report`` is called before the report is drawn. Other options are those of
    `omnisim.experiments.compare.run_comparison` (``independent``, ``target_ci``,
    ``max_reps``, ``executor``, ``workers``, ``progress``)."""
    plan = plan_comparison(
        scenario, strategies, baseline, reps=reps, seed=seed, overrides=overrides
    )
    target: Path | None = Path(out) if out is not None else None
    if target is None and default_out:
        target, force = default_compare_dir(plan, **options), True
    if target is None:
        return run_comparison(plan, **options)
    target = check_target(target, force)
    with staged(target) as work:
        result = run_comparison(plan, out=work, **options)
        if report:
            if on_report is not None:
                on_report()
            _draw_report(work)
    result.out_dir = target
    return result


def default_compare_dir(plan: ComparisonPlan, **options: object) -> Path:
    """``results/<scenario>-compare-<seed>-<hash>``, the hash over the strategies, the
    baseline, the replications, the overrides and the options that change results."""
    keep = ("independent", "target_ci", "max_reps")
    inputs = {
        "strategies": plan.names,
        "baseline": plan.baseline,
        "reps": plan.reps,
        "overrides": plan.overrides,
        **{k: options[k] for k in keep if k in options},
    }
    return default_folder(plan.name, "compare", plan.seed, inputs)


def sweep(
    scenario: str | Path | Mapping,
    params: Sequence[str],
    design: str = "lhs",
    *,
    n: int,
    reps: int = 1,
    seed: int | None = None,
    strategy: str | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    report: bool = True,
    on_report: Callable[[], None] | None = None,
    on_start: Callable[[Path, bool], None] | None = None,
    **options,
) -> pd.DataFrame:
    """Sweep parameters of a scenario (as ``omnisim sweep``; docs/sweeps.md). Everything is
    checked first (`plan_sweep`); ``out`` defaults to `default_sweep_dir`. Options are those
    of `omnisim.experiments.sweep.run_sweep` (``executor``, ``workers``, ``progress``).

    Folders: a sweep writes each finished row at once into its folder, which it holds
    locked (a second sweep there is refused), so that ``resume`` can complete it after a
    kill. A folder the caller named that already holds results is refused unless
    ``resume`` (complete the sweep it holds) or ``force`` (replace it whole: the new sweep
    runs in a staging folder and takes its place only when complete, so the old results
    stay until then); the default folder, named by every input, is replaced in that way
    unless ``resume``. Returns a row per design row; ``.attrs`` holds ``manifest``,
    ``sensitivity``, ``out`` and ``report`` (the path of ``report.html``, or None with
    ``report=False``). ``on_start(folder, in_place)`` is called once the folder is known:
    ``in_place`` when the rows are written into it directly (and a kill leaves them for
    ``resume``), False when the sweep runs in a staging folder to replace it."""
    plan = plan_sweep(scenario, params, design, n, reps, seed, strategy, overrides)
    target = Path(out) if out is not None else default_sweep_dir(plan)
    replace = force or out is None
    hint = "--resume completes the sweep it holds"
    target = check_target(target, replace or resume, hint)

    def finish(folder: Path) -> None:
        if report:
            if on_report is not None:
                on_report()
            _draw_report(folder)

    in_place = resume or not holds_results(target)
    if on_start is not None:
        on_start(target, in_place)
    if not in_place:
        with exclusive(target, "sweep"), staged(target) as work:
            frame = run_sweep(plan, work, **options)
            finish(work)
    else:
        created = not target.exists()
        target.mkdir(parents=True, exist_ok=True)
        try:
            with exclusive(target, "sweep"):
                frame = run_sweep(plan, target, resume=resume, **options)
                if report:
                    with rebuild(target) as work:
                        finish(work)
        except BaseException:
            # A sweep that failed before it wrote anything (its executor could not start,
            # say) leaves no empty folder behind; one with rows keeps them for --resume.
            if created and not holds_results(target):
                shutil.rmtree(target, ignore_errors=True)
            raise
    frame.attrs["out"] = target
    frame.attrs["report"] = target / "report.html" if report else None
    return frame


def elasticity(
    scenario: str | Path,
    strategy: str | None = None,
    channel: str | None = None,
    *,
    reps: int | None = None,
    step: float = DEFAULT_STEP,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    out: str | Path | None = None,
    default_out: bool = False,
    force: bool = False,
    executor: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> Elasticity:
    """Measure implied price elasticities of purchases (as ``omnisim elasticity``;
    docs/experiments.md, "Price elasticity"): the brand's price and then each channel's moved
    by ``± step`` (a fraction), or ``channel``'s alone, with common random numbers over
    ``reps`` replications (default 5).

    Everything is checked before anything runs (`plan_elasticity`: ScenarioError for a bad
    file, ``--set``, channel, or a price the scenario's fields cannot move). With ``out`` (or
    ``default_out``: `default_elasticity_dir`) elasticity.csv, elasticity_replications.csv,
    summary.json and manifest.json are written into a staging folder that replaces ``out``
    whole once complete; a folder that already holds results is refused unless ``force``.
    ``on_start`` is called once everything is checked, before the first run. Returns the
    `omnisim.experiments.elasticity.Elasticity` (``.table``: a row per price, quantity and
    measure with the mean elasticity and its 95% interval)."""
    plan = plan_elasticity(
        scenario, strategy, channel, reps=reps, step=step, seed=seed, overrides=overrides
    )
    options = {"executor": executor, "workers": workers, "progress": progress}
    target: Path | None = Path(out) if out is not None else None
    if target is None and default_out:
        target, force = default_elasticity_dir(plan), True
    if target is not None:
        target = check_target(target, force)
    if on_start is not None:
        on_start()
    if target is None:
        return run_elasticity(plan, **options)
    with staged(target) as work:
        result = run_elasticity(plan, out=work, **options)
    result.out_dir = target
    return result


def default_elasticity_dir(plan: ElasticityPlan) -> Path:
    """``results/<scenario>-elasticity-<seed>-<hash>``, the hash over the strategy, the
    channel, the step, the replications and the overrides."""
    inputs = {
        "strategy": plan.strategy,
        "channel": plan.channel,
        "step": plan.step,
        "reps": plan.reps,
        "overrides": plan.overrides,
    }
    return default_folder(plan.name, "elasticity", plan.seed, inputs)
