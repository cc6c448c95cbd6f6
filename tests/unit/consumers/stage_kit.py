"""A hand-built journey kernel for the stage tests: a tiny market of a few consumers and three
channels (a store, a platform, a livestream), made by the real wiring (`Simulation`) so the
`Kernel` has the live numba type, then set field by field by each test.

A module (not only a conftest) so that tests can import its names and type hints; its name is
unique on ``sys.path`` (pytest puts this folder there, and ``tests`` for `builders`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from omnisim.consumers.kernel import (
    N_HEAP,
    N_TRAIL_ROWS,
    Kernel,
    Schedule,
    SegmentState,
    Weights,
    new_counters,
)
from omnisim.engine import trail as tr
from omnisim.engine.buckets import P_BUCKET_END, EventCalendar
from omnisim.engine.state import build
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation

CONSUMERS = 4
WARMUP, HORIZON = 10.0, 100.0
LIST_PRICE = 200.0
# Channel numbers (scenario order) and node numbers.
STORE, PLATFORM, LIVE = 0, 1, 2
S_NORTH, DC = 0, 1
NORTH, SOUTH = 0, 1
# The livestream's sessions: every 7 days from day 0 at 20:00 for 3 hours, 15 % off.
SESSION_EVERY, SESSION_START, SESSION_HOURS, SESSION_DISCOUNT = 7.0, 20.0 / 24.0, 3.0, 0.15
ROOM = 64  # heap and trail rows: a stage writes a handful


def market() -> dict[str, Any]:
    """The tiny market as a scenario dict: two regions, one segment, a store only in the north
    (so a southern consumer has none), a platform and a livestream shipped from one warehouse,
    and two overlapping promotions on the platform (their cuts compound) and one on the
    livestream."""
    return {
        "name": "stage-tests",
        "horizon_days": HORIZON,
        "warmup_days": WARMUP,
        "seed": 11,
        "replications": 1,
        "market": {
            "consumers": CONSUMERS,
            "regions": [
                {"name": "north", "population_share": 0.5},
                {"name": "south", "population_share": 0.5},
            ],
            "distance_days": {"north": {"north": 1.0, "south": 2.0}, "south": {"south": 1.0}},
        },
        "product": {"list_price": LIST_PRICE, "unit_cost": 70.0},
        "segments": [
            {
                "name": "only",
                "share": 1.0,
                "need": {"mean_interval_days": 30, "cv": 0.5, "basket_mean_units": 1.5},
                "awareness": 0.5,
                # No forgetting, so that each stage's arithmetic is its own (the memory tests
                # switch it on: test_memory.py).
                "awareness_half_life_days": None,
                "habit_half_life_days": None,
            }
        ],
        "channels": [
            {
                "name": "store",
                "type": "own_store",
                "nodes": ["s_north"],
                "member_discount": 0.12,
                "service_quality": 0.25,
            },
            {
                "name": "platform",
                "type": "platform",
                "nodes": ["dc"],
                "price_index": 0.9,
                "commission": 0.08,
                "order_cost": 12.0,
                "recognises_membership": False,
            },
            {
                "name": "live",
                "type": "livestream",
                "nodes": ["dc"],
                "price_index": 0.95,
                "commission": 0.05,
                "intermediary_margin": 0.1,
                "order_cost": 7.0,
                "service_quality": -0.5,
                "sessions": {
                    "every_days": SESSION_EVERY,
                    "start_hour": 20,
                    "duration_hours": SESSION_HOURS,
                    "discount": SESSION_DISCOUNT,
                },
                "recognises_membership": False,
            },
        ],
        "nodes": [
            {
                "name": "s_north",
                "kind": "store",
                "region": "north",
                "replenishment": {"review_days": 7, "lead_time_days": 2, "order_up_to": 50},
            },
            {
                "name": "dc",
                "kind": "warehouse",
                "region": "north",
                "replenishment": {"review_days": 7, "lead_time_days": 4, "order_up_to": 500},
            },
        ],
        "promotions": [
            {
                "name": "big",
                "start_day": 40,
                "end_day": 50,
                "discount": 0.2,
                "channels": ["platform"],
            },
            {
                "name": "small",
                "start_day": 45,
                "end_day": 60,
                "discount": 0.1,
                "channels": ["platform", "live"],
            },
        ],
    }


def kernel() -> Kernel:
    """A fresh kernel of the tiny market (its arrays are the test's to set)."""
    sc = Scenario.model_validate(market())
    return Simulation(sc, 0, sc.seed).journey.kernel


def with_weights(k: Kernel, **values: float | bool) -> Kernel:
    """``k`` with some behavioural weights replaced (checked and converted by `build`, so a
    scalar keeps its kind and the compiled stage its one type)."""
    return k._replace(weights=build(Weights, **{**k.weights._asdict(), **values}))


def segment(k: Kernel, s: int, **values: float) -> None:
    """Set segment ``s``'s behaviour in place (its arrays are the kernel's)."""
    seg: SegmentState = k.seg
    for name, v in values.items():
        getattr(seg, name)[s] = v


class Bench(NamedTuple):
    """What a stage writes besides the kernel: its next events, trail rows and counters."""

    sched: Schedule
    trail: tr.Rows
    counts: np.ndarray

    def scheduled(self) -> list[tuple[int, float]]:
        """(consumer, time) of the events the stage scheduled (all in the heap: see `bench`)."""
        n = int(self.counts[N_HEAP])
        return sorted(
            zip(self.sched.heap_ids[:n].tolist(), self.sched.heap_t[:n].tolist(), strict=True)
        )

    def rows(self) -> list[tuple[str, int, int, int, float]]:
        """The trail rows written: (event name, consumer, channel, units, value)."""
        n = int(self.counts[N_TRAIL_ROWS])
        t = self.trail
        return [
            (
                tr.EVENTS[int(t.event[r])],
                int(t.consumer[r]),
                int(t.channel[r]),
                int(t.units[r]),
                float(t.value[r]),
            )
            for r in range(n)
        ]

    def events(self) -> list[str]:
        """The names of the trail rows written, in order."""
        return [r[0] for r in self.rows()]


def bench() -> Bench:
    """A `Schedule`, trail `Rows` and counters as `Journey.advance` makes them, with the
    current bucket ending at infinity: every event a stage schedules lands in the heap, where
    a test reads it (the calendar's wheel is the real one, never reached)."""
    wheel = EventCalendar(CONSUMERS, 1.0 / 24.0, HORIZON).wheel()
    wheel.params[P_BUCKET_END] = np.inf
    sched = Schedule(np.empty(ROOM, dtype=np.int64), np.empty(ROOM), wheel, np.empty(0))
    return Bench(sched, tr.empty_rows(ROOM), new_counters())
