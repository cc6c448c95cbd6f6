"""The consumer event calendar: a timing wheel with one bucket per time step.

Each consumer has exactly one pending event (the next stage of their journey), so the calendar
needs no heap of a million entries: per consumer it stores the event time and a link to the
next consumer in the same bucket (an intrusive singly linked list), and per bucket the head of
its list. Scheduling is O(1); handing out a bucket walks its list and sorts it by time (a few
thousand entries at most). Both run compiled, and the journey kernel inserts into the wheel
directly. Events at or after the horizon are dropped (they would never run).

Memory: 12 bytes per consumer (in the consumer records) plus 8 bytes per bucket.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NONE = -1


class EventCalendar:
    """Pending consumer events in buckets of width ``dt`` days up to ``horizon``."""

    def __init__(
        self,
        n_consumers: int,
        dt: float,
        horizon: float,
        link: np.ndarray | None = None,
        time: np.ndarray | None = None,
    ) -> None:
        """``link`` (int32) and ``time`` (float64) may be given as views of the consumers'
        records, so that walking a bucket touches memory the journey reads next anyway."""
        self.dt = float(dt)
        self.n_buckets = max(1, math.ceil(horizon / self.dt - 1e-9))
        self.horizon = float(horizon)
        self.head = np.full(self.n_buckets, NONE, dtype=np.int64)
        self.link = np.full(n_consumers, NONE, dtype=np.int32) if link is None else link
        self.time = np.full(n_consumers, np.inf) if time is None else time
        # dt, horizon, current bucket end (set by the engine before each batch)
        self.params = np.array([self.dt, self.horizon, 0.0])

    def wheel(self) -> tuple:
        """The arrays the journey kernel inserts into."""
        return (self.head, self.link, self.time, self.params)

    def schedule(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Consumer ``ids[k]`` acts at ``times[k]`` (days); none may already have an event."""
        insert_many(self.head, self.link, self.time, self.params, ids.astype(np.int64), times)

    def pop(self, bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return bucket ``bucket``'s events, sorted by time (ties by id)."""
        return pop_bucket(self.head, self.link, self.time, bucket)

    def __len__(self) -> int:
        return int(np.isfinite(self.time).sum())

    def pending(self) -> tuple[np.ndarray, np.ndarray]:
        """All pending events (ids, times) found by walking every bucket; for checks."""
        ids = walk_all(self.head, self.link, len(self.link))
        return ids, self.time[ids]


@njit(cache=True, _nrt=False)
def insert(head, link, time, params, cid, t) -> None:
    """Put consumer ``cid``'s event at ``t`` into its bucket (dropped at/after the horizon)."""
    if t >= params[1]:
        return
    b = int(t / params[0])
    if b >= head.shape[0]:
        b = head.shape[0] - 1
    time[cid] = t
    link[cid] = head[b]
    head[b] = cid


@njit(cache=True, _nrt=False)
def insert_many(head, link, time, params, ids, times) -> None:
    for k in range(len(ids)):
        insert(head, link, time, params, ids[k], times[k])


@njit(cache=True)
def pop_bucket(head, link, time, b):
    n = 0
    c = head[b]
    while c != NONE:
        n += 1
        c = link[c]
    ids = np.empty(n, dtype=np.int64)
    t = np.empty(n)
    c = head[b]
    k = 0
    while c != NONE:
        ids[k] = c
        t[k] = time[c]
        nxt = link[c]
        link[c] = NONE
        time[c] = np.inf
        c = nxt
        k += 1
    head[b] = NONE
    # Sort by time, ties by id, so that the order does not depend on insertion history.
    order = np.argsort(ids, kind="mergesort")
    ids, t = ids[order], t[order]
    order = np.argsort(t, kind="mergesort")
    return ids[order], t[order]


@njit(cache=True)
def walk_all(head, link, n_max):
    out = np.empty(n_max, dtype=np.int64)
    k = 0
    for b in range(head.shape[0]):
        c = head[b]
        while c != NONE and k < n_max:
            out[k] = c
            k += 1
            c = link[c]
    return out[:k]
