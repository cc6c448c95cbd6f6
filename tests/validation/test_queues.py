"""Store queues and online deliveries against queueing theory.

Each test builds a market in which the simulator reduces to a textbook queue, runs independent
replications (replication index ``r`` = independent random streams, same seed), and compares the
replication mean of a KPI with the closed-form value. The tolerance is ``Z`` standard errors of
that mean (SE = sample standard deviation of the replications / sqrt(R)); it comes from the
sampling error of the run, never from how close the numbers happened to be. Theory, scenarios
and measured figures are in ``docs/validation.md``.

Superposition: ``n`` consumers with exponential inter-need times of mean ``m`` days each make a
Poisson process of needs (a sum of independent Poisson processes is Poisson) of rate ``n / m``
per day. With full awareness, a certain consideration (very high visibility), an outside option
of utility -50, zero search and travel time and unlimited stock, every need becomes one arrival
at the store (or one online order) at the moment of the need. A consumer still in a journey
when their next need falls has that need deferred to the end of the journey; with journeys of
well under an hour (stores) or a few days (deliveries) against mean inter-need times of 100-300
days, this changes the arrival rate by less than 1e-4 relative, far below the standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation

Z = 4.0  # tolerance, in standard errors of the replication mean
HUGE = 10**12  # stock that never runs out

# Store: lambda = 10 / h, mu = 4 / h (15 min mean service), c = 3 servers.
ARRIVALS_PER_DAY = 240.0
SERVERS = 3
SERVICE_MINUTES = 15.0
LAM_H = ARRIVALS_PER_DAY / 24.0
MU_H = 60.0 / SERVICE_MINUTES
STORE_CONSUMERS = 24_000

# Deliveries: lead = handling 0.5 + transport 1.5 + Exp(mean 1.0) days; 2 units per order.
HANDLING, TRANSPORT, DELAY = 0.5, 1.5, 1.0
BASKET = 2.0
ONLINE_CONSUMERS = 60_000
NEED_MEAN_DAYS = 300.0


# ------------------------------------------------------------------------------------------
# Theory


def erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability B(c, a) by the stable recursion
    B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1))."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C probability of waiting C(c, a) = c B / (c - a (1 - B)), with B = B(c, a); a < c."""
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue of M/M/c: Wq = C(c, a) / (c mu - lam), a = lam / mu."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmck(c: int, k: int, lam: float, mu: float) -> tuple[float, float, float]:
    """M/M/c/K (K = c + waiting room): (blocking p_K, P(wait | admitted), Wq) from the
    stationary law p_n = p_0 a^n / n! (n <= c), p_0 a^c / c! (a / c)^(n - c) (c < n <= K):
    blocking = p_K (PASTA), P(wait | admitted) = sum_{c <= n < K} p_n / (1 - p_K),
    Wq = Lq / (lambda (1 - p_K)) with Lq = sum_{n > c} (n - c) p_n (Little)."""
    a = lam / mu
    p = np.array(
        [
            a**n / math.factorial(n) if n <= c else a**c / math.factorial(c) * (a / c) ** (n - c)
            for n in range(k + 1)
        ]
    )
    p /= p.sum()
    lq = sum((n - c) * p[n] for n in range(c + 1, k + 1))
    return float(p[k]), float(p[c:k].sum() / (1.0 - p[k])), float(lq / (lam * (1.0 - p[k])))


