"""The consumer event calendar: a timing wheel with one bucket per time step.

Each consumer has exactly one pending event (the next stage of their journey), so the calendar
needs no heap of a million entries. A bucket holds its events (consumer id and time, days) in a
chain of fixed-size **pages**: scheduling appends to the bucket's last page, O(1); handing out a
bucket copies its pages and sorts the few thousand entries by time. Reading a bucket touches its
pages one after another; an earlier design linked consumers directly (one pointer per
consumer), and walking that list, one dependent cache miss per event, took 17% of a run at
300,000 consumers (see ``docs/performance.md``).

Pages come from a pool sized for the worst case, so the compiled kernel never allocates: at
most ``ceil(pending / PAGE) + non-empty buckets`` pages are in use, and pending events never
exceed the number of consumers. Events at or after the horizon are dropped (they would never
run).

Memory: 12 bytes per pending event plus the unused slots of each bucket's last page.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine.state import F64, I32, I64, from_object

NONE = -1
PAGE = 16  # events per page
# Indices into the calendar's float parameters and integer state.
P_DT, P_HORIZON, P_BUCKET_END = 0, 1, 2
S_FREE_TOP, S_PENDING = 0, 1


class Wheel(NamedTuple):
    """The calendar's arrays, as the compiled code inserts into and pops from them."""

    head: I32[1]  # per bucket: its first page (NONE: empty)
    tail: I32[2]  # per bucket: its last page and how full that page is
    page_ids: I32[2]  # page x place: consumer
    page_t: F64[2]  # page x place: event time (days)
    page_next: I32[1]  # per page: the next page of its bucket
    free: I32[1]  # a stack of free pages
    state: I64[1]  # S_FREE_TOP, S_PENDING
    params: F64[1]  # P_DT, P_HORIZON (days), P_BUCKET_END (set before each batch)


