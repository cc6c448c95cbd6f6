"""Word of mouth alone, fully mixed, reproduces the Bass (1969) diffusion curve.

Scenario (docs/validation.md, "Bass diffusion"): 10,000 consumers, every one unaware (segment
awareness 0) and never made aware by a purchase (`aware_after_purchase: false`), so adoption
comes only from word of mouth; `adopters: aware` with `awareness_lift: 1` (a conversation makes
the listener aware, hence an adopter), innovation p = 0.03 and imitation q = 0.38 per day on the
fully mixed population. A non-adopter is then told at rate q A / n = q F and innovates at rate p:
the stochastic Bass model, whose mean follows

    F(t) = (1 - exp(-(p + q) t)) / (1 + (q / p) exp(-(p + q) t))        (t in days).

The run goes through `Simulation`, talks applied by the word-of-mouth kernel after each hourly
bucket; F is read from the ledger series `adopters` (one-day periods).

Tolerance. A share among n = 10,000 fluctuates more than a binomial share here, because early
chance adoptions are amplified by imitation. The linear-noise approximation (van Kampen) of the
birth process with rate n f(F), f(F) = (p + q F)(1 - F), gives the variance of F:

    d var / dt = 2 f'(F) var + f(F) / n,     f'(F) = q - p - 2 q F,     var(0) = 0,

which is 1.4-2x the binomial F (1 - F) / n at the chosen times (sd 0.004-0.010; over 60
replications the observed sd agreed within 10 %). One replication must lie within 4 LNA sd
(and the binomial 4 sd where that is larger) of the curve at each time; the mean of 20
replications within 4 LNA sd / sqrt(20).

Bucket width: talks, innovations and adoptions are processed in exact time order by the
word-of-mouth kernel (one superposed talk clock of rate q A), and here no consumer event
changes who adopts, so the bucket adds no error: the series is the same bit for bit at 1-hour
and 6-hour buckets (tested).
"""

from __future__ import annotations

import numpy as np
from builders import small_market
from scipy.integrate import solve_ivp

from omnisim.scenario.schema import Scenario
from omnisim.simulation import Simulation

P, Q, N = 0.03, 0.38, 10_000
TIMES = np.array([2, 5, 8, 12, 20])


def bass(t):
    e = np.exp(-(P + Q) * t)
    return (1 - e) / (1 + Q / P * e)


def lna_sd(t):
    def rhs(_, y):
        F, var = y
        f = (P + Q * F) * (1 - F)
        return [f, 2 * (Q - P - 2 * Q * F) * var + f / N]

    sol = solve_ivp(rhs, (0, float(max(t))), [0.0, 0.0], dense_output=True, rtol=1e-10, atol=1e-14)
    F, var = sol.sol(t)
    assert np.allclose(F, bass(t), atol=1e-7)  # the ODE's mean is the Bass curve
    return np.sqrt(var)


def scenario(bucket_hours: float = 1.0) -> Scenario:
    data = small_market(horizon_days=25.0, warmup_days=0.0)
    data["market"]["consumers"] = N
    data["engine"] = {"bucket_hours": bucket_hours, "timeseries_days": 1.0}
    for s in data["segments"]:
        s["awareness"] = 0.0
    data["journey"] = {"aware_after_purchase": False}
    data["social"] = {
        "graph": {"generator": "fully_mixed"},
        "adopters": "aware",
        "awareness_lift": 1.0,
        "innovation_per_day": P,
        "imitation_per_day": Q,
    }
    return Scenario.model_validate(data)


def adoption(sc: Scenario, rep: int) -> np.ndarray:
    """F at TIMES: the series row of period [t - 1, t) holds the share at its end, t."""
    series = np.array(Simulation(sc, rep).run().ledger["ts_adopters"])
    return series[TIMES - 1]


def test_one_run_follows_the_bass_curve():
    sd = np.maximum(lna_sd(TIMES), np.sqrt(bass(TIMES) * (1 - bass(TIMES)) / N))
    F = adoption(scenario(), 0)
    assert np.all(np.abs(F - bass(TIMES)) < 4 * sd), (F, bass(TIMES), sd)


def test_mean_of_runs_follows_the_bass_curve():
    reps = 20
    sc = scenario()
    mean = np.mean([adoption(sc, r) for r in range(reps)], axis=0)
    assert np.all(np.abs(mean - bass(TIMES)) < 4 * lna_sd(TIMES) / np.sqrt(reps)), mean


def test_bucket_width_adds_no_error():
    assert np.array_equal(adoption(scenario(1.0), 3), adoption(scenario(6.0), 3))
