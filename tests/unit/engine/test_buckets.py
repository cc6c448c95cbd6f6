"""The event calendar hands out each event once, in its bucket, in time order."""

from __future__ import annotations

import numpy as np

from omnisim.engine.buckets import EventCalendar


def test_events_come_back_once_in_order_and_in_their_bucket():
    rng = np.random.default_rng(1)
    dt, horizon, n = 1 / 24, 30.0, 20_000
    cal = EventCalendar(n, dt, horizon)
    ids = np.arange(n)
    times = rng.uniform(0, 40, n)  # a quarter fall after the horizon and are dropped
    cal.schedule(ids, times)
    assert len(cal) == int((times < horizon).sum())
    got_ids, _got_t = cal.pending()
    assert sorted(got_ids) == sorted(ids[times < horizon])
    seen = []
    for b in range(cal.n_buckets):
        got, t = cal.pop(b)
        assert np.all(np.diff(t) >= 0)
        assert np.all((t >= b * dt - 1e-12) & (t < (b + 1) * dt + 1e-12))
        assert np.array_equal(t, times[got])
        seen.append(got)
    out = np.concatenate(seen)
    assert len(cal) == 0
    assert sorted(out) == sorted(ids[times < horizon])


def test_rescheduling_after_pop_and_ties_by_id():
    cal = EventCalendar(10, 1.0, 5.0)
    cal.schedule(np.array([7, 3, 5]), np.array([2.5, 2.5, 2.1]))
    ids, _t = cal.pop(2)
    assert ids.tolist() == [5, 3, 7]  # by time, then by id
    cal.schedule(np.array([3]), np.array([4.0]))
    assert cal.pop(4)[0].tolist() == [3]
    assert len(cal) == 0
