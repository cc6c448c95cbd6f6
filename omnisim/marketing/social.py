"""Word of mouth over a social graph (`docs/model.md`, "Word of mouth").

Three parts:

* **The graph.** An undirected graph over the consumers, held as CSR arrays (``indptr`` int64,
  ``indices`` int32, both directions stored, rows sorted, no self loops, no parallel edges).
  The networkx families named in the scenario (`NATIVE_GENERATORS`) are built here directly
  into CSR, without a networkx object (a networkx graph holds about 1 kB per node at mean
  degree 10, so a million nodes would break the memory goal); any other networkx generator is
  called as is for populations up to `NX_MAX_CONSUMERS` and converted. ``fully_mixed`` holds no
  graph: every consumer meets every other. KOLs are the highest-degree consumers, each with a
  list of followers drawn uniformly (a second CSR, `WordOfMouth.kol_followers`).
* **The contagion**, exact in continuous time: each adopter talks at rate ``q`` to one
  neighbour drawn uniformly (Bass 1969 in the fully mixed limit; Rand and Rust 2011 for the
  agent-based form); every consumer becomes aware at rate ``p`` from outside influence; an
  adopting KOL posts at its own rate to all its followers. A compiled kernel (`wom_advance`)
  processes these events in time order, bucket by bucket, after the bucket's consumer events
  (`Simulation._consumer_clock`). Each adopter's talks are its own Poisson process of rate q
  (the events after its adoption, by memorylessness a Poisson process from the adoption on),
  and each adopted KOL's posts its own of rate r: the next event of each is
  kept in a binary min-heap (talks: one entry per adopter; posts: one per adopted KOL), so an
  event costs O(log A). (The superposition of the A processes is the Poisson process of rate
  q A whose events pick a uniform adopter, Gillespie 1977: the same law, but it keys every talk
  to the run's talk count, which pairs nothing across strategies.)
* **The kernel state**, one `SocialState` (`WordOfMouth.state`; `off` without a ``social``
  section, the same numba type with empty arrays), a named tuple read by name: its settings
  (`SocialParams`), counters and event clocks (arrays with the ``C_*`` and ``T_*`` columns),
  per-consumer arrays, the graph and the KOL followers (`Csr`), the pending adoptions and the
  innovations (`Dated`). The journey queues first-time buyers as pending adoptions
  (`on_purchase`; `wom_advance` enters them in time order among the talks), stores each
  consumer's last satisfaction (`on_use`) and adds the purchase intent to the choice utility
  (`intent_utility`).

Random numbers: the graph and the KOL followers are drawn from the ``social`` stream's numpy
generator, first thing, so every strategy of a run has the same graph (common random numbers);
talks, posts and innovations are counter-based draws of the ``social`` stream keyed by the
consumer: consumer i's talk process is a Poisson process of rate q on [0, inf) whose m-th event
(its gap from event m - 1, and its listener) is keyed by (i, m); an adopter talks at the events
after its adoption. A KOL's posts likewise, keyed by (KOL id, m); innovations by consumer. So
an adopter talks at the same instants to the same neighbours under every strategy, whatever
the others do, from whichever of its adoption times is the later.
"""

from __future__ import annotations

import inspect
import math
from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine.heap import sift_down, sift_up
from omnisim.engine.ledger import Window
from omnisim.engine.memory import MemoryState, lift_awareness, recall
from omnisim.engine.prefetch import prefetch
from omnisim.engine.state import F32, F64, I8, I32, I64, U32, U64, Float, Int, build
from omnisim.engine.state import off as off_state
from omnisim.scenario.schema import (
    GRAPH_DEFAULTS,
    NX_MAX_CONSUMERS,
    SOCIAL_BYTES_GOAL,
    graph_params,
    mean_degree_estimate,
)

NATIVE_GENERATORS = tuple(GRAPH_DEFAULTS)

STATE_BYTES = 1 + 4 + 4 + 4 + 12 + 12 + 12 + 4
"""Word-of-mouth state per consumer (bytes): adopter flag (int8), last satisfaction (float32),
rebased intent (float32), the adopter list (int32 id), a pending-adoption slot (int32 id +
float64 time), an innovation slot (float64 time + int32 id, only for innovations before the
horizon), a talk-heap slot (float64 time + int32 id) and the count of talks made (uint32)."""

# Slots of the counter-based draws (`omnisim.engine.streams`), keyed by (consumer, m): talk m
# of an adopter (its listener, the gap before it), post m of a KOL (unused, the gap before it),
# and the innovation (m = 0). m lives in the hash's 24-bit journey field: 16.7 million talks of
# one adopter.
SLOT_TALK, SLOT_TALK_GAP, SLOT_POST, SLOT_POST_GAP, SLOT_INNOVATION = range(5)

# Integer counters (`SocialState.cnt`, int64): pending adoptions of the bucket, adopters (the
# length of the adopter list), next innovation, conversations, posts, innovations that made
# someone aware, adopted KOLs with followers (the length of the KOL list), talk events
# (conversations and thinned ones), the talk heap's and the post heap's sizes. A counters array
# with named columns, not one field each (numba updates an array element in place).
(
    C_PENDING,
    C_ADOPTERS,
    C_INNOV,
    C_TALKS,
    C_POSTS,
    C_INNOVATIONS,
    C_KOLS,
    C_TALK_EVENTS,
    C_TALKERS,
    C_POSTERS,
) = range(10)
N_COUNTERS = 10
# Event clocks (`SocialState.clock`, float64, days): the time of the last event entered (a
# pending adoption enters no earlier); an array so the kernel can write it.
T_LAST = 0
N_CLOCKS = 1
LISTENER_AHEAD = 8  # followers of a post whose state is requested ahead of their talk
REBASE_DOUBLINGS = 20.0  # rebase the stored intent once its scale factor reaches 2**20


