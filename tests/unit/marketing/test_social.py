"""Word of mouth (omnisim/marketing/social.py): graphs, KOLs, the contagion, intent, wiring."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numba
import numpy as np
import pytest
import scipy.sparse as sp
from builders import merge, small_market

from omnisim.engine import state
from omnisim.engine.ledger import Window
from omnisim.engine.memory import MemoryState
from omnisim.marketing import social as so
from omnisim.scenario.loading import ScenarioError, load_scenario
from omnisim.scenario.schema import SOCIAL_STATE_BYTES, Scenario
from omnisim.simulation import Simulation

TINY = Path(__file__).parents[2] / "unit" / "scenario" / "data" / "tiny.yaml"

# Word of mouth driven alone: no forgetting (`omnisim.engine.memory`, switched off).
NO_FORGETTING = (
    state.off(MemoryState),
    np.zeros(0, dtype=np.int16),
    np.zeros((0, 0), dtype=np.float32),
)


def build(generator: str, n: int, seed: int, **params) -> so.Graph:
    return so.build_graph(generator, params, n, np.random.default_rng(seed))


def adjacency(g: so.Graph) -> sp.csr_array:
    data = np.ones(len(g.indices))
    return sp.csr_array((data, g.indices, g.indptr), shape=(g.n, g.n))


def nx_adjacency(G: nx.Graph) -> sp.csr_array:
    return nx.to_scipy_sparse_array(G, nodelist=range(len(G)), format="csr", weight=None)


def clustering(A: sp.csr_array) -> float:
    """Average local clustering (nodes of degree < 2 count 0, as networkx)."""
    A = sp.csr_array(A, dtype=np.float64)
    deg = np.asarray(A.sum(axis=1)).ravel()
    tri = np.asarray((A @ A).multiply(A).sum(axis=1)).ravel() / 2.0
    pairs = deg * (deg - 1) / 2.0
    return float(np.mean(np.divide(tri, pairs, out=np.zeros_like(tri), where=pairs > 0)))


# --------------------------------------------------------------------------------------------
# Graphs

FAMILIES = [
    ("watts_strogatz_graph", {"k": 6, "p": 0.2}),
    ("watts_strogatz_graph", {"k": 7, "p": 1.0}),
    ("barabasi_albert_graph", {"m": 3}),
    ("gnp_random_graph", {"p": 0.004}),
    ("erdos_renyi_graph", {"mean_degree": 6}),
    ("powerlaw_cluster_graph", {"m": 3, "p": 0.7}),
    ("newman_watts_strogatz_graph", {"k": 4, "p": 0.1}),  # through networkx
]


@pytest.mark.parametrize(("generator", "params"), FAMILIES)
@pytest.mark.parametrize("n", [1500, 4500])
def test_csr_is_symmetric_sorted_without_loops_or_parallel_edges(generator, params, n):
    g = build(generator, n, 3, **params)
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    assert len(g.indptr) == n + 1 and g.indptr[0] == 0 and g.indptr[-1] == len(g.indices)
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    assert not np.any(rows == g.indices), "self loop"
    for i in range(0, n, 97):  # rows sorted and distinct
        assert np.all(np.diff(g.indices[g.indptr[i] : g.indptr[i + 1]]) > 0)
    key = np.sort(rows.astype(np.int64) * n + g.indices)
    back = np.sort(g.indices.astype(np.int64) * n + rows)
    assert np.array_equal(key, back), "not symmetric"
    assert g.degree().sum() == 2 * g.edges


@pytest.mark.parametrize("k", [2, 6, 7, 10])
def test_watts_strogatz_mean_degree_exact_as_networkx(k):
    n = 2000
    g = build("watts_strogatz_graph", n, 1, k=k, p=0.3)
    G = nx.watts_strogatz_graph(n, k, 0.3, seed=1)
    assert g.edges == G.number_of_edges() == n * (k // 2)
    assert g.degree().mean() == 2 * (k // 2)


def test_watts_strogatz_without_rewiring_is_the_ring_lattice():
    g = build("watts_strogatz_graph", 50, 0, k=4, p=0.0)
    assert np.array_equal(
        adjacency(g).toarray(), nx_adjacency(nx.watts_strogatz_graph(50, 4, 0)).toarray()
    )


def test_barabasi_albert_edge_count_exact_as_networkx():
    for n, m in ((1000, 1), (3000, 4), (500, 7)):
        g = build("barabasi_albert_graph", n, 2, m=m)
        assert g.edges == nx.barabasi_albert_graph(n, m, seed=2).number_of_edges()
        assert g.edges == m + m * (n - m - 1)
        assert g.degree().min() >= 1


@pytest.mark.parametrize("n", [1500, 20_000])  # the per-pair and the edge-count algorithms
def test_gnp_mean_degree_within_sampling_error(n):
    p = 8.0 / (n - 1)
    g = build("gnp_random_graph", n, 5, p=p)
    pairs = n * (n - 1) / 2
    # Edge count ~ Binomial(pairs, p): mean degree 2 E / n has sd 2 sqrt(pairs p (1 - p)) / n.
    sd = 2.0 * math.sqrt(pairs * p * (1 - p)) / n
    assert abs(g.degree().mean() - p * (n - 1)) < 4 * sd
    # Degrees are Binomial(n - 1, p): their variance is (n - 1) p (1 - p) (the sample variance
    # of n nearly independent draws has relative sd about sqrt(2 / n) ~ 1-4 %; 15 % is > 4 sd).
    assert g.degree().var() == pytest.approx((n - 1) * p * (1 - p), rel=0.15)


def _replicates(make, stat, reps):
    return np.array([stat(make(seed)) for seed in range(reps)])


def _close(a: np.ndarray, b: np.ndarray) -> None:
    """Means of two sets of replicates agree within 4 standard errors of their difference
    (each standard error estimated from the replicates' own spread)."""
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) < 4 * se + 1e-12, (a.mean(), b.mean(), se)


