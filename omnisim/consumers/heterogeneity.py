"""Heterogeneity within a segment: each consumer's own price and time sensitivity, need rate
and drop-out probability, drawn once per consumer (docs/model.md, "Heterogeneity").

Consumer ``i`` of segment ``s`` has (scenario ``segments[s].heterogeneity``)

* price and time sensitivities ``beta_s * m_i`` and ``gamma_s * n_i`` with lognormal
  multipliers of mean 1 and coefficients of variation ``price_sensitivity_cv`` and
  ``time_sensitivity_cv``: a mixed logit with lognormal coefficients (Train 2009, ch. 6);
* a need-rate multiplier ``G_i ~ Gamma(r, 1 / r)`` (mean 1): the renewal process of their needs
  runs ``G_i`` times as fast as the segment's, so its intervals are the segment's divided by
  ``G_i``; with exponential intervals, purchase counts are negative binomial (Ehrenberg 1959);
* a drop-out probability ``p_i ~ Beta(a, b)``: after each repeat purchase (not the first one,
  the BG/NBD convention of Fader, Hardie and Lee 2005) the consumer leaves the brand with
  probability ``p_i``: a churn, which ``lifecycle.winback_days`` may undo (drawn with the
  satisfaction churn by `omnisim.consumers.lifecycle.churns`).

The draws come from the ``population`` stream, keyed by consumer id, so every strategy of a
run has the same consumers. The "off" form (no segment differs) has empty arrays, for which
the compiled helpers return the segment's values at once: results are then bit-identical to a
model without this module.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from omnisim.engine import streams as rs
from omnisim.engine.state import F32, U8, build, off
from omnisim.scenario.schema import Scenario

# Draw families in the population stream: the journey number of the counter-based draws (the
# segment, region and membership draws use journey 0), so no two families share a counter.
PRICE_DRAW, TIME_DRAW, NEED_DRAW, DROPOUT_A_DRAW, DROPOUT_B_DRAW = 1, 2, 3, 4, 5
# Lowest need-rate multiplier kept: a gamma of small shape can round to 0, which would stop
# the consumer's need clock for good; 1e-6 makes their intervals a million times the mean.
MIN_RATE = 1e-6


class TasteState(NamedTuple):
    """Each consumer's own coefficients (index = consumer id); empty arrays: none differ."""

    price: F32[1]  # multiplier of the segment's price sensitivity (mean 1)
    time: F32[1]  # multiplier of the segment's time sensitivity (mean 1)
    need_scale: F32[1]  # 1 / G_i: multiplier of the segment's inter-need times
    dropout: F32[1]  # p_i: probability of leaving after a repeat purchase
    bought: U8[1]  # purchases so far, counted up to 2 (with drop-out only)


def _lognormal_multipliers(cv: float, key: np.uint64, ids: np.ndarray, family: int):
    """Lognormal draws of mean 1 and coefficient of variation ``cv``."""
    sigma2 = np.log1p(cv * cv)
    return np.exp(-0.5 * sigma2 + np.sqrt(sigma2) * rs.normals(key, ids, family, 0))


def taste_state(sc: Scenario, segment: np.ndarray, keys: np.ndarray) -> TasteState:
    """Each consumer's coefficients (the "off" form when no segment's consumers differ)."""
    het = [s.heterogeneity for s in sc.segments]
    if not any(h.on for h in het):
        return off(TasteState)
    n = segment.shape[0]
    key = keys[rs.POPULATION]
    price = np.ones(n, dtype=np.float32) if any(h.price_sensitivity_cv for h in het) else None
    time = np.ones(n, dtype=np.float32) if any(h.time_sensitivity_cv for h in het) else None
    need = np.ones(n, dtype=np.float32) if any(h.need_rate_shape for h in het) else None
    drop = np.zeros(n, dtype=np.float32) if any(h.dropout for h in het) else None
    for si, h in enumerate(het):
        ids = np.flatnonzero(segment == si)
        if price is not None and h.price_sensitivity_cv > 0:
            price[ids] = _lognormal_multipliers(h.price_sensitivity_cv, key, ids, PRICE_DRAW)
        if time is not None and h.time_sensitivity_cv > 0:
            time[ids] = _lognormal_multipliers(h.time_sensitivity_cv, key, ids, TIME_DRAW)
        if need is not None and h.need_rate_shape is not None:
            r = h.need_rate_shape
            g = rs.gammas(r, key, ids, NEED_DRAW, 0) / r
            need[ids] = 1.0 / np.maximum(g, MIN_RATE)
        if drop is not None and h.dropout is not None:
            x = rs.gammas(h.dropout.a, key, ids, DROPOUT_A_DRAW, 0)
            y = rs.gammas(h.dropout.b, key, ids, DROPOUT_B_DRAW, 0)
            drop[ids] = x / (x + y)
    empty = np.empty(0, dtype=np.float32)
    return build(
        TasteState,
        price=empty if price is None else price,
        time=empty if time is None else time,
        need_scale=empty if need is None else need,
        dropout=empty if drop is None else drop,
        bought=np.zeros(n if drop is not None else 0, dtype=np.uint8),
    )


def bytes_per_consumer(sc: Scenario) -> int:
    """Planned memory per consumer (bytes): the arrays of the parts some segment uses."""
    het = [s.heterogeneity for s in sc.segments]
    size = 4 * any(h.price_sensitivity_cv for h in het) + 4 * any(
        h.time_sensitivity_cv for h in het
    )
    size += 4 * any(h.need_rate_shape is not None for h in het)
    size += 5 * any(h.dropout is not None for h in het)
    return size


@njit(cache=True, inline="always", _nrt=False)
def price_factor(i, taste: TasteState) -> float:
    """Consumer ``i``'s multiplier of their segment's price sensitivity (1.0: off)."""
    return taste.price[i] if taste.price.shape[0] > 0 else 1.0


@njit(cache=True, inline="always", _nrt=False)
def time_factor(i, taste: TasteState) -> float:
    """Consumer ``i``'s multiplier of their segment's time sensitivity (1.0: off)."""
    return taste.time[i] if taste.time.shape[0] > 0 else 1.0


@njit(cache=True, inline="always", _nrt=False)
def need_scale(i, taste: TasteState) -> float:
    """Consumer ``i``'s multiplier of the segment's inter-need times (1.0: off)."""
    return taste.need_scale[i] if taste.need_scale.shape[0] > 0 else 1.0


@njit(cache=True, inline="always", _nrt=False)
def on_purchase(i, taste: TasteState) -> None:
    """Count consumer ``i``'s purchase (up to 2: what tells a repeat purchase)."""
    if taste.bought.shape[0] > 0 and taste.bought[i] < 2:
        taste.bought[i] += 1


@njit(cache=True, inline="always", _nrt=False)
def dropout_probability(i, taste: TasteState) -> float:
    """Consumer ``i``'s probability of leaving the brand after this purchase: p_i after a
    repeat purchase, 0 after the first (or without drop-out)."""
    if taste.dropout.shape[0] == 0 or taste.bought[i] < 2:
        return 0.0
    return float(taste.dropout[i])
