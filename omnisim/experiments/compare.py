"""Compare strategies of one scenario: replications of each, differences to a baseline.

Strategies run with **common random numbers** by default: replication r of every strategy uses
the streams of ``(seed, r)``, so the same consumers have the same needs and draws wherever the
strategy does not change them, and each difference is estimated replication by replication
(paired t interval). ``independent=True`` gives each strategy its own streams (stream salt
1, 2, ...) and uses Welch's interval instead; comparing the two shows what CRN buys.

Runs are spread over an executor (`omnisim.experiments.executors`); results do not depend on
which. With a target (``target_ci``) rounds of replications are added until every strategy's
KPI interval is narrow enough (`omnisim.experiments.stats.more_replications`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from omnisim.experiments.executors import chunked, default_workers, open_executor, run_chunks
from omnisim.experiments.outputs import (
    atomic_write_text,
    csv_text,
    environment_info,
    json_text,
    shock_free_until,
    warmup_check,
)
from omnisim.experiments.replicate import DEFAULT_MAX_REPS
from omnisim.experiments.runs import RunRecord, RunSpec, run_specs, warm_kernels
from omnisim.experiments.stats import (
    more_replications,
    paired_interval,
    summarise,
    t_interval,
    welch_interval,
)
from omnisim.metrics.units import unit_of
from omnisim.metrics.warmup import WarmupCheck
from omnisim.scenario.loading import (
    ScenarioError,
    load_scenario,
    scenario_digest,
    strategy_names,
)
from omnisim.scenario.schema import Scenario
from omnisim.simulation import ensure_memory

BASE = "base"
COLUMNS = [
    "strategy",
    "kpi",
    "mean",
    "ci_low",
    "ci_high",
    "diff",
    "diff_ci_low",
    "diff_ci_high",
    "unit",
]
"""Columns of comparison.csv; ``unit`` last, as `omnisim.metrics.units.unit_of` gives it."""


@dataclass
class Comparison:
    """What `compare` produced: the tidy table plus the raw replications."""

    scenario: str
    strategies: list[str]
    baseline: str
    seed: int
    independent: bool
    table: pd.DataFrame
    rows: dict[str, list[dict[str, float]]]
    manifest: dict
    out_dir: Path | None
    series: dict[str, list[dict[str, object]]] | None = None
    """Per strategy, every replication's period rows (`timeseries_rows`), replication-major."""
    warmup: dict[str, WarmupCheck] | None = None
    """Per strategy, the warm-up check of its time series (`omnisim.metrics.warmup`)."""


def resolve_strategies(
    path: str | Path, strategies: Sequence[str] | None, baseline: str | None
) -> tuple[list[str], str]:
    """The strategies to compare and the baseline, checked against the file.

    ``base`` names the scenario without any overlay (unless the file defines a strategy of that
    name). Default: every strategy of the file (``base`` alone if it has none); baseline: the
    first listed."""
    known = strategy_names(path)
    names = list(strategies) if strategies else (known or [BASE])
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise ScenarioError(["--strategies: no strategy named"])
    problems = [
        f"--strategies: unknown strategy {n!r} (the file has: {', '.join(known) or 'none'})"
        for n in names
        if n != BASE and n not in known
    ]
    dup = sorted({n for n in names if names.count(n) > 1})
    problems += [f"--strategies: {n!r} is listed twice" for n in dup]
    base = baseline or names[0]
    if base not in names:
        if base != BASE and base not in known:
            problems.append(f"--baseline: unknown strategy {base!r}")
        else:
            names.insert(0, base)
    if problems:
        raise ScenarioError(problems)
    return names, base


def load_strategies(
    path: str | Path, names: Sequence[str], overrides: Sequence[str]
) -> dict[str, Scenario]:
    """Each strategy's scenario (overlay, then the overrides); every problem reported."""
    known = set(strategy_names(path))
    out: dict[str, Scenario] = {}
    problems: list[str] = []
    for n in names:
        overlay = n if n in known else None
        try:
            out[n] = load_scenario(path, strategy=overlay, overrides=overrides)
        except ScenarioError as e:
            problems += [p for p in e.problems if p not in problems]
    if problems:
        raise ScenarioError(problems)
    return out


