"""Store visits: opening hours, the shelf, and a multi-server first-come-first-served queue.

Each store has ``c`` servers. A visitor arriving at time ``t``

1. looks at the shelf: no stock means a stock-out (partial stock: takes what is there);
2. sees the wait ``W = max(0, min_k free_k - t)``, where ``free_k`` is when server ``k`` is next
   free (the classic FCFS multi-server recursion: with service times known on admission,
   ``W`` is exactly the wait the visitor will have);
3. leaves without waiting if the waiting room is full (``waiting_room`` customers already
   wait and ``W > 0``; ``waiting_room = 0`` is a loss system, Erlang B) or if ``W`` exceeds
   their patience (exponential with mean ``patience_minutes``: balking on the announced wait);
4. otherwise takes the units, starts service at ``t + W`` on the earliest-free server and leaves
   at ``t + W + S``.

The journey kernel processes visitors one by one in time order, so the order of service is
exact.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine.state import F64, I64, from_object
from omnisim.scenario.schema import Scenario

MINUTES_PER_DAY = 1440.0

# Reasons a visit ends without service.
ADMITTED, STOCKOUT, FULL, BALKED = 0, 1, 2, 3


class QueueState(NamedTuple):
    """Every node's service settings and queue, as the journey kernel reads and updates them
    (one row per stock node; times in days)."""

    free_at: F64[2]  # node x server: when the server is next free (inf: no such server)
    mean_service: F64[1]  # mean service time
    kind: I64[1]  # service law: 0 exponential, 1 deterministic, 2 lognormal
    ln_mu: F64[1]  # lognormal service: mu
    ln_sigma: F64[1]  # lognormal service: sigma
    open_day: F64[1]  # opening time as a fraction of the day
    close_day: F64[1]  # closing time as a fraction of the day
    room: I64[1]  # waiting room (customers)
    patience: F64[1]  # mean patience (inf: never balks)
    ring: F64[2]  # node x place: service starts of the last visitors (who is still waiting)
    ring_ptr: I64[1]  # next place of the ring
    served: I64[1]  # visitors served (count)
    busy_time: F64[1]  # server time used


class StoreQueues:
    """Service state of every node (warehouses have no servers and are never visited)."""

    def __init__(self, sc: Scenario) -> None:
        n = len(sc.nodes)
        services = [sc.node_service(node) for node in sc.nodes]
        self.servers = np.array([s.servers if s else 0 for s in services], dtype=np.int64)
        width = max(1, int(self.servers.max()))
        self.free_at = np.full((n, width), np.inf)
        for i, c in enumerate(self.servers):
            self.free_at[i, :c] = 0.0
        self.mean_service = np.array(
            [s.mean_service_minutes / MINUTES_PER_DAY if s else 0.0 for s in services]
        )
        self.dist = [s.service_distribution if s else None for s in services]
        cv = np.array([s.service_cv if s else 0.0 for s in services])
        self.ln_sigma = np.sqrt(np.log1p(cv**2))
        self.ln_mu = np.log(np.maximum(self.mean_service, 1e-300)) - 0.5 * self.ln_sigma**2
        self.kind = np.array(
            [
                {None: 0, "exponential": 0, "deterministic": 1, "lognormal": 2}[d and d.value]
                for d in self.dist
            ],
            dtype=np.int64,
        )
        self.open_day = np.array([s.open_hour / 24.0 if s else 0.0 for s in services])
        self.close_day = np.array([s.close_hour / 24.0 if s else 1.0 for s in services])
        big = np.iinfo(np.int64).max
        self.room = np.array(
            [s.waiting_room if s and s.waiting_room is not None else big for s in services],
            dtype=np.int64,
        )
        self.patience = np.array(
            [
                s.patience_minutes / MINUTES_PER_DAY if s and s.patience_minutes else np.inf
                for s in services
            ]
        )
        finite_rooms = [int(r) for r in self.room if r != big]
        self.ring_width = max([1, *finite_rooms])
        self.ring = np.full((n, self.ring_width), -np.inf)
        self.ring_ptr = np.zeros(n, dtype=np.int64)
        self.served = np.zeros(n, dtype=np.int64)
        self.busy_time = np.zeros(n)

    def state(self) -> QueueState:
        """The arrays the journey kernel reads and updates."""
        return from_object(QueueState, self)


@njit(cache=True)
def service_time(node: int, u: float, z: float, q: QueueState) -> float:
    """A service time (days) at ``node`` from a uniform ``u`` and a standard normal ``z``."""
    k = q.kind[node]
    if k == 1:
        return q.mean_service[node]
    if k == 2:
        return np.exp(q.ln_mu[node] + q.ln_sigma[node] * z)
    return -np.log(u) * q.mean_service[node]


@njit(cache=True)
def arrival_time(node: int, t: float, u: float, q: QueueState) -> float:
    """When a visitor who would arrive at ``t`` walks in: ``t`` during opening hours, else a
    uniformly spread moment (``u``) of the store's next opening period."""
    o, c = q.open_day[node], q.close_day[node]
    day = np.floor(t)
    frac = t - day
    if o <= frac < c:
        return t
    next_day = day + 1.0 if frac >= c else day
    return next_day + o + u * (c - o)


@njit(cache=True)
def visit(
    node: int,
    t: float,
    units: int,
    stock: np.ndarray,
    service: float,
    patience: float,
    q: QueueState,
) -> tuple[int, int, float, float]:
    """One visitor at ``node`` at ``t`` (visitors must come in time order per store).

    Returns (reason, units taken, service start, service end); updates stock and the queue."""
    free_at, room, ring, ring_ptr = q.free_at, q.room, q.ring, q.ring_ptr
    served, busy = q.served, q.busy_time
    have = stock[node]
    if have <= 0:
        return STOCKOUT, 0, np.nan, np.nan
    row = free_at[node]
    srv = 0
    for k in range(1, row.shape[0]):
        if row[k] < row[srv]:
            srv = k
    wait = row[srv] - t
    if wait < 0.0:
        wait = 0.0
    if wait > 0.0:
        waiting = 0
        for k in range(ring.shape[1]):
            if ring[node, k] > t:
                waiting += 1
        if waiting >= room[node]:
            return FULL, 0, np.nan, np.nan
        if wait > patience:
            return BALKED, 0, np.nan, np.nan
    take = units if units < have else have
    start = t + wait
    end = start + service
    row[srv] = end
    ring[node, ring_ptr[node] % ring.shape[1]] = start
    ring_ptr[node] += 1
    stock[node] -= take
    served[node] += 1
    busy[node] += service
    return ADMITTED, take, start, end
