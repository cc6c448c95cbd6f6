"""Heterogeneity within a segment (docs/model.md, "Heterogeneity"): the per-consumer draws
have the laws the scenario asks for; choice shares under a random price coefficient are the
mixed-logit probabilities (the integral of the logit over the coefficient's law), not the
plain logit at the mean; and a population with gamma need rates and beta drop-out after repeat
purchases writes a purchase log from which an independent BG/NBD fit (Fader, Hardie and Lee
2005; the likelihood written here with scipy) recovers the parameters."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import optimize, special

from omnisim.consumers import heterogeneity as ht
from omnisim.engine.streams import Streams
from omnisim.metrics.transactions import DEFAULT_START_DATE, export_transactions
from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation
from tests.unit.consumers.test_nested_logit import ASC, V0, plain_market

N_DRAWS = 40_000


def taste(het: dict, n: int = N_DRAWS) -> ht.TasteState:
    """The coefficients of ``n`` consumers of one segment with heterogeneity ``het``."""
    sc = plain_market(segment={"heterogeneity": het}, market={"consumers": n})
    return ht.taste_state(sc, np.zeros(n, dtype=np.int16), Streams(sc.seed, 0).keys)


def test_no_heterogeneity_is_the_off_form() -> None:
    t = taste({})
    assert all(a.shape == (0,) for a in t)


@pytest.mark.parametrize("cv", [0.3, 1.0])
def test_sensitivity_multipliers_are_lognormal_with_mean_one(cv: float) -> None:
    t = taste({"price_sensitivity_cv": cv, "time_sensitivity_cv": 2 * cv})
    for draws, c in ((t.price, cv), (t.time, 2 * cv)):
        # ln m ~ N(-s2 / 2, s2), s2 = ln(1 + cv^2): its sample mean and variance against their
        # standard errors (s / sqrt(n) and s2 sqrt(2 / (n - 1))).
        s2 = math.log1p(c * c)
        logs = np.log(draws.astype(np.float64))
        assert abs(logs.mean() + s2 / 2) < 4 * math.sqrt(s2 / N_DRAWS)
        assert abs(logs.var(ddof=1) - s2) < 4 * s2 * math.sqrt(2 / (N_DRAWS - 1))
    # Independent families: the two multipliers are uncorrelated (se of r about 1 / sqrt(n)).
    r = np.corrcoef(np.log(t.price), np.log(t.time))[0, 1]
    assert abs(r) < 4 / math.sqrt(N_DRAWS)
    assert t.need_scale.shape == (0,) and t.dropout.shape == (0,)


@pytest.mark.parametrize("shape", [0.7, 3.0])
def test_need_rates_are_gamma_with_mean_one(shape: float) -> None:
    rate = 1.0 / taste({"need_rate_shape": shape}).need_scale.astype(np.float64)
    # Gamma(r, 1/r): mean 1, variance 1/r; the variance of the sample variance uses the
    # fourth central moment 3/r^2 + 6/r^3.
    var, m4 = 1 / shape, 3 / shape**2 + 6 / shape**3
    assert abs(rate.mean() - 1) < 4 * math.sqrt(var / N_DRAWS)
    assert abs(rate.var(ddof=1) - var) < 4 * math.sqrt((m4 - var**2) / N_DRAWS)


def test_dropout_probabilities_are_beta() -> None:
    a, b = 1.5, 4.0
    p = taste({"dropout": {"a": a, "b": b}}).dropout.astype(np.float64)
    mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
    assert ((p > 0) & (p < 1)).all()
    assert abs(p.mean() - mean) < 4 * math.sqrt(var / N_DRAWS)
    assert abs(p.var(ddof=1) - var) < 0.05 * var  # se of a sample variance: about 1.1% here


def test_draws_are_the_same_consumers_under_every_strategy() -> None:
    """Keyed by consumer id in the population stream: what a strategy changes elsewhere (here
    the market size, so other consumers exist) leaves consumer i's coefficients alone."""
    het = {"price_sensitivity_cv": 0.5, "need_rate_shape": 2.0}
    small, large = taste(het, 1_000), taste(het, 3_000)
    assert np.array_equal(small.price, large.price[:1_000])
    assert np.array_equal(small.need_scale, large.need_scale[:1_000])