def test_erlang_formulas_reproduce_the_textbook_figures():
    """Sanity check of the formulas above on lambda = 10/h, mu = 4/h, c = 3 (a = 2.5):
    B = (a^3/3!) / sum_{k<=3} a^k/k! = 0.282, C = 0.702, Wq = C / (c mu - lambda) h = 21.07
    min; the direct sums agree with the recursions, and M/M/c/K has both as limits."""
    a = LAM_H / MU_H
    terms = [a**k / math.factorial(k) for k in range(SERVERS + 1)]
    assert erlang_b(SERVERS, a) == pytest.approx(terms[-1] / sum(terms), rel=1e-12)
    top = terms[-1] * SERVERS / (SERVERS - a)
    assert erlang_c(SERVERS, a) == pytest.approx(top / (sum(terms[:-1]) + top), rel=1e-12)
    assert round(erlang_b(SERVERS, a), 3) == 0.282
    assert round(erlang_c(SERVERS, a), 3) == 0.702
    assert round(60.0 * erlang_c_wait(SERVERS, LAM_H, MU_H), 2) == 21.07
    # M/M/c/K is Erlang B at K = c and tends to Erlang C as K grows.
    assert mmck(SERVERS, SERVERS, LAM_H, MU_H)[0] == pytest.approx(erlang_b(SERVERS, a))
    _, p_wait, wq = mmck(SERVERS, 400, LAM_H, MU_H)
    assert p_wait == pytest.approx(erlang_c(SERVERS, a), rel=1e-9)
    assert wq == pytest.approx(erlang_c_wait(SERVERS, LAM_H, MU_H), rel=1e-9)


# ------------------------------------------------------------------------------------------
# Scenarios


def _common(
    name: str, horizon: float, warmup: float, consumers: int, need_mean: float, basket: float
) -> dict:
    return {
        "name": name,
        "horizon_days": horizon,
        "warmup_days": warmup,
        "seed": 20240601,
        "replications": 1,
        "market": {
            "consumers": consumers,
            "regions": [{"name": "city", "population_share": 1.0}],
            "distance_days": {"city": {"city": TRANSPORT}},
        },
        "segments": [
            {
                "name": "all",
                "share": 1.0,
                "need": {
                    "mean_interval_days": need_mean,
                    "distribution": "exponential",
                    "basket_mean_units": basket,
                },
                "awareness": 1.0,
                "outside_utility": -50.0,
                "search_hours": 0.0,
            }
        ],
        "journey": {
            "reviews": {"use_days": 0.0},
            "churn": {"probability": 0.0},
            "stockout": {"switch_probability": 0.0},
        },
    }


def store_scenario(
    horizon: float,
    warmup: float,
    waiting_room: int | None = None,
    distribution: str = "exponential",
    service_cv: float = 1.0,
) -> Scenario:
    """One store open around the clock: Poisson arrivals at 240 / day, 3 servers, 15 min
    mean service; `waiting_room` None = unlimited, 0 = loss system."""
    service = {
        "servers": SERVERS,
        "mean_service_minutes": SERVICE_MINUTES,
        "service_distribution": distribution,
        "service_cv": service_cv,
        "open_hour": 0,
        "close_hour": 24,
        "waiting_room": waiting_room,
    }
    data = _common(
        "erlang", horizon, warmup, STORE_CONSUMERS, STORE_CONSUMERS / ARRIVALS_PER_DAY, 1.0
    )
    data["engine"] = {"bucket_hours": 0.25, "timeseries_days": 1.0 / 24.0}
    data["channels"] = [
        {
            "name": "store",
            "type": "own_store",
            "nodes": ["shop"],
            "travel_hours": 0.0,
            "visibility": 30.0,  # considered with probability 1 - 1e-13
        }
    ]
    data["nodes"] = [
        {
            "name": "shop",
            "kind": "store",
            "region": "city",
            "initial_stock": HUGE,
            "replenishment": {"order_up_to": HUGE, "review_days": 1000.0},
            "service": service,
        }
    ]
    return Scenario.model_validate(data)


