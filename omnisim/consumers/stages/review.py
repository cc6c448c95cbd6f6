"""Stage 4 of the journey kernel, use and review (after use): satisfaction, a review into the
public Bayesian-average rating, habit learning, churn; then the next need. Equations:
docs/model.md, "Use and review".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.consumers import hooks
from omnisim.consumers.population import CHURNED
from omnisim.consumers.stages.common import end_journey, in_window, row, schedule
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr
from omnisim.engine.memory import recall


@njit(cache=True, _nrt=False)
def review(i, t, k, sched, trail, counts, do_trail):
    pop, w, keys, led = k.pop, k.weights, k.keys, k.ledger
    habit = pop.habit
    j = pop.journey[i]
    c = pop.channel[i]
    gap = np.log(max(pop.paid[i], 1e-9) / max(pop.min_price[i], 1e-9))
    spread = pop.price_spread[i]  # channel conflict: log(highest / lowest price the search met)
    sat = (
        w.sat_base
        + k.chan.service_quality[c]
        - w.sat_price * max(gap, 0.0)
        - w.sat_inconsistency * spread
        - w.sat_late * pop.late_days[i]
        - w.sat_stockout * pop.stockouts_met[i]
        - w.sat_queue * pop.queue_days[i] * 24.0
        + w.sat_noise * rs.normal(keys[rs.REVIEW], i, j, 0)
    )
    u_post, _ = rs.uniform2(keys[rs.REVIEW], i, j, 1)
    hooks.after_use(i, sat, k)
    acc, lwin = led.acc, led.window
    inw = in_window(lwin, t)
    if inw:
        acc[lg.SATISFACTION_SUM] += sat
        acc[lg.SATISFACTION_N] += 1.0
    row(trail, counts, do_trail, tr.USE, t, i, c, -1, 0, sat)
    if u_post < w.post_p:
        stars = min(max(np.rint(3.0 + w.stars_per_unit * sat), 1.0), 5.0)
        k.rating.sum[c] += stars
        k.rating.n[c] += 1.0
        if inw:
            acc[lg.REVIEWS] += 1.0
            acc[lg.STARS_SUM] += stars
        row(trail, counts, do_trail, tr.REVIEW, t, i, c, -1, 0, stars)
    # Habits (and awareness) as of now (they fade: "Memory"); then trust lost to inconsistent
    # prices; then the used channel is pulled toward 1 and the others decay.
    recall(i, t, k.memory, pop.segment, pop.awareness, habit)
    if w.habit_inconsistency > 0.0 and spread > 0.0:
        keep = np.exp(-w.habit_inconsistency * spread)
        for b in range(habit.shape[1]):
            habit[i, b] *= keep
    for b in range(habit.shape[1]):
        if b == c:
            habit[i, b] += w.habit_lr * (1.0 - habit[i, b])
        else:
            habit[i, b] *= 1.0 - w.habit_decay
    # Churn after a bad experience, or drop-out: one threshold per life (`lifecycle.churns`), so the
    # churn stays paired across strategies.
    p_churn = w.churn_p if sat < w.churn_threshold else 0.0
    churn, dropped = hooks.churns(i, j, p_churn, k)
    if dropped and inw:
        acc[lg.DROPPED_OUT] += 1.0
    if churn:
        if inw:
            acc[lg.CHURNED] += 1.0
        pop.stage[i] = CHURNED
        row(trail, counts, do_trail, tr.CHURN, t, i, -1, -1, 0, np.nan)
        t_back = hooks.after_churn(i, j, t, inw, k)
        if t_back < lwin.horizon:
            schedule(sched, counts, i, t_back)
        return
    end_journey(i, t, k, sched, counts)
