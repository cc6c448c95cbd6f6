"""The bullwhip effect of an order-up-to policy with a moving-average forecast, against theory.

Chen, Drezner, Ryan and Simchi-Levi (2000, "Quantifying the bullwhip effect in a simple supply
chain", Management Science 46(3), 436-443): a stage facing i.i.d. demand, reviewing every
period, forecasting demand per period as the mean of the last ``p`` periods and ordering up to
``S_t = L * forecast_t`` (backlog, negative orders allowed) places orders ``q_t = S_t - S_{t-1} +
D_{t-1} = D_{t-1} + (L/p)(D_{t-1} - D_{t-1-p})``, whose variance over the demand variance is

    Var(q) / Var(D) = 1 + 2L/p + 2L^2/p^2,

with ``L`` the periods of demand the order-up-to level covers. Our forecast-based level covers
the mean lead time in review periods plus the review period itself: ``L = lead_days / review +
1``. The end-of-period net stock (on hand minus backlog) is ``S_{t-1}`` minus the ``L`` periods
of demand the order placed at ``t - 1`` had to cover, so its mean is the safety stock.

A single dealer of a one-level network is driven directly (`SupplyNetwork.demand`, no consumer
kernel). Tolerances are ``Z`` standard errors from batch means: the orders are autocorrelated
over ``p + 1`` periods, so the run is cut into ``B`` batches of many periods, the statistic is
computed per batch, and the batches' mean is compared with theory within a Student-t quantile of
its standard error; nothing is tuned to the observed numbers. Figures are in
``docs/validation.md``.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from builders import small_market
from scipy import stats

from omnisim.scenario.loading import scenario_from_dict
from omnisim.supply.network import SupplyNetwork

PERIODS = 24_000
BATCHES = 20
WARMUP = 200  # periods dropped: the forecast starts from `initial_forecast`
MEAN, SD = 100.0, 20.0  # demand per period (normal, rounded to units)
SAFETY = 30.0
T_CRIT = float(stats.t.ppf(1 - 0.0005, BATCHES - 1))  # two-sided 99.9 % per check


def theory(p: int, cover: int) -> float:
    """Chen et al. (2000): Var(orders) / Var(demand)."""
    return 1 + 2 * cover / p + 2 * cover**2 / p**2


def run_stage(p: int, lead_days: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One stage, review every day: (orders, demand, end-of-period net stock) per period."""
    data = small_market(horizon_days=float(PERIODS + 1), warmup_days=0.0)
    data["network"] = {
        "levels": [
            {
                "name": "stage",
                "review_days": 1.0,
                "lead_time": {"mean_days": float(lead_days), "distribution": "fixed"},
                "policy": {
                    "forecast_periods": p,
                    "safety_units": SAFETY,
                    "initial_forecast": MEAN,
                },
                "shortage": "backlog",
            }
        ],
        "dealers": [{"name": "stage", "level": "stage", "region": "north"}],
    }
    sc = scenario_from_dict(data)
    net = SupplyNetwork(sc, allow_negative_orders=True)
    env = simpy.Environment()
    net.start(env)
    rng = np.random.default_rng(seed)
    demand = np.rint(rng.normal(MEAN, SD, PERIODS)).astype(np.int64)
    end_stock = np.empty(PERIODS)

    def feed():
        # Demand mid-period, so that it never ties with a review or an arrival; no arrival
        # falls between it and the period's end, so the stock after it is the period's end.
        yield env.timeout(0.5)
        for t in range(PERIODS):
            net.demand("stage", int(demand[t]))
            end_stock[t] = net.net_stock("stage")
            yield env.timeout(1.0)

    env.process(feed())
    env.run(until=PERIODS + 0.75)
    rec = net.records()["nodes"]["stage"]
    orders = np.asarray(rec["orders"][1 : PERIODS + 1], dtype=float)  # reviews 1..N
    seen = np.asarray(rec["demand"][:PERIODS], dtype=float)
    assert np.array_equal(seen, demand)  # the stage saw exactly the demand fed
    return orders, seen, end_stock


def batch_ci(values: np.ndarray) -> tuple[float, float]:
    """(mean, half-width) of the per-batch values at the T_CRIT quantile."""
    return float(values.mean()), T_CRIT * float(values.std(ddof=1)) / np.sqrt(len(values))


CASES = [(4, 0), (3, 1), (5, 2), (10, 4)]  # (p, lead days); cover L = lead + 1


@pytest.mark.parametrize(("p", "lead"), CASES)
def test_order_variance_ratio_matches_chen_et_al(p: int, lead: int) -> None:
    orders, demand, end_stock = run_stage(p, lead, seed=1000 + 10 * p + lead)
    cover = lead + 1
    q = np.array_split(orders[WARMUP:], BATCHES)
    d = np.array_split(demand[WARMUP:], BATCHES)
    ratios = np.array([a.var(ddof=1) / b.var(ddof=1) for a, b in zip(q, d, strict=True)])
    mean, half = batch_ci(ratios)
    assert abs(mean - theory(p, cover)) <= half, (mean, half, theory(p, cover))
    # Orders pass demand on, on average: E[q] = E[D].
    assert abs(orders[WARMUP:].mean() - MEAN) < 1.0
    # Mean end-of-period net stock sits at the safety stock.
    ends = np.array([b.mean() for b in np.array_split(end_stock[WARMUP:], BATCHES)])
    mean, half = batch_ci(ends)
    assert abs(mean - SAFETY) <= half, (mean, half)


def test_no_bullwhip_with_a_fixed_level() -> None:
    """A fixed order-up-to level passes demand on one for one: the ratio is exactly 1."""
    data = small_market(horizon_days=301.0, warmup_days=0.0)
    data["network"] = {
        "levels": [{"name": "stage", "review_days": 1.0, "policy": {"order_up_to": 500}}],
        "dealers": [{"name": "stage", "level": "stage", "region": "north"}],
    }
    net = SupplyNetwork(scenario_from_dict(data))
    env = simpy.Environment()
    net.start(env)
    rng = np.random.default_rng(3)
    demand = rng.integers(50, 150, 300)

    def feed():
        yield env.timeout(0.5)
        for x in demand:
            net.demand("stage", int(x))
            yield env.timeout(1.0)

    env.process(feed())
    env.run(until=300.75)
    orders = net.records()["nodes"]["stage"]["orders"][1:301]
    assert orders == demand.tolist()