def online_scenario(horizon: float, warmup: float) -> Scenario:
    """Online only: one warehouse ships every order; lead = 0.5 + 1.5 + Exp(1.0) days;
    200 orders / day of 1 + Poisson(1) units (400 units / day)."""
    data = _common("little", horizon, warmup, ONLINE_CONSUMERS, NEED_MEAN_DAYS, BASKET)
    data["engine"] = {"bucket_hours": 1.0}
    data["channels"] = [
        {
            "name": "mall",
            "type": "own_online",
            "nodes": ["dc"],
            "visibility": 30.0,
            "handling_days": HANDLING,
            "delivery_delay_days": DELAY,
        }
    ]
    data["nodes"] = [
        {
            "name": "dc",
            "kind": "warehouse",
            "region": "city",
            "initial_stock": HUGE,
            "replenishment": {"order_up_to": HUGE, "review_days": 1000.0},
        }
    ]
    return Scenario.model_validate(data)


# ------------------------------------------------------------------------------------------
# Statistics


def mean_se(x) -> tuple[float, float]:
    """Mean of independent replications and its standard error (sample sd / sqrt(R))."""
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


def assert_close(name: str, values, theory: float, z: float = Z) -> tuple[float, float]:
    """Assert |mean - theory| < z SE (a floor of 1e-12 absorbs an SE of exactly 0)."""
    m, se = mean_se(values)
    assert abs(m - theory) < z * se + 1e-12, (
        f"{name}: simulated {m:.5g} +- {se:.2g} (SE, R={len(values)}), theory {theory:.5g}, "
        f"difference {(m - theory) / se if se else math.inf:+.2f} SE, tolerance {z} SE"
    )
    return m, se


def run_replications(sc: Scenario, reps: int) -> list:
    return [Simulation(sc, replication=r).run() for r in range(reps)]


# ------------------------------------------------------------------------------------------
# Store service queues

C_REPS, C_HORIZON, C_WARMUP = 20, 152.0, 2.0
B_REPS, B_HORIZON, B_WARMUP = 8, 42.0, 2.0


@pytest.mark.slow
def test_mmc_store_matches_erlang_c():
    """M/M/c with unlimited waiting room (Erlang C; Gross & Harris, Fundamentals of Queueing
    Theory, sec. 2.3): with offered load a = lambda / mu < c,

        P(wait > 0) = C(c, a) = [a^c / c! * c / (c - a)] / [sum_{k<c} a^k / k! + a^c / c! *
        c / (c - a)],      Wq = C(c, a) / (c mu - lambda).

    lambda = 10 / h, mu = 4 / h, c = 3: P(wait) = 0.702, Wq = 21.07 min. The arrival stream is
    checked first (rate 240 / day, hourly counts with variance / mean = 1 as for Poisson), so
    that a failure points at the queue, not at its input. 20 replications of 150 days after a
    2-day warm-up (the queue's relaxation time is about 10 h)."""
    results = run_replications(store_scenario(C_HORIZON, C_WARMUP), C_REPS)
    days = C_HORIZON - C_WARMUP
    for r in results:
        led = r.ledger
        assert led["store_arrivals"] == led["needs"] == led["store_admitted"]
        assert led["blocked"] == led["balks"] == 0
    assert_close(
        "arrivals / day", [r.ledger["store_arrivals"] / days for r in results], ARRIVALS_PER_DAY
    )
    hourly = np.array([r.ledger["ts_needs"] for r in results])
    n_hours = hourly.shape[1]
    assert n_hours == round(days * 24)
    # Index of dispersion (variance / mean) of the hourly counts: 1 for Poisson counts.
    assert_close("hourly variance / mean", hourly.var(axis=1, ddof=1) / hourly.mean(axis=1), 1.0)

    p_wait = erlang_c(SERVERS, LAM_H / MU_H)
    wq_min = 60.0 * erlang_c_wait(SERVERS, LAM_H, MU_H)
    assert_close("P(wait)", [r.kpis["store_wait_probability"] for r in results], p_wait)
    assert_close("Wq (min)", [r.kpis["store_wait_minutes"] for r in results], wq_min)


