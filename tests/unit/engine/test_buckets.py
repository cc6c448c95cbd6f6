"""The event calendar hands out each event once, in its bucket, in time order."""

from __future__ import annotations

import numpy as np

from omnisim.engine.buckets import EventCalendar


def test_events_come_back_once_in_order_and_in_their_bucket():
    rng = np.random.default_rng(1)
    dt = 1 / 24
    cal = EventCalendar(dt, 24)
    ids = np.arange(20_000)
    times = rng.uniform(0, 30, len(ids))
    cal.schedule(ids, times)
    seen = []
    extra = 0
    for b in range(int(30 / dt) + 2):
        t_end = (b + 1) * dt
        while True:
            got, t = cal.pop_until(t_end)
            if len(got) == 0:
                break
            assert np.all(np.diff(t) >= 0)
            assert np.all(t < t_end + 1e-12)
            assert np.all(t >= b * dt - 1e-12)
            seen.append(got)
            # Events scheduled into the current bucket come out in the next round.
            if extra < 50 and len(got):
                cal.schedule(np.array([100_000 + extra]), np.array([t[-1]]))
                extra += 1
    out = np.concatenate(seen)
    assert len(cal) == 0
    assert len(out) == len(ids) + extra
    assert len(np.unique(out)) == len(out)
