"""Stage 1 of the journey kernel, the need: count the journey, draw the next renewal epoch and
the basket; an aware consumer (probability = awareness, lifted by media) searches for an
exponential time, an unaware one leaves the brand's market for this need. Also the return of a
churned consumer (customer lifecycle, win-back). Equations: docs/model.md, "Needs".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from omnisim.consumers import hooks
from omnisim.consumers.needs import draw_interval, to_op
from omnisim.consumers.population import SEARCHING
from omnisim.consumers.stages.common import end_journey, in_window, period, row, schedule
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs
from omnisim.engine import trail as tr


@njit(cache=True, _nrt=False)
def need(i, t, k, sched, trail, counts, do_trail):
    pop, seg, keys, led = k.pop, k.seg, k.keys, k.ledger
    acc, series, lwin = led.acc, led.series, led.window
    if in_window(lwin, t):
        acc[lg.NEEDS] += 1.0
        series[period(lwin, series.shape[0], t), lg.TS_NEEDS] += 1.0
    pop.journey[i] += 1
    j = pop.journey[i]
    s = pop.segment[i]
    x = draw_interval(s, seg.need, keys[rs.NEED], i, j, False)
    pop.tau_next[i] = to_op(k.clock.cum, t) + x
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
    """Customer lifecycle: a churned consumer comes back to the brand; their next need is drawn
    afresh from the forward-recurrence law (as at the start of the run) from now on."""
    pop, led = k.pop, k.ledger
    if in_window(led.window, t):
        led.acc[lg.WON_BACK] += 1.0
    row(trail, counts, do_trail, tr.WIN_BACK, t, i, -1, -1, 0, np.nan)
    s, j = pop.segment[i], pop.journey[i]
    x = draw_interval(s, k.seg.need, k.keys[rs.WINBACK], i, j, True)
    pop.tau_next[i] = to_op(k.clock.cum, t) + x
    end_journey(i, t, k, sched, counts)