def test_watts_strogatz_clustering_as_networkx():
    n, k, p, reps = 2000, 6, 0.2, 8
    ours = _replicates(
        lambda s: adjacency(build("watts_strogatz_graph", n, s, k=k, p=p)), clustering, reps
    )
    theirs = _replicates(
        lambda s: nx_adjacency(nx.watts_strogatz_graph(n, k, p, seed=s)), clustering, reps
    )
    _close(ours, theirs)
    # And both near the small-world formula C(p) ~ C(0) (1 - p)^3 (Barrat and Weigt 2000).
    assert ours.mean() == pytest.approx(3 * (k - 2) / (4 * (k - 1)) * (1 - p) ** 3, rel=0.05)


def test_barabasi_albert_degree_distribution_as_networkx():
    n, m, reps = 3000, 3, 8

    def shares(A):
        d = np.asarray(A.sum(axis=1)).ravel()
        return np.array([np.mean(d == m), np.mean(d >= 3 * m), np.log(d).mean()])

    ours = _replicates(lambda s: adjacency(build("barabasi_albert_graph", n, s, m=m)), shares, reps)
    theirs = _replicates(
        lambda s: nx_adjacency(nx.barabasi_albert_graph(n, m, seed=s)), shares, reps
    )
    for j in range(3):
        _close(ours[:, j], theirs[:, j])
    # P(degree = m) = 2 / (m + 2) in the limit (Dorogovtsev, Mendes and Samukhin 2000).
    assert ours[:, 0].mean() == pytest.approx(2 / (m + 2), abs=0.03)


def test_powerlaw_cluster_as_networkx():
    n, m, p, reps = 2000, 3, 0.6, 8

    def stats(A):
        d = np.asarray(A.sum(axis=1)).ravel()
        return np.array([d.mean(), clustering(A), np.mean(d == m)])

    ours = _replicates(
        lambda s: adjacency(build("powerlaw_cluster_graph", n, s, m=m, p=p)), stats, reps
    )
    theirs = _replicates(
        lambda s: nx_adjacency(nx.powerlaw_cluster_graph(n, m, p, seed=s)), stats, reps
    )
    for j in range(3):
        _close(ours[:, j], theirs[:, j])
    assert ours[:, 1].mean() > 0.1  # the triad steps make it clustered (BA would be ~0.01)


def test_fully_mixed_holds_no_graph():
    g = build("fully_mixed", 100, 0)
    assert g.fully_mixed and g.nbytes() == 0 and np.all(g.degree() == 99)


