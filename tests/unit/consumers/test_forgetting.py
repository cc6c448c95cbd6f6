"""Forgetting (omnisim/engine/memory.py; docs/model.md, "Memory: forgetting"): awareness and
habits, stored as of the consumer's own time, revert exponentially toward the segment's levels
when a stage reads them; a purchase lifts awareness by a share of the gap to 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stage_kit import PLATFORM, STORE, Bench, kernel, with_weights

from omnisim.consumers.kernel import Kernel
from omnisim.consumers.population import WAIT_NEED
from omnisim.consumers.stages.need import need
from omnisim.engine.memory import MemoryState, awareness_at, lift_awareness, recall
from omnisim.engine.state import build

CID = 0
LEVEL_A = 0.5  # the tiny market's segment awareness
H_A, H_H = 20.0, 40.0  # half-lives (days)


def forgetting(k: Kernel) -> Kernel:
    """``k`` with forgetting on: awareness half-life H_A, habit half-life H_H, habit levels
    0.2 at the store and 0 elsewhere."""
    n = k.pop.segment.shape[0]
    mem = build(
        MemoryState,
        on=1,
        since=np.zeros(n, dtype=np.float32),
        aware_level=np.array([LEVEL_A]),
        aware_rate=np.array([math.log(2) / H_A]),
        habit_level=np.array([[0.2, 0.0, 0.0]]),
        habit_rate=np.array([math.log(2) / H_H]),
    )
    return k._replace(memory=mem)


def test_one_half_life_halves_the_gap_to_the_levels() -> None:
    k = forgetting(kernel())
    pop = k.pop
    pop.awareness[CID] = 1.0
    pop.habit[CID] = [1.0, 0.6, 0.0]
    k.memory.since[CID] = 10.0
    recall(CID, 10.0 + H_A, k.memory, pop.segment, pop.awareness, pop.habit)
    assert pop.awareness[CID] == pytest.approx(0.75, abs=1e-6)
    f = 2.0 ** (-H_A / H_H)
    assert pop.habit[CID, STORE] == pytest.approx(0.2 + 0.8 * f, abs=1e-6)
    assert pop.habit[CID, PLATFORM] == pytest.approx(0.6 * f, abs=1e-6)
    assert k.memory.since[CID] == 10.0 + H_A


def test_recalling_in_steps_is_recalling_at_once() -> None:
    # The law is exponential: two recalls, at 7 and 19 days, give the value one recall at 19
    # gives (up to float32 rounding of the stored values).
    a, b = forgetting(kernel()), forgetting(kernel())
    for k in (a, b):
        k.pop.awareness[CID] = 0.9
        k.pop.habit[CID] = [0.1, 0.8, 0.3]
    recall(CID, 7.0, a.memory, a.pop.segment, a.pop.awareness, a.pop.habit)
    recall(CID, 19.0, a.memory, a.pop.segment, a.pop.awareness, a.pop.habit)
    recall(CID, 19.0, b.memory, b.pop.segment, b.pop.awareness, b.pop.habit)
    assert a.pop.awareness[CID] == pytest.approx(b.pop.awareness[CID], abs=1e-6)
    assert np.allclose(a.pop.habit[CID], b.pop.habit[CID], atol=1e-6)


def test_awareness_below_the_level_rises_to_it() -> None:
    k = forgetting(kernel())
    k.pop.awareness[CID] = 0.1
    recall(CID, 2 * H_A, k.memory, k.pop.segment, k.pop.awareness, k.pop.habit)
    assert k.pop.awareness[CID] == pytest.approx(LEVEL_A - 0.4 / 4, abs=1e-6)


def test_the_need_stage_sees_awareness_as_of_now(b: Bench) -> None:
    # Stored awareness 1 at day 0; at day 60 (three half-lives) it is 0.5 + 0.5 / 8, so an
    # awareness draw between that and 1 makes the consumer unaware.
    k = forgetting(kernel())
    pop = k.pop
    pop.stage[CID] = WAIT_NEED
    pop.awareness[CID] = 1.0
    pop.tau_next[CID] = 3 * H_A
    need(CID, 3 * H_A, k, b.sched, b.trail, b.counts, True)
    assert pop.awareness[CID] == pytest.approx(0.5 + 0.5 / 8, abs=1e-6)


def test_awareness_at_leaves_the_stored_values_alone() -> None:
    k = forgetting(kernel())
    k.pop.awareness[:] = 1.0
    now = awareness_at(H_A, k.memory, k.pop.segment, k.pop.awareness)
    assert np.allclose(now, 0.75)
    assert (k.pop.awareness == 1.0).all() and (k.memory.since == 0.0).all()


def test_off_changes_nothing(k: Kernel) -> None:
    k.pop.awareness[CID] = 1.0
    recall(CID, 500.0, k.memory, k.pop.segment, k.pop.awareness, k.pop.habit)
    assert k.pop.awareness[CID] == 1.0


@pytest.mark.parametrize("lift", [1.0, 0.5, 0.0])
def test_a_purchase_closes_a_share_of_the_gap_to_full_awareness(b: Bench, lift: float) -> None:
    from test_purchase import CID as BUYER
    from test_purchase import buy  # the purchase tests' own set-up

    k = with_weights(forgetting(kernel()), aware_after=True, aware_lift=lift)
    k.pop.awareness[BUYER] = 0.4
    k.memory.since[BUYER] = 30.0  # stored as of the purchase: no forgetting before it
    buy(k, b, 30.0, PLATFORM, 1, 100.0)
    assert k.pop.awareness[BUYER] == pytest.approx(0.4 + lift * 0.6, abs=1e-6)


def test_a_talks_lift_is_a_recall_and_a_lift_without_touching_habits() -> None:
    """`lift_awareness` (word of mouth) gives the awareness a `recall` then the lift would,
    now and at any later time, and leaves the habit row and the stored time alone; with the
    decay below MIN_DECAY it recalls."""
    n = 4
    mem = build(
        MemoryState,
        on=1,
        since=np.array([0.0, 10.0, 50.0, 0.0], dtype=np.float32),
        aware_level=np.array([0.3]),
        aware_rate=np.array([math.log(2) / 60.0]),
        habit_level=np.array([[0.2, 0.1]]),
        habit_rate=np.array([math.log(2) / 90.0]),
    )
    segment = np.zeros(n, dtype=np.int16)
    start_a = np.array([0.9, 0.5, 1.0, 0.95], dtype=np.float32)
    start_h = np.array([[0.8, 0.0]] * n, dtype=np.float32)
    times = np.array([40.0, 70.0, 50.0, 60.0 * 25.0])  # the last: 25 half-lives, a recall
    for lift in (0.2, 1.0):
        lazy_a, lazy_h, lazy_m = (
            start_a.copy(),
            start_h.copy(),
            mem._replace(since=mem.since.copy()),
        )
        ref_a, ref_h, ref_m = start_a.copy(), start_h.copy(), mem._replace(since=mem.since.copy())
        for i, t in enumerate(times):
            got = lift_awareness(i, t, lift, lazy_m, segment, lazy_a, lazy_h)
            recall(i, t, ref_m, segment, ref_a, ref_h)
            ref_a[i] = ref_a[i] + lift * (1.0 - ref_a[i])
            assert got == pytest.approx(float(ref_a[i]), abs=1e-6)
            if i < 3:
                assert lazy_m.since[i] == mem.since[i] and np.array_equal(lazy_h[i], start_h[i])
        later = times.max() + 30.0
        assert awareness_at(later, lazy_m, segment, lazy_a) == pytest.approx(
            awareness_at(later, ref_m, segment, ref_a), abs=1e-5
        )