# ------------------------------------------------------------------------------------------
# Mixed logit: shares are the logit integrated over the coefficient's law.

PRICE_INDEX = {"shop": 1.0, "mall": 1.6, "platform": 0.6}
BETA, CV = 2.0, 1.5
COMPETITORS = 1.2  # competitors' price index: the outside option is V0 - beta_i ln 1.2


def priced_market(cv: float) -> Scenario:
    sc = plain_market(
        segment={"price_sensitivity": BETA, "heterogeneity": {"price_sensitivity_cv": cv}}
    )
    data = sc.model_dump(mode="json")
    for c in data["channels"]:
        c["price_index"] = PRICE_INDEX[c["name"]]
    data["competition"] = {"price_index": COMPETITORS, "share": 1.0}
    return Scenario.model_validate(data)


def shares_given(m: float) -> dict[str, float]:
    """Plain-logit probabilities of a consumer whose price sensitivity is BETA * m, in the
    channels' utilities and in the competitors' part of the outside option."""
    v = {"outside": V0 - BETA * m * math.log(COMPETITORS)} | {
        c: ASC[c] - BETA * m * math.log(PRICE_INDEX[c]) for c in ASC
    }
    top = max(v.values())  # a stable softmax: far in the tails m is huge
    e = {o: math.exp(x - top) for o, x in v.items()}
    return {o: x / sum(e.values()) for o, x in e.items()}


def mixed_shares(cv: float) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and variance over consumers of each option's probability (Gauss-Hermite
    quadrature over ln m ~ N(-s2/2, s2))."""
    s2 = math.log1p(cv * cv)
    z, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    probs = [shares_given(math.exp(-s2 / 2 + math.sqrt(s2) * x)) for x in z]
    mean = {o: float(sum(wk * p[o] for wk, p in zip(w, probs, strict=True))) for o in probs[0]}
    var = {
        o: float(sum(wk * (p[o] - mean[o]) ** 2 for wk, p in zip(w, probs, strict=True)))
        for o in mean
    }
    return mean, var


@pytest.mark.slow
def test_choice_shares_are_the_mixed_logit_probabilities() -> None:
    sc = priced_market(CV)
    L = Simulation(sc).run().ledger
    counts = dict(zip(L["meta"]["channels"], L["ch_orders"], strict=True))
    counts["outside"] = L["outside_choices"]
    assert L["stockouts"] == 0 and L["balks"] == 0
    n = sum(counts.values())
    consumers = sc.market.consumers
    mean, var = mixed_shares(CV)
    plain = shares_given(1.0)
    # A consumer's decisions share their coefficient, so the count of an option is a mixture
    # of binomials: Var = n p (1 - p) + E[d (d - 1)] N Var_m(p), with d the decisions of one
    # consumer in the window, Poisson (exponential needs, all of them decisions).
    d = n / consumers
    for option, p in mean.items():
        se = math.sqrt(n * p * (1 - p) + d * d * consumers * var[option]) / n
        share = counts[option] / n
        print(f"{option}: {share:.4f} vs mixed {p:.4f}, plain {plain[option]:.4f} (se {se:.4f})")
        assert abs(share - p) < 4 * se
    # The test can tell the two models apart: at least one option's mixed and plain shares
    # differ by more than 8 standard errors.
    assert max(abs(mean[o] - plain[o]) / math.sqrt(mean[o] * (1 - mean[o]) / n) for o in mean) > 8


# ------------------------------------------------------------------------------------------
# BG/NBD: an independent fit of the exported purchase log.

R, MEAN_DAYS, A, B = 2.0, 20.0, 1.2, 3.5
ALPHA = R * MEAN_DAYS  # the gamma law of purchase rates per day: shape R, rate R * mean
HORIZON = 400.0


def bgnbd_market() -> Scenario:
    """Every need is a purchase (aware, the platform always considered, the outside option at
    -30 utils, ample stock) in one online channel; needs exponential at a gamma rate; drop-out
    beta after repeat purchases; nothing else ends a customer's life."""
    sc = plain_market(
        segment={
            "need": {"mean_interval_days": MEAN_DAYS, "distribution": "exponential"},
            "outside_utility": -30.0,
            "search_hours": 0.1,
            "heterogeneity": {"need_rate_shape": R, "dropout": {"a": A, "b": B}},
        },
        market={"consumers": 6_000},
        horizon_days=HORIZON,
        warmup_days=0.0,
    )
    data = sc.model_dump(mode="json")
    data["channels"] = [c for c in data["channels"] if c["name"] == "platform"]
    data["nodes"] = [n for n in data["nodes"] if n["name"] == "dc"]
    data["journey"]["reviews"]["use_days"] = 0.1
    data["lifecycle"]["winback_days"] = None
    return Scenario.model_validate(data)


