"""One replication of one scenario: wiring, the SimPy environment, and the run loop.

The SimPy ``Environment`` owns simulated time (days). Three kinds of process share it:

* the **consumer clock**, one process that wakes once per time bucket and advances every
  consumer whose next event falls in the bucket, one by one in time order, in a compiled kernel
  (`omnisim.engine.buckets`, `omnisim.consumers.journey`); events that the bucket itself
  schedules into the same bucket (zero or short delays) join the kernel's own heap and run in
  exact time order among the bucket's events (a further round is needed only in the rare case
  that the heap runs out of room);
* **supply** processes: one review process per stock node, plus one per delivery in transit;
  with a dealer network (`omnisim.supply.network`), one review process per dealer and per node
  it supplies, and shipments arriving as urgent events;
* **bookkeeping**: holding cost accrues bucket by bucket.

With a ``social`` section, word of mouth (`omnisim.marketing.social`) runs inside the consumer
clock: after each bucket's consumer events, a compiled kernel applies every talk, KOL post and
innovation dated in the bucket, in exact time order among themselves.

Processing a bucket happens at the bucket's start time, and supply events inside the bucket
(replenishment reviews and deliveries) act after it: consumers see stock change at bucket ends.
That, and holding cost counted on the stock at each bucket's start, are the approximations the
buckets make; consumer events among themselves are in exact order whatever the width. The
approximations vanish as the bucket width shrinks (tested in
``tests/validation/test_convergence.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import simpy

from omnisim.channels.catalog import ChannelTable, Geography
from omnisim.channels.policies import apply_policies, sells_at_chain_prices
from omnisim.channels.service import StoreQueues
from omnisim.consumers.journey import Journey
from omnisim.consumers.needs import NeedClock
from omnisim.consumers.population import STAGE_NAMES, Population, bytes_per_consumer
from omnisim.engine import ledger as lg
from omnisim.engine.buckets import EventCalendar
from omnisim.engine.ledger import Ledger
from omnisim.engine.streams import Streams
from omnisim.engine.trail import TrailWriter
from omnisim.market.shocks import Shocks, snapshot_bytes_per_consumer
from omnisim.marketing import media as media_plan
from omnisim.marketing.social import WordOfMouth, social_bytes
from omnisim.metrics.kpis import compute_kpis
from omnisim.scenario.schema import Scenario, cross_reference_problems
from omnisim.supply.inventory import Inventory
from omnisim.supply.network import SupplyNetwork

Progress = Callable[[float], None]


class MemoryRefused(Exception):
    """The scenario would need more memory than the machine can give it."""


def available_memory() -> int:
    """Bytes of memory available to a new run (MemAvailable on Linux, else physical)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def planned_memory(sc: Scenario) -> int:
    """Bytes a run of ``sc`` plans to use at peak (consumer state dominates)."""
    per_consumer = bytes_per_consumer(len(sc.channels))
    per_consumer += media_plan.bytes_per_consumer(sc)  # media plan (omnisim.marketing.media)
    per_consumer += snapshot_bytes_per_consumer(sc)  # shocks: habit snapshot while one lasts
    # Word of mouth: graph CSR, KOL followers and state (0 without it).
    return sc.market.consumers * per_consumer + social_bytes(sc) + 64 * 2**20


def ensure_memory(sc: Scenario, available: int | None = None) -> None:
    """Refuse up front, with the estimate, a scenario too large for the machine."""
    need = planned_memory(sc)
    have = available_memory() if available is None else available
    limit = have * sc.engine.memory_fraction
    if need > limit:
        raise MemoryRefused(
            f"market.consumers: {sc.market.consumers:,} consumers need about "
            f"{need / 2**30:.1f} GiB, more than the {limit / 2**30:.1f} GiB this machine can "
            f"give a run ({sc.engine.memory_fraction:.0%} of {have / 2**30:.1f} GiB available)"
        )


@dataclass
class RunResult:
    """What one replication produced."""

    replication: int
    kpis: dict[str, float]
    ledger: dict
    events: int
    wall_seconds: float
    trail_rows: int = 0
    final: dict = field(default_factory=dict)