@dataclass
class ComparisonPlan:
    """A comparison checked and ready to run: every strategy's validated scenario, the seed
    and the replications (`plan_comparison`)."""

    source: str
    names: list[str]
    baseline: str
    scenarios: dict[str, Scenario]
    seed: int
    reps: int
    overrides: list[str]

    @property
    def name(self) -> str:
        return self.scenarios[self.baseline].name


def plan_comparison(
    scenario: str | Path,
    strategies: Sequence[str] | None = None,
    baseline: str | None = None,
    *,
    reps: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
) -> ComparisonPlan:
    """Check everything a comparison needs before anything runs or is written: the strategy
    names, every strategy's scenario, and that each fits in memory. Raises ScenarioError
    (every problem) or MemoryRefused."""
    names, base = resolve_strategies(scenario, strategies, baseline)
    scenarios = load_strategies(scenario, names, overrides)
    first = scenarios[base]
    seed = first.seed if seed is None else int(seed)
    reps = first.replications if reps is None else int(reps)
    for sc in scenarios.values():
        ensure_memory(sc)
    return ComparisonPlan(str(scenario), names, base, scenarios, seed, reps, list(overrides))


def compare(
    scenario: str | Path,
    strategies: Sequence[str] | None = None,
    baseline: str | None = None,
    *,
    reps: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    **options: Any,
) -> Comparison:
    """Run every strategy ``reps`` times (default: the file's ``replications``) and compare
    each with the baseline: `plan_comparison`, then `run_comparison` with ``options``.
    Returns a `Comparison` whose ``table`` has the columns ``strategy, kpi, mean, ci_low,
    ci_high, diff, diff_ci_low, diff_ci_high, unit``."""
    plan = plan_comparison(
        scenario, strategies, baseline, reps=reps, seed=seed, overrides=overrides
    )
    return run_comparison(plan, **options)