# --------------------------------------------------------------------------------------------
# KOLs


def test_kols_are_the_highest_degree_nodes_ties_by_id():
    # A star plus a path: node 0 has degree 4; nodes 1..3 degree 2; 4 degree 1, 5 degree 1.
    a = np.array([0, 0, 0, 0, 1, 2, 3], dtype=np.int32)
    b = np.array([1, 2, 3, 4, 2, 3, 5], dtype=np.int32)
    indptr, indices = so.csr_from_edges(a, b, 6)
    g = so.Graph(6, indptr, indices)
    assert g.degree().tolist() == [4, 2, 3, 3, 1, 1]
    assert so.top_degree(g, 3).tolist() == [0, 2, 3]
    assert so.top_degree(g, 5).tolist() == [0, 2, 3, 1, 4]
    assert so.top_degree(so.Graph(10, None, None), 3).tolist() == [0, 1, 2]


def test_followers_distinct_uniform_never_the_kol():
    n, f = 400, 150
    kols = np.array([7, 3, 399])
    indptr, indices = so.draw_followers(n, kols, f, np.random.default_rng(0))
    assert indptr.tolist() == [0, f, 2 * f, 3 * f]
    for k, kol in enumerate(kols):
        row = indices[indptr[k] : indptr[k + 1]]
        assert len(np.unique(row)) == f and kol not in row and row.min() >= 0 and row.max() < n
    # Uniform: over KOLs 0..199, consumer i is followed by each KOL other than itself with
    # probability pi = f / (n - 1), independently across KOLs; so its count has mean k_i pi and
    # variance k_i pi (1 - pi), k_i = 200 - [i < 200]. The sum of the n squared z-scores has
    # mean n and sd about sqrt(2 n): 4 sd.
    many = np.arange(200)
    _, idx = so.draw_followers(n, many, f, np.random.default_rng(1))
    counts = np.bincount(idx, minlength=n)
    pi = f / (n - 1)
    k_i = 200 - (np.arange(n) < 200)
    z2 = float(np.sum((counts - k_i * pi) ** 2 / (k_i * pi * (1 - pi))))
    assert abs(z2 - n) < 4 * math.sqrt(2 * n)


# --------------------------------------------------------------------------------------------
# The process in the simulator


def social_market(consumers=2000, horizon=20.0, **social) -> Scenario:
    data = small_market(horizon_days=horizon, warmup_days=0.0)
    data["market"]["consumers"] = consumers
    data["social"] = social
    return Scenario.model_validate(data)


def test_graph_reproducible_per_seed_and_common_to_strategies():
    sc = social_market(graph={"generator": "barabasi_albert_graph", "params": {"m": 2}})
    a, b = Simulation(sc, 0), Simulation(sc, 0)
    assert np.array_equal(a.social.graph.indices, b.social.graph.indices)
    # Another strategy (a price change) of the same run: the same graph.
    other = sc.model_copy(update={"product": sc.product.model_copy(update={"list_price": 90.0})})
    c = Simulation(other, 0)
    assert np.array_equal(a.social.graph.indices, c.social.graph.indices)
    # Another replication or seed: another graph.
    assert not np.array_equal(a.social.graph.indices, Simulation(sc, 1).social.graph.indices)
    d = Simulation(sc, 0, seed=sc.seed + 1)
    assert not np.array_equal(a.social.graph.indices, d.social.graph.indices)


def test_talk_and_post_counts():
    """Every consumer is an adopter from t = 0 (aware mode, awareness 1), so talks are a
    Poisson process of rate n q over the horizon T; each KOL posts at rate r, each post telling
    its f followers."""
    n, q, T, count, f, r = 2000, 0.5, 20.0, 5, 40, 0.8
    sc = social_market(
        n,
        T,
        graph={"generator": "watts_strogatz_graph", "params": {"k": 4, "p": 0.1}},
        adopters="aware",
        imitation_per_day=q,
        kols={"count": count, "followers": f, "talk_per_day": r},
    )
    data = sc.model_dump()
    for s in data["segments"]:
        s["awareness"] = 1.0
    res = Simulation(Scenario.model_validate(data), 0).run()
    k = res.kpis
    assert k["adopters"] == 1.0
    posts = k["kol_posts"]
    # Poisson counts: |N - mean| < 4 sqrt(mean).
    assert abs(posts - count * r * T) < 4 * math.sqrt(count * r * T)
    talks = k["wom_talks"] - posts * f
    assert abs(talks - n * q * T) < 4 * math.sqrt(n * q * T)
    assert res.ledger["social"]["talks_total"] == k["wom_talks"]


