"""Results converge as the time bucket shrinks.

Inside a bucket the kernel serves events in exact time order. (a) What the bucket approximates
is the supply side: supply events (replenishment deliveries) that fall inside a bucket act after
it. (b) An event scheduled into the bucket being processed is not an approximation: it joins the
kernel's in-bucket heap and runs in exact time order among the bucket's events
(`omnisim.consumers.journey._schedule`; only if that heap is full, which is rare, does it wait
for a further round). The effect of (a) vanishes as the bucket width goes to zero. With common
random numbers (the same seed) each consumer makes the same draws at every width, so paired
differences isolate the effect of the width; the test asserts that at practical widths (1 h) the
KPIs agree with a fine bucket (3 min) within the paired sampling error, and that a coarse bucket
(24 h) is no closer than that.
"""

from __future__ import annotations

import numpy as np
from builders import scenario

from omnisim.simulation import Simulation

KPIS = ("needs", "purchases", "revenue", "lost_sales", "store_wait_minutes", "avg_rating")
REPS = 6


def kpis(bucket_hours: float) -> np.ndarray:
    sc = scenario(horizon_days=30.0, engine={"bucket_hours": bucket_hours})
    rows = [Simulation(sc, r).run().kpis for r in range(REPS)]
    return np.array([[row[k] for k in KPIS] for row in rows])


def test_kpis_converge_as_bucket_shrinks():
    fine, mid, coarse = kpis(0.05), kpis(1.0), kpis(24.0)
    d_mid = mid - fine
    d_coarse = coarse - fine
    se_mid = d_mid.std(axis=0, ddof=1) / np.sqrt(REPS)
    scale = np.abs(fine.mean(axis=0))
    for j, name in enumerate(KPIS):
        bias = abs(d_mid[:, j].mean())
        # Agreement at 1 h: within 4 paired standard errors (plus 0.5% of the value, the
        # width effect we accept).
        assert bias <= 4 * se_mid[j] + 0.005 * scale[j], (name, bias, se_mid[j])
    # The coarse bucket is not closer to the limit than the 1 h bucket, summed over KPIs.
    rel_mid = np.abs(d_mid.mean(axis=0)) / scale
    rel_coarse = np.abs(d_coarse.mean(axis=0)) / scale
    assert rel_mid.sum() <= rel_coarse.sum() + 1e-9, (rel_mid, rel_coarse)