class EventCalendar:
    """Pending consumer events in buckets of width ``dt`` days up to ``horizon``.

    Args:
        n_consumers: the most events that can be pending at once (one per consumer).
        dt: bucket width (days).
        horizon: end of the run (days); events at or after it are dropped.
    """

    def __init__(self, n_consumers: int, dt: float, horizon: float) -> None:
        self.dt = float(dt)
        self.n_buckets = max(1, math.ceil(horizon / self.dt - 1e-9))
        self.horizon = float(horizon)
        n_pages = -(-n_consumers // PAGE) + min(self.n_buckets, n_consumers) + 1
        self.head = np.full(self.n_buckets, NONE, dtype=np.int32)
        # Per bucket: its last page and how full that page is (every other page is full).
        self.tail = np.full((self.n_buckets, 2), NONE, dtype=np.int32)
        self.page_ids = np.empty((n_pages, PAGE), dtype=np.int32)
        self.page_t = np.empty((n_pages, PAGE))
        self.page_next = np.full(n_pages, NONE, dtype=np.int32)
        self.free = np.arange(n_pages - 1, -1, -1, dtype=np.int32)  # a stack of free pages
        self.state = np.array([n_pages, 0], dtype=np.int64)  # free-stack size, pending events
        # dt, horizon, end of the bucket being processed (set by the engine before each batch)
        self.params = np.array([self.dt, self.horizon, 0.0])

    def reserve(self, events: int) -> None:
        """Make the page pool big enough for ``events`` pending events at once (clicks of the
        media plan leave stale entries besides each consumer's live one); the wheel's arrays
        are replaced, so take `wheel` again afterwards."""
        n_pages = len(self.page_next)
        need = -(-events // PAGE) + min(self.n_buckets, events) + 1
        if need <= n_pages:
            return
        grow = max(need, n_pages + n_pages // 2) - n_pages
        self.page_ids = np.concatenate([self.page_ids, np.empty((grow, PAGE), dtype=np.int32)])
        self.page_t = np.concatenate([self.page_t, np.empty((grow, PAGE))])
        self.page_next = np.concatenate([self.page_next, np.full(grow, NONE, dtype=np.int32)])
        top = int(self.state[S_FREE_TOP])
        free = np.empty(n_pages + grow, dtype=np.int32)
        free[:grow] = np.arange(n_pages + grow - 1, n_pages - 1, -1, dtype=np.int32)
        free[grow : grow + top] = self.free[:top]
        self.free = free
        self.state[S_FREE_TOP] = top + grow

    def wheel(self) -> Wheel:
        """The arrays the journey kernel inserts into."""
        return from_object(Wheel, self)

    def schedule(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Consumer ``ids[k]`` acts at ``times[k]`` (days); none may already have an event."""
        insert_many(self.wheel(), ids.astype(np.int64), np.asarray(times, dtype=np.float64))

    def pop(self, bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return bucket ``bucket``'s events, sorted by time (ties by id)."""
        return pop_bucket(self.wheel(), bucket)

    def __len__(self) -> int:
        return int(self.state[S_PENDING])

    def pending(self) -> tuple[np.ndarray, np.ndarray]:
        """All pending events (ids, times), bucket by bucket; for checks."""
        return walk_all(self.wheel())


@njit(cache=True, inline="always", _nrt=False)
def insert(wheel, cid, t) -> None:
    """Put consumer ``cid``'s event at ``t`` into its bucket (dropped at/after the horizon)."""
    head, tail, page_ids, page_t = wheel.head, wheel.tail, wheel.page_ids, wheel.page_t
    page_next, free, state, params = wheel.page_next, wheel.free, wheel.state, wheel.params
    if t >= params[P_HORIZON]:
        return
    b = int(t / params[P_DT])
    if b >= head.shape[0]:
        b = head.shape[0] - 1
    p = tail[b, 0]
    k = tail[b, 1]
    if p == NONE or k == PAGE:
        top = state[S_FREE_TOP] - 1
        state[S_FREE_TOP] = top
        q = free[top]
        page_next[q] = NONE
        if p == NONE:
            head[b] = q
        else:
            page_next[p] = q
        tail[b, 0] = q
        p = q
        k = 0
    page_ids[p, k] = cid
    page_t[p, k] = t
    tail[b, 1] = k + 1
    state[S_PENDING] += 1


@njit(cache=True, _nrt=False)
def insert_many(wheel, ids, times) -> None:
    for k in range(len(ids)):
        insert(wheel, ids[k], times[k])


@njit(cache=True, inline="always")
def _fill(tail, b, p):
    """Events on page ``p`` of bucket ``b``: all but the last page are full."""
    return tail[b, 1] if p == tail[b, 0] else PAGE


@njit(cache=True)
def pop_bucket(wheel, b):
    head, tail, page_next = wheel.head, wheel.tail, wheel.page_next
    free, state, params = wheel.free, wheel.state, wheel.params
    n = 0
    p = head[b]
    while p != NONE:
        n += _fill(tail, b, p)
        p = page_next[p]
    ids = np.empty(n, dtype=np.int64)
    t = np.empty(n)
    _copy_bucket(wheel, b, ids, t, 0)
    p = head[b]
    while p != NONE:  # the pages go back to the pool
        nxt = page_next[p]
        free[state[S_FREE_TOP]] = p
        state[S_FREE_TOP] += 1
        p = nxt
    head[b] = NONE
    tail[b, 0] = NONE
    tail[b, 1] = NONE
    state[S_PENDING] -= n
    return sort_events(ids, t, b * params[P_DT], params[P_DT])


@njit(cache=True)
def sort_events(ids, t, t0, width):
    """Events sorted by time, ties by id (so the order never depends on insertion history).

    Times lie in ``[t0, t0 + width)``, spread fairly evenly, so a distribution sort is
    linear on average: count events into ``n`` equal sub-intervals, place them, then an
    insertion sort by (time, id) inside each sub-interval (a handful of events)."""
    n = len(ids)
    if n < 2:
        return ids, t
    slot = np.empty(n, dtype=np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    scale = n / width
    for k in range(n):
        s = int((t[k] - t0) * scale)
        s = 0 if s < 0 else (n - 1 if s >= n else s)
        slot[k] = s
        start[s + 1] += 1
    for s in range(n):
        start[s + 1] += start[s]
    out_ids = np.empty(n, dtype=np.int64)
    out_t = np.empty(n)
    pos = start[:n].copy()
    for k in range(n):
        s = slot[k]
        out_ids[pos[s]] = ids[k]
        out_t[pos[s]] = t[k]
        pos[s] += 1
    for s in range(n):
        for k in range(start[s] + 1, start[s + 1]):
            ti, ii = out_t[k], out_ids[k]
            j = k - 1
            while j >= start[s] and (out_t[j] > ti or (out_t[j] == ti and out_ids[j] > ii)):
                out_t[j + 1] = out_t[j]
                out_ids[j + 1] = out_ids[j]
                j -= 1
            out_t[j + 1] = ti
            out_ids[j + 1] = ii
    return out_ids, out_t


@njit(cache=True)
def walk_all(wheel):
    head, state = wheel.head, wheel.state
    n = state[S_PENDING]
    ids = np.empty(n, dtype=np.int64)
    t = np.empty(n)
    k = 0
    for b in range(head.shape[0]):
        k = _copy_bucket(wheel, b, ids, t, k)
    return ids, t


@njit(cache=True, inline="always")
def _copy_bucket(wheel, b, ids, t, k):
    """Copy bucket ``b``'s events into ``ids``/``t`` from position ``k``; returns the next."""
    head, tail, page_ids, page_t = wheel.head, wheel.tail, wheel.page_ids, wheel.page_t
    page_next = wheel.page_next
    p = head[b]
    while p != NONE:
        for j in range(_fill(tail, b, p)):
            ids[k] = page_ids[p, j]
            t[k] = page_t[p, j]
            k += 1
        p = page_next[p]
    return k
