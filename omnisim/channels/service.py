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

Visitors of one bucket are processed in time order per store, and stores in parallel: step ``k``
handles the ``k``-th arrival at every store at once, so the order of service is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnisim.scenario.schema import Scenario

MINUTES_PER_DAY = 1440.0

# Reasons a visit ends without service.
ADMITTED, STOCKOUT, FULL, BALKED = 0, 1, 2, 3


@dataclass
class VisitOutcome:
    """Per-visitor result of `StoreQueues.visit` (arrays aligned with the input)."""

    reason: np.ndarray  # ADMITTED, STOCKOUT, FULL or BALKED
    units: np.ndarray  # units taken (0 unless admitted)
    start: np.ndarray  # service start (days); nan unless admitted
    end: np.ndarray  # service end (days); nan unless admitted


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
        self._kind = np.array(
            [
                {None: 0, "exponential": 0, "deterministic": 1, "lognormal": 2}[d and d.value]
                for d in self.dist
            ]
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

    def service_times(self, nodes: np.ndarray, u: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Service times (days) at ``nodes`` from a uniform ``u`` and a normal ``z``."""
        kind = self._kind[nodes]
        mean = self.mean_service[nodes]
        out = -np.log(u) * mean
        det = kind == 1
        out[det] = mean[det]
        ln = kind == 2
        if ln.any():
            nd = nodes[ln]
            out[ln] = np.exp(self.ln_mu[nd] + self.ln_sigma[nd] * z[ln])
        return out

    def arrival_time(self, nodes: np.ndarray, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        """When a visitor who sets off to arrive at ``t`` walks in: ``t`` during opening hours;
        otherwise a uniformly spread moment (``u``) of the store's next opening period."""
        o, c = self.open_day[nodes], self.close_day[nodes]
        day = np.floor(t)
        frac = t - day
        is_open = (frac >= o) & (frac < c)
        next_day = day + (frac >= c)
        later = next_day + o + u * (c - o)
        return np.where(is_open, t, later)

    def visit(
        self,
        nodes: np.ndarray,
        t: np.ndarray,
        units: np.ndarray,
        stock: np.ndarray,
        service: np.ndarray,
        patience_u: np.ndarray,
    ) -> VisitOutcome:
        """Process visitors (sorted by ``t``) at ``nodes``; updates ``stock`` in place.

        ``service`` are the visitors' service times (days) and ``patience_u`` uniforms for their
        patience."""
        m = len(nodes)
        reason = np.full(m, ADMITTED, dtype=np.int8)
        taken = np.zeros(m, dtype=np.int64)
        start = np.full(m, np.nan)
        end = np.full(m, np.nan)
        if m == 0:
            return VisitOutcome(reason, taken, start, end)
        order = np.argsort(nodes, kind="stable")  # per store, time order kept
        sn = nodes[order]
        first = np.ones(m, dtype=bool)
        first[1:] = sn[1:] != sn[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(m), 0))
        rank = np.arange(m) - group_start
        by_rank = order[np.argsort(rank, kind="stable")]
        counts = np.bincount(rank)
        pos = 0
        patience = -np.log(patience_u) * self.patience[nodes]
        for cnt in counts.tolist():
            idx = by_rank[pos : pos + cnt]
            pos += cnt
            nd = nodes[idx]
            ti = t[idx]
            have = stock[nd]
            fa = self.free_at[nd]
            srv = np.argmin(fa, axis=1)
            earliest = fa[np.arange(cnt), srv]
            wait = np.maximum(0.0, earliest - ti)
            waiting = (self.ring[nd] > ti[:, None]).sum(axis=1)
            full = (wait > 0) & (waiting >= self.room[nd])
            balk = wait > patience[idx]
            out = have <= 0
            r = np.where(out, STOCKOUT, np.where(full, FULL, np.where(balk, BALKED, ADMITTED)))
            reason[idx] = r
            ok = r == ADMITTED
            if not ok.any():
                continue
            a_idx, a_nd = idx[ok], nd[ok]
            take = np.minimum(units[a_idx], have[ok])
            s0 = ti[ok] + wait[ok]
            s1 = s0 + service[a_idx]
            self.free_at[a_nd, srv[ok]] = s1
            self.ring[a_nd, self.ring_ptr[a_nd] % self.ring_width] = s0
            self.ring_ptr[a_nd] += 1
            stock[a_nd] -= take
            taken[a_idx] = take
            start[a_idx] = s0
            end[a_idx] = s1
            self.served[a_nd] += 1
            self.busy_time[a_nd] += service[a_idx]
        return VisitOutcome(reason, taken, start, end)