def test_talk_count_poisson_with_adopters_arriving_by_innovation():
    """Adopters arrive over the run (aware mode, each at its innovation time; talks never make
    anyone aware: lift 0, and purchases never do: awareness 0, no awareness after purchase), so
    A(t) is the known count of innovation times before t, and talks are a Poisson process of
    rate q A(t): their count has mean and variance q * sum_i (T - t_i)."""
    n, p, q, T = 4000, 0.05, 0.4, 30.0
    data = social_market(
        n,
        T,
        graph={"generator": "watts_strogatz_graph", "params": {"k": 4, "p": 0.2}},
        adopters="aware",
        innovation_per_day=p,
        imitation_per_day=q,
        awareness_lift=0.0,
    ).model_dump()
    for s in data["segments"]:
        s["awareness"] = 0.0
    data["journey"]["aware_after_purchase"] = False
    sim = Simulation(Scenario.model_validate(data), 0)
    res = sim.run()
    soc = sim.social.state()
    t_in = soc.innovations.t
    assert res.kpis["adopters"] == pytest.approx(len(t_in) / n)
    assert np.array_equal(np.sort(soc.adopters[: len(t_in)]), np.sort(soc.innovations.ids))
    # Every Watts-Strogatz node keeps its own k/2 lattice edges: no adopter is silent.
    # E sum_i (T - t_i) = n (T - (1 - exp(-p T)) / p) ~ 57,900: mean ~ 23,000, 4 sd ~ 610.
    mean = q * float(np.sum(T - t_in))
    talks = res.ledger["social"]["talks_total"]
    assert talks == soc.cnt[so.C_TALK_EVENTS]
    assert abs(talks - mean) < 4 * math.sqrt(mean), (talks, mean)


