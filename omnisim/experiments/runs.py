"""One simulation run as a task an executor can carry: what to run in, what comes back out.

A `RunSpec` names everything a run depends on (the strategy-merged scenario, the root seed,
the replication index and the stream salt), so a worker on any machine gives the same numbers
for it. `run_specs` runs a chunk of them in the worker and returns small records (KPIs, event
count, wall time): nothing large travels back to the driver.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from omnisim.experiments.outputs import timeseries_rows
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation


@dataclass(frozen=True)
class RunSpec:
    """One replication of one scenario.

    Attributes:
        key: the caller's name for the run, e.g. ``(strategy, replication)``.
        scenario: the validated scenario, strategy and overrides applied.
        seed: root seed.
        replication: replication index.
        salt: stream salt; 0 (common random numbers) unless strategies must be independent.
        series: also return the run's period time series (`timeseries_rows`), as `compare`
            does for its charts; a sweep leaves it off (thousands of runs, no time charts).
    """

    key: Hashable
    scenario: Scenario
    seed: int
    replication: int
    salt: int = 0
    series: bool = False


@dataclass(frozen=True)
class RunRecord:
    """What a run returns to the driver."""

    key: Hashable
    kpis: dict[str, float]
    events: int
    wall_seconds: float
    series: list[dict[str, object]] | None = None


def run_specs(specs: Sequence[RunSpec]) -> list[RunRecord]:
    """Run each spec in turn (in the calling process: this is what a worker executes)."""
    out = []
    for s in specs:
        r = Simulation(s.scenario, s.replication, s.seed, salt=s.salt).run()
        series = timeseries_rows(r.ledger, s.replication) if s.series else None
        out.append(RunRecord(s.key, r.kpis, r.events, r.wall_seconds, series))
    return out


def small_copy(scenario: Scenario, consumers: int, days: float) -> Scenario:
    """A copy of ``scenario`` with at most ``consumers`` consumers and ``days`` days and no
    warm-up, every part kept on (to load the compiled kernels cheaply)."""
    small = scenario.model_copy(deep=True)
    small.market.consumers = min(scenario.market.consumers, consumers)
    small.horizon_days = min(scenario.horizon_days, days)
    small.warmup_days = 0.0
    kols = small.social.kols if small.social is not None else None
    if kols is not None:  # KOL audiences are drawn among the other consumers: fit them in
        kols.count = min(kols.count, 10)
        kols.followers = min(kols.followers, small.market.consumers - 1)
    # Shocks after the shortened horizon would be refused; the kernel's shock tuple has the
    # same types with or without them (omnisim/market/shocks.py).
    small.shocks = [s for s in small.shocks if s.start_day < small.horizon_days]
    # A lifetime-value horizon longer than the shortened window would be refused too.
    if small.lifecycle.clv_days is not None:
        small.lifecycle.clv_days = min(small.lifecycle.clv_days, small.horizon_days)
    return small


def warm_kernels(scenario: Scenario) -> None:
    """Load (or compile, the first time) the compiled kernels in this process with a tiny copy
    of ``scenario``, so that pool workers find them in the on-disk cache instead of all
    compiling them at once."""
    Simulation(small_copy(scenario, 200, 5.0), 0).run()
