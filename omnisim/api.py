"""The Python API: the same operations as the command line, returning Python objects."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from omnisim.experiments.outputs import atomic_write_text, csv_text, environment_info, json_text
from omnisim.experiments.replicate import run_replications
from omnisim.scenario.loading import load_scenario
from omnisim.scenario.schema import Scenario


def scenario_digest(sc: Scenario) -> str:
    """sha256 of the validated scenario (defaults filled in), stable across processes."""
    data = sc.model_dump(mode="json")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


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
) -> RunOutput:
    """Run a scenario (file or `Scenario`), optionally one of its strategies, and summarise.

    With ``out`` the result files are written there (see ``docs/outputs.md``); ``trail``
    also writes the event trail as Parquet, one file per replication.
    """
    if isinstance(scenario, Scenario):
        if strategy is not None or overrides:
            raise ValueError("strategy and overrides need a scenario file; got a Scenario")
        sc = scenario
    else:
        sc = load_scenario(scenario, strategy=strategy, overrides=overrides)
    seed = sc.seed if seed is None else int(seed)
    reps = sc.replications if replications is None else int(replications)
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
        result = run_replications(sc, reps, seed, trail_tmp, progress)
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
    }
    if out_dir is not None:
        if trail_tmp is not None:
            final = out_dir / "trail"
            shutil.rmtree(final, ignore_errors=True)
            trail_tmp.rename(final)
        atomic_write_text(
            out_dir / "replications.csv", csv_text(result.rows, "replication", range(reps))
        )
        atomic_write_text(out_dir / "manifest.json", json_text(manifest))
        atomic_write_text(out_dir / "summary.json", json_text(summary))
    return RunOutput(sc.name, strategy, seed, reps, result.summary, result.rows, manifest, out_dir)