class SocialParams(NamedTuple):
    """Word of mouth's settings for one run (the kernel only reads them)."""

    on: Float  # 1 with a ``social`` section, else 0 (every journey hook returns at once)
    imitation: Float  # q: talks per adopter per day
    lift: Float  # awareness lift of a conversation (fraction of the gap to 1)
    intent_per_satisfaction: Float  # intent added per satisfaction point of the teller
    decay: Float  # intent decay rate per day, ln 2 / half-life
    intent_weight: Float  # w_I: utility per unit of intent
    aware_mode: Float  # 1: adopters are the fully aware (``adopters: aware``); 0: the buyers
    kol_rate: Float  # r: posts per adopted KOL per day
    fully_mixed: Float  # 1: no graph, every consumer a neighbour of every other
    n: Int  # consumers


class Csr(NamedTuple):
    """Rows of consumer ids in CSR form: row k is ``indices[indptr[k]:indptr[k + 1]]``."""

    indptr: I64[1]
    indices: I32[1]


class Dated(NamedTuple):
    """Consumers with a time each (days), sorted by time."""

    ids: I32[1]
    t: F64[1]


class Heap(NamedTuple):
    """Ids with a time each (days), a binary min-heap on the time: entry 0 is the earliest,
    entry h is no earlier than entry (h - 1) // 2; its size is a counter (C_TALKERS,
    C_POSTERS)."""

    ids: I32[1]
    t: F64[1]


class SocialState(NamedTuple):
    """Word of mouth's kernel state (docs/model.md, "Word of mouth"); per-consumer arrays are
    indexed by consumer id. Off (`off`): every array empty and ``par.on`` 0."""

    par: SocialParams
    # The intent's reference time T0 (days, one element): stored intents are scaled to it, and
    # `rebase` moves it, so it is an array the kernel writes, not a setting.
    intent_t0: F64[1]
    cnt: I64[1]  # counters (the C_* columns)
    clock: F64[1]  # event clocks (the T_* columns, days)
    talks: Heap  # each adopter's next talk (size cnt[C_TALKERS])
    talk_n: U32[1]  # per consumer: the number m of the next event of its talk process
    posts: Heap  # each adopted KOL's next post, by index into kol_ids (size cnt[C_POSTERS])
    post_n: U32[1]  # per KOL (index into kol_ids): the number of its next post event
    adopted: I8[1]  # per consumer: 1 once an adopter (or queued as one)
    valence: F32[1]  # per consumer: satisfaction of their last use (scale points)
    intent: F32[1]  # per consumer: purchase intent, scaled to ``intent_t0``
    adopters: I32[1]  # the adopter list, in order of adoption (its length is cnt[C_ADOPTERS])
    pending: Dated  # adoptions of the bucket queued by `on_purchase` (length cnt[C_PENDING])
    graph: Csr  # the social graph (both directions stored); one empty row when fully mixed
    kol_ids: I64[1]  # the KOLs' consumer ids, sorted
    kol_list: I32[1]  # adopted KOLs with followers (indices k into kol_ids)
    followers: Csr  # row k: the followers of kol_ids[k]
    innovations: Dated  # first outside influence of each consumer, those before the horizon
    key: U64[1]  # the ``social`` stream's key (one element)


# ------------------------------------------------------------------------------------------
# Graph construction


class Graph:
    """An undirected graph over ``n`` consumers in CSR form; ``indptr is None`` means fully
    mixed (every consumer a neighbour of every other)."""

    def __init__(self, n: int, indptr: np.ndarray | None, indices: np.ndarray | None) -> None:
        self.n = n
        self.indptr = indptr
        self.indices = indices

    @property
    def fully_mixed(self) -> bool:
        return self.indptr is None

    def degree(self) -> np.ndarray:
        if self.indptr is None:
            return np.full(self.n, self.n - 1, dtype=np.int64)
        return np.diff(self.indptr)

    @property
    def edges(self) -> int:
        if self.indptr is None:
            return self.n * (self.n - 1) // 2
        return int(self.indptr[-1]) // 2

    def nbytes(self) -> int:
        if self.indptr is None:
            return 0
        return int(self.indptr.nbytes + self.indices.nbytes)


def build_graph(generator: str, params: dict, n: int, rng: np.random.Generator) -> Graph:
    """The social graph named by ``social.graph`` (parameters as the scenario gives them,
    defaults filled by `graph_params`)."""
    p = graph_params(generator, params)
    if generator == "fully_mixed":
        return Graph(n, None, None)
    if generator == "watts_strogatz_graph":
        a, b = watts_strogatz_edges(n, int(p["k"]), float(p["p"]), rng)
    elif generator == "barabasi_albert_graph":
        a, b = barabasi_albert_edges(n, int(p["m"]), _key(rng))
    elif generator in ("gnp_random_graph", "erdos_renyi_graph"):
        prob = float(p["p"]) if "p" in p else float(p["mean_degree"]) / max(n - 1, 1)
        a, b = gnp_edges(n, min(prob, 1.0), rng)
    elif generator == "powerlaw_cluster_graph":
        a, b = powerlaw_cluster_edges(n, int(p["m"]), float(p["p"]), _key(rng))
    else:
        return networkx_graph(generator, params, n, rng)
    indptr, indices = csr_from_edges(a, b, n)
    return Graph(n, indptr, indices)


def _key(rng: np.random.Generator) -> np.uint64:
    """A counter-based stream key drawn from the generator (for the compiled builders)."""
    return np.uint64(rng.integers(0, 2**63, dtype=np.int64))


