"""Consumer memory: awareness and channel habits fade toward their segment's levels.

Between the moments something refreshes them (a purchase, a use, a word-of-mouth talk, a
habit's learning), consumer ``i``'s stored awareness ``a_i`` and habits ``h_ic`` revert
exponentially toward their segment's levels (docs/model.md, "Memory: forgetting"):

    a_i(t)  = ā_s  + (a_i(t0)  - ā_s)  · exp(-ln2 (t - t0) / H_a,s)
    h_ic(t) = h̄_sc + (h_ic(t0) - h̄_sc) · exp(-ln2 (t - t0) / H_h,s)

The state is kept lazily: the arrays hold the values as of the consumer's own time ``t0``
(`MemoryState.since`), and `recall` brings them to ``t`` when a mechanism reads or changes
them. It is ground (engine) state because the journey and word of mouth both change awareness,
and neither package may import the other's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine.state import F32, F64, Int, build, off
from omnisim.scenario.schema import Scenario

LN2 = math.log(2.0)


class MemoryState(NamedTuple):
    """Forgetting of awareness and habits (docs/model.md, "Memory: forgetting")."""

    on: Int  # 1 when some segment forgets (a finite half-life)
    since: F32[1]  # per consumer: the time their awareness and habits are stored as of (days)
    aware_level: F64[1]  # per segment: ā_s, the level awareness reverts to (probability)
    aware_rate: F64[1]  # per segment: ln2 / H_a (1 / days; 0: never forgets)
    habit_level: F64[2]  # segment x channel: h̄_sc, the level habits revert to, in [0, 1]
    habit_rate: F64[1]  # per segment: ln2 / H_h (1 / days; 0: never forgets)


def _rate(half_life: float | None) -> float:
    return 0.0 if half_life is None else LN2 / half_life


def memory_state(sc: Scenario, n: int, channel_names: tuple[str, ...]) -> MemoryState:
    """The scenario's forgetting for ``n`` consumers (the "off" form when nothing forgets)."""
    segs = sc.segments
    aware_rate = np.array([_rate(s.awareness_half_life_days) for s in segs])
    habit_rate = np.array([_rate(s.habit_half_life_days) for s in segs])
    if not (aware_rate > 0).any() and not (habit_rate > 0).any():
        return off(MemoryState)
    return build(
        MemoryState,
        on=1,
        since=np.zeros(n, dtype=np.float32),
        aware_level=np.array([s.awareness for s in segs], dtype=np.float64),
        aware_rate=aware_rate,
        habit_level=np.array(
            [[s.habits.get(c, 0.0) for c in channel_names] for s in segs], dtype=np.float64
        ),
        habit_rate=habit_rate,
    )


def bytes_per_consumer(sc: Scenario) -> int:
    """Planned memory per consumer (bytes): the time of the stored values, when any forget."""
    forgets = any(
        s.awareness_half_life_days is not None or s.habit_half_life_days is not None
        for s in sc.segments
    )
    return 4 if forgets else 0


@njit(cache=True, inline="always", _nrt=False)
def recall(i, t, mem, segment, awareness, habit) -> None:
    """Bring consumer ``i``'s awareness and habits to time ``t`` (days): the values stored as of
    their own time revert toward the segment's levels over the time since (in place)."""
    if mem.on == 0:
        return
    dt = t - mem.since[i]
    if dt <= 0.0:
        return
    mem.since[i] = t
    s = segment[i]
    ra = mem.aware_rate[s]
    if ra > 0.0:
        lvl = mem.aware_level[s]
        awareness[i] = lvl + (awareness[i] - lvl) * np.exp(-ra * dt)
    rh = mem.habit_rate[s]
    if rh > 0.0:
        keep = np.exp(-rh * dt)
        lv = mem.habit_level[s]
        for c in range(habit.shape[1]):
            habit[i, c] = lv[c] + (habit[i, c] - lv[c]) * keep


# Below this decay factor since the stored time, `lift_awareness` recalls instead (its stored
# value would be the current one divided by the factor: 1e6 at most keeps float32 exact enough).
MIN_DECAY = 1e-6


@njit(cache=True, inline="always", _nrt=False)
def lift_awareness(i, t, lift, mem, segment, awareness, habit) -> float:
    """Raise consumer ``i``'s awareness at ``t`` by ``lift`` of the gap to 1 (a word-of-mouth
    talk; in place) and return it. Their habits are left as they are stored, and so is their
    time ``t0``: the stored awareness becomes the value as of ``t0`` whose reversion gives the
    lifted value at ``t``, ``ā + (a(t) + lift (1 − a(t)) − ā) / E`` with ``E = exp(−r (t − t0))``
    (the same law as a `recall` followed by the lift, without touching the habit row, which a
    talk does not need; with ``E`` below `MIN_DECAY`, a `recall` then the lift)."""
    if mem.on == 0 or mem.aware_rate[segment[i]] == 0.0 or t <= mem.since[i]:
        a = awareness[i]
        a = 1.0 if lift >= 1.0 else a + lift * (1.0 - a)
        awareness[i] = a
        return a
    s = segment[i]
    lvl = mem.aware_level[s]
    e = np.exp(-mem.aware_rate[s] * (t - mem.since[i]))
    if e < MIN_DECAY:
        recall(i, t, mem, segment, awareness, habit)
        a = awareness[i]
        a = 1.0 if lift >= 1.0 else a + lift * (1.0 - a)
        awareness[i] = a
        return a
    now = lvl + (awareness[i] - lvl) * e
    new = 1.0 if lift >= 1.0 else now + lift * (1.0 - now)
    awareness[i] = lvl + (new - lvl) / e
    return new


@njit(cache=True)
def recall_all(t, mem, segment, awareness, habit) -> None:
    """`recall` every consumer to ``t`` (days): before a step that acts on all habits at once
    (a shock's snapshot and restore)."""
    for i in range(segment.shape[0]):
        recall(i, t, mem, segment, awareness, habit)


def awareness_at(t: float, mem: MemoryState, segment: np.ndarray, awareness: np.ndarray):
    """Every consumer's awareness at ``t`` (days), without changing the stored values."""
    if mem.on == 0:
        return awareness
    out = np.empty(awareness.shape[0])
    _awareness_at(float(t), mem.since, mem.aware_level, mem.aware_rate, segment, awareness, out)
    return out


@njit(cache=True)
def _awareness_at(t, since, level, rate, segment, awareness, out) -> None:
    """`awareness_at` into ``out``, one pass (the period-end awareness series reads a million
    consumers each period: numpy's temporaries cost several times the arithmetic)."""
    for i in range(out.shape[0]):
        s = segment[i]
        dt = t - since[i]
        lvl = level[s]
        out[i] = lvl + (awareness[i] - lvl) * np.exp(-rate[s] * dt) if dt > 0.0 else awareness[i]
