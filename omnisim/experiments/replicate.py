"""Replications of one scenario, in this process, with optional sequential stopping.

Replication ``r`` draws every random number from streams seeded by ``(seed, r)`` alone
(`omnisim.engine.streams`), so any replication can be re-run on its own and gives the same
numbers. Intervals and the stopping rule are in `omnisim.experiments.stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from omnisim.experiments.stats import more_replications, summarise
from omnisim.scenario.schema import Scenario
from omnisim.simulation import RunResult, Simulation, ensure_memory

DEFAULT_MAX_REPS = 200


@dataclass
class Replications:
    """Results of R replications of one scenario (or strategy)."""

    scenario: Scenario
    seed: int
    results: list[RunResult] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, float]]:
        return [r.kpis for r in self.results]

    @property
    def summary(self) -> dict[str, dict]:
        return summarise(self.rows)

    @property
    def events(self) -> int:
        return sum(r.events for r in self.results)


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    trail_dir: str | Path | None = None,
    progress: Callable[[float], None] | None = None,
    targets: Mapping[str, float] | None = None,
    max_reps: int = DEFAULT_MAX_REPS,
) -> Replications:
    """Run replications 0..R-1 serially; with ``targets`` ({KPI: relative half-width}) keep
    adding replications until every target is met or ``max_reps`` are done. ``progress``
    receives simulated days advanced (cumulative over replications)."""
    ensure_memory(scenario)
    reps = scenario.replications if replications is None else replications
    seed = scenario.seed if seed is None else seed
    out = Replications(scenario, seed)
    todo = reps
    while todo > 0:
        for _ in range(todo):
            r = len(out.results)
            trail = Path(trail_dir) / f"rep-{r:03d}.parquet" if trail_dir is not None else None
            cb = None
            if progress is not None:
                base = r * scenario.horizon_days

                def cb(day: float, base=base) -> None:
                    progress(base + day)

            out.results.append(Simulation(scenario, r, seed, trail, cb).run())
        todo = 0
        for name, rel in (targets or {}).items():
            if name not in out.rows[0]:
                raise ValueError(f"--target-ci: unknown KPI {name!r}")
            values = [row[name] for row in out.rows]
            todo = max(todo, more_replications([values], rel, len(out.results), max_reps))
    return out