def watts_strogatz_edges(
    n: int, k: int, p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Watts and Strogatz (1998): a ring where each node links to its ``k // 2`` nearest
    neighbours on each side, then each lattice edge (u, u + j) is, with probability ``p``,
    rewired to (u, w) with ``w`` uniform among the nodes other than u and v. As in networkx, a
    rewiring never creates a self loop or a parallel edge (a clashing ``w`` is drawn again), so
    the edge count, ``n * (k // 2)``, and the mean degree, ``2 * (k // 2)``, are exact. networkx
    checks for clashes against the graph as it stands during its sequential pass, this
    vectorised version against the final edge set: the two differ only in which of two
    clashing rewirings is redrawn (probability of order k / n per rewiring)."""
    h = k // 2
    if h == 0 or n < 2:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    u = np.repeat(np.arange(n, dtype=np.int64), h)
    v = (u + np.tile(np.arange(1, h + 1, dtype=np.int64), n)) % n
    if 2 * h >= n - 1 or p <= 0.0:  # complete lattice (no rewiring possible) or none asked
        return u.astype(np.int32), v.astype(np.int32)
    rewired = rng.random(len(u)) < p
    w = v.copy()
    redo = np.flatnonzero(rewired)
    rounds = 0
    while len(redo):
        rounds += 1
        if rounds > 64:
            # Only when some u is linked to nearly every node (k close to n): networkx skips
            # such a rewiring; here the edge goes back to its lattice place, and any edge it
            # then duplicates is dropped.
            w[redo] = v[redo]
            key = np.minimum(u, w) * n + np.maximum(u, w)
            _, first = np.unique(key, return_index=True)
            first.sort()
            u, w = u[first], w[first]
            break
        draw = rng.integers(0, n - 1, size=len(redo))
        draw += draw >= u[redo]  # uniform over the nodes other than u
        w[redo] = draw
        # Clashes: the original target again, or an edge already present. Among equal edges a
        # kept lattice edge sorts first, so only rewired copies are drawn again.
        lo, hi = np.minimum(u, w), np.maximum(u, w)
        key = lo * n + hi
        order = np.lexsort((rewired, key))
        ks = key[order]
        dup = order[1:][ks[1:] == ks[:-1]]
        same = redo[w[redo] == v[redo]]
        redo = np.union1d(dup, same)
    return u.astype(np.int32), w.astype(np.int32)


def gnp_edges(n: int, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """G(n, p) (Erdős and Rényi; Gilbert 1959): each of the n (n - 1) / 2 pairs is an edge with
    probability ``p``, independently. Small or dense graphs draw one Bernoulli per pair; large
    sparse ones draw the edge count M ~ Binomial(n (n - 1) / 2, p) and then M distinct pairs
    uniformly (pairs drawn with replacement, duplicates dropped, topped up, and a uniform subset
    of M kept), which is the same law."""
    pairs = n * (n - 1) // 2
    if pairs == 0 or p <= 0.0:
        return np.empty(0, np.int32), np.empty(0, np.int32)
    if n <= 2000:
        lo, hi = np.triu_indices(n, 1)
        keep = rng.random(len(lo)) < p
        return lo[keep].astype(np.int32), hi[keep].astype(np.int32)
    m = int(rng.binomial(pairs, p))
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < m:
        size = int((m - len(keys)) * 1.05) + 16
        a = rng.integers(0, n, size=size)
        b = rng.integers(0, n - 1, size=size)
        b += b >= a
        keys = _sorted_unique(np.concatenate([keys, np.minimum(a, b) * n + np.maximum(a, b)]))
    if len(keys) > m:  # drop a uniform subset of the excess: the rest is a uniform M-subset
        keys = np.delete(keys, rng.choice(len(keys), size=len(keys) - m, replace=False))
    return (keys // n).astype(np.int32), (keys % n).astype(np.int32)


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """np.unique by sorting (numpy 2.4's np.unique took 15x longer on 5M int64 here)."""
    s = np.sort(x)
    if len(s) == 0:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


@njit(cache=True)
def _attach_candidates(ends, n_ends, key, source, targets) -> int:
    """Preferential attachment: fill ``targets`` with distinct nodes drawn uniformly from the
    first ``n_ends`` edge ends (so with probability proportional to degree), as networkx's
    Barabási-Albert and Holme-Kim generators draw them. Returns the draws used."""
    m = targets.shape[0]
    got = 0
    draw = 0
    while got < m:
        x = ends[int(rs.uniform(key, source, draw, 0) * n_ends)]
        draw += 1
        new = True
        for t in range(got):
            if targets[t] == x:
                new = False
                break
        if new:
            targets[got] = x
            got += 1
    return draw


@njit(cache=True)
def barabasi_albert_edges(n: int, m: int, key: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """Barabási and Albert (1999), as networkx builds it: a star on m + 1 nodes, then each new
    node links to m distinct nodes drawn with probability proportional to degree (uniform draws
    from the list of edge ends until m distinct). Edge count m + m (n - m - 1), exact."""
    n_edges = m + m * (n - m - 1)
    a = np.empty(n_edges, dtype=np.int32)
    b = np.empty(n_edges, dtype=np.int32)
    ends = np.empty(2 * n_edges, dtype=np.int32)  # every edge's two ends
    e = 0
    for leaf in range(1, m + 1):
        a[e] = 0
        b[e] = leaf
        ends[2 * e] = 0
        ends[2 * e + 1] = leaf
        e += 1
    n_ends = 2 * e
    targets = np.empty(m, dtype=np.int32)
    for source in range(m + 1, n):
        _attach_candidates(ends, n_ends, key, source, targets)
        for t in range(m):
            a[e] = source
            b[e] = targets[t]
            e += 1
            ends[n_ends] = targets[t]
            ends[n_ends + 1] = source
            n_ends += 2
    return a, b


@njit(cache=True)
def _linked(head, nxt, dst, u, v) -> bool:
    h = head[u]
    while h >= 0:
        if dst[h] == v:
            return True
        h = nxt[h]
    return False


@njit(cache=True)
def powerlaw_cluster_edges(
    n: int, m: int, p: float, key: np.uint64
) -> tuple[np.ndarray, np.ndarray]:
    """Holme and Kim (2002), step for step as networkx builds it: m isolated nodes, then each
    new node draws m distinct candidates by preferential attachment, links to one, and for
    each further link, with probability ``p`` closes a triangle (links to a uniform neighbour of
    the last attached node not yet linked to it), else links to the next candidate. A candidate
    already linked by a triangle adds no edge (as networkx's ``add_edge`` of an existing edge),
    so the edge count is at most m (n - m)."""
    cap = m * (n - m) if n > m else 0
    a = np.empty(cap, dtype=np.int32)
    b = np.empty(cap, dtype=np.int32)
    head = np.full(n, -1, dtype=np.int32)
    nxt = np.empty(2 * cap, dtype=np.int32)
    dst = np.empty(2 * cap, dtype=np.int32)
    ends = np.empty(m + 2 * cap, dtype=np.int32)
    for i in range(m):
        ends[i] = i
    n_ends = m
    e = 0
    targets = np.empty(m, dtype=np.int32)
    for source in range(m, n):
        draw = _attach_candidates(ends, n_ends, key, source, targets)
        left = m
        count = 0
        target = -1
        while count < m:
            if count > 0 and rs.uniform(key, source, draw, 1) < p:
                draw += 1
                eligible = 0
                h = head[target]
                while h >= 0:
                    nb = dst[h]
                    if nb != source and not _linked(head, nxt, dst, source, nb):
                        eligible += 1
                    h = nxt[h]
                if eligible > 0:
                    pick = int(rs.uniform(key, source, draw, 2) * eligible)
                    draw += 1
                    h = head[target]
                    nb = -1
                    while h >= 0:
                        nb = dst[h]
                        if nb != source and not _linked(head, nxt, dst, source, nb):
                            if pick == 0:
                                break
                            pick -= 1
                        h = nxt[h]
                    e = _add_edge(source, nb, e, a, b, head, nxt, dst)
                    ends[n_ends] = nb
                    n_ends += 1
                    count += 1
                    continue
            elif count > 0:
                draw += 1
            left -= 1
            target = targets[left]
            if not _linked(head, nxt, dst, source, target):
                e = _add_edge(source, target, e, a, b, head, nxt, dst)
            ends[n_ends] = target
            n_ends += 1
            count += 1
        for _ in range(m):
            ends[n_ends] = source
            n_ends += 1
    return a[:e].copy(), b[:e].copy()


@njit(cache=True)
def _add_edge(u, v, e, a, b, head, nxt, dst) -> int:
    a[e] = u
    b[e] = v
    dst[2 * e] = v
    nxt[2 * e] = head[u]
    head[u] = 2 * e
    dst[2 * e + 1] = u
    nxt[2 * e + 1] = head[v]
    head[v] = 2 * e + 1
    return e + 1


@njit(cache=True)
def csr_from_edges(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays (indptr int64, indices int32, rows sorted) of the undirected graph with edges
    (a[e], b[e]), each stored in both directions. The edges must be distinct, without loops."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(len(a)):
        indptr[a[e] + 1] += 1
        indptr[b[e] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    pos = indptr[:-1].copy()
    indices = np.empty(2 * len(a), dtype=np.int32)
    for e in range(len(a)):
        indices[pos[a[e]]] = b[e]
        pos[a[e]] += 1
        indices[pos[b[e]]] = a[e]
        pos[b[e]] += 1
    for i in range(n):
        indices[indptr[i] : indptr[i + 1]].sort()
    return indptr, indices


def networkx_graph(generator: str, params: dict, n: int, rng: np.random.Generator) -> Graph:
    """Any other networkx generator, called as ``networkx.<generator>(n, **params, seed=...)``
    and converted to CSR (directed graphs made undirected, self loops and edge multiplicity
    dropped). Refused beyond `NX_MAX_CONSUMERS` consumers."""
    import networkx as nx

    if n > NX_MAX_CONSUMERS:
        raise ValueError(
            f"social.graph.generator: {generator} is built in networkx, which holds about "
            f"1 kB per node; at most {NX_MAX_CONSUMERS:,} consumers (not {n:,}) - use one of "
            f"{', '.join(NATIVE_GENERATORS)}"
        )
    fn = getattr(nx, generator, None)
    if not callable(fn):
        raise ValueError(f"social.graph.generator: networkx has no generator {generator!r}")
    kwargs = dict(params)
    try:
        if "seed" in inspect.signature(fn).parameters:
            kwargs["seed"] = int(rng.integers(0, 2**31 - 1))
        G = fn(n, **kwargs)
    except Exception as exc:
        raise ValueError(
            f"social.graph: networkx.{generator}(n={n}, {params}) failed: {exc}"
        ) from exc
    if G.number_of_nodes() != n or set(G.nodes()) != set(range(n)):
        raise ValueError(
            f"social.graph.generator: networkx.{generator} made a graph whose nodes are not "
            f"the consumers 0..{n - 1}"
        )
    if G.is_directed():
        G = G.to_undirected()
    A = nx.to_scipy_sparse_array(G, nodelist=range(n), format="csr", weight=None)
    del G
    A.setdiag(0)
    A.eliminate_zeros()
    A.sort_indices()
    return Graph(n, A.indptr.astype(np.int64), A.indices.astype(np.int32))


def top_degree(graph: Graph, count: int) -> np.ndarray:
    """The ``count`` highest-degree consumers (ties by smaller id), in that order."""
    count = min(count, graph.n)
    if graph.fully_mixed:
        return np.arange(count, dtype=np.int64)
    deg = graph.degree()
    return np.lexsort((np.arange(graph.n), -deg))[:count].astype(np.int64)


def draw_followers(
    n: int, kol_ids: np.ndarray, followers: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Follower CSR: row k lists ``followers`` distinct consumers drawn uniformly among all but
    KOL ``kol_ids[k]`` (sorted)."""
    f = min(followers, n - 1)
    indptr = np.arange(len(kol_ids) + 1, dtype=np.int64) * f
    indices = np.empty(len(kol_ids) * f, dtype=np.int32)
    for k, kol in enumerate(kol_ids):
        pick = rng.choice(n - 1, size=f, replace=False)
        pick += pick >= kol
        indices[k * f : (k + 1) * f] = np.sort(pick)
    return indptr, indices


def social_bytes(sc) -> int:
    """Planned bytes of word of mouth for a scenario (0 without a `social` section): state per
    consumer, graph CSR at the expected mean degree, KOL followers."""
    s = sc.social
    if s is None:
        return 0
    n = sc.market.consumers
    deg = mean_degree_estimate(s.graph.generator, s.graph.params, n)
    graph = 0.0 if s.graph.generator == "fully_mixed" else 8.0 * (n + 1) + 4.0 * n * (deg or 10.0)
    kols = 0 if s.kols is None else (8 + 4 + 8) * s.kols.count + 4 * s.kols.count * s.kols.followers
    return int(STATE_BYTES * n + graph + kols)


# ------------------------------------------------------------------------------------------
# The process


def off() -> SocialState:
    """The kernel state of a run without word of mouth: `SocialState` with every array empty
    and ``par.on`` 0, so every journey hook returns at once (and the journey kernel, seeing the
    same numba type, compiles once for runs with and without word of mouth)."""
    return off_state(SocialState)


class WordOfMouth:
    """The word-of-mouth process of one replication.

    Args:
        sc: the scenario (its `social` section must be set).
        awareness: the consumers' base awareness (`Population.awareness`, float32), which
            talks raise.
        keys: the run's stream keys; ``generator``: the ``social`` stream's numpy generator
            (the graph and the followers are drawn from it, first).
        ledger: the run's ledger (talks and KOL posts are tallied in its window; the
            ``adopters`` series column is written at period ends).
    """

    def __init__(
        self,
        sc,
        awareness: np.ndarray,
        keys: np.ndarray,
        generator,
        ledger,
        memory: tuple[MemoryState, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        s = sc.social
        n = sc.market.consumers
        self.sc, self.spec, self.n, self.ledger = sc, s, n, ledger
        self.awareness = awareness
        # Forgetting (`omnisim.engine.memory`): a talk first brings the listener's awareness
        # and habits to its time. (state, segment per consumer, habits consumer x channel).
        if memory is None:
            no_habits = np.zeros((0, 0), dtype=np.float32)
            memory = (off_state(MemoryState), np.zeros(0, dtype=np.int16), no_habits)
        self.memory = memory
        self.graph = build_graph(s.graph.generator, s.graph.params, n, generator)
        held = self.graph.nbytes() / n + STATE_BYTES
        if held > SOCIAL_BYTES_GOAL:
            raise ValueError(
                f"social.graph: the graph holds {self.graph.nbytes() / n:,.0f} bytes per "
                f"consumer (mean degree {self.graph.degree().mean():.1f}); with the "
                f"word-of-mouth state that exceeds the goal of {SOCIAL_BYTES_GOAL} bytes "
                "per consumer"
            )
        if s.kols is not None and s.kols.count > 0:
            kol_ids = top_degree(self.graph, s.kols.count)
            f_indptr, f_indices = draw_followers(n, kol_ids, s.kols.followers, generator)
            order = np.argsort(kol_ids)  # the kernel looks KOLs up by id
            kol_ids = kol_ids[order]
            rows = [f_indices[f_indptr[k] : f_indptr[k + 1]] for k in order]
            f_indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
            f_indices = (np.concatenate(rows) if rows else np.empty(0)).astype(np.int32)
        else:
            kol_ids = np.empty(0, dtype=np.int64)
            f_indptr, f_indices = np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int32)
        self.kol_ids = kol_ids
        self.f_indptr, self.f_indices = f_indptr, f_indices
        key = keys[rs.STREAM_NAMES.index("social")]
        # Innovation: consumer i's first outside influence at Exp(1 / p); those before the
        # horizon, sorted by time (ties by id).
        horizon = sc.horizon_days
        if s.innovation_per_day > 0:
            ids = np.arange(n, dtype=np.int64)
            t = -np.log(rs.uniforms(key, ids, 0, SLOT_INNOVATION)) / s.innovation_per_day
            early = np.flatnonzero(t < horizon)
            order = early[np.argsort(t[early], kind="stable")]
            innov_t, innov_id = t[order], order.astype(np.int32)
        else:
            innov_t, innov_id = np.empty(0), np.empty(0, dtype=np.int32)
        g = self.graph
        self._window = ledger.state().window
        self._period = 0  # next period whose end has not been recorded
        par = build(
            SocialParams,
            on=1.0,
            imitation=s.imitation_per_day,
            lift=s.awareness_lift,
            intent_per_satisfaction=s.intent_per_satisfaction,
            decay=math.log(2.0) / s.intent_half_life_days,
            intent_weight=s.intent_weight,
            aware_mode=1.0 if s.adopters == "aware" else 0.0,
            kol_rate=s.kols.talk_per_day if s.kols is not None else 0.0,
            fully_mixed=1.0 if g.fully_mixed else 0.0,
            n=n,
        )
        self._state = build(
            SocialState,
            par=par,
            intent_t0=np.zeros(1),
            cnt=np.zeros(N_COUNTERS, dtype=np.int64),
            clock=np.zeros(N_CLOCKS),
            talks=build(Heap, ids=np.empty(n, dtype=np.int32), t=np.empty(n)),
            talk_n=np.zeros(n, dtype=np.uint32),
            posts=build(Heap, ids=np.empty(len(kol_ids), dtype=np.int32), t=np.empty(len(kol_ids))),
            post_n=np.zeros(len(kol_ids), dtype=np.uint32),
            adopted=np.zeros(n, dtype=np.int8),
            valence=np.zeros(n, dtype=np.float32),
            intent=np.zeros(n, dtype=np.float32),
            adopters=np.empty(n, dtype=np.int32),
            pending=build(Dated, ids=np.empty(n, dtype=np.int32), t=np.empty(n)),
            graph=build(
                Csr,
                indptr=g.indptr if g.indptr is not None else np.zeros(1, dtype=np.int64),
                indices=g.indices if g.indices is not None else np.zeros(1, dtype=np.int32),
            ),
            kol_ids=kol_ids,
            kol_list=np.empty(max(len(kol_ids), 1), dtype=np.int32),
            followers=build(Csr, indptr=f_indptr, indices=f_indices),
            innovations=build(Dated, ids=innov_id, t=innov_t),
            key=np.array([key], dtype=np.uint64),
        )

    def state(self) -> SocialState:
        """Word of mouth's kernel state."""
        return self._state

    def kol_followers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(KOL ids sorted by id, follower indptr, follower indices): row k of the CSR lists
        the followers of ``kol_ids[k]``."""
        return self.kol_ids, self.f_indptr, self.f_indices

    def start(self) -> None:
        """Adopters at time 0: with ``adopters: aware``, every consumer fully aware already."""
        if self.spec.adopters == "aware":
            adopt_many(np.flatnonzero(self.awareness >= 1.0), 0.0, self._state)

    def advance(self, t0: float, t1: float) -> None:
        """Apply every talk, post and innovation dated before ``t1`` (after the consumer
        events of the bucket [t0, t1)), then record the adopter share at period ends."""
        soc = self._state
        if (t1 - soc.intent_t0[0]) * soc.par.decay > REBASE_DOUBLINGS * math.log(2.0):
            rebase(soc, t0)
        led = self.ledger
        wom_advance(t1, soc, self.awareness, led.acc, self._window, *self.memory)
        # The share of adopters at each period end in (t0, t1] (recorded at t1: exact when the
        # bucket width divides the period, as with the defaults).
        while self._period < led.n_periods:
            end = min(led.warmup + (self._period + 1) * led.period, led.horizon)
            if end > t1 + 1e-9:
                break
            led.series[self._period, lg.TS_ADOPTERS] = soc.cnt[C_ADOPTERS] / self.n
            self._period += 1

    def adopters(self) -> int:
        return int(self._state.cnt[C_ADOPTERS])

    def intent(self, t: float) -> np.ndarray:
        """Every consumer's purchase intent at ``t`` (float64)."""
        soc = self._state
        return soc.intent.astype(np.float64) * np.exp(-(t - soc.intent_t0[0]) * soc.par.decay)

    def summary(self) -> dict:
        """Tallies for the ledger dict (KPIs `adopters`, `wom_talks`)."""
        cnt = self._state.cnt
        return {
            "adopters": self.adopters(),
            "adopter_share": self.adopters() / self.n,
            "talks_total": int(cnt[C_TALKS]),
            "kol_posts_total": int(cnt[C_POSTS]),
            "innovations": int(cnt[C_INNOVATIONS]),
            "mean_degree": float(self.graph.degree().mean()),
            "kols": len(self.kol_ids),
        }


# ------------------------------------------------------------------------------------------
# Compiled part (no allocation: called from the journey kernel, which runs without NRT)


@njit(cache=True, inline="always", _nrt=False)
def enabled(soc: SocialState) -> bool:
    """Whether word of mouth runs (a ``social`` section)."""
    return soc.par.on > 0.0


@njit(cache=True, inline="always", _nrt=False)
def on_use(i: int, sat: float, soc: SocialState) -> None:
    """Consumer ``i`` used the product with satisfaction ``sat`` (scale points): the valence
    of their later talks."""
    if soc.par.on > 0.0:
        soc.valence[i] = sat


@njit(cache=True, inline="always", _nrt=False)
def _gap(key, who, m, slot, rate) -> float:
    """Time (days) from event m - 1 of ``who``'s Poisson process of rate ``rate`` (from its
    start for m = 0) to event m: an exponential keyed by (who, m)."""
    return -np.log(rs.uniform(key, who, m, slot)) / rate


@njit(cache=True, _nrt=False)
def _first_after(key, who, slot, rate, t) -> tuple[int, float]:
    """The first event after ``t`` of ``who``'s Poisson process of rate ``rate`` on [0, inf):
    (its number m, its time). The process's events are fixed by the key, so an adopter talks
    at the same instants under every strategy from whichever adoption is the later; the walk
    costs the rate x t draws the process would have made."""
    m = 0
    tau = _gap(key, who, 0, slot, rate)
    while tau <= t:
        m += 1
        tau += _gap(key, who, m, slot, rate)
    return m, tau


@njit(cache=True, inline="always", _nrt=False)
def _push(heap, size, who, t) -> None:
    """Add (who, t) to the heap holding ``size`` entries."""
    sift_up(heap.ids, heap.t, size, who, t)


@njit(cache=True, inline="always", _nrt=False)
def _reschedule_top(heap, size, t) -> None:
    """Move the heap's earliest entry to time ``t`` (no earlier)."""
    sift_down(heap.ids, heap.t, size, heap.ids[0], t)


@njit(cache=True, _nrt=False)
def _kol_index(kol_ids, i) -> int:
    lo, hi = 0, kol_ids.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if kol_ids[mid] < i:
            lo = mid + 1
        else:
            hi = mid
    if lo < kol_ids.shape[0] and kol_ids[lo] == i:
        return lo
    return -1


@njit(cache=True, _nrt=False)
def _enter(i, t, soc) -> None:
    """Consumer ``i`` becomes an adopter at ``t``: appended to the adopter list, its talks
    start (the first one a keyed gap after ``t``), and a KOL with followers starts posting."""
    cnt, par, key = soc.cnt, soc.par, soc.key[0]
    soc.adopted[i] = 1
    a = cnt[C_ADOPTERS]
    soc.adopters[a] = i
    cnt[C_ADOPTERS] = a + 1
    if par.imitation > 0.0:
        m, tau = _first_after(key, i, SLOT_TALK_GAP, par.imitation, t)
        soc.talk_n[i] = m
        _push(soc.talks, cnt[C_TALKERS], i, tau)
        cnt[C_TALKERS] += 1
    kol_ids = soc.kol_ids
    if kol_ids.shape[0] > 0:
        k = _kol_index(kol_ids, i)
        f_indptr = soc.followers.indptr
        if k >= 0 and f_indptr[k + 1] > f_indptr[k]:
            m = cnt[C_KOLS]
            soc.kol_list[m] = k
            cnt[C_KOLS] = m + 1
            if par.kol_rate > 0.0:
                m, tau = _first_after(key, i, SLOT_POST_GAP, par.kol_rate, t)
                soc.post_n[k] = m
                _push(soc.posts, cnt[C_POSTERS], k, tau)
                cnt[C_POSTERS] += 1


@njit(cache=True, _nrt=False)
def adopt(i, t, soc):
    """Consumer ``i`` becomes an adopter at ``t``: it starts talking (rate q) and, if a KOL,
    posting (rate r)."""
    _enter(i, t, soc)
    soc.clock[T_LAST] = t


@njit(cache=True)
def adopt_many(ids, t, soc):
    """Every consumer of ``ids`` not yet an adopter adopts at ``t``."""
    for i in ids:
        if soc.adopted[i] == 0:
            _enter(i, t, soc)
    soc.clock[T_LAST] = t


@njit(cache=True, inline="always", _nrt=False)
def on_purchase(i: int, t: float, awareness_i: float, soc: SocialState) -> None:
    """Journey hook at a purchase: the first purchase makes an adopter (``adopters: buyers``);
    with ``adopters: aware``, a purchase that left awareness at 1 does. The adoption is queued
    (time-sorted) and entered by `wom_advance` in time order among the bucket's talks."""
    par = soc.par
    if par.on > 0.0 and soc.adopted[i] == 0 and (par.aware_mode == 0.0 or awareness_i >= 1.0):
        soc.adopted[i] = 1
        cnt = soc.cnt
        ids, ts = soc.pending.ids, soc.pending.t
        k = cnt[C_PENDING]  # < n: each consumer is queued at most once
        cnt[C_PENDING] = k + 1
        while k > 0 and ts[k - 1] > t:  # purchases come in time order: normally no step
            ts[k] = ts[k - 1]
            ids[k] = ids[k - 1]
            k -= 1
        ts[k] = t
        ids[k] = i


@njit(cache=True, inline="always", _nrt=False)
def intent_utility(i: int, t: float, soc: SocialState) -> float:
    """Utility of consumer ``i``'s purchase intent at ``t``: w_I * I_i(t), with
    I_i(t) = stored_i * exp(-ln 2 (t - T0) / half_life)."""
    par = soc.par
    return par.intent_weight * soc.intent[i] * np.exp(-(t - soc.intent_t0[0]) * par.decay)


@njit(cache=True, inline="always", _nrt=False)
def _prefetch_listener(j, soc, awareness, mem, segment) -> None:
    """Start loading the state a talk to ``j`` reads (a hint; changes no result): a KOL's
    followers are known before its post reaches them, and each is a handful of cache misses."""
    prefetch(awareness, j)
    prefetch(segment, j)
    prefetch(soc.intent, j)
    prefetch(soc.adopted, j)
    if mem.on != 0:
        prefetch(mem.since, j)


@njit(cache=True, _nrt=False)
def _tell(j, teller, t, soc, awareness, mem, segment, habit):
    par = soc.par
    lift = par.lift
    now = lift_awareness(j, t, lift, mem, segment, awareness, habit) if lift > 0.0 else -1.0
    inc = par.intent_per_satisfaction * soc.valence[teller]
    if inc != 0.0:
        soc.intent[j] += inc * np.exp((t - soc.intent_t0[0]) * par.decay)
    if par.aware_mode > 0.0 and soc.adopted[j] == 0:
        if now < 0.0:  # no lift: the awareness as of now decides
            recall(j, t, mem, segment, awareness, habit)
            now = awareness[j]
        if now >= 1.0:
            adopt(j, t, soc)


@njit(cache=True, _nrt=False)
def wom_advance(
    t_end: float,
    soc: SocialState,
    awareness: np.ndarray,
    acc: np.ndarray,
    lwin: Window,
    mem: MemoryState,
    segment: np.ndarray,
    habit: np.ndarray,
) -> None:
    """Process, in time order, every pending adoption, innovation, talk and KOL post dated
    before ``t_end`` (days). Each adopter's talks and each adopted KOL's posts are its own
    Poisson process (rates q and r), whose next events wait in the heaps ``soc.talks`` and
    ``soc.posts``. Talks and posts in the ledger's window ``lwin`` are tallied in
    ``acc`` (the ledger's scalars). ``mem``, ``segment``, ``habit``: the consumers' forgetting
    (`omnisim.engine.memory`), applied before a talk or an innovation changes awareness."""
    par, cnt, nxt = soc.par, soc.cnt, soc.clock
    innov_t, innov_id = soc.innovations.t, soc.innovations.ids
    pend_id, pend_t = soc.pending.ids, soc.pending.t
    talks, posts = soc.talks, soc.posts
    indptr, indices = soc.graph.indptr, soc.graph.indices
    f_indptr, f_indices = soc.followers.indptr, soc.followers.indices
    key = soc.key[0]
    n = par.n
    fully_mixed = par.fully_mixed > 0.0
    aware_mode = par.aware_mode > 0.0
    n_innov = innov_t.shape[0]
    n_pend = cnt[C_PENDING]
    head = 0
    while True:
        tp = pend_t[head] if head < n_pend else np.inf
        k_in = cnt[C_INNOV]
        ti = innov_t[k_in] if k_in < n_innov else np.inf
        tt = talks.t[0] if cnt[C_TALKERS] > 0 else np.inf
        tk = posts.t[0] if cnt[C_POSTERS] > 0 else np.inf
        t = min(min(tp, ti), min(tt, tk))
        if t >= t_end:
            break
        if tp == t:
            # A purchase made an adopter (queued by `on_purchase`).
            j = pend_id[head]
            head += 1
            adopt(j, max(tp, nxt[T_LAST]), soc)
        elif ti == t:
            # Innovation: outside influence makes the consumer aware.
            j = innov_id[k_in]
            cnt[C_INNOV] = k_in + 1
            recall(j, ti, mem, segment, awareness, habit)
            if awareness[j] < 1.0:
                cnt[C_INNOVATIONS] += 1
            awareness[j] = 1.0
            if aware_mode and soc.adopted[j] == 0:
                adopt(j, ti, soc)
        elif tt == t:
            # A talk: the adopter tells one of its neighbours drawn uniformly (an adopter
            # without neighbours makes no conversation: thinning); its next talk is queued.
            nxt[T_LAST] = t
            cnt[C_TALK_EVENTS] += 1
            cid = talks.ids[0]
            m = soc.talk_n[cid]
            u_nb = rs.uniform(key, cid, m, SLOT_TALK)
            soc.talk_n[cid] = m + 1
            gap = _gap(key, cid, m + 1, SLOT_TALK_GAP, par.imitation)
            _reschedule_top(talks, cnt[C_TALKERS], t + gap)
            j = -1
            if fully_mixed:
                j = int(u_nb * n)
                if j >= n:
                    j = n - 1
                if j == cid:  # a draw of oneself is no conversation
                    j = -1
            else:
                lo = indptr[cid]
                deg = indptr[cid + 1] - lo
                if deg > 0:
                    r = int(u_nb * deg)
                    if r >= deg:
                        r = deg - 1
                    j = indices[lo + r]
            if j >= 0:
                cnt[C_TALKS] += 1
                if lwin.warmup <= t < lwin.horizon:
                    acc[lg.WOM_TALKS] += 1.0
                _tell(j, cid, t, soc, awareness, mem, segment, habit)
        else:
            # A KOL post: the KOL tells every follower; its next post is queued.
            nxt[T_LAST] = t
            cnt[C_POSTS] += 1
            k = posts.ids[0]
            kol = soc.kol_ids[k]
            m = soc.post_n[k]
            soc.post_n[k] = m + 1
            gap = _gap(key, kol, m + 1, SLOT_POST_GAP, par.kol_rate)
            _reschedule_top(posts, cnt[C_POSTERS], t + gap)
            inw = lwin.warmup <= t < lwin.horizon
            if inw:
                acc[lg.KOL_POSTS] += 1.0
            end = f_indptr[k + 1]
            for e in range(f_indptr[k], end):
                if e + LISTENER_AHEAD < end:
                    nxt_j = f_indices[e + LISTENER_AHEAD]
                    _prefetch_listener(nxt_j, soc, awareness, mem, segment)
                cnt[C_TALKS] += 1
                if inw:
                    acc[lg.WOM_TALKS] += 1.0
                _tell(f_indices[e], kol, t, soc, awareness, mem, segment, habit)
    # Pending adoptions dated at or after t_end (none from a bucket's purchases) wait.
    rest = n_pend - head
    for r in range(rest):
        pend_id[r] = pend_id[head + r]
        pend_t[r] = pend_t[head + r]
    cnt[C_PENDING] = rest


@njit(cache=True)
def rebase(soc: SocialState, t0: float) -> None:
    """Move the intent's reference time to ``t0`` (days; scale every stored value down)."""
    f = np.exp(-(t0 - soc.intent_t0[0]) * soc.par.decay)
    intent = soc.intent
    for i in range(intent.shape[0]):
        intent[i] = intent[i] * f
    soc.intent_t0[0] = t0
