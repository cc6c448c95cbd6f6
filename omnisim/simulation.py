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

import math
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
from omnisim.consumers import heterogeneity
from omnisim.consumers.journey import Journey
from omnisim.consumers.needs import GRID_DAYS, NeedClock
from omnisim.consumers.population import STAGE_NAMES, Population, bytes_per_consumer
from omnisim.engine import ledger as lg
from omnisim.engine import memory
from omnisim.engine.buckets import PAGE, EventCalendar
from omnisim.engine.ledger import Ledger
from omnisim.engine.streams import SUPPLY, Streams
from omnisim.engine.trail import TrailWriter
from omnisim.market.shocks import Shocks, fold_need_rate, snapshot_bytes_per_consumer
from omnisim.marketing import media as media_plan
from omnisim.marketing.social import WordOfMouth, social_bytes
from omnisim.metrics.kpis import compute_kpis
from omnisim.scenario.schema import MAX_CONSUMERS, Scenario, cross_reference_problems
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


BASE_BYTES = 64 * 2**20
"""Memory a run needs whatever the scenario (bytes): interpreter, compiled kernels, SimPy."""
CALENDAR_BUCKET_BYTES = 12
"""Event calendar per time bucket (bytes): its head page and its last page with its fill."""
CALENDAR_PAGE_BYTES = PAGE * (4 + 8) + 4 + 4
"""One page of the event calendar (bytes): PAGE ids and times, its link and free-stack slot."""
SERIES_RUN_BYTES = 8 + 8
"""Time series per period and column while a replication runs (bytes): the ledger's array and
its copy when the run ends."""
SERIES_KEPT_BYTES = 150
"""Time series per period and cell of timeseries.csv, per replication kept (bytes): a Python
float in the ledger's list, the row dict of the CSV and its text."""


@dataclass(frozen=True)
class MemoryPart:
    """One part of a run's planned memory: what it is, the fields it grows with, its bytes."""

    what: str
    fields: tuple[str, ...]
    bytes: int


def _need_rate_range(sc: Scenario) -> tuple[float, float, int]:
    """Sum and smallest positive value of the need-rate multiplier over the need clock's
    hourly cells, and the number of cells: as `omnisim.consumers.needs.NeedClock` builds them
    (kept in step with it), whose inverse look-up has about sum / min entries."""
    cells = int((sc.horizon_days + 1.0) / GRID_DAYS) + 2
    amp = sc.seasonality.amplitude
    if cells > 20_000_000:  # only for a scenario built in code past the schema's bounds
        # Without building the grid: bound the multiplier's range by every factor at once.
        hi, lo = 1.0 + amp, 1.0 - amp
        for g in [p.need_multiplier for p in sc.promotions] + [
            k.need_multiplier for k in sc.shocks
        ]:
            hi, lo = hi * max(g, 1.0), lo * min(g, 1.0)
        return hi * cells, lo, cells
    grid = np.arange(0.0, sc.horizon_days + 1.0 + GRID_DAYS, GRID_DAYS)
    mid = grid[:-1] + 0.5 * GRID_DAYS
    rate = 1.0 + amp * np.cos(2.0 * np.pi * (mid - sc.seasonality.peak_day) / 365.0)
    for promo in sc.promotions:
        rate = np.where(
            (mid >= promo.start_day) & (mid < promo.end_day), rate * promo.need_multiplier, rate
        )
    rate = fold_need_rate(sc.shocks, mid, rate)
    positive = rate[rate > 0]
    return float(rate.sum()), float(positive.min()) if len(positive) else 1.0, len(grid)


def _need_rate_fields(sc: Scenario) -> tuple[str, ...]:
    """The fields that make the need rate vary (and so the need clock's look-up grow)."""
    out = ["seasonality.amplitude"] if sc.seasonality.amplitude > 0 else []
    out += [f"promotions.{p.name}.need_multiplier" for p in sc.promotions if p.need_multiplier != 1]
    out += [f"shocks.{k.name}.need_multiplier" for k in sc.shocks if k.need_multiplier != 1]
    return tuple(out)