@pytest.mark.parametrize(
    ("distribution", "cv"),
    [("exponential", 1.0), ("deterministic", 0.0), ("lognormal", 2.0)],
)
def test_loss_store_matches_erlang_b(distribution: str, cv: float):
    """M/G/c/c, a loss system (waiting_room = 0; Erlang B; Gross & Harris sec. 2.5 and, for
    the insensitivity to the service distribution, sec. 6.2 / Sevastyanov 1957):

        B(c, a) = (a^c / c!) / sum_{k<=c} a^k / k!,   a = lambda / mu,

    which depends on the service time only through its mean. lambda = 10 / h, mu = 4 / h,
    c = 3: B = 0.282, for exponential, deterministic and lognormal (cv 2) service alike. No
    admitted customer ever waits. 8 replications of 40 days after a 2-day warm-up."""
    sc = store_scenario(B_HORIZON, B_WARMUP, 0, distribution, cv)
    results = run_replications(sc, B_REPS)
    for r in results:
        led = r.ledger
        assert led["store_waited"] == 0 and led["store_wait_days_sum"] == 0.0
        assert r.kpis["store_wait_probability"] == 0.0
        assert led["balks"] == led["blocked"]
        assert led["store_admitted"] + led["blocked"] == led["store_arrivals"]
    b = erlang_b(SERVERS, LAM_H / MU_H)
    assert_close(f"blocking ({distribution})", [r.kpis["store_block_rate"] for r in results], b)


K_ROOM = 2


def test_finite_waiting_room_matches_mmck():
    """M/M/c/K with a finite waiting room (Gross & Harris sec. 2.5): c = 3 servers and
    waiting_room = 2 (K = 5 in the system), lambda = 10 / h, mu = 4 / h. With a = lambda / mu,
    p_n = p_0 a^n / n! for n <= c and p_0 a^c / c! (a / c)^(n - c) for c < n <= K; an arrival
    is turned away with probability p_K (Poisson arrivals see time averages), waits with
    probability sum_{c <= n < K} p_n / (1 - p_K) if admitted, and waits Wq = Lq /
    (lambda (1 - p_K)) on average: 0.137, 0.419 and 3.05 min. Exercises the count of customers
    already waiting, on which neither Erlang B (room 0: any wait means full) nor Erlang C (no
    limit) depends. 8 replications of 40 days after a 2-day warm-up."""
    results = run_replications(store_scenario(B_HORIZON, B_WARMUP, K_ROOM), B_REPS)
    block, p_wait, wq = mmck(SERVERS, SERVERS + K_ROOM, LAM_H, MU_H)
    for r in results:
        led = r.ledger
        assert led["balks"] == led["blocked"] > 0
        assert led["store_admitted"] + led["blocked"] == led["store_arrivals"]
    assert_close("blocking (room 2)", [r.kpis["store_block_rate"] for r in results], block)
    assert_close("P(wait) (room 2)", [r.kpis["store_wait_probability"] for r in results], p_wait)
    assert_close("Wq min (room 2)", [r.kpis["store_wait_minutes"] for r in results], 60.0 * wq)


# ------------------------------------------------------------------------------------------
# Little's law for deliveries

L_REPS, L_HORIZON, L_WARMUP = 10, 70.0, 10.0


def lead_mean() -> float:
    return HANDLING + TRANSPORT + DELAY


