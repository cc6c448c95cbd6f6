"""Shocks: time-bounded changes of the market (an epidemic, a lockdown, a logistics strike) with
habit persistence after they end.

Settings come from the scenario's ``shocks:`` list (`omnisim.scenario.schema.Shock`); equations
are in ``docs/model.md``, section "Shocks", and the KPIs in ``docs/outputs.md``. While shock
``k`` lasts, ``start_k <= t < end_k``:

* the need rate ``m(t)`` is multiplied by ``need_multiplier_k`` (`fold_need_rate`, folded into
  `omnisim.consumers.needs.NeedClock`'s tabulated operational clock like a promotion's);
* the odds of considering channel ``c`` at a search are multiplied by ``M_kc`` (the ``traffic``
  entry of the channel's name, else of its type, else 1): the journey kernel adds
  `log_traffic` = ``ln M_kc`` to the logit of the consideration probability;
* competitors' prices are multiplied by ``competitor_price_multiplier_k``: the outside
  option's utility follows (`log_competitor_price`, `omnisim.market.competition`);
* lead times of shipments started during the shock are multiplied by
  ``lead_time_multiplier_k``: online deliveries in the kernel (`lead_factor`), brand
  replenishment (`omnisim.supply.inventory`) and dealer-network shipments
  (`omnisim.supply.network`) through `Shocks.lead_multiplier`;
* at ``start_k`` every consumer's channel habits are copied, and at ``end_k`` they are set to
  ``snapshot + p_k (habit - snapshot)`` (`Shocks.start`, one SimPy process per shock).

Shocks may not overlap (the scenario's cross-reference checks refuse it), so at most one is
active at any time.

The kernel reads a `ShockState` (`Shocks.state`; `off` without shocks): the K shocks' spans,
log traffic multipliers and lead-time multipliers. K = 0 without shocks: every helper then
returns the neutral value (0 or 1) at once, and the state has the same numba type, so the kernel
is compiled once for both cases.

Per-consumer memory: nothing permanent; while a shock with ``habit_persistence < 1`` lasts, the
habit snapshot, 4 bytes per channel (float32, exact), or 2 bytes per channel (uint16, habits
rounded to 1/65535) in markets of more than `EXACT_SNAPSHOT_CHANNELS` channels, so that it
stays within 40 bytes a consumer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import simpy
from numba import njit
from simpy.events import URGENT

from omnisim.engine import state as ks
from omnisim.engine.memory import MemoryState, recall_all
from omnisim.engine.state import F64
from omnisim.scenario.schema import Scenario, Shock

if TYPE_CHECKING:
    from collections.abc import Generator

# Up to this many channels the habit snapshot is float32 (exact); beyond, uint16.
EXACT_SNAPSHOT_CHANNELS = 10
_QUANT = 65535.0  # uint16 snapshot: habit h is stored as round(h * 65535)
_CHUNK = 1 << 16  # consumers per slice when habits are restored (small temporaries)


def fold_need_rate(shocks: list[Shock], mid: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """The need-rate multiplier ``rate`` on the grid cells whose midpoints are ``mid``, times
    each shock's ``need_multiplier`` on the cells whose midpoint it covers (as promotions)."""
    for s in shocks:
        rate = np.where((mid >= s.start_day) & (mid < s.end_day), rate * s.need_multiplier, rate)
    return rate


def traffic_multipliers(sc: Scenario) -> np.ndarray:
    """(K shocks x C channels) odds multipliers ``M_kc``, shocks in scenario order: the entry of
    the channel's name, else of its type, else 1."""
    out = np.ones((len(sc.shocks), len(sc.channels)))
    for k, s in enumerate(sc.shocks):
        for c, ch in enumerate(sc.channels):
            out[k, c] = s.traffic.get(ch.name, s.traffic.get(ch.type.value, 1.0))
    return out


