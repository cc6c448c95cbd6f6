"""Stage 1 of the journey kernel, the need: count the journey, draw the next renewal epoch and
the basket; an aware consumer (probability = awareness, lifted by media) searches for an
exponential time, an unaware one leaves the brand's market for this need. Also the return of a
churned consumer (customer lifecycle, win-back). Equations: docs/model.md, "Needs".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.consumers import heterogeneity as ht
from omnisim.consumers import hooks
from omnisim.consumers.needs import draw_interval, to_real
from omnisim.consumers.population import SEARCHING, WAIT_NEED
from omnisim.consumers.stages.common import end_journey, in_window, period, row, schedule
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr
from omnisim.engine.memory import recall


@njit(cache=True, _nrt=False)
def need(i, t, k, sched, trail, counts, do_trail):
    pop, seg, keys, led = k.pop, k.seg, k.keys, k.ledger
    acc, series, lwin = led.acc, led.series, led.window
    s = pop.segment[i]
    # Awareness and habits as of now (they fade toward the segment's levels: "Memory").
    recall(i, t, k.memory, pop.segment, pop.awareness, pop.habit)
    # Needs are exogenous (docs/model.md, "Needs"): the renewal epochs follow one another
    # whatever the journeys do. This need spends the pending epoch, whether it comes at the
    # epoch, after it (it waited for the last journey to end) or before it (a click brought
    # it forward), and is counted at the epoch; only a click's extra occasion leaves the epoch
    # pending and is counted when it happens.
    epoch = to_real(k.clock, pop.tau_next[i])
    extra = t < epoch and hooks.extra_occasion(i, k)
    pop.journey[i] += 1
    j = pop.journey[i]
    t_count = t if extra else epoch
    if in_window(lwin, t_count):
        acc[lg.NEEDS] += 1.0
        series[period(lwin, series.shape[0], t_count), lg.TS_NEEDS] += 1.0
    if not extra:
        scale = ht.need_scale(i, k.taste)
        pop.tau_next[i] += draw_interval(s, seg.need, keys[rs.NEED], i, j, False) * scale
    row(trail, counts, do_trail, tr.NEED, t, i, -1, -1, 0, np.nan)
    u_aware, u_search = rs.uniform2(keys[rs.SEARCH], i, j, 0)
    # Media only lift awareness (a_eff >= a_i): the media terms are needed only above a_i. A
    # consumer who just clicked an ad is aware.
    if (
        u_aware >= pop.awareness[i]
        and u_aware >= hooks.awareness(i, t, k)
        and not hooks.referred(i, t, k)
    ):
        if in_window(lwin, t):
            acc[lg.UNAWARE] += 1.0
        row(trail, counts, do_trail, tr.UNAWARE, t, i, -1, -1, 0, np.nan)
        end_journey(i, t, k, sched, counts)
        return
    u_basket = rs.uniform(keys[rs.SEARCH], i, j, 1)
    cdf = seg.basket_cdf[s]
    extra = 0
    while u_basket > cdf[extra]:
        extra += 1
    pop.units[i] = 1 + extra
    pop.failed[i] = 0
    pop.switches[i] = 0
    pop.stockouts_met[i] = 0
    pop.queue_days[i] = 0.0
    pop.late_days[i] = 0.0
    pop.stage[i] = SEARCHING
    schedule(sched, counts, i, t - seg.search_days[s] * np.log(u_search))


@njit(cache=True, _nrt=False)
def win_back(i, t, k, sched, trail, counts, do_trail):
    """Customer lifecycle: a churned consumer comes back to the brand. Their renewal epochs
    went on while they were away (needs spent outside the brand, counted as needs); the next
    one after ``t`` is their next need."""
    led = k.ledger
    if in_window(led.window, t):
        led.acc[lg.WON_BACK] += 1.0
    row(trail, counts, do_trail, tr.WIN_BACK, t, i, -1, -1, 0, np.nan)
    _spend_epochs(i, t, k)
    end_journey(i, t, k, sched, counts)


@njit(cache=True, inline="always", _nrt=False)
def _spend_epochs(i, t_end, k):
    """Count consumer ``i``'s renewal epochs before ``t_end`` (days) that no need event spent
    (the consumer was away, or the run ended), in the window, and move their pending epoch to
    the first one at or after ``t_end``: the epochs the need stage would have drawn."""
    pop, lwin = k.pop, k.ledger.window
    acc, series = k.ledger.acc, k.ledger.series
    tau = pop.tau_next[i]
    j = int(pop.journey[i])
    s = pop.segment[i]
    key = k.keys[rs.NEED]
    scale = ht.need_scale(i, k.taste)
    while True:
        epoch = to_real(k.clock, tau)
        if epoch >= t_end:
            break
        if in_window(lwin, epoch):
            acc[lg.NEEDS] += 1.0
            series[period(lwin, series.shape[0], epoch), lg.TS_NEEDS] += 1.0
        j += 1
        tau += draw_interval(s, k.seg.need, key, i, j, False) * scale
    pop.tau_next[i] = tau
    pop.journey[i] = j


@njit(cache=True)
def pending_needs(k) -> None:
    """Count the needs whose renewal epoch falls in the measurement window but that no need
    event spent, because at the horizon the consumer was still in a journey or away from the
    brand (churned): so the count of needs is that of the epochs, the same under every
    strategy (docs/model.md, "Needs")."""
    stage = k.pop.stage
    for i in range(stage.shape[0]):
        if stage[i] != WAIT_NEED:  # a waiting consumer's epochs before the horizon are spent
            _spend_epochs(i, k.ledger.window.horizon, k)