def run_comparison(
    plan: ComparisonPlan,
    *,
    independent: bool = False,
    target_ci: Mapping[str, float] | None = None,
    max_reps: int = DEFAULT_MAX_REPS,
    executor: str | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run a planned comparison; with ``out`` (an existing folder, normally a staging one:
    `omnisim.experiments.folders`) write comparison.csv, replications.csv, timeseries.csv,
    scenario.json, summary.json and manifest.json there. ``progress(done, total)`` is
    called as runs finish."""
    names, base, scenarios, seed = plan.names, plan.baseline, plan.scenarios, plan.seed
    first = scenarios[base]
    salts = {n: (k + 1 if independent else 0) for k, n in enumerate(names)}
    start = time.perf_counter()
    records: dict[str, dict[int, RunRecord]] = {n: {} for n in names}
    warm_kernels(first)
    with open_executor(executor, workers) as ex:
        todo = plan.reps
        while todo > 0:
            done_reps = len(records[base])
            specs = [
                RunSpec((n, r), scenarios[n], seed, r, salts[n], series=True)
                for r in range(done_reps, done_reps + todo)
                for n in names
            ]
            total = sum(len(v) for v in records.values()) + len(specs)
            size = _chunk_size(len(specs), workers)
            for chunk in run_chunks(ex, run_specs, chunked(specs, size)):
                for rec in chunk:
                    n, r = rec.key
                    records[n][r] = rec
                if progress is not None:
                    progress(sum(len(v) for v in records.values()), total)
            todo = _more(records, target_ci or {}, max_reps)
    wall = time.perf_counter() - start
    rows = {n: [records[n][r].kpis for r in sorted(records[n])] for n in names}
    series = {n: [x for r in sorted(records[n]) for x in records[n][r].series or []] for n in names}
    table = comparison_table(rows, base, independent)
    done = len(rows[base])
    checks = {
        n: warmup_check(
            series[n],
            scenarios[n].warmup_days,
            scenarios[n].horizon_days,
            scenarios[n].engine.timeseries_days,
            shock_free_until(
                scenarios[n].shocks, scenarios[n].warmup_days, scenarios[n].horizon_days
            ),
        )
        for n in names
    }
    summary = {
        "scenario": first.name,
        "baseline": base,
        "seed": seed,
        "replications": done,
        "common_random_numbers": not independent,
        "strategies": {n: summarise(rows[n]) for n in names},
        "warmup_check": {n: c.as_json() for n, c in checks.items()},
    }
    manifest = environment_info() | {
        "scenario": first.name,
        "strategies": names,
        "baseline": base,
        "scenario_file": plan.source,
        "overrides": list(plan.overrides),
        "scenario_hashes": {n: scenario_digest(scenarios[n]) for n in names},
        "seed": seed,
        "replications": done,
        "common_random_numbers": not independent,
        "target_ci": dict(target_ci or {}),
        "executor": executor or "process",
        "wall_seconds": round(wall, 3),
        "events_processed": sum(r.events for v in records.values() for r in v.values()),
    }
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        flat = [{"strategy": n} | row for n in names for row in rows[n]]
        index = [r for n in names for r in range(len(rows[n]))]
        atomic_write_text(out_dir / "comparison.csv", table.to_csv(index=False))
        atomic_write_text(out_dir / "replications.csv", csv_text(flat, "replication", index))
        ts = [row for n in names for row in series[n]]
        ts_names = [n for n in names for _ in series[n]]
        atomic_write_text(out_dir / "timeseries.csv", csv_text(ts, "strategy", ts_names))
        # What the report describes: the baseline's market as run (overlay and overrides
        # applied, already validated), which keeps every overlay under `strategies`.
        atomic_write_text(out_dir / "scenario.json", json_text(first.model_dump(mode="json")))
        atomic_write_text(out_dir / "manifest.json", json_text(manifest))
        atomic_write_text(out_dir / "summary.json", json_text(summary))
    return Comparison(
        first.name, names, base, seed, independent, table, rows, manifest, out_dir, series, checks
    )


def comparison_table(
    rows: Mapping[str, Sequence[Mapping[str, float]]], baseline: str, independent: bool
) -> pd.DataFrame:
    """The tidy comparison: a row per strategy and KPI (see `compare`)."""
    diff_fn = welch_interval if independent else paired_interval
    base_rows = rows[baseline]
    # Strategies may differ in which KPIs they produce (one adds a media plan, another drops
    # the dealer network): every KPI any strategy has, NaN where a strategy lacks it.
    kpis: list[str] = []
    for rs in rows.values():
        kpis += [k for k in (rs[0] if rs else {}) if k not in kpis]
    nan = float("nan")
    records = []
    for n, rs in rows.items():
        for k in kpis:
            x = [r.get(k, nan) for r in rs]
            b = [r.get(k, nan) for r in base_rows]
            m, lo, hi = t_interval(x)
            d, dlo, dhi = diff_fn(x, b)
            records.append((n, k, m, lo, hi, d, dlo, dhi, unit_of(k)))
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def _more(records: dict[str, dict[int, RunRecord]], targets: Mapping[str, float], cap: int) -> int:
    todo = 0
    any_rows = next(iter(records.values()))
    done = len(any_rows)
    for name, rel in targets.items():
        if name not in next(iter(any_rows.values())).kpis:
            raise ValueError(f"--target-ci: unknown KPI {name!r}")
        samples = [[v[r].kpis[name] for r in sorted(v)] for v in records.values()]
        todo = max(todo, more_replications(samples, rel, done, cap))
    return todo


def _chunk_size(n_specs: int, workers: int | None) -> int:
    """Runs per task: enough tasks to keep every worker busy to the end (about four per
    worker), few enough that the executor's per-task cost does not matter."""
    w = workers or default_workers()
    return max(1, n_specs // (4 * w))