def snapshot_bytes_per_consumer(sc: Scenario) -> int:
    """Planned bytes per consumer of the habit snapshot (0 when no shock needs one)."""
    if not any(s.habit_persistence < 1.0 for s in sc.shocks):
        return 0
    c = len(sc.channels)
    return 4 * c if c <= EXACT_SNAPSHOT_CHANNELS else 2 * c


class ShockState(NamedTuple):
    """The shocks as the journey kernel reads them (K shocks, sorted by start)."""

    start: F64[1]  # span [start, end) of each shock (days)
    end: F64[1]
    log_traffic: F64[2]  # shock x channel: ln M_kc, 0 where the shock leaves the channel alone
    lead: F64[1]  # lead-time multiplier of shipments started in the shock
    log_competitor: F64[1]  # ln of the multiplier on competitors' prices in the shock


def off() -> ShockState:
    """The kernel state without shocks (K = 0)."""
    return ks.off(ShockState)


class Shocks:
    """The scenario's shocks, resolved to arrays, and their habit-persistence processes."""

    def __init__(self, sc: Scenario) -> None:
        order = sorted(range(len(sc.shocks)), key=lambda k: sc.shocks[k].start_day)
        self.shocks = [sc.shocks[k] for k in order]
        self.horizon = sc.horizon_days
        self.start_day = np.array([s.start_day for s in self.shocks], dtype=np.float64)
        self.end_day = np.array([s.end_day for s in self.shocks], dtype=np.float64)
        self.log_traffic = np.log(traffic_multipliers(sc)[order])
        self.lead = np.array([s.lead_time_multiplier for s in self.shocks], dtype=np.float64)
        self.log_competitor = np.log(
            np.array([s.competitor_price_multiplier for s in self.shocks], dtype=np.float64)
        )
        self.n_channels = len(sc.channels)

    def state(self) -> ShockState:
        """The shocks' kernel state."""
        return ks.build(
            ShockState,
            start=self.start_day,
            end=self.end_day,
            log_traffic=self.log_traffic,
            lead=self.lead,
            log_competitor=self.log_competitor,
        )

    def spans(self) -> list[dict]:
        """Name and span of each shock, in time order (for the KPIs' ``meta``)."""
        return [
            {"name": s.name, "start_day": s.start_day, "end_day": s.end_day} for s in self.shocks
        ]

    def lead_multiplier(self, t: float) -> float:
        """Lead-time multiplier of a shipment started at ``t`` (1 outside every shock)."""
        for k in range(len(self.shocks)):
            if self.start_day[k] <= t < self.end_day[k]:
                return float(self.lead[k])
        return 1.0

    # ------------------------------------------------------------------ habit persistence

    def start(
        self,
        env: simpy.Environment,
        habit: np.ndarray,
        forget: tuple[MemoryState, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Start one habit-persistence process per shock that ends before the horizon and does
        not keep all of the change (``habit_persistence < 1``) or shifts the segments' habit
        levels (``habit_norm_shift > 0``). ``forget``: (the consumers' forgetting, segment per
        consumer, awareness), so that habits are taken as of the instant. Call before the
        consumer clock starts, so that a shock starting at day 0 sees the initial habits."""
        for s in self.shocks:
            acts = s.habit_persistence < 1.0 or s.habit_norm_shift > 0.0
            if acts and s.end_day < self.horizon:
                env.process(self._persist(env, s, habit, forget))

    def _persist(self, env: simpy.Environment, s: Shock, habit: np.ndarray, forget) -> Generator:
        """Snapshot the habits at the shock's start; at its end move the segments' habit levels
        by ``habit_norm_shift`` of their mean change and keep the share ``habit_persistence``
        of each consumer's change. Both happen before the consumer events of that instant
        (urgent events), i.e. at the first bucket boundary at or after the day."""
        if s.start_day > env.now:
            yield _urgent(env, s.start_day - env.now)
        if forget is not None:
            recall_all(env.now, forget[0], forget[1], forget[2], habit)
        snap = take_snapshot(habit)
        yield _urgent(env, s.end_day - env.now)
        if forget is not None:
            mem, segment, awareness = forget
            recall_all(env.now, mem, segment, awareness, habit)
            if s.habit_norm_shift > 0.0 and mem.on:
                shift_levels(mem.habit_level, habit, snap, segment, s.habit_norm_shift)
        restore(habit, snap, s.habit_persistence)


def _urgent(env: simpy.Environment, delay: float) -> simpy.Event:
    ev = env.event()
    ev._ok = True
    ev._value = None
    env.schedule(ev, URGENT, delay)
    return ev


def take_snapshot(habit: np.ndarray) -> np.ndarray:
    """A copy of the habits: float32 (exact), or uint16 (rounded to 1/65535) beyond
    `EXACT_SNAPSHOT_CHANNELS` channels."""
    if habit.shape[1] <= EXACT_SNAPSHOT_CHANNELS:
        return habit.copy()
    snap = np.empty(habit.shape, dtype=np.uint16)
    for a in range(0, habit.shape[0], _CHUNK):
        snap[a : a + _CHUNK] = np.rint(habit[a : a + _CHUNK] * np.float32(_QUANT))
    return snap


def shift_levels(
    level: np.ndarray, habit: np.ndarray, snap: np.ndarray, segment: np.ndarray, q: float
) -> None:
    """The new normal: each segment's habit level (``level``, segment x channel) moves by ``q``
    times its consumers' mean habit change since ``snap``, within [0, 1] (in place)."""
    n_seg = level.shape[0]
    count = np.bincount(segment, minlength=n_seg).astype(np.float64)
    change = np.zeros(level.shape)
    for a in range(0, habit.shape[0], _CHUNK):
        s = snap[a : a + _CHUNK]
        if s.dtype == np.uint16:
            s = s.astype(np.float32) / np.float32(_QUANT)
        d = habit[a : a + _CHUNK].astype(np.float64) - s
        np.add.at(change, segment[a : a + _CHUNK], d)
    mean = change / np.maximum(count, 1.0)[:, None]
    np.clip(level + q * mean, 0.0, 1.0, out=level)


def restore(habit: np.ndarray, snap: np.ndarray, p: float) -> None:
    """``habit = snap + p (habit - snap)`` in place, slice by slice (p = 0: the snapshot
    exactly, for a float32 snapshot; p = 1: habits unchanged)."""
    if p >= 1.0:
        return
    p32 = np.float32(p)
    for a in range(0, habit.shape[0], _CHUNK):
        h = habit[a : a + _CHUNK]
        s = snap[a : a + _CHUNK]
        if s.dtype == np.uint16:
            s = s.astype(np.float32) / np.float32(_QUANT)
        if p == 0.0:
            h[:] = s
        else:
            h -= s
            h *= p32
            h += s
            np.clip(h, 0.0, 1.0, out=h)


# ------------------------------------------------------------------------------------------
# Compiled helpers the journey kernel calls (``sh`` is the `ShockState`, the
# journey kernel's ``k.shocks``).


@njit(cache=True, inline="always", _nrt=False)
def active(t, sh):
    """Index of the shock active at ``t``, or -1."""
    start, end = sh.start, sh.end
    for k in range(start.shape[0]):
        if start[k] <= t < end[k]:
            return k
    return -1


@njit(cache=True, inline="always", _nrt=False)
def log_traffic(c, t, sh):
    """``ln M_c(t)``: the log odds multiplier of considering channel ``c`` at ``t`` (0.0 outside
    every shock)."""
    k = active(t, sh)
    return sh.log_traffic[k, c] if k >= 0 else 0.0


@njit(cache=True, inline="always", _nrt=False)
def lead_factor(t, sh):
    """Lead-time multiplier of an online order placed at ``t`` (1.0 outside every shock)."""
    k = active(t, sh)
    return sh.lead[k] if k >= 0 else 1.0


@njit(cache=True, inline="always", _nrt=False)
def log_competitor_price(t, sh):
    """ln of the multiplier on competitors' prices at ``t`` (0.0 outside every shock)."""
    k = active(t, sh)
    return sh.log_competitor[k] if k >= 0 else 0.0