def rfm(path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per customer: first purchase t0, repeat purchases x, time of the last one after the
    first t_x and the observation time after the first T (days)."""
    tab = pq.read_table(path).to_pandas()
    day0 = np.datetime64(DEFAULT_START_DATE.isoformat(), "us")
    tab["t"] = (tab["date"].to_numpy("datetime64[us]") - day0) / np.timedelta64(1, "D")
    g = tab.groupby("customer_id")["t"]
    t0, last, n = g.min().to_numpy(), g.max().to_numpy(), g.size().to_numpy()
    return t0, n - 1.0, last - t0, HORIZON - t0


def bgnbd_loglik(theta, t0, x, tx, big_t) -> float:
    """Log-likelihood of the customers' (x, t_x, T) under BG/NBD (r, alpha, a, b) = e^theta.
    A customer's purchase rate, given a first purchase at t0 from a Poisson process started in
    equilibrium, is Gamma(r + 1, alpha + t0) (the first purchase tilts the gamma law); after it
    the process is BG/NBD's (Fader, Hardie and Lee 2005, eq. 6)."""
    r, alpha, a, b = np.exp(theta)
    r1, al = r + 1.0, alpha + t0
    common = special.gammaln(r1 + x) - special.gammaln(r1) + r1 * np.log(al)
    alive = special.betaln(a, b + x) - special.betaln(a, b) - (r1 + x) * np.log(al + big_t)
    died = np.where(
        x > 0,
        special.betaln(a + 1, b + np.maximum(x, 1) - 1)
        - special.betaln(a, b)
        - (r1 + x) * np.log(al + tx),
        -np.inf,
    )
    return float(np.sum(common + np.logaddexp(alive, died)))


def hessian(f, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x``."""
    k = len(x)
    out = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * h * h
            )
    return out


@pytest.mark.slow
def test_bgnbd_fit_of_the_exported_log_recovers_the_parameters(tmp_path) -> None:
    sc = bgnbd_market()
    trail = tmp_path / "trail.parquet"
    r = Simulation(sc, 0, sc.seed, trail_path=trail).run()
    assert r.ledger["stockouts"] == 0 and r.ledger["outside_choices"] < 5
    assert r.ledger["dropped_out"] > 0 and r.ledger["churned"] == r.ledger["dropped_out"]
    out = tmp_path / "transactions.parquet"
    export_transactions(trail, out)
    t0, x, tx, big_t = rfm(out)
    assert len(t0) > 5_000

    def nll(theta):
        return -bgnbd_loglik(theta, t0, x, tx, big_t)

    start = np.log([1.0, 10.0, 1.0, 1.0])
    fit = optimize.minimize(nll, start, method="Nelder-Mead", options={"maxiter": 4000})
    fit = optimize.minimize(nll, fit.x, method="BFGS")
    se = np.sqrt(np.diag(np.linalg.inv(hessian(nll, fit.x))))
    truth = np.log([R, ALPHA, A, B])
    for name, est, s, true in zip(("r", "alpha", "a", "b"), fit.x, se, truth, strict=True):
        print(f"{name}: {math.exp(est):.3f} (log se {s:.3f}) vs {math.exp(true):.3f}")
        assert abs(est - true) < 3 * s
