"""A binary min-heap on times, in two parallel arrays (ids, times), for compiled kernels.

Entry 0 is the earliest; entry h is no earlier than entry (h - 1) // 2. The caller keeps the
size (a counter) and the arrays' room. The journey kernel orders a bucket's follow-up events in
one (`omnisim.consumers.stages.common`), word of mouth its adopters' next talks and its KOLs'
next posts in two (`omnisim.marketing.social`). Both functions inline into their callers.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always", _nrt=False)
def sift_up(ids, ts, h, who, t) -> None:
    """Put ``(who, t)`` in free slot ``h`` (the end of the heap, to add an entry) and move it up
    past its later parents."""
    while h > 0:
        parent = (h - 1) >> 1
        if ts[parent] <= t:
            break
        ts[h] = ts[parent]
        ids[h] = ids[parent]
        h = parent
    ts[h] = t
    ids[h] = who


@njit(cache=True, inline="always", _nrt=False)
def sift_down(ids, ts, size, who, t) -> None:
    """Put ``(who, t)`` in the root slot of a heap of ``size`` entries whose root is free (after
    a pop, or to move the earliest entry later) and move it down past its earlier children."""
    h = 0
    while True:
        c = 2 * h + 1
        if c >= size:
            break
        if c + 1 < size and ts[c + 1] < ts[c]:
            c += 1
        if ts[c] >= t:
            break
        ts[h] = ts[c]
        ids[h] = ids[c]
        h = c
    ts[h] = t
    ids[h] = who