def test_units_in_transit_obey_littles_law():
    """Little's law (Little 1961, "A proof for the queuing formula L = lambda W", Oper. Res.
    9(3)): in a stationary system the time-average number inside equals throughput times
    mean time inside, L = lambda W, whatever the distributions. Here the "system" is the
    delivery pipeline and its items are units: L = units in transit (time average),
    lambda = units ordered per day = (consumers / mean need interval) * mean basket
    = 200 * 2 = 400 / day, W = handling + transport + mean delay = 0.5 + 1.5 + 1.0 = 3 days,
    so L = 1200 units. Checked against theory (L, lambda, W each within 4 SE) and on each
    sample path (L - lambda_hat W_hat, whose mean is 0 up to edge effects, within 4 SE).
    10 replications of 60 days after a 10-day warm-up (P(lead > 10 days) = e^-8)."""
    results = run_replications(online_scenario(L_HORIZON, L_WARMUP), L_REPS)
    days = L_HORIZON - L_WARMUP
    lam_units = ONLINE_CONSUMERS / NEED_MEAN_DAYS * BASKET
    for r in results:
        assert r.ledger["online_orders"] == r.ledger["purchases"] > 0
    transit = [r.kpis["units_in_transit"] for r in results]
    throughput = [r.ledger["units"] / days for r in results]
    sojourn = [r.kpis["avg_delivery_days"] for r in results]
    assert_close("units ordered / day", throughput, lam_units)
    assert_close("mean delivery days", sojourn, lead_mean())
    assert_close("units in transit", transit, lam_units * lead_mean())
    gap = np.array(transit) - np.array(throughput) * np.array(sojourn)
    assert_close("L - lambda W (same path)", gap, 0.0)


def test_units_in_transit_agree_with_the_trail(tmp_path):
    """The same L measured independently from the event trail. Units in transit at time s are
    N(s) = (units with a purchase row at or before s) - (units with a receive row at or
    before s). (1) Integrating N over the window [warmup, horizon) gives exactly the ledger's
    transit_unit_days (floating-point agreement). (2) Sampling N at K = 5000 independent
    uniform times in the window estimates its time average with standard error
    sd(N(s_k)) / sqrt(K) given the path; that estimate must be within 4 SE of the KPI
    units_in_transit. (3) Pairing each consumer's k-th purchase with their k-th receipt gives
    lead times whose mean over orders placed in the window is avg_delivery_days."""
    path = tmp_path / "t.parquet"
    sc = online_scenario(L_HORIZON, L_WARMUP)
    res = Simulation(sc, replication=0, trail_path=path).run()
    table = pq.read_table(path, columns=["time", "consumer", "event", "units"]).to_pydict()
    t = np.asarray(table["time"], dtype=float)
    who = np.asarray(table["consumer"], dtype=np.int64)
    units = np.asarray(table["units"], dtype=np.int64)
    event = np.asarray(table["event"], dtype=object)
    buy, got = event == "purchase", event == "receive"
    assert buy.sum() == got.sum() > 0

    # Pair purchases and receipts: per consumer, in time order.
    ob = np.lexsort((t[buy], who[buy]))
    og = np.lexsort((t[got], who[got]))
    pb, pg = t[buy][ob], t[got][og]
    assert np.array_equal(who[buy][ob], who[got][og])
    assert np.array_equal(units[buy][ob], units[got][og])
    lead = pg - pb
    assert lead.min() >= HANDLING + TRANSPORT - 1e-9
    q = units[buy][ob]

    lo, hi = sc.warmup_days, sc.horizon_days
    in_window = (pb >= lo) & (pb < hi)
    assert in_window.sum() == res.ledger["online_orders"]
    assert lead[in_window].mean() == pytest.approx(res.kpis["avg_delivery_days"], rel=1e-9)

    # (1) Exact time integral of N over the window.
    overlap = np.clip(np.minimum(pg, hi) - np.maximum(pb, lo), 0.0, None)
    assert (overlap * q).sum() == pytest.approx(res.ledger["transit_unit_days"], rel=1e-9)

    # (2) N(s) at random times.
    sb = np.argsort(pb)
    cum_b = np.concatenate(([0], np.cumsum(q[sb])))
    sg = np.argsort(pg)
    cum_g = np.concatenate(([0], np.cumsum(q[sg])))
    s = np.random.default_rng(12345).uniform(lo, hi, 5000)
    n_s = (
        cum_b[np.searchsorted(pb[sb], s, side="right")]
        - cum_g[np.searchsorted(pg[sg], s, side="right")]
    )
    assert n_s.min() >= 0
    assert_close("N(s) at random times vs units_in_transit", n_s, res.kpis["units_in_transit"])