def memory_parts(sc: Scenario) -> list[MemoryPart]:
    """The parts of a run's planned memory that grow with the scenario, largest first: every
    array sized by consumers, time buckets, need-clock cells, time-series periods, store
    servers and waiting rooms, basket sizes (BASE_BYTES comes on top)."""
    n = sc.market.consumers
    parts: list[MemoryPart] = []
    # Consumers: state, habits, calendar entries, the media plan's and the shocks' arrays, and
    # word of mouth (graph CSR, KOL followers, state).
    per_consumer = bytes_per_consumer(len(sc.channels))
    per_consumer += media_plan.bytes_per_consumer(sc)
    per_consumer += snapshot_bytes_per_consumer(sc)
    per_consumer += memory.bytes_per_consumer(sc)
    per_consumer += heterogeneity.bytes_per_consumer(sc)
    fields = ("market.consumers",) if sc.social is None else ("market.consumers", "social")
    parts.append(MemoryPart(f"{n:,} consumers", fields, n * per_consumer + social_bytes(sc)))
    # Event calendar: a slot per time bucket, and a page for each non-empty one.
    dt = sc.engine.bucket_hours / 24.0
    buckets = max(1, math.ceil(sc.horizon_days / dt - 1e-9))
    parts.append(
        MemoryPart(
            f"{buckets:,} time buckets ({sc.horizon_days:g} days of {sc.engine.bucket_hours:g} "
            "hours)",
            ("horizon_days", "engine.bucket_hours"),
            buckets * CALENDAR_BUCKET_BYTES + min(buckets, n) * CALENDAR_PAGE_BYTES,
        )
    )
    # Need clock: grid, midpoints, rate, cumulative rate and temporaries (7 arrays of floats per
    # hourly cell), and its inverse look-up (marks, search result and clipped copy at peak).
    total, low, cells = _need_rate_range(sc)
    entries = int(min(total / low, 2.0**62)) + 2
    fields = ("horizon_days", *_need_rate_fields(sc)) if entries > 2 * cells else ("horizon_days",)
    parts.append(
        MemoryPart(
            f"the need clock ({cells:,} hourly cells, a look-up of {entries:,} entries)",
            fields,
            7 * 8 * cells + 3 * 8 * entries,
        )
    )
    # Time series: ledger arrays while a replication runs, and per replication kept the
    # ledger's lists and the rows of timeseries.csv.
    led_cols = len(lg.SERIES_COLUMNS) + len(sc.channels)
    csv_cells = 4 + len(lg.SERIES_COLUMNS) + 2 * len(sc.channels)
    window = sc.horizon_days - sc.warmup_days
    periods = max(1, math.ceil(window / sc.engine.timeseries_days))
    per_period = SERIES_RUN_BYTES * (led_cols + 1) + sc.replications * SERIES_KEPT_BYTES * (
        led_cols + csv_cells
    )
    parts.append(
        MemoryPart(
            f"{periods:,} time-series periods ({window:g} days of "
            f"{sc.engine.timeseries_days:g} days, {sc.replications} replications kept)",
            ("horizon_days", "engine.timeseries_days", "replications"),
            periods * per_period,
        )
    )
    # Store queues: each node's servers' free times and the ring of waiting customers, both as
    # wide as the largest store's.
    services = [(node, sc.node_service(node)) for node in sc.nodes]
    stores = [(node, svc) for node, svc in services if svc is not None]
    if stores:
        node, svc = max(stores, key=lambda x: x[1].servers)
        parts.append(
            MemoryPart(
                f"store service ({len(sc.nodes):,} nodes x {svc.servers:,} servers)",
                (f"nodes.{node.name}.service.servers",),
                8 * len(sc.nodes) * svc.servers,
            )
        )
        rooms = [(node, svc.waiting_room) for node, svc in stores if svc.waiting_room is not None]
        if rooms:
            node, room = max(rooms, key=lambda x: x[1])
            parts.append(
                MemoryPart(
                    f"store waiting rooms ({len(sc.nodes):,} nodes x {room:,} places)",
                    (f"nodes.{node.name}.service.waiting_room",),
                    8 * len(sc.nodes) * max(room, 1),
                )
            )
    # Basket sizes: a Poisson CDF table per segment, as long as 6 x the largest mean + 20.
    seg = max(sc.segments, key=lambda s: s.need.basket_mean_units)
    width = int(max(10, (seg.need.basket_mean_units - 1.0) * 6 + 20))
    parts.append(
        MemoryPart(
            f"basket-size tables ({len(sc.segments)} segments x {width:,} sizes)",
            (f"segments.{seg.name}.need.basket_mean_units",),
            8 * (len(sc.segments) + 2) * width,
        )
    )
    return sorted(parts, key=lambda p: -p.bytes)