class Simulation:
    """One replication of a validated scenario.

    Args:
        scenario: the (strategy-merged) scenario.
        replication: index of the replication; its random streams depend on it and the seed.
        seed: root seed (default: the scenario's).
        trail_path: write the event trail there (Parquet) if given.
        progress: called with the simulated day as the run advances.
        salt: stream salt (`omnisim.engine.streams.Streams`); 0 = common random numbers.
    """

    def __init__(
        self,
        scenario: Scenario,
        replication: int = 0,
        seed: int | None = None,
        trail_path: str | Path | None = None,
        progress: Progress | None = None,
        salt: int = 0,
    ) -> None:
        problems = cross_reference_problems(scenario)
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {m}" for loc, m in problems))
        # One price and one membership are rewrites of the channels (docs/model.md,
        # "Omnichannel operations"); everything below reads the rewritten scenario.
        sc = apply_policies(scenario)
        self.sc = sc
        self.replication = replication
        self.seed = sc.seed if seed is None else seed
        self.progress = progress
        self.env = simpy.Environment()
        self.streams = Streams(self.seed, replication, salt)
        self.geo = Geography.from_scenario(sc)
        node_index = {n.name: i for i, n in enumerate(sc.nodes)}
        self.channels = ChannelTable(sc, self.geo, node_index)
        # Shocks (omnisim.market.shocks), if any: need, traffic, lead times, habit persistence.
        self.shocks = Shocks(sc) if sc.shocks else None
        self.inventory = Inventory(sc, self.shocks)
        # The dealer network, if any, refills the nodes that name a supplier; the lead-time
        # draws use the `supply` stream, which nothing else draws from.
        self.network = (
            SupplyNetwork(
                sc,
                self.inventory,
                self.streams.generator("supply"),
                self._record_order,
                geo=self.geo,
                shocks=self.shocks,
            )
            if sc.network is not None
            else None
        )
        if sells_at_chain_prices(sc):
            # Stores the network supplies sell at the chain's consumer price (cost_plus or a
            # flattening's passed saving); without a network, or with one unified price, the
            # channel prices stand alone.
            self.channels.set_node_prices(self.network.consumer_prices())
        self.queues = StoreQueues(sc)
        self.clock = NeedClock(sc)
        self.population = Population(sc, self.streams.keys, self.channels.names)
        self.ledger = Ledger(
            self.channels.n,
            len(sc.nodes),
            sc.warmup_days,
            sc.horizon_days,
            sc.engine.timeseries_days,
        )
        self.dt = sc.engine.bucket_hours / 24.0
        self.calendar = EventCalendar(sc.market.consumers, self.dt, sc.horizon_days)
        # The media plan, if any (docs/model.md, "Media"): impressions at each bucket start.
        self.media = (
            media_plan.MediaRuntime(
                sc,
                self.population.segment,
                self.channels.names,
                (
                    self.channels.session_every,
                    self.channels.session_start,
                    self.channels.session_duration,
                ),
                self.streams.keys[media_plan.rs.MEDIA],
            )
            if sc.media is not None
            else None
        )
        self._awareness_period = 0  # next period of the awareness time series to record
        self.trail = (
            TrailWriter(
                trail_path,
                self.channels.names,
                self.inventory.names,
                sc.engine.trail_chunk_rows,
                replication,
            )
            if trail_path is not None
            else None
        )
        # Word of mouth (omnisim/marketing/social.py): its graph is the `social` stream's
        # first draws, the same for every strategy; its kernel tuple is the journey's ctx[13].
        self.social = (
            WordOfMouth(
                sc,
                self.population.awareness,
                self.streams.keys,
                self.streams.generator("social"),
                self.ledger,
            )
            if sc.social is not None
            else None
        )
        self.journey = Journey(
            sc,
            self.population,
            self.streams.keys,
            self.clock,
            self.geo,
            self.channels,
            self.inventory,
            self.queues,
            self.ledger,
            self.trail is not None,
            self.media,
            self.social.ctx() if self.social is not None else None,
            self.shocks,
        )

        if self.network is not None:
            # CLV (docs/model.md, 16b): at the stores the network supplies the brand earns its
            # margin when it sells the goods into the network, not at the consumer's purchase.
            self.journey.lifecycle.set_network_margin(
                self.network.terminal_nodes(), self.network.brand_unit_margin()
            )

    # ------------------------------------------------------------------ processes

    def _record_order(self, t: float, node: int, units: int) -> None:
        if self.ledger.in_window(t):
            acc = self.ledger.acc
            acc[lg.REPLENISHMENT_ORDERS] += 1
            acc[lg.REPLENISHMENT_UNITS] += units
            acc[lg.REPLENISHMENT_COST] += float(self.inventory.order_cost[node])

    def _consumer_clock(self):
        env, cal, dt, led = self.env, self.calendar, self.dt, self.ledger
        horizon = self.sc.horizon_days
        n_buckets = cal.n_buckets
        inv = self.inventory
        next_report = 0.0
        for b in range(n_buckets):
            t0 = b * dt
            t1 = min((b + 1) * dt, horizon)
            overlap = led.overlap_days(t0, t1)
            if overlap > 0:
                led.acc[lg.HOLDING_COST] += overlap * float(inv.stock @ inv.holding_rate)
            if self.network is not None:
                self.network.accrue_terminals(t0, t1)
            self._record_awareness(t0)
            if self.media is not None:
                self.media.start_bucket(b, t0, t1, self.population.stage, cal)
            wheel = cal.wheel()
            while True:  # more than one round only if the in-bucket heap ran out of room
                ids, ts = cal.pop(b)
                if len(ids) == 0:
                    break
                rows = self.journey.advance(ids, ts, t1, wheel)
                if rows is not None:
                    self.trail.add_rows(rows)
            if self.social is not None:  # talks dated in the bucket act after its events
                self.social.advance(t0, t1)
            if self.progress is not None and t1 >= next_report:
                self.progress(t1)
                next_report = t1 + 1.0
            yield env.timeout(t1 - env.now)

    def awareness(self, t: float) -> float:
        """Mean effective awareness of all consumers at ``t`` (media lift included)."""
        base = self.population.awareness
        if self.media is None:
            return float(base.mean())
        return float(self.media.effective_awareness(base, t).mean())

    def _record_awareness(self, t: float) -> None:
        """Awareness time series: the mean at each period end, taken at the first bucket start
        at or after it (the horizon for the last period)."""
        led = self.ledger
        while self._awareness_period < led.n_periods:
            p = self._awareness_period
            end = min(led.warmup + (p + 1) * led.period, led.horizon)
            if end > t + 1e-9:
                return
            led.series[p, lg.TS_AWARENESS] = self.awareness(t)
            self._awareness_period += 1

    # ------------------------------------------------------------------ run

    def run(self) -> RunResult:
        """Run to the horizon and return the KPIs and ledger of this replication."""
        start = time.perf_counter()
        try:
            first = self.journey.start()
            self.calendar.schedule(*first)
            if self.media is not None:
                self.media.start(*first)
            if self.social is not None:
                self.social.start()
            self.inventory.start(self.env, self._record_order)
            if self.network is not None:
                self.network.start(self.env)
            if self.shocks is not None:  # habit persistence; before the clock (day-0 shocks)
                self.shocks.start(self.env, self.population.habit)
            self.env.process(self._consumer_clock())
            self.env.run(until=self.sc.horizon_days)
            self._record_awareness(self.sc.horizon_days)
            trail_rows = 0
            if self.trail is not None:
                self.trail.close()
                trail_rows = self.trail.rows_written
        except BaseException:
            if self.trail is not None:
                self.trail.abort()
            raise
        wall = time.perf_counter() - start
        media = self.media.ledger() if self.media is not None else None
        if media is not None:
            self.ledger.acc[lg.MEDIA_SPEND] = sum(media["spend"])
        # The membership programme's cost over the window (docs/model.md, "Members").
        programme = self.journey.membership
        acc = self.ledger.acc
        acc[lg.PROGRAMME_COST] = programme.programme_cost(self.sc, float(acc[lg.MEMBER_DAYS]))
        ledger = self.ledger.as_dict()
        pop = self.population
        # Customer lifecycle: fills the active-customer series, so before `as_dict`.
        lifecycle = self.journey.lifecycle.finish(self.ledger, pop.purchases_in_window)
        ledger = self.ledger.as_dict() | lifecycle
        ledger["consumers"] = pop.n
        ledger["buyers"] = int((pop.purchases_in_window > 0).sum())
        ledger["repeat_buyers"] = int((pop.purchases_in_window > 1).sum())
        bought = pop.purchases_in_window > 0
        before = pop.bought_before_window
        ledger["new_customers"] = int((bought & ~before).sum())
        ledger["returning_customers"] = int(
            (bought & (before | (pop.purchases_in_window > 1))).sum()
        )
        ledger["awareness_mean"] = self.awareness(self.sc.horizon_days)
        if media is not None:
            ledger["media"] = media
        ledger["member_share"] = float(pop.member.mean())
        ledger["final_rating"] = self.journey.rating().tolist()
        ledger["stage_counts"] = pop.stage_counts().tolist()
        ledger["channel_fixed_cost_per_day"] = float(self.channels.fixed_cost_per_day.sum())
        if self.social is not None:
            ledger["social"] = self.social.summary()
        if self.network is not None:
            sales = {col: self.ledger.node[:, j] for j, col in enumerate(lg.NODE_COLUMNS)}
            ledger["network"] = self.network.records(sales)
        if programme.on:
            ledger["membership"] = programme.records(pop.member)
        meta = {
            "channels": list(self.channels.names),
            "nodes": list(self.inventory.names),
            "prior_rating": self.sc.journey.reviews.prior_rating,
            "channel_types": [c.type.value for c in self.sc.channels],  # online share KPIs
        }
        if self.shocks is not None:  # shocks: the spans of the before/during/after KPIs
            meta["shocks"] = self.shocks.spans()
        if programme.fee.any():
            meta["delivery_fees"] = True
        final = {
            "stages": dict(zip(STAGE_NAMES, ledger["stage_counts"], strict=True)),
            "rating": dict(zip(self.channels.names, ledger["final_rating"], strict=True)),
            "stock": dict(zip(self.inventory.names, self.inventory.stock.tolist(), strict=True)),
            "pending_events": len(self.calendar) - (self.media.stale if self.media else 0),
        }
        return RunResult(
            replication=self.replication,
            kpis=compute_kpis(ledger, meta),
            ledger=ledger | {"meta": meta},
            events=self.journey.events,
            wall_seconds=wall,
            trail_rows=trail_rows,
            final=final,
        )


def simulate_replication(
    scenario: Scenario,
    replication: int = 0,
    seed: int | None = None,
    trail_path: str | Path | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run one replication (a convenience around `Simulation`)."""
    return Simulation(scenario, replication, seed, trail_path, progress).run()


def stage_total(result: RunResult) -> int:
    return int(np.sum(result.ledger["stage_counts"]))
