"""Replications of one scenario and their summary: mean and 95% confidence interval per KPI.

Replication ``r`` draws every random number from streams seeded by ``(seed, r)`` alone
(`omnisim.engine.streams`), so any replication can be re-run on its own and gives the same
numbers. The interval is Student's t across replications: ``mean +- t(0.975, R-1) s / sqrt(R)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from omnisim.engine.simulation import RunResult, Simulation, ensure_memory
from omnisim.scenario.schema import Scenario


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval; one value gives a zero-width interval, and
    any NaN makes all three NaN."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0 or np.isnan(x).any():
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def summarise(rows: Sequence[dict[str, float]]) -> dict[str, dict]:
    """KPI name -> {"mean", "ci95": [lo, hi]} over replication rows (KPI order kept)."""
    names = list(rows[0]) if rows else []
    out = {}
    for name in names:
        m, lo, hi = t_interval([r[name] for r in rows])
        out[name] = {"mean": _json_float(m), "ci95": [_json_float(lo), _json_float(hi)]}
    return out


def _json_float(v: float) -> float | None:
    return None if math.isnan(v) else v


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
) -> Replications:
    """Run replications 0..R-1 serially. ``progress`` receives simulated days advanced
    (cumulative over replications)."""
    ensure_memory(scenario)
    reps = scenario.replications if replications is None else replications
    seed = scenario.seed if seed is None else seed
    out = Replications(scenario, seed)
    done = 0.0
    for r in range(reps):
        trail = Path(trail_dir) / f"rep-{r:03d}.parquet" if trail_dir is not None else None
        cb = None
        if progress is not None:
            base = done

            def cb(day: float, base=base) -> None:
                progress(base + day)

        out.results.append(Simulation(scenario, r, seed, trail, cb).run())
        done += scenario.horizon_days
    return out