def planned_memory(sc: Scenario) -> int:
    """Bytes a run of ``sc`` plans to use at peak: `memory_parts` plus BASE_BYTES."""
    return sum(p.bytes for p in memory_parts(sc)) + BASE_BYTES


def _size(b: float) -> str:
    """Bytes as GiB, or as MiB below 1 GiB (so that a small part does not read "0.0 GiB")."""
    return f"{b / 2**30:,.1f} GiB" if b >= 2**30 else f"{b / 2**20:,.0f} MiB"


def ensure_memory(sc: Scenario, available: int | None = None) -> None:
    """Refuse up front a scenario too large for the machine, with the estimate and the fields
    responsible: the largest parts of `memory_parts` that together exceed the limit. More
    consumers than the engine's 32-bit ids can number are refused whatever the machine."""
    parts = memory_parts(sc)
    need = sum(p.bytes for p in parts) + BASE_BYTES
    have = available_memory() if available is None else available
    limit = have * sc.engine.memory_fraction
    share = f"{100 * sc.engine.memory_fraction:g}% of {_size(have)} available"
    if need <= limit:
        if sc.market.consumers > MAX_CONSUMERS:
            raise MemoryRefused(
                f"market.consumers: {sc.market.consumers:,} consumers, more than the "
                f"{MAX_CONSUMERS:,} a run can hold (32-bit consumer ids)"
            )
        return
    if need - BASE_BYTES <= BASE_BYTES:
        # The scenario itself is small: what is too small is the share it may use.
        raise MemoryRefused(
            f"engine.memory_fraction: {share} leaves {_size(limit)}, less than the "
            f"{_size(need)} even this small run needs"
        )
    named: list[MemoryPart] = []
    rest = need
    for part in parts:  # the largest first, until what is left would fit (at most three)
        named.append(part)
        rest -= part.bytes
        if rest <= limit or len(named) == 3:
            break
    fields = ", ".join(dict.fromkeys(f for p in named for f in p.fields))
    what = "; ".join(f"{p.what} need about {_size(p.bytes)}" for p in named)
    raise MemoryRefused(
        f"{fields}: {what}; in all a run needs about {_size(need)}, more than the "
        f"{_size(limit)} this machine can give a run ({share}, engine.memory_fraction)"
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
        # draws use the `supply` stream's key, which nothing else draws from.
        self.network = (
            SupplyNetwork(
                sc,
                self.inventory,
                self.streams.keys[SUPPLY],
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
        # Forgetting of awareness and habits (omnisim/engine/memory.py), shared by the journey,
        # word of mouth and the shocks' habit persistence.
        pop = self.population
        self.memory = memory.memory_state(sc, pop.n, self.channels.names)
        forget = (self.memory, pop.segment, pop.habit)
        # Word of mouth (omnisim/marketing/social.py): its graph is the `social` stream's
        # first draws, the same for every strategy; its `SocialState` is the journey kernel's
        # ``k.social``.
        self.social = (
            WordOfMouth(
                sc,
                self.population.awareness,
                self.streams.keys,
                self.streams.generator("social"),
                self.ledger,
                forget,
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
            self.social.state() if self.social is not None else None,
            self.shocks,
            self.memory,
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
        """Mean effective awareness of all consumers at ``t`` (forgetting and media lift
        included)."""
        pop = self.population
        base = memory.awareness_at(t, self.memory, pop.segment, pop.awareness)
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
                pop = self.population
                self.shocks.start(self.env, pop.habit, (self.memory, pop.segment, pop.awareness))
            self.env.process(self._consumer_clock())
            self.env.run(until=self.sc.horizon_days)
            self.journey.finish()
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