def test_pending_purchase_adoptions_enter_in_time_order_and_drive_the_talk_rate():
    """Buyers mode at the kernel level: adoptions queued by the journey hook (out of order
    inside a bucket too) are entered in time order, each starting its talks at its own time;
    over many buckets the talk count is Poisson with mean q * sum_i (T - t_i)."""
    n, q, T, dt = 3000, 0.3, 40.0, 1.0
    sc = social_market(
        n,
        T,
        graph={"generator": "watts_strogatz_graph", "params": {"k": 6, "p": 0.1}},
        imitation_per_day=q,
        awareness_lift=0.0,
    )
    sim = Simulation(sc, 0)
    soc, aw = sim.social.state(), sim.population.awareness.copy()
    acc, lwin = np.zeros_like(sim.ledger.acc), Window(0.0, T, 7.0)
    rng = np.random.default_rng(5)
    t_adopt = rng.uniform(0.0, T, size=n // 2)
    who = rng.permutation(n)[: n // 2]
    b = np.floor(t_adopt / dt)
    for k in range(int(T / dt)):
        sel = np.flatnonzero(b == k)
        sel = sel[np.argsort(t_adopt[sel])]
        for i in sel[::-1] if k % 2 else sel:  # odd buckets: queued in reverse time order
            so.on_purchase(int(who[i]), float(t_adopt[i]), 0.0, soc)
        assert soc.cnt[so.C_PENDING] == len(sel)
        assert np.array_equal(soc.pending.t[: len(sel)], t_adopt[sel])
        assert np.array_equal(soc.pending.ids[: len(sel)], who[sel])
        so.wom_advance((k + 1) * dt, soc, aw, acc, lwin, *NO_FORGETTING)
        assert soc.cnt[so.C_PENDING] == 0
    cnt = soc.cnt
    assert cnt[so.C_ADOPTERS] == n // 2
    # The adopter list is in adoption-time order.
    order = np.argsort(t_adopt, kind="stable")
    assert np.array_equal(soc.adopters[: n // 2], who[order])
    mean = q * float(np.sum(T - t_adopt))  # ~ 0.3 * 1500 * 20 = 9,000: 4 sd ~ 380
    assert cnt[so.C_TALKS] == cnt[so.C_TALK_EVENTS]  # every node has neighbours
    assert abs(cnt[so.C_TALKS] - mean) < 4 * math.sqrt(mean), (cnt[so.C_TALKS], mean)


def test_fully_mixed_talks_skip_oneself_only():
    n, q, T = 300, 1.0, 30.0
    sc = social_market(
        n, T, graph={"generator": "fully_mixed"}, adopters="aware", imitation_per_day=q
    )
    data = sc.model_dump()
    for s in data["segments"]:
        s["awareness"] = 1.0
    k = Simulation(Scenario.model_validate(data), 0).run().kpis
    mean = n * q * T * (1 - 1 / n)  # a draw of oneself is no conversation
    assert abs(k["wom_talks"] - mean) < 4 * math.sqrt(mean)


def test_adopter_series_rises_to_the_kpi():
    sc = social_market(
        5000, 30.0, graph={"generator": "watts_strogatz_graph"}, imitation_per_day=0.3
    )
    res = Simulation(sc, 0).run()
    F = np.array(res.ledger["ts_adopters"])
    assert len(F) == math.ceil(30.0 / 7.0)
    assert np.all(np.diff(F) >= 0) and F[0] > 0 and F[-1] == res.kpis["adopters"]
    # Buyers mode: adopters are exactly the consumers who bought (before or in the window).
    sim = Simulation(sc, 0)
    sim.run()
    adopted = sim.social.state().adopted.astype(bool)
    bought = sim.population.ever_bought
    assert np.array_equal(adopted, bought)


def test_word_of_mouth_raises_awareness():
    base = social_market(5000, 30.0, imitation_per_day=0.0)
    wom = social_market(5000, 30.0, imitation_per_day=0.5, awareness_lift=0.5)
    a = Simulation(base, 0).run().kpis
    b = Simulation(wom, 0).run().kpis
    assert a["wom_talks"] == 0 and b["wom_talks"] > 0
    assert b["awareness"] > a["awareness"] + 0.01


# --------------------------------------------------------------------------------------------
# Purchase intent


def test_intent_rebased_decay_and_sign():
    sc = social_market(
        50,
        10.0,
        graph={"generator": "fully_mixed"},
        intent_per_satisfaction=0.5,
        intent_half_life_days=10.0,
    )
    sim = Simulation(sc, 0)
    soc = sim.social.state()
    aw = sim.population.awareness
    soc.valence[3] = 2.0
    soc.valence[4] = -4.0
    a7 = float(aw[7])
    so._tell(7, 3, 3.0, soc, aw, *NO_FORGETTING)  # +0.5 * 2 at t = 3
    # The awareness lift: a <- a + lift (1 - a) (float32 storage).
    assert aw[7] == np.float32(a7 + sc.social.awareness_lift * (1.0 - a7))
    so._tell(8, 4, 3.0, soc, aw, *NO_FORGETTING)  # -0.5 * 4
    assert sim.social.intent(3.0)[[7, 8]] == pytest.approx([1.0, -2.0], rel=1e-6)
    assert sim.social.intent(13.0)[[7, 8]] == pytest.approx([0.5, -1.0], rel=1e-6)
    assert so.intent_utility(7, 13.0, soc) == pytest.approx(sc.social.intent_weight * 0.5, rel=1e-6)
    so.rebase(soc, 13.0)
    assert soc.intent_t0[0] == 13.0
    assert soc.intent[7] == pytest.approx(0.5, rel=1e-6)
    assert sim.social.intent(23.0)[7] == pytest.approx(0.25, rel=1e-6)


def test_intent_bounded_by_tells_and_satisfaction():
    """I_j(t) is a decayed sum of tells, each ips * s with |s| <= max |satisfaction|: so
    |I_j| <= ips * max|s| * (tells j received) at any time, and the run keeps it finite."""
    sc = social_market(
        3000, 40.0, imitation_per_day=0.5, intent_per_satisfaction=2.0, intent_half_life_days=5.0
    )
    sim = Simulation(sc, 0)
    sim.run()
    soc = sim.social.state()
    intent = sim.social.intent(40.0)
    sat = soc.valence
    talks = int(soc.cnt[so.C_TALKS])
    assert np.all(np.isfinite(intent))
    assert np.abs(intent).max() <= 2.0 * np.abs(sat).max() * talks
    assert np.abs(intent).max() > 0


@pytest.mark.slow  # minutes with the kernels interpreted (coverage pass)
def test_intent_moves_purchases_its_way():
    """Paired runs (common random numbers): a positive intent weight raises purchases when
    tellers are satisfied; a negative one lowers them."""
    common = {"imitation_per_day": 1.0, "intent_per_satisfaction": 1.0}

    def purchases(weight: float) -> float:
        # Ample stock everywhere: the small market is otherwise stock-bound (lost sales exceed
        # purchases), and intent could then move only who gets the stock, not how much sells.
        data = social_market(4000, 40.0, intent_weight=weight, **common).model_dump()
        for node in data["nodes"]:
            node["replenishment"].update(order_up_to=10**6, reorder_point=None)
            node["initial_stock"] = 10**6
        # No satisfaction noise: tellers are (nearly all) satisfied, so intent is one-signed.
        # With noise, intent spreads both ways and, at the market's high conversion, a larger
        # weight can lower purchases (the logit is concave there), which says nothing of sign.
        data["journey"]["satisfaction"].update(noise_sd=0.0, base=1.0)
        return Simulation(Scenario.model_validate(data), 0).run().kpis["purchases"]

    # About 9,500 purchases: a Poisson sd of ~100 unpaired, far less paired; intents of a few
    # units at weight +-2 move utility by several units, an effect of many hundred purchases.
    k0, kp, kn = purchases(0.0), purchases(2.0), purchases(-2.0)
    assert kp > k0 + 300
    assert kn < k0 - 300


# --------------------------------------------------------------------------------------------
# Switched off


def test_without_social_nothing_changes(small):
    """No `social` section: no social KPIs, zero tallies; and a `social` section whose every
    effect is zero gives the same numbers as none (the kernel's new terms are skipped)."""
    r = Simulation(small, 0).run()
    assert "adopters" not in r.kpis and "wom_talks" not in r.kpis
    assert r.ledger["wom_talks"] == 0 and set(r.ledger["ts_adopters"]) == {0.0}
    data = merge(
        small.model_dump(),
        {
            "social": {
                "imitation_per_day": 0.0,
                "innovation_per_day": 0.0,
                "intent_weight": 0.0,
                "awareness_lift": 0.0,
            }
        },
    )
    inert = Simulation(Scenario.model_validate(data), 0).run()
    assert {k: v for k, v in inert.kpis.items() if k in r.kpis} == r.kpis
    assert inert.events == r.events


def _leaves(state: tuple):
    """The arrays of a state, nested states included."""
    for v in state:
        if isinstance(v, tuple):
            yield from _leaves(v)
        elif isinstance(v, np.ndarray):
            yield v


@pytest.mark.parametrize("generator", ["watts_strogatz_graph", "fully_mixed"])
def test_off_state_has_the_live_numba_type(generator):
    """The journey kernel compiles once for runs with and without word of mouth: the off state
    must be the live one's numba type (dtypes, dimensions, layouts, scalar kinds, nesting)."""
    sc = social_market(100, 5.0, graph={"generator": generator}, kols={"count": 3, "followers": 10})
    on, off = Simulation(sc, 0).social.state(), so.off()
    assert isinstance(on, so.SocialState) and isinstance(off, so.SocialState)
    assert numba.typeof(on) == numba.typeof(off)
    assert off.par.on == 0.0 and on.par.on == 1.0 and on.par.n == 100
    assert all(a.size == 0 for a in _leaves(off))
    per_consumer = sum(a.nbytes for a in _leaves(on) if a.shape == (100,)) / 100
    assert per_consumer <= SOCIAL_STATE_BYTES == so.STATE_BYTES <= 56


def test_build_refuses_a_wrongly_typed_field():
    """A field filled from the wrong array fails at once, by name (not a mis-wired model)."""
    live = Simulation(social_market(100, 5.0), 0).social.state()
    fields = live._asdict()
    with pytest.raises(TypeError, match=r"SocialState\.valence: float32\[1-d\] expected"):
        state.build(so.SocialState, **(fields | {"valence": np.zeros(100)}))
    with pytest.raises(TypeError, match=r"SocialState\.adopted: a C-contiguous array"):
        state.build(so.SocialState, **(fields | {"adopted": np.zeros(200, dtype=np.int8)[::2]}))
    with pytest.raises(TypeError, match=r"Csr\.indices: int32\[1-d\] expected"):
        state.build(so.Csr, indptr=np.zeros(1, dtype=np.int64), indices=np.zeros(1, dtype=np.int64))
    with pytest.raises(TypeError, match=r"SocialState\.graph: Csr expected"):
        state.build(so.SocialState, **(fields | {"graph": (live.graph.indptr, live.graph.indices)}))
    with pytest.raises(TypeError, match=r"SocialParams\.n: a scalar expected"):
        state.build(so.SocialParams, **(live.par._asdict() | {"n": np.zeros(3)}))


# --------------------------------------------------------------------------------------------
# Scenario errors name the field


def load_with(tmp_path, social_yaml: str, consumers: int = 500):
    text = TINY.read_text().replace("consumers: 500", f"consumers: {consumers}")
    path = tmp_path / "s.yaml"
    path.write_text(text + "social:\n" + social_yaml)
    return path, load_scenario


def problems(tmp_path, social_yaml: str, consumers: int = 500) -> list[str]:
    path, load = load_with(tmp_path, social_yaml, consumers)
    with pytest.raises(ScenarioError) as info:
        load(path)
    return [p.replace(str(path), "F") for p in info.value.problems]


def test_schema_errors_name_the_field(tmp_path):
    found = problems(
        tmp_path, "  graph:\n    generator: barabasi_albert_graph\n    params: {m: 2, k: 3}\n"
    )
    assert found == [
        "F:33: social.graph.params.k: barabasi_albert_graph takes no parameter 'k' (it takes m)"
    ]
    found = problems(
        tmp_path,
        "  graph:\n    generator: watts_strogatz_graph\n    params:\n      k: 2.5\n      p: 1.5\n",
    )
    assert found == [
        "F:34: social.graph.params.k: must be a whole number >= 1, not 2.5",
        "F:35: social.graph.params.p: must be a probability in [0, 1], not 1.5",
    ]
    found = problems(tmp_path, "  graph: {generator: no_such_graph}\n")
    assert len(found) == 1 and found[0].startswith("F:31: social.graph.generator: unknown graph")
    found = problems(
        tmp_path, "  graph: {generator: gnp_random_graph, params: {p: 0.1, mean_degree: 4}}\n"
    )
    assert found == ["F:31: social.graph.params.mean_degree: give p or mean_degree, not both"]
    found = problems(tmp_path, "  kols: {count: 600, followers: 10}\n")
    assert found == ["F:31: social.kols.count: more KOLs than consumers (600 > 500)"]
    found = problems(tmp_path, "  adopters: everyone\n")
    assert len(found) == 1 and found[0].startswith("F:31: social.adopters:")
    found = problems(tmp_path, "  imitation_per_day: -1\n")
    assert len(found) == 1 and found[0].startswith("F:31: social.imitation_per_day:")


def test_memory_goal_refused_naming_the_field(tmp_path):
    found = problems(
        tmp_path,
        "  graph: {generator: watts_strogatz_graph, params: {k: 200}}\n",
        consumers=100_000,
    )
    assert len(found) == 1
    assert found[0].startswith("F:31: social.graph.params: word of mouth would hold about 861 ")
    found = problems(tmp_path, "  kols: {count: 200, followers: 9000}\n", consumers=10_000)
    assert len(found) == 1 and found[0].startswith("F:31: social.kols.followers: word of mouth")
    found = problems(
        tmp_path,
        "  graph: {generator: newman_watts_strogatz_graph, params: {k: 4, p: 0.1}}\n",
        consumers=200_000,
    )
    assert len(found) == 1 and found[0].startswith("F:31: social.graph.generator: ")
    # Within the goal: loads.
    path, load = load_with(tmp_path, "  graph: {generator: watts_strogatz_graph}\n")
    assert load(path).social.graph.generator == "watts_strogatz_graph"
